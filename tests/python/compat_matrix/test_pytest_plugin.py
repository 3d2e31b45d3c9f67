"""The pytest plugin, tested with pytester on the fake system (real processes, no conveyor)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compat_core.cell_plan import SuitePlan
from compat_core.codec import cell_to_json, to_data
from compat_core.model import CellSpec, Suite, Topology
from compat_core.plan import plan_suite
from compat_matrix.backends.source_launch import python_path
from compat_matrix.cell_logs import PANTS_EXTRA_OUTPUT
from compat_matrix.reaper import down
from compat_matrix.session import list_sessions
from compat_matrix.session_processes import pid_running
from compat_matrix.testing import FAKE_SYSTEM
from compat_matrix.testing_support import dead_session_with_a_leftover, eventually, kill_owner_and_instances
from compat_matrix.testing_support import isolated_sessions as isolated_sessions_dir

pytest_plugins = ["pytester"]

CONFTEST = """
import os, sys, threading
import pytest
from compat_matrix.backends.source_launch import Launch
from compat_matrix.pytest_plugin import *  # noqa: F401,F403
from compat_matrix.testing import fake_launcher


def crashing_peer(instance, spec):
    if instance.role == "peer":
        return Launch((sys.executable, "-c", "import sys; print('peer gives up', flush=True); sys.exit(3)"))
    return fake_launcher(instance, spec)


@pytest.fixture(scope="session")
def compat_launcher():
    return crashing_peer if os.environ.get("PEER_CRASHES") else fake_launcher


@pytest.fixture(scope="session", autouse=True)
def last_teardown():
    # Set up first, so torn down last: after the compat-matrix session closed.
    yield
    if os.environ.get("BLOCK_IN_TEARDOWN"):
        open(os.environ["PIDS_FILE"] + ".teardown", "w").close()
        threading.Event().wait(120)
"""

# The suite the child pytest runs, planned here as `./pants compat-plan --json` plans it: the
# harness reads cells as data, never BUILD files.
SUITE = Suite(
    name="fakesuite",
    topology=Topology((("web", 1), ("peer", 1))),
    cells=(CellSpec("web-0.1.0", (("web", "0.1.0"),)), CellSpec("peer-0.2.0", (("peer", "0.2.0"),))),
    system=FAKE_SYSTEM.name,
    backends=("process",),
)
PLAN: SuitePlan = plan_suite(SUITE, FAKE_SYSTEM)
PLAN_FILE = "plan.json"

TESTS = """
import json, os, threading
import httpx


def _record(deployment, cell):
    with open(os.environ["PIDS_FILE"], "a") as f:
        f.write(json.dumps({"cell": cell.name, "pids": deployment.pids()}) + "\\n")


def test_web_answers(deployment, cell):
    _record(deployment, cell)
    versions = {i.role: i.version for i in cell.instances}
    assert versions == ({"web": "0.1.0", "peer": "branch"} if cell.name == "web-0.1.0" else {"web": "branch", "peer": "0.2.0"})
    assert httpx.get(deployment.first("web", "main").url() + "/health", timeout=5).status_code == 200


def test_same_deployment_for_the_module(deployment, cell):
    _record(deployment, cell)


def test_fails_with_logs(deployment):
    if os.environ.get("FAIL_ONE"):
        assert False, "deliberate failure"


def test_blocks_until_signalled(deployment, cell):
    if os.environ.get("BLOCK"):
        _record(deployment, cell)
        open(os.environ["PIDS_FILE"] + ".ready", "w").close()
        threading.Event().wait(120)
