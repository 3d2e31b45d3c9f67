"""``compat-matrix up/down/reap`` end to end: real conveyor processes from source, real signals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

import conveyor
from compat_core.codec import to_data
from compat_core.declare import compat_cell, compat_role, grpc_health_probe, http_probe
from compat_core.model import Suite, System, Topology
from compat_core.parse import parse_releases
from compat_core.plan import plan_suite
from compat_matrix.backends.source_launch import python_path
from compat_matrix.cli import main
from compat_matrix.session import list_sessions
from compat_matrix.session_processes import pid_running
from compat_matrix.testing_support import eventually, isolated_sessions, kill_owner_and_instances

# conveyor's server and user-code roles as its compat_system declares them (src/python/conveyor/BUILD),
# enough for `up` to run a real two-role cell from source.
CONVEYOR = System(
    name="conveyor",
    role_specs=(
        compat_role(
            "user-code",
            module="conveyor.cli:main",
            args=["code-server", "--host", "{host}", "--port", "{port[grpc]}"],
            ports=["grpc"],
            readiness=grpc_health_probe("grpc"),
            branch_sources=["src/python/conveyor/code_server"],
        ),
        compat_role(
            "server",
            module="conveyor.cli:main",
            args=["server", "--host", "{host}", "--port", "{port[http]}", "--code-server", "{address[user-code]}",
                  "--db", "{data_dir}/runs.db"],
            ports=["http"],
            readiness=http_probe("http", "/health"),
            depends_on=["user-code"],
            requires=["user-code"],
            branch_sources=["src/python/conveyor/server"],
        ),
    ),
    releases=parse_releases("conveyor", ["0.1.0", "0.2.0"], "0.1.0"),
)
SUITE = Suite(
    name="clitest",
    topology=Topology((("server", 1), ("user-code", 1))),
    cells=(compat_cell("all-branch"), compat_cell("server-earliest", {"server": "earliest"})),
    system="conveyor",
    backends=("process",),
)
SYSTEM_ADDRESS = "src/python/conveyor:conveyor"

SOURCE_ROOT = Path(conveyor.__file__).resolve().parent.parent


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Inside the default sessions directory: if this run is killed, the next run reaps it.
    with isolated_sessions() as directory:
        monkeypatch.setenv("COMPAT_MATRIX_SESSIONS_DIR", str(directory))
        yield directory


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    """The suite's plan, as `./pants compat-plan --json <suite target>` writes it."""
    plan = plan_suite(SUITE, CONVEYOR)
    plan = replace(plan, cells=tuple(replace(c, system_address=SYSTEM_ADDRESS) for c in plan.cells))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(to_data(plan), indent=2))
    return path


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def up(
    plan_file: Path, sessions: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(python_path()))
    # Like a background job of a script: it starts with SIGINT ignored.
    inherits_ignored_sigint = getattr(request.node, "callspec", None) and request.node.callspec.params.get(
        "how"
    ) == "SIGINT-ignored-at-start"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "compat_matrix",
            "up",
            "all-branch",
            "--plan",
            str(plan_file),
            "--from-source",
            str(SOURCE_ROOT),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint if inherits_ignored_sigint else None,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # blocks until the cell is up (or the command failed)
            lines.append(line.rstrip("\n"))
            if line.startswith("stop with"):
                break
        assert any(" is up " in line for line in lines), "\n".join(lines)
        yield proc, lines
    finally:
        # Only if teardown failed: our own instances.
        kill_owner_and_instances(proc, [p.pid for record in list_sessions(sessions) for p in record.processes])


def _server_url(lines: list[str]) -> str:
    for line in lines:
        match = re.search(r"server-0 \(server branch\) http -> (\S+)", line)
        if match:
            return f"http://{match.group(1)}"
    raise AssertionError("\n".join(lines))


