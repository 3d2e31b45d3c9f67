"""Bootstrap steps (build-support/bootstrap/common.sh) stop at their first failing command.

Regression: a step's function ran from an `if`/`||` condition, where bash ignores errexit, so a
failed debootstrap went on to `docker import` a broken base image and reported success.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

COMMON = Path("build-support/bootstrap/common.sh").resolve()


def run_bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; . {COMMON}; {script}"],
        capture_output=True,
        text=True,
        env={"COMPAT_MATRIX_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )


def test_failed_step_stops_at_first_failure_and_dies_with_the_fix(tmp_path: Path) -> None:
    marker = tmp_path / "went-on"
    out = run_bash(f'step() {{ false; touch "{marker}"; }}; cm_step "a step" "do the fix" step', tmp_path)
    assert out.returncode == 1
    assert not marker.exists(), "the step went on after a failing command"
    assert "bootstrap: a step" in out.stderr and "FAILED" in out.stderr
    assert "pants bootstrap: error: do the fix (log: " in out.stderr
    assert "Traceback" not in out.stderr


def test_successful_step_prints_one_timed_line(tmp_path: Path) -> None:
    out = run_bash('step() { true; echo fine; }; cm_step "a step" "never shown" step; echo after', tmp_path)
    assert out.returncode == 0
    assert out.stdout == "after\n"
    (line,) = out.stderr.splitlines()
    assert line.startswith("bootstrap: a step") and line.endswith("s")


def test_try_returns_the_status_for_the_caller_to_handle(tmp_path: Path) -> None:
    out = run_bash('if cm_try "a pull" false; then echo pulled; else echo fallback; fi', tmp_path)
    assert out.returncode == 0
    assert out.stdout == "fallback\n"