"""


@pytest.fixture(autouse=True)
def isolated_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Inside the default sessions directory: if this run is killed, the next run reaps it.
    with isolated_sessions_dir() as directory:
        monkeypatch.setenv("COMPAT_MATRIX_SESSIONS_DIR", str(directory))
        monkeypatch.setenv("PIDS_FILE", str(tmp_path / "pids.jsonl"))
        for name in ("COMPAT_MATRIX_CELL", "COMPAT_MATRIX_BACKEND", "FAIL_ONE", "BLOCK", "PEER_CRASHES"):
            monkeypatch.delenv(name, raising=False)
        # The child pytest must import what this one imports (under Pants: the test PEX's sys.path).
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(python_path()))
        yield directory


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # A subprocess, not inline: an inline run unloads modules it imported (httpx/httpcore internals),
    # which breaks exception mapping in later tests, and signals need a separate process anyway.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def _run_plan(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return _run(pytester, "--compat-plan", PLAN_FILE, *args)


@pytest.fixture
def suite_dir(pytester: pytest.Pytester) -> Path:
    pytester.makeconftest(CONFTEST)
    (pytester.path / PLAN_FILE).write_text(json.dumps(to_data(PLAN), indent=2))
    pytester.makepyfile(test_fakesuite=TESTS)
    return pytester.path


def _recorded(tmp_path: Path) -> list[dict]:
    path = tmp_path / "pids.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []



def _all_pids(records: list[dict]) -> set[int]:
    return {pid for record in records for pid in record["pids"].values()}


def _wait_dead(pids: set[int], timeout: float = 15.0) -> set[int]:
    """The pids still alive after waiting up to ``timeout`` for all of them to die."""
    try:
        eventually(lambda: not any(pid_running(p) for p in pids), timeout, "instances gone")
    except AssertionError:
        pass
    return {p for p in pids if pid_running(p)}


def test_parametrizes_every_cell_and_tears_down(
    suite_dir: Path, pytester: pytest.Pytester, tmp_path: Path, isolated_sessions: Path
) -> None:
    result = _run_plan(pytester, "-v", "--strict-markers", "-W", "error::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        ["*test_web_answers?web-0.1.0? PASSED*", "*test_web_answers?peer-0.2.0? PASSED*"]
    )
    records = _recorded(tmp_path)
    assert sorted({r["cell"] for r in records}) == ["peer-0.2.0", "web-0.1.0"]
    for cell in ("web-0.1.0", "peer-0.2.0"):
        # Started once per cell per module: both tests of a cell saw the same processes.
        assert len({json.dumps(r["pids"], sort_keys=True) for r in records if r["cell"] == cell}) == 1
    assert _wait_dead(_all_pids(records)) == set()
    assert list_sessions(isolated_sessions) == []


def test_marker_selects_one_cell(suite_dir: Path, pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = _run_plan(pytester, "-v", "-m", "peer-0.2.0")
    result.assert_outcomes(passed=4, deselected=4)
    assert {r["cell"] for r in _recorded(tmp_path)} == {"peer-0.2.0"}
    result = _run_plan(pytester, "-m", "not peer-0.2.0 and not web-0.1.0")
    result.assert_outcomes(deselected=8)


@pytest.mark.parametrize("shape", ["cells", "suite-and-cell"])
def test_every_plan_file_shape_runs_its_cells(
    suite_dir: Path, pytester: pytest.Pytester, tmp_path: Path, shape: str
) -> None:
    # `./pants compat-plan --json` prints one cell, one suite's plan, or a list of them.
    web, peer = (to_data(cell) for cell in PLAN.cells)
    data = [web, peer] if shape == "cells" else [to_data(SuitePlan("fakesuite", (PLAN.cells[0],), "fake")), peer]
    (suite_dir / PLAN_FILE).write_text(json.dumps(data))
    result = _run_plan(pytester, "-v", "-k", "web_answers")
    result.assert_outcomes(passed=2, deselected=6)
    assert sorted(r["cell"] for r in _recorded(tmp_path)) == ["peer-0.2.0", "web-0.1.0"]


def test_loading_the_plugin_twice_is_harmless(suite_dir: Path, pytester: pytest.Pytester, tmp_path: Path) -> None:
    # The conftest imports it and -p loads it again: options, hooks and parametrization once.
    result = _run_plan(pytester, "-p", "compat_matrix.pytest_plugin", "-m", "web-0.1.0", "--compat-backend=process")
    result.assert_outcomes(passed=4, deselected=4)
    assert len({json.dumps(r["pids"], sort_keys=True) for r in _recorded(tmp_path)}) == 1


def test_failure_attaches_every_instance_log(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAIL_ONE", "1")
    result = _run_plan(pytester, "-m", "web-0.1.0")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*deliberate failure*",
            "*Captured log compat-matrix web-0.1.0/web-0*",
            "*fake web listening on*",
            "*Captured log compat-matrix web-0.1.0/peer-0*",
            "*fake peer listening on*",
        ]
    )
    # Logs go with failures only.
    assert result.stdout.str().count("Captured log compat-matrix web-0.1.0/web-0") == 1


# What Pants names the report of the cell's generated target (Address.path_safe_spec), and where it
# copies the sandbox's extra-output directory to.
PANTS_REPORT = "tests.python.fake@web-0.1.0-process"


def _run_as_pants_does(pytester: pytest.Pytester, suite_dir: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    """The cell web-0.1.0 as Pants runs its target: the cell in the environment, a JUnit report
    named after the target, an empty extra-output directory in the sandbox."""
    (suite_dir / PLAN_FILE).unlink()
    (suite_dir / "extra-output").mkdir()
    monkeypatch.setenv("COMPAT_MATRIX_CELL", cell_to_json(PLAN.cell("web-0.1.0")))
    monkeypatch.setenv("COMPAT_MATRIX_BACKEND", "process")
    # pants.toml's [pytest] args: a failure's report sections go into its JUnit report.
    junit = ("-o", "junit_logging=all", "-o", "junit_log_passing_tests=false")
    return _run(pytester, f"--junit-xml={PANTS_REPORT}.xml", *junit)


def test_a_failed_cell_keeps_every_instance_log_with_pants_test_outputs(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL_ONE", "1")
    result = _run_as_pants_does(pytester, suite_dir, monkeypatch)
    result.assert_outcomes(passed=3, failed=1)
    where = f"dist/test/{PANTS_REPORT}/compat-matrix-logs/"
    result.stdout.fnmatch_lines(
        ["*deliberate failure*", f"*every instance's whole log of cell web-0.1.0 (process backend) is in {where}: "
         "web-0.log, peer-0.log*"]
    )
    logs = suite_dir / "extra-output" / "compat-matrix-logs"
    assert sorted(p.name for p in logs.iterdir()) == ["peer-0.log", "web-0.log"]
    # Whole, and written again at teardown: the web role's declared log file comes with it.
    web = (logs / "web-0.log").read_text()
    assert "fake web listening on" in web and "web web-0 data log" in web
    assert "fake peer listening on" in (logs / "peer-0.log").read_text()
    # The JUnit report (the matrix report's input) names the place too, beside the logs' last lines.
    junit = (suite_dir / f"{PANTS_REPORT}.xml").read_text()
    assert where in junit and "fake web listening on" in junit


def test_a_passing_cell_leaves_no_logs(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_as_pants_does(pytester, suite_dir, monkeypatch)
    result.assert_outcomes(passed=4)
    assert list((suite_dir / "extra-output").iterdir()) == []
    assert "compat-matrix-logs" not in result.stdout.str()


def test_a_cell_that_fails_to_start_keeps_every_instance_log(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEER_CRASHES", "1")
    result = _run_as_pants_does(pytester, suite_dir, monkeypatch)
    result.assert_outcomes(errors=4)
    logs = suite_dir / "extra-output" / "compat-matrix-logs"
    # The instances are gone; what they logged is here, the one that started and the one that did not.
    assert "fake web listening on" in (logs / "web-0.log").read_text()
    assert "peer gives up" in (logs / "peer-0.log").read_text()
    out = result.stdout.str()
    # Every error names the place (in its text: the JUnit report has it too); the logs' last lines
    # are attached to the first one only.
    where = (
        "compat-matrix: every instance's whole log of cell web-0.1.0 (process backend) is in "
        f"dist/test/{PANTS_REPORT}/compat-matrix-logs/: web-0.log, peer-0.log"
    )
    assert out.count(where) == 4, out
    assert out.count("Captured log compat-matrix web-0.1.0/peer-0") == 1
    assert where in (suite_dir / f"{PANTS_REPORT}.xml").read_text()


def test_outside_pants_a_failed_cells_logs_go_under_dist(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (suite_dir / "pants.toml").write_text("")  # the repository's root
    monkeypatch.setenv("FAIL_ONE", "1")
    result = _run_plan(pytester, "-m", "web-0.1.0")
    result.assert_outcomes(passed=3, failed=1, deselected=4)
    logs = suite_dir / "dist" / "compat-matrix" / "logs" / "fakesuite"
    result.stdout.fnmatch_lines(["*is in dist/compat-matrix/logs/fakesuite/web-0.1.0-process/: web-0.log, peer-0.log*"])
    assert [p.name for p in logs.iterdir()] == ["web-0.1.0-process"]
    assert sorted(p.name for p in (logs / "web-0.1.0-process").iterdir()) == ["peer-0.log", "web-0.log"]


def test_env_cell_runs_that_one_cell(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Under Pants the cell comes from the environment only: no plan file, no BUILD file.
    (suite_dir / PLAN_FILE).unlink()
    monkeypatch.setenv("COMPAT_MATRIX_CELL", cell_to_json(PLAN.cell("peer-0.2.0")))
    monkeypatch.setenv("COMPAT_MATRIX_BACKEND", "process")
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_web_answers?peer-0.2.0? PASSED*"])
    assert {r["cell"] for r in _recorded(tmp_path)} == {"peer-0.2.0"}


def test_a_plan_file_wins_over_the_env_cell(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPAT_MATRIX_CELL", cell_to_json(PLAN.cell("peer-0.2.0")))
    result = _run_plan(pytester, "-m", "web-0.1.0", "-k", "web_answers")
    result.assert_outcomes(passed=1, deselected=7)
    assert {r["cell"] for r in _recorded(tmp_path)} == {"web-0.1.0"}


def _old_hand_set_cell() -> str:
    # What a cell looked like when the harness planned it from BUILD files: a name and versions.
    return json.dumps(
        {"suite": "fakesuite", "system": "fake", "cell": "peer-0.2.0", "topology": [["web", 1], ["peer", 1]],
         "versions": [["peer", "0.2.0"]]}
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        ("{not json", "*COMPAT_MATRIX_CELL is not valid JSON*./pants compat-plan --json <cell target>*"),
        ('["a list"]', "*COMPAT_MATRIX_CELL must be a JSON object, got list*"),
        (_old_hand_set_cell(), "*COMPAT_MATRIX_CELL is not a planned cell (KeyError: 'name')*"
                               "regenerate it with `./pants compat-plan --json <cell target>`*"),
    ],
    ids=["not-json", "not-an-object", "names-and-versions-only"],
)
def test_a_cell_that_is_not_a_planned_cell_fails_before_anything_starts(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, expected: str
) -> None:
    # Regression (issue 12), in the form it takes now: a hand-set cell that names a cell but not
    # what it runs must not run anything under that cell's name.
    monkeypatch.setenv("COMPAT_MATRIX_CELL", value)
    monkeypatch.setenv("COMPAT_MATRIX_BACKEND", "process")
    result = _run(pytester)
    assert result.ret != 0
    result.stdout.fnmatch_lines([expected])
    assert _recorded(tmp_path) == []  # nothing started


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "*cannot read the plan *plan.json*write it with `./pants compat-plan --json*"),
        ('{"suite": "fakesuite"}', "*plan.json holds no planned cell; write it with `./pants compat-plan --json*"),
    ],
    ids=["missing", "no-cells"],
)
def test_a_plan_file_without_cells_is_an_error_naming_the_command(
    suite_dir: Path, pytester: pytest.Pytester, tmp_path: Path, content: str | None, expected: str
) -> None:
    if content is None:
        (suite_dir / PLAN_FILE).unlink()
    else:
        (suite_dir / PLAN_FILE).write_text(content)
    result = _run_plan(pytester)
    assert result.ret != 0
    result.stdout.fnmatch_lines([expected])
    assert _recorded(tmp_path) == []


def test_no_cell_at_all_says_where_cells_come_from(suite_dir: Path, pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = _run(pytester)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*no compat-matrix cell to run*COMPAT_MATRIX_CELL*--compat-plan FILE*"])
    assert _recorded(tmp_path) == []


def test_unknown_backend_from_env_is_an_error(
    suite_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPAT_MATRIX_BACKEND", "vm")
    result = _run_plan(pytester, "-m", "web-0.1.0")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(["*unknown backend 'vm'; known backends: process, docker*"])


def test_keep_leaves_the_cell_running_until_down(
    suite_dir: Path, pytester: pytest.Pytester, tmp_path: Path, isolated_sessions: Path
) -> None:
    result = _run_plan(pytester, "-m", "web-0.1.0", "--compat-keep")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*deployments kept running*",
            "*web-0 (web 0.1.0) main -> 127.0.0.1:*",
            "*tear down with: compat-matrix down *",
        ]
    )
    pids = _all_pids(_recorded(tmp_path))
    try:
        assert pids and all(pid_running(p) for p in pids)
        [record] = list_sessions(isolated_sessions)
        assert record.kept and {p.pid for p in record.processes} == pids
        down([record.id], isolated_sessions, reapers=[])
        assert _wait_dead(pids) == set()
    finally:
        for pid in pids:
            if pid_running(pid):
                os.killpg(pid, signal.SIGKILL)


def test_reaper_runs_at_session_start(
    suite_dir: Path, pytester: pytest.Pytester, isolated_sessions: Path
) -> None:
    with dead_session_with_a_leftover(isolated_sessions) as leftover:
        result = _run_plan(pytester, "-m", "no-such-cell")
        result.stdout.fnmatch_lines(
            ["*reaped what killed sessions left behind*", f"*killed process {leftover.pid} (server-0)*"]
        )
        assert leftover.wait(timeout=10) == -signal.SIGKILL


def _child_pytest(suite_dir: Path, basetemp: Path, block: str, test: str) -> subprocess.Popen[bytes]:
    """A pytest of the fake suite in a process of its own, running ``test`` in cell web-0.1.0 with
    the suite's ``block`` variable set (where its test or teardown waits to be signalled)."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--basetemp", str(basetemp),
            "--compat-plan", PLAN_FILE, "-m", "web-0.1.0", "-k", test,
        ],
        cwd=suite_dir,
        env=dict(os.environ, **{block: "1"}, PYTHONPATH=os.pathsep.join(python_path())),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


