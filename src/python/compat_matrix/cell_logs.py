"""Where a failed cell's instance logs go, and how much of them a test report carries.

When a test fails, or its cell fails to start, every instance's log is attached to its report
(its last ``LOG_LINES_IN_REPORT`` lines) and written whole to a file, which the failure names:
under Pants into the test's ``extra-output`` directory, which Pants copies to
``dist/test/<target>/compat-matrix-logs/<instance>.log``; elsewhere to
``<repo>/dist/compat-matrix/logs/<suite>/<cell>-<backend>/<instance>.log``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from compat_core.cell_plan import CellPlan
from compat_core.errors import CompatMatrixError
from compat_matrix.workspace import find_repo_root

LOG_LINES_IN_REPORT = 400
# Pants copies what a test writes under this directory of its sandbox to dist/test/<target>/
# (pytest_runner.py's _EXTRA_OUTPUT_DIR, test.py's `distdir / "test" / path_safe_description`).
PANTS_EXTRA_OUTPUT = "extra-output"
PANTS_TEST_OUTPUTS = "dist/test"
LOGS_DIR_NAME = "compat-matrix-logs"


def attach_logs(report: pytest.TestReport, cell: str, logs: Mapping[str, str], shown: str) -> None:
    """The last ``LOG_LINES_IN_REPORT`` lines of every instance's log, a report section each."""
    for name, text in logs.items():
        lines = text.splitlines()
        cut = len(lines) - LOG_LINES_IN_REPORT
        kept = ([f"[... {cut} earlier lines: the whole log is in {shown}/{name}.log ...]"] if cut > 0 else [])
        kept += lines[-LOG_LINES_IN_REPORT:]
        report.sections.append((f"Captured log compat-matrix {cell}/{name}", f"=== {name} ===\n" + "\n".join(kept)))


def repo_root(start: Path) -> Path | None:
    try:
        return find_repo_root(start)
    except CompatMatrixError:
        return None


def pants_outputs(config: pytest.Config) -> tuple[Path, str] | None:
    """Under Pants (its sandbox has the extra-output directory), that directory and where Pants
    copies it: ``dist/test/<the target's path-safe name>``, which names the JUnit report too."""
    extra = Path.cwd() / PANTS_EXTRA_OUTPUT
    if not extra.is_dir():
        return None
    report = Path(str(config.getoption("xmlpath", default=None) or "")).name.removesuffix(".xml")
    if report.startswith("batch-of-") and report.endswith("-files"):  # Pants' name of a batch's report
        report = report[len("batch-of-") : -len("-files")]
    return extra, (f"{PANTS_TEST_OUTPUTS}/{report}" if report else str(extra))


def logs_location(
    pants: tuple[Path, str] | None, rootpath: Path, plan: CellPlan, backend: str
) -> tuple[Path, str]:
    """Where the logs of a failed cell go, and that place as the failure names it: under Pants
    (``pants``, from ``pants_outputs``) its extra output, else the repo's (or ``rootpath``'s) dist."""
    if pants is not None:
        extra, shown = pants
        return extra / LOGS_DIR_NAME, f"{shown}/{LOGS_DIR_NAME}"
    root = repo_root(rootpath) or rootpath
    directory = root / "dist" / "compat-matrix" / "logs" / plan.suite / f"{plan.name}-{backend}"
    try:
        return directory, str(directory.relative_to(Path.cwd()))
    except ValueError:
        return directory, str(directory)


def keep_logs(
    pants: tuple[Path, str] | None, rootpath: Path, plan: CellPlan, backend: str, logs: Mapping[str, str]
) -> str:
    """Write every instance's whole log where a failed cell's go; the sentence that says where."""
    directory, shown = logs_location(pants, rootpath, plan, backend)
    try:
        write_logs(directory, logs)
    except OSError as exc:
        return f"could not write the logs of cell {plan.name} to {directory}: {exc}"
    files = ", ".join(f"{name}.log" for name in logs)
    return f"every instance's whole log of cell {plan.name} ({backend} backend) is in {shown}/: {files}"


def write_logs(directory: Path, logs: Mapping[str, str]) -> None:
    """``directory`` holding exactly one ``<instance>.log`` per instance (any earlier run's go)."""
    if directory.is_dir():
        for stale in directory.glob("*.log"):
            stale.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in logs.items():
        (directory / f"{name}.log").write_text(text, encoding="utf-8")


__all__ = (
    "LOGS_DIR_NAME",
    "LOG_LINES_IN_REPORT",
    "attach_logs",
    "keep_logs",
    "logs_location",
    "pants_outputs",
    "repo_root",
    "write_logs",
)
