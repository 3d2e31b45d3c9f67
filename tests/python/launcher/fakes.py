"""Stand-ins for what the launcher bootstraps, so its tests run it for real in seconds.

`fake_python39(bin_dir, log)` puts a `python3.9` first on PATH that answers the launcher's checks
and, for `-m venv DIR`, makes a venv whose `pants` prints the argv it was given (for `test` with
FAKE_PANTS_HOLD, it writes its pid there and runs until a signal, noting it in
FAKE_PANTS_HOLD.signals) and exits FAKE_PANTS_EXIT (default 0), whose `pip` notes the pex version it
is asked for and whose `pex` says that version and writes its `-o` file. Each venv it makes is
logged, one line per bootstrap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

_PYTHON = r"""#!/bin/bash
case "$1" in
  -c) case "$2" in *sys.executable*) echo "$0" ;; esac; exit 0 ;;
  -m) [ "$2" = venv ] || exit 0
      mkdir -p "$3/bin"
      cat > "$3/bin/pants" <<'PANTS'
#!/bin/sh
# Prints its argv; as `test` with FAKE_PANTS_HOLD, holds until a signal first.
case " $* " in
  *" test "*)
    if [ -n "${FAKE_PANTS_HOLD:-}" ]; then
      # Runs until a signal comes: notes which one in FAKE_PANTS_HOLD.signals, exits 128 + its number.
      sleep 600 &
      sleeper=$!
      for sig in INT:2 TERM:15 HUP:1; do
        trap "echo ${sig%:*} >> '$FAKE_PANTS_HOLD.signals'; kill $sleeper; exit $((128 + ${sig#*:}))" "${sig%:*}"
      done
      printf '%s\n' "$$" > "$FAKE_PANTS_HOLD"
      wait $sleeper
    fi ;;
esac
printf "%s\n" "$@"
exit "${FAKE_PANTS_EXIT:-0}"
PANTS
      # pip "installs" pex==X by noting X; pex --version says it.
      printf '#!/bin/bash\nfor a; do case $a in pex==*) echo "${a#pex==}" > "$(dirname "$0")/pex-version" ;; esac; done\n' > "$3/bin/pip"
      printf '#!/bin/bash\n[ "$1" = --version ] && exec cat "$(dirname "$0")/pex-version"\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && echo fake-pex > "$2"; shift; done\n' > "$3/bin/pex"
      chmod +x "$3/bin/pants" "$3/bin/pip" "$3/bin/pex"
      echo "venv $3" >> "__LOG__"
      exit 0 ;;
esac
exit 0
"""


def fake_python39(bin_dir: Path, log: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = bin_dir / "python3.9"
    python.write_text(_PYTHON.replace("__LOG__", str(log)))
    python.chmod(0o755)
    return python


# --- .ci/run with stand-ins ----------------------------------------------------------------

STEPS = (
    "bootstrap/docker-engine.sh",
    "bootstrap/base-image.sh",
    "bootstrap/chromium.sh",
    "ci/remote-cache.sh",
    "ci/adopter.sh",
)


# `compat-report` stands in for the plugin's goal with the report CLI over the same core: the
# reports written since the run started, Pants' console output, the verdict as the exit code.
COMPAT_REPORT = (
    'for a; do case $a in --compat-report-since=*) since=${a#*=} ;; --compat-report-pants-log=*) log=${a#*=} ;; esac; done; '
    'PYTHONPATH=src/python:src/core exec python3 -m compat_matrix.report --since "$since" --pants-log "$log"'
)


def ci_checkout(
    tmp_path: Path, test_output: str, exit_code: int = 0, reports: dict[str, str] | None = None, lint_exit_code: int = 0
) -> Path:
    """A copy of .ci/run, the shell functions it sources and the report module; every machine step succeeds; Pants writes `reports`
    (file name -> JUnit XML) into dist/test/reports, prints `test_output` and exits `exit_code`;
    its `compat-report` writes the report (COMPAT_REPORT); its `lint` exits `lint_exit_code`."""
    root = tmp_path / "checkout"
    (root / ".ci").mkdir(parents=True)
    shutil.copy(".ci/run", root / ".ci/run")
    (root / "build-support/bootstrap").mkdir(parents=True)
    shutil.copy("build-support/bootstrap/common.sh", root / "build-support/bootstrap/common.sh")
    shutil.copytree("src/python/compat_matrix", root / "src/python/compat_matrix")
    shutil.copytree("src/core/compat_core", root / "src/core/compat_core")
    written = root / "reports-to-write"
    written.mkdir()
    for name, text in (reports or {}).items():
        (written / name).write_text(text)
    for step in STEPS:
        path = root / "build-support" / step
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    (root / "test-output.txt").write_text(test_output)
    pants = root / "pants"
    pants.write_text(
        '#!/bin/sh\ncase " $* " in *" test "*) mkdir -p dist/test/reports; cp reports-to-write/* dist/test/reports/ 2>/dev/null;'
        f' cat test-output.txt; exit {exit_code} ;;\n'
        f'  *" compat-report "*) {COMPAT_REPORT} ;;\n'
        f'  *" lint "*) echo "lint output"; exit {lint_exit_code} ;;\nesac\nexit 0\n'
    )
    pants.chmod(0o755)
    return root


def ci_run(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / ".ci/run")],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), **env},
        timeout=120,
    )
