"""The verdict battery: a cell made to fail in every way we know, and every reader must say red.

Each case runs a real cell of the fake system (``compat_matrix.testing``: real processes, real
probes) under the real harness with pytest, as Pants runs a cell test (the cell in
``COMPAT_MATRIX_CELL``, JUnit XML named as Pants names a generated target's report). Then the real
``.ci/run`` runs with a stand-in Pants that leaves those reports, prints the summary lines Pants
prints for them and exits as Pants would. Every reader must say red: ``.ci/run``'s exit code and
terminal, ``report.json``, ``report.html`` and ``report.junit.xml``; and the report CLI's over the
saved reports (Pants' exit code and no console output) too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from compat_core.cell_plan import CellPlan
from compat_core.codec import cell_to_json
from compat_core.names import cell_target
from compat_core.report_junit import report_key
from compat_matrix.backends.source_launch import python_path
from compat_matrix.session_processes import pid_running
from compat_matrix.testing import fake_plan
from compat_matrix.testing_support import eventually, isolated_sessions, kill_owner_and_instances
from launcher.fakes import ci_checkout, ci_run

SUITE_DIR = "tests/python/integration/verdict"
"""Where the battery's cells would live in a repo: their addresses and report names derive from it."""

CONFTEST = """
import pytest
from compat_matrix.pytest_plugin import *  # noqa: F401,F403
from compat_matrix.testing import fake_launcher


@pytest.fixture(scope="session")
def compat_launcher():
    return fake_launcher
"""

PASSES = "def test_it(deployment):\n    assert deployment.pids()\n"
FAILS = "def test_it(deployment):\n    assert deployment.pids() == {}, 'deliberate failure'\n"
# Stands still once the cell is up, so that the battery can kill pytest as Pants' timeout does.
HANGS = """
import json, os, threading


def test_it(deployment):
    with open(os.environ["BATTERY_PIDS"], "w") as f:
        json.dump(list(deployment.pids().values()) + [os.getpid()], f)
    threading.Event().wait(120)
"""


@dataclass(frozen=True)
class Case:
    """One way a cell fails: its topology, its test modules, and how Pants reports it."""

    name: str
    topology: tuple[tuple[str, int], ...]
    modules: dict[str, str]  # test module -> its text (several: one target per module)
    cached: bool = False  # the failing result is replayed from a cache, not run now
    killed: bool = False  # pytest is killed (Pants' timeout): no report is left
    failing: tuple[str, ...] = field(default=())  # the modules whose target fails

    @property
    def cell(self) -> CellPlan:
        return fake_plan(f"verdict-{self.name}", self.topology, suite="verdict")


WEB = (("web", 1),)
CASES = [
    Case("failing-assert", WEB, {"test_cell.py": FAILS}, failing=("test_cell.py",)),
    Case("role-crashes-at-start", (("crash", 1),), {"test_cell.py": PASSES}, failing=("test_cell.py",)),
    Case("readiness-timeout", (("never", 1),), {"test_cell.py": PASSES}, failing=("test_cell.py",)),
    Case("second-target-fails", WEB, {"test_a.py": PASSES, "test_b.py": FAILS}, failing=("test_b.py",)),
    Case("cached-failure-replayed", WEB, {"test_cell.py": FAILS}, cached=True, failing=("test_cell.py",)),
    Case("failed-without-report", WEB, {"test_cell.py": HANGS}, killed=True, failing=("test_cell.py",)),
]


def address(case: Case, module: str) -> str:
    target = cell_target(case.cell.name, "process", module if len(case.modules) > 1 else "")
    return f"{SUITE_DIR}#{target}"


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with isolated_sessions("verdict") as directory:
        monkeypatch.setenv("COMPAT_MATRIX_SESSIONS_DIR", str(directory))
        yield directory


