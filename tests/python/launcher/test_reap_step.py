"""The launcher's reaper step (build-support/bootstrap/reap.sh) runs the harness's reaper.

Runs the real script with a stand-in for the dependencies PEX it builds once per lockfile: a
script that, like the PEX, runs Python with the third-party packages and ``PEX_EXTRA_SYS_PATH``.
The first-party code comes only from the paths reap.sh names.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from compat_matrix.testing_support import dead_session_with_a_leftover

REAP_SH = Path("build-support/bootstrap/reap.sh").resolve()
LOCKFILE = Path("3rdparty/python/python-default.lock").resolve()


def _third_party_paths() -> list[str]:
    # This interpreter's installed packages, not the sources the test runner put on sys.path.
    return [p for p in sys.path if p and os.path.isabs(p) and ("site-packages" in p or "/lib/python" in p)]


def _fake_deps_pex(cache: Path) -> Path:
    digest = hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()[:12]
    pex = cache / f"harness-deps-{digest}.pex"
    pex.parent.mkdir(parents=True, exist_ok=True)
    pex.write_text(
        "#!/bin/sh\n"
        f'PYTHONPATH="$PEX_EXTRA_SYS_PATH:{os.pathsep.join(_third_party_paths())}" exec "{sys.executable}" "$@"\n'
    )
    pex.chmod(0o755)
    return pex


# Regression: when the pure core moved to src/core, reap.sh still put only src/python on the path,
# so before every `./pants test` the reaper died with "No module named 'compat_core'" (and, its
# output being advisory, nobody noticed that killed sessions' leftovers stayed).
def test_the_reaper_step_reaps_a_dead_sessions_leftovers(tmp_path: Path) -> None:
    _fake_deps_pex(tmp_path / "cache")
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    with dead_session_with_a_leftover(sessions) as leftover:
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "COMPAT_MATRIX_CACHE_DIR": str(tmp_path / "cache"),
            "COMPAT_MATRIX_SESSIONS_DIR": str(sessions),
            "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",  # this test's sessions have no containers
        }
        out = subprocess.run(["bash", str(REAP_SH)], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr and "No module named" not in out.stderr, out.stderr
        assert f"killed process {leftover.pid} (server-0)" in out.stderr, out.stderr
        assert leftover.wait(timeout=10) != 0