# Regression (issue 24): a signal that came while pytest tore down, after the session had closed as
# after a normal run (Pants interrupts pytest when its client is killed), left the run's base temp.
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_the_last_teardown_takes_the_base_temp(
    suite_dir: Path, tmp_path: Path, isolated_sessions: Path, sig: signal.Signals
) -> None:
    basetemp = tmp_path / "basetemp"
    child = _child_pytest(suite_dir, basetemp, "BLOCK_IN_TEARDOWN", "web_answers")
    try:
        marker = Path(str(tmp_path / "pids.jsonl") + ".teardown")
        eventually(lambda: marker.exists() or child.poll() is not None, 60.0, "the child pytest in its last teardown")
        assert child.poll() is None, child.communicate()[0].decode()
        # The session closed as after a normal run: pytest's base temp stays, for now.
        assert basetemp.exists() and list_sessions(isolated_sessions) == []
        child.send_signal(sig)
        output = child.communicate(timeout=60)[0].decode()
        assert not basetemp.exists(), output
    finally:
        kill_owner_and_instances(child, _all_pids(_recorded(tmp_path)))


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"]
)
def test_signals_never_leak_instances(
    suite_dir: Path, tmp_path: Path, isolated_sessions: Path, sig: signal.Signals
) -> None:
    basetemp = tmp_path / "basetemp"
    child = _child_pytest(suite_dir, basetemp, "BLOCK", "blocks")
    pids: set[int] = set()
    try:
        ready = Path(str(tmp_path / "pids.jsonl") + ".ready")
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.communicate()[0].decode()
            assert time.monotonic() < deadline, "the child pytest never started its deployment"
            time.sleep(0.05)
        pids = _all_pids(_recorded(tmp_path))
        assert len(pids) == 2 and all(pid_running(p) for p in pids)
        child.send_signal(sig)
        output = child.communicate(timeout=60)[0].decode()
        if sig == signal.SIGKILL:
            # Regression (issue 12): the owner had no chance to tear down, and its instances ran
            # on until a later run's reaper. Its process watchdog removes them now, and the record.
            eventually(lambda: not any(pid_running(p) for p in pids), 10.0, "instances gone after SIGKILL of pytest")
            eventually(lambda: list_sessions(isolated_sessions) == [], 10.0, "the killed session's record removed")
        else:
            assert child.returncode == 2, output  # pytest's "interrupted"
            assert "KeyboardInterrupt" in output or "SIGTERM" in output, output
        assert _wait_dead(pids) == set(), output
        assert list_sessions(isolated_sessions) == []
        # Regression (issue 24): every killed run left its base temp (the instances' data and logs).
        eventually(lambda: not basetemp.exists(), 10.0, f"the killed run's base temp {basetemp} removed")
    finally:
        kill_owner_and_instances(child, pids)


