"""What the launcher prepares for a slice of the tests, it prepares only for a run that may reach it.

Regression: every `./pants test` waited for Chromium (an apt install on a new machine), which only
the report's browser test needs; the quick start's cell cannot reach that test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from launcher.test_launcher import Launcher

SELECTS = Path("build-support/bootstrap/selects.sh").resolve()
BROWSER_TEST = "tests/python/compat_matrix/test_report_browser.py"


@pytest.mark.parametrize(
    "words, may",
    [
        ("test ::", True),
        ("--tag=backcompat --tag=user-code-earliest test ::", False),  # the quick start
        ("--tag=browser test ::", True),
        ("--tag=-docker test ::", True),
        ("--tag=-browser test ::", False),
        ("--tag smoke test ::", False),
        ("--tag=smoke,browser test ::", True),
        ("test tests/core::", False),
        ("test tests/python::", True),
        ("test tests/python/compat_matrix:", True),
        ("test tests/python/compat_matrix", True),
        (f"test {BROWSER_TEST}", True),
        ("test tests/python/compat_matrix/test_report.py", False),
        ("--changed-since=HEAD test", True),  # Pants alone knows what changed
    ],
)
def test_may_select(words: str, may: bool) -> None:
    out = subprocess.run(
        ["bash", "-c", f'set -euo pipefail; . {SELECTS}; cm_may_select browser {BROWSER_TEST} "$@"', "-", *words.split()],
        capture_output=True,
        text=True,
    )
    assert out.returncode == (0 if may else 1), out.stderr


def test_the_quick_start_waits_for_no_chromium(tmp_path: Path) -> None:
    launcher = Launcher(tmp_path)
    # A chromium on PATH: the launcher's step then finds it and installs nothing.
    bin_dir = tmp_path / "chromium-bin"
    bin_dir.mkdir()
    (bin_dir / "chromium").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "chromium").chmod(0o755)
    launcher.env.pop("COMPAT_MATRIX_NO_BROWSER")
    launcher.env.update(PATH=f"{bin_dir}:{launcher.env['PATH']}")
    launcher.run("--tag=backcompat", "--tag=user-code-earliest", "test", "::")
    assert not list(launcher.cache.glob("logs/Chromium*")), "the quick start prepared Chromium"
    launcher.run("test", "::")
    assert list(launcher.cache.glob("logs/Chromium*")), "a run that may reach the browser test did not prepare Chromium"