def run_cell(case: Case, module: str, work: Path) -> tuple[str | None, str]:
    """Runs one target of the case's cell as Pants would: its JUnit report's text (None when
    pytest was killed before writing one), and Pants' summary line for it."""
    work.mkdir(parents=True)
    (work / "conftest.py").write_text(CONFTEST)
    (work / module).write_text(case.modules[module])
    report = work / "report.xml"
    env = {
        **os.environ,
        "COMPAT_MATRIX_CELL": cell_to_json(case.cell),
        "COMPAT_MATRIX_BACKEND": "process",
        "PYTHONPATH": os.pathsep.join(python_path()),
        "BATTERY_PIDS": str(work / "pids.json"),
    }
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_logging=all",
               "-o", "junit_log_passing_tests=false", f"--junitxml={report}", module]
    started = time.monotonic()
    if case.killed:
        owner = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pids: list[int] = []
        try:
            eventually(lambda: (work / "pids.json").exists() and (work / "pids.json").stat().st_size > 0, 60,
                       "the cell came up")
            pids = json.loads((work / "pids.json").read_text())
            owner.send_signal(signal.SIGKILL)
            owner.wait()
            eventually(lambda: not any(pid_running(p) for p in pids), 20, "the killed session's instances are gone")
        finally:
            kill_owner_and_instances(owner, pids)
        code = -signal.SIGKILL
    else:
        code = subprocess.run(command, cwd=work, env=env, capture_output=True, timeout=120).returncode
    elapsed = time.monotonic() - started
    status = "succeeded" if code == 0 else "failed"
    sigil = "✓" if code == 0 else "✕"
    source = " (cached locally)" if case.cached else ""
    line = f"{sigil} {address(case, module)} {status} in {elapsed:.2f}s{source}."
    text = report.read_text() if report.exists() else None
    if text is not None and case.cached:
        # A replayed result keeps the time it first ran.
        text = re.sub(r'timestamp="[^"]*"', 'timestamp="2026-01-01T00:00:00.000000+00:00"', text)
    return text, line


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_reader_says_red(case: Case, tmp_path: Path, sessions: Path) -> None:
    reports: dict[str, str] = {}
    lines = []
    for n, module in enumerate(case.modules):
        text, line = run_cell(case, module, tmp_path / f"run-{n}")
        expected = "✕" if module in case.failing else "✓"
        assert line.startswith(expected), f"{module} of {case.name}: {line}"
        if text is not None:
            reports[report_key(address(case, module)) + ".xml"] = text
        lines.append(line)
    assert case.killed == (len(reports) < len(case.modules)), "a killed run leaves no report; others do"
    # An unrelated target that passed, so that a failure is not the only thing in the run.
    lines.append("✓ tests/python/compat_matrix/test_report.py:tests succeeded in 1.20s (cached remotely).")

    root = ci_checkout(tmp_path, "\n".join(lines) + "\n", exit_code=1, reports=reports)
    out = ci_run(root)

    # .ci/run: its exit code and what it prints.
    assert out.returncode != 0, out.stdout + out.stderr
    assert "=== test: FAILED" in out.stdout, out.stdout
    assert "compat-matrix report:" in out.stdout and "FAILED" in out.stdout.split("compat-matrix report:")[-1]
    failed = {address(case, m) for m in case.failing}
    said_red(root / "dist/compat-matrix", failed, case)

    # The report CLI over the saved reports: Pants' exit code, no console output.
    cli_out = root / "dist/cli-report"
    said = subprocess.run(
        [sys.executable, "-m", "compat_matrix.report", "--reports", str(root / "dist/test/reports"),
         "--out", str(cli_out), "--root", str(root), "--pants-exit-code", "1", "--since", str(time.time())],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(python_path())}, capture_output=True, text=True,
    )
    assert said.returncode == 1, said.stdout + said.stderr
    data = json.loads((cli_out / "report.json").read_text())
    assert data["verdict"] == "failed", data["reason"]
    assert junit_failures(cli_out) > 0


def said_red(out: Path, failed: set[str], case: Case) -> None:
    data = json.loads((out / "report.json").read_text())
    assert data["verdict"] == "failed", data["reason"]
    status = {t["address"]: t["status"] for t in data["targets"]}
    assert {a for a in failed if status.get(a) != "failed"} == set(), status
    assert data["summary"]["failed"] == len(failed)
    # Counted once each: the run's targets, the unrelated one included.
    assert data["summary"]["targets"] == len(case.modules) + 1
    page = (out / "report.html").read_text()
    if not case.killed:
        # The cell's badge on the page, and every role's version on it.
        badge = re.search(rf"<td class='cell [^']*' id='[^']*' data-cell='{re.escape(case.cell.name)}' data-backend='process'"
                          r" data-state='(\w+)'", page)
        assert badge and badge.group(1) == "failed", page
        for instance in case.cell.instances:
            assert f"{instance.name}={instance.version}" in page
    for a in failed:
        assert a in page
    assert junit_failures(out) >= len(failed)


def junit_failures(out: Path) -> int:
    root = ET.parse(out / "report.junit.xml").getroot()
    return sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in root.iter("testsuite"))
