"""`.ci/run`'s own logic, with stand-ins for the machine steps and for Pants.

Regression: a CI run that tested nothing (every target filtered away) passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

STEPS = ("bootstrap/docker-engine.sh", "bootstrap/base-image.sh", "bootstrap/chromium.sh", "ci/remote-cache.sh")


def checkout(tmp_path: Path, test_output: str) -> Path:
    """A copy of .ci/run and the report module; every machine step succeeds; Pants prints `test_output`."""
    root = tmp_path / "checkout"
    (root / ".ci").mkdir(parents=True)
    shutil.copy(".ci/run", root / ".ci/run")
    shutil.copytree("src/python/compat_matrix", root / "src/python/compat_matrix")
    for step in STEPS:
        path = root / "build-support" / step
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    (root / "test-output.txt").write_text(test_output)
    pants = root / "pants"
    pants.write_text('#!/bin/sh\ncase " $* " in *" test "*) cat test-output.txt ;; esac\nexit 0\n')
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


def test_a_run_of_zero_tests_fails(tmp_path: Path) -> None:
    out = ci_run(checkout(tmp_path, "No targets were matched.\n"))
    assert out.returncode == 1
    assert "zero test targets ran" in out.stdout


def test_a_run_with_tests_passes_and_writes_the_report(tmp_path: Path) -> None:
    root = checkout(tmp_path, "✓ a/b.py:tests succeeded in 1.0s (cached remotely).\n✓ a/c.py:tests succeeded in 2.0s.\n")
    out = ci_run(root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "=== test: 2 test targets, 1 of them from a cache" in out.stdout
    assert (root / "dist/compat-matrix/report.html").exists()


@pytest.mark.parametrize("shard", ["2/2", "1", "a/b", "0/0"])
def test_a_bad_shard_is_an_error_before_anything_runs(tmp_path: Path, shard: str) -> None:
    out = ci_run(checkout(tmp_path, ""), COMPAT_MATRIX_SHARD=shard)
    assert out.returncode == 2
    assert f"COMPAT_MATRIX_SHARD={shard} is not k/N" in out.stderr
    assert "=== bootstrap" not in out.stdout
