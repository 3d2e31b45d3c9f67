"""``compat-matrix up/down/reap`` end to end: real conveyor processes from source, real signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import conveyor
from compat_matrix.backends.process import python_path
from compat_matrix.cli import main
from compat_matrix.session import list_sessions
from compat_matrix.testing import alive, eventually, isolated_sessions, kill_owner_and_instances

SUITE_BUILD = """
compat_suite(
    name="clitest",
    system="conveyor",
    topology={"server": 1, "user-code": 1},
    cells={"all-branch": {}},
    backends=["process"],
)
"""

SOURCE_ROOT = Path(conveyor.__file__).resolve().parent.parent


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Inside the default sessions directory: if this run is killed, the next run reaps it.
    with isolated_sessions() as directory:
        monkeypatch.setenv("COMPAT_MATRIX_SESSIONS_DIR", str(directory))
        yield directory


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    directory = tmp_path / "suite"
    directory.mkdir()
    (directory / "BUILD").write_text(SUITE_BUILD)
    return directory



def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def up(
    suite: Path, sessions: Path, tmp_path: Path, request: pytest.FixtureRequest
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
            "--suite",
            str(suite),
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
    assert len(pids) == 2 and all(alive(pid) for pid in pids)

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
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)
    assert list_sessions(sessions) == []


def test_up_unknown_cell_is_a_one_line_error(
    suite: Path, sessions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", "server-latest", "--suite", str(suite)]) == 2
    assert "has no cell 'server-latest'; its cells are: all-branch" in capsys.readouterr().err
    assert list_sessions(sessions) == []


def test_up_missing_pex_names_the_build_command(
    suite: Path, sessions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["up", "all-branch", "--suite", str(suite), "--artifacts", str(tmp_path / "empty")])
    assert code == 2
    assert "./pants package docker::" in capsys.readouterr().err
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
    suite: Path, sessions: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(python_path()))
    env.pop("COMPAT_MATRIX_NO_WATCHDOG", None)
    command = [sys.executable, "-m", "compat_matrix", "up", "all-branch", "--suite", str(suite)]
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
        eventually(lambda: not any(alive(pid) for pid in pids), 15.0, f"instances gone after {sig.name}")
    finally:
        kill_owner_and_instances(proc, pids)