OWN_BASE_TEMP_TEST = """
import os

def test_writes(tmp_path):
    (tmp_path / "data").write_text("an instance's data")
    print("TMP_PATH", tmp_path)
    assert not os.environ.get("FAIL")
"""


@pytest.fixture
def one_test_suite(tmp_path: Path) -> Path:
    """A suite with the plugin and one test that writes into its ``tmp_path`` and prints where."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text("from compat_matrix.pytest_plugin import *  # noqa: F401,F403\n")
    (suite / "test_own.py").write_text(OWN_BASE_TEMP_TEST)
    return suite


def _pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", *args]


# Regression (issue 29): concurrent runs shared pytest's numbered base temps under one root, and one
# run's end removed the dead `pytest-current` link another run had just removed: FileNotFoundError,
# a red cell. Each run has a base temp of its own now, and none is left after it, failed or not.
def test_each_run_has_a_base_temp_of_its_own_and_leaves_none(one_test_suite: Path, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp), PYTHONPATH=os.pathsep.join(python_path()))
    env.pop("PYTEST_DEBUG_TEMPROOT", None)
    runs = [
        subprocess.Popen(
            _pytest("-o", "tmp_path_retention_policy=failed"),
            cwd=one_test_suite,
            env=dict(env, FAIL="1") if failing else env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for failing in (False, True, False, True)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 1, 0, 1], outputs
    used = [Path(found) for out in outputs for found in re.findall(r"TMP_PATH (\S+)", out)]
    assert len({p.parent for p in used}) == 4, used  # four base temps, one per run
    assert all(p.parent.name.startswith("compat-matrix-pytest-") and p.parent.parent == temp for p in used), used
    assert list(temp.iterdir()) == [], outputs  # nothing left, the failed runs' included


def test_a_chosen_base_temp_stays_pytests(one_test_suite: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    result = subprocess.run(
        _pytest("--basetemp", str(chosen)),
        cwd=one_test_suite,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(python_path())),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert (chosen / "test_writes0" / "data").exists(), result.stdout  # pytest keeps a chosen one


# Regression (issue 29): the plain pytest runs Pants starts at once (no harness plugin) still shared
# /tmp/pytest-of-<user> and could race there; pants.toml puts each run's base temp in its sandbox.
def test_under_pants_a_runs_base_temp_is_in_its_sandbox(tmp_path: Path) -> None:
    if not (Path.cwd() / PANTS_EXTRA_OUTPUT).is_dir():
        pytest.skip("not run by Pants: no sandbox")
    assert Path.cwd().resolve() in tmp_path.resolve().parents, tmp_path