# SIGINT-ignored-at-start: regression, `up` started with SIGINT ignored never tore down on Ctrl-C.
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGINT-ignored-at-start", "down"])
def test_up_serves_the_cell_until_stopped(
    up: tuple[subprocess.Popen[str], list[str]], sessions: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    proc, lines = up
    info = httpx.get(_server_url(lines) + "/info", timeout=10).json()
    assert info["code_location"]["status"] == "ok"
    assert any("user-code-0 log: " in line for line in lines)
    [record] = list_sessions(sessions)
    pids = [p.pid for p in record.processes]
    assert len(pids) == 2 and all(pid_running(pid) for pid in pids)

    assert main(["down"]) == 0
    listing = capsys.readouterr().out
    assert f"{record.id}  running" in listing and "server-0 (server branch) http -> " in listing

    if how == "down":
        assert main(["down", record.id]) == 0
        assert f"asked its owner pid {proc.pid} to stop" in capsys.readouterr().out
    else:
        proc.send_signal(getattr(signal, how.split("-")[0]))
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "cell all-branch is down" in rest
    deadline = time.monotonic() + 10
    while any(pid_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_running(pid) for pid in pids)
    assert list_sessions(sessions) == []


@pytest.mark.parametrize(
    "args, expected",
    [
        (["server-latest"], "has no cell 'server-latest'; its cells are: all-branch, server-earliest"),
        ([], "plans 2 cells (all-branch, server-earliest); name one"),
        (["all-branch", "--plan", "absent.json"], "cannot read the plan absent.json: "),
    ],
    ids=["unknown-cell", "no-cell-named", "no-plan-file"],
)
def test_up_without_a_cell_to_run_is_a_one_line_error(
    plan_file: Path, sessions: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(plan_file.parent)
    assert main(["up", "--plan", str(plan_file), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compat-matrix: error: ") and expected in err and err.count("\n") == 1, err
    assert list_sessions(sessions) == []


def test_up_needs_a_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "all-branch"]) == 2
    assert "--plan" in capsys.readouterr().err


def test_up_missing_pex_names_the_build_command(
    plan_file: Path, sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["up", "all-branch", "--plan", str(plan_file), "--artifacts", str(tmp_path / "empty")])
    assert code == 2
    # user-code starts first (the server depends on it): the branch PEX is the first one missing.
    assert f"./pants package {SYSTEM_ADDRESS}#pex-branch" in capsys.readouterr().err
    assert list_sessions(sessions) == []


def test_reap_and_down_with_nothing_to_do(sessions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reap"]) == 0
    assert "reaped 0 dead session(s)" in capsys.readouterr().out
    assert main(["down"]) == 0
    assert "no compat-matrix sessions" in capsys.readouterr().out
    assert main(["down", "nope"]) == 2
    assert "no session nope" in capsys.readouterr().err


# Regression (issue 12): `up` left its temporary work directory behind after SIGTERM.
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_up_removes_its_temporary_work_directory(
    plan_file: Path, sessions: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(python_path()))
    env.pop("COMPAT_MATRIX_NO_WATCHDOG", None)
    command = [sys.executable, "-m", "compat_matrix", "up", "all-branch", "--plan", str(plan_file)]
    proc = subprocess.Popen(
        [*command, "--from-source", str(SOURCE_ROOT)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids: list[int] = []
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("stop with"):
                break
        logs = [line.split(" log: ", 1)[1] for line in lines if " log: " in line]
        assert logs, "\n".join(lines)
        work_dir = Path(logs[0]).parent.parent  # <work dir>/logs/<instance>.log
        assert work_dir.is_dir() and not work_dir.is_relative_to(tmp_path)
        [record] = list_sessions(sessions)
        pids = [p.pid for p in record.processes]
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        eventually(lambda: not work_dir.exists(), 15.0, f"{work_dir} removed after {sig.name}")
        eventually(lambda: not any(pid_running(pid) for pid in pids), 15.0, f"instances gone after {sig.name}")
    finally:
        kill_owner_and_instances(proc, pids)
