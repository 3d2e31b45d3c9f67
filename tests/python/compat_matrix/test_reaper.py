"""Session records and the reaper, with real processes: a SIGKILLed owner's instances get reaped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from compat_core.contract import NO_WATCHDOG_ENV
from compat_core.errors import CompatMatrixError
from compat_core.labels import LABEL_OWNER_PID, LABEL_SESSION
from compat_matrix.backends.source_launch import python_path
from compat_matrix.reaper import down, load_resource_reapers, reap
from compat_matrix.session import (
    LEASE_FILE,
    Session,
    SessionRecord,
    list_sessions,
    remove_directories,
    sessions_dir,
)
from compat_matrix.session_processes import ProcessRecord, pid_running, stop_recorded_process
from compat_matrix.testing_support import eventually, isolated_sessions

# A harness run that starts a cell (web-0 with a grandchild, as a PEX re-exec or a dask nanny
# has), reports its pids, and then blocks until it is killed.
OWNER_SCRIPT = r"""
import json, sys, threading
from pathlib import Path
import psutil
from compat_matrix.backends.process import ProcessBackend
from compat_matrix.session import Session
from compat_matrix.testing import FAKE_SYSTEM, fake_launcher, fake_plan, replace_role

work = Path(sys.argv[1])
system = replace_role(FAKE_SYSTEM, "web", args=FAKE_SYSTEM.roles["web"].args + ("--child", "1"))
session = Session.create("reaper test owner", directory=Path(sys.argv[2]))
session.own_temp_directory(work / "cell")  # as the pytest plugin records pytest's base temp
deployment = ProcessBackend(session=session, launcher=fake_launcher).start(
    fake_plan("c", [("web", 1), ("peer", 1)], system=system), work, work / "cell"
)
tree = [c.pid for pid in deployment.pids().values() for c in psutil.Process(pid).children(recursive=True)]
report = {"session": session.id, "pids": deployment.pids(), "descendants": tree}
(work / "pids.json.tmp").write_text(json.dumps(report))
(work / "pids.json.tmp").rename(work / "pids.json")
threading.Event().wait()
"""


class RecordingReaper:
    """A resource reaper that records what it was asked to reap."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], frozenset[str]]] = []

    def reap(self, dead_sessions: Sequence[SessionRecord], live_session_ids: frozenset[str]) -> list[str]:
        self.calls.append(([s.id for s in dead_sessions], live_session_ids))
        return [f"container of {s.id}" for s in dead_sessions]


class BrokenReaper:
    def reap(self, dead_sessions: Sequence[SessionRecord], live_session_ids: frozenset[str]) -> list[str]:
        raise ConnectionError("engine unreachable")



def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"owner exited early: {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(NO_WATCHDOG_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join(python_path())
    env.update(extra)
    return env


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _dead_owner() -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, created


def _write_record(directory: Path, record: SessionRecord) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{record.id}.json").write_text(record.to_json())


def test_reaps_the_instances_of_a_sigkilled_owner(tmp_path: Path) -> None:
    with isolated_sessions() as sessions:
        _reap_the_instances_of_a_sigkilled_owner(tmp_path, sessions)


def _reap_the_instances_of_a_sigkilled_owner(tmp_path: Path, sessions: Path) -> None:
    # The watchdog off: this tests the last line of defence alone.
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(tmp_path), str(sessions)],
        env=_child_env(**{NO_WATCHDOG_ENV: "1"}),
    )
    pids: dict[str, int] = {}
    try:
        _wait_for(tmp_path / "pids.json", owner)
        report = json.loads((tmp_path / "pids.json").read_text())
        pids = report["pids"]
        assert set(pids) == {"web-0", "peer-0"}
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        # SIGKILL gave the owner no chance to clean up: its instances are orphans now.
        assert all(pid_running(pid) for pid in pids.values())

        resources = RecordingReaper()
        result = reap(sessions, reapers=[resources])
        assert result.sessions == (report["session"],)
        assert resources.calls == [([report["session"]], frozenset())]
        assert f"container of {report['session']}" in result.removed
        for name, pid in pids.items():
            assert f"session {report['session']}: killed process {pid} ({name})" in result.removed
        eventually(lambda: not any(pid_running(pid) for pid in pids.values()), 10.0, "the reaped instances gone")
        assert list_sessions(sessions) == []
        assert f"session {report['session']}: removed directory {tmp_path / 'cell'}" in result.removed
        assert not (tmp_path / "cell").exists()
        assert not reap(sessions, reapers=[])  # nothing left the second time
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for pid in pids.values():  # only if the reaper failed: these are our own instances
            if pid_running(pid):
                os.killpg(pid, signal.SIGKILL)


# Regression (issue 12): a SIGKILLed owner's instances ran on until a later run's reaper.
def test_a_sigkilled_owners_instances_die_with_it_without_a_reaper(tmp_path: Path) -> None:
    with isolated_sessions() as sessions:
        owner = subprocess.Popen(
            [sys.executable, "-c", OWNER_SCRIPT, str(tmp_path), str(sessions)], env=_child_env()
        )
        everything: list[int] = []
        try:
            _wait_for(tmp_path / "pids.json", owner)
            report = json.loads((tmp_path / "pids.json").read_text())
            everything = [*report["pids"].values(), *report["descendants"]]
            assert len(report["descendants"]) >= 1  # web-0's grandchild
            assert all(pid_running(pid) for pid in everything)
            owner.send_signal(signal.SIGKILL)
            owner.wait()
            eventually(
                lambda: not any(pid_running(pid) for pid in everything),
                10.0,
                f"instances and their children {everything} gone after their owner was SIGKILLed",
            )
            eventually(lambda: list_sessions(sessions) == [], 10.0, "the dead session's record removed")
            # Regression (issue 24): the killed run's data and logs stayed behind.
            assert not (tmp_path / "cell").exists()
        finally:
            if owner.poll() is None:
                owner.kill()
                owner.wait()
            for pid in everything:  # only if the watchdog failed: our own instances
                if pid_running(pid):
                    os.kill(pid, signal.SIGKILL)


# Regression (issue 12): a foreign run's reaper took the sessions another test run had planted.
def test_a_foreign_reaper_leaves_a_leased_directory_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    owner_pid, owner_created = _dead_owner()
    planted = SessionRecord(
        "planted",
        owner_pid,
        owner_created,
        time.time(),
        processes=(ProcessRecord(sleeper.pid, psutil.Process(sleeper.pid).create_time(), "w-0"),),
    )
    with isolated_sessions(parent=tmp_path) as mine:
        _write_record(mine, planted)
        assert not reap(tmp_path, reapers=[])  # another run scanning the whole tree: not its to take
        assert pid_running(sleeper.pid)
        assert reap(mine, reapers=[]).sessions == ("planted",)  # the test's own reap still works
        sleeper.wait(timeout=10)
    # A lease whose holder died (a killed test run) no longer protects anything.
    stale = tmp_path / "stale"
    _write_record(stale, replace(planted, id="stale-planted", processes=()))
    (stale / LEASE_FILE).write_text(json.dumps({"pid": owner_pid, "create_time": owner_created}))
    assert reap(tmp_path, reapers=[]).sessions == ("stale-planted",)


def test_an_owned_directory_goes_with_the_session(tmp_path: Path) -> None:
    owner_pid, owner_created = _dead_owner()
    work = tmp_path / "work"
    (work / "logs").mkdir(parents=True)
    _write_record(
        tmp_path / "sessions", SessionRecord("dead", owner_pid, owner_created, time.time(), directories=(str(work),))
    )
    assert reap(tmp_path / "sessions", reapers=[]).removed == (f"session dead: removed directory {work}",)
    assert not work.exists()
    closing = Session.create("closing", directory=tmp_path / "sessions")
    (work / "x").mkdir(parents=True)
    closing.own_directory(work)
    closing.close()
    assert not work.exists()


# Regression (issue 24): every killed run left its pytest base temp (its instances' data and
# logs), locked, never pruned.
def test_a_dead_sessions_temp_directory_goes_and_a_live_ones_stays(tmp_path: Path) -> None:
    owner_pid, owner_created = _dead_owner()
    killed, running = tmp_path / "pytest-7", tmp_path / "pytest-8"
    for base in (killed, running):
        (base / "cell-0" / "logs").mkdir(parents=True)
    _write_record(
        tmp_path / "sessions", SessionRecord("dead", owner_pid, owner_created, time.time(), temp_dirs=(str(killed),))
    )
    live = Session.create("live", directory=tmp_path / "sessions")
    live.own_temp_directory(running)
    assert reap(tmp_path / "sessions", reapers=[]).removed == (f"session dead: removed directory {killed}",)
    assert not killed.exists()
    assert running.exists()
    # A normal close leaves the base temp to the pytest plugin; an interrupted one takes it.
    live.close()
    assert running.exists()
    interrupted = Session.create("interrupted", directory=tmp_path / "sessions")
    interrupted.own_temp_directory(running)
    interrupted.close(interrupted=True)
    assert not running.exists()
    assert list_sessions(tmp_path / "sessions") == []


# Files created in a directory until it is gone, as a stopping instance's database checkpoints.
WRITER_SCRIPT = r"""
import os, sys, time
directory = sys.argv[1]
end = time.monotonic() + 30
try:
    while time.monotonic() < end:
        open(os.path.join(directory, str(time.monotonic_ns())), "w").close()
except FileNotFoundError:
    pass
"""


# Regression (issue 24): a killed run's base temp stayed, partly removed: an instance still wrote
# into it while the watchdog removed the tree.
def test_a_directory_written_while_it_is_removed_goes_too(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    writer = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(work / "data")])
    try:
        eventually(lambda: any((work / "data").iterdir()), 10.0, "the writer writing")
        remove_directories([str(work)])
        assert not work.exists()
        assert writer.wait(timeout=10) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


def test_live_sessions_are_left_alone(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    session = Session.create("live", directory=tmp_path)
    session.record_process(sleeper.pid, "sleeper-0")
    resources = RecordingReaper()
    result = reap(tmp_path, reapers=[resources])
    assert not result
    assert resources.calls == [([], frozenset({session.id}))]
    assert pid_running(sleeper.pid)
    assert [r.id for r in list_sessions(tmp_path)] == [session.id]
    session.forget_process(sleeper.pid)
    session.close()
    assert list_sessions(tmp_path) == []


def test_a_reused_pid_is_never_killed(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    owner_pid, owner_created = _dead_owner()
    real = psutil.Process(sleeper.pid).create_time()
    record = SessionRecord(
        id="dead-owner",
        owner_pid=owner_pid,
        owner_create_time=owner_created,
        created_at=time.time(),
        # Same pid, different create time: the recorded process is gone, the pid was reused.
        processes=(ProcessRecord(pid=sleeper.pid, create_time=real - 100.0, instance="server-0"),),
    )
    _write_record(tmp_path, record)
    result = reap(tmp_path, reapers=[])
    assert result.sessions == ("dead-owner",) and result.removed == ()
    assert pid_running(sleeper.pid)
    assert list_sessions(tmp_path) == []


def test_kept_sessions_survive_reap_until_down(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    owner_pid, owner_created = _dead_owner()
    record = SessionRecord(
        id="kept-one",
        owner_pid=owner_pid,
        owner_create_time=owner_created,
        created_at=time.time(),
        kept=True,
        processes=(ProcessRecord(sleeper.pid, psutil.Process(sleeper.pid).create_time(), "web-0"),),
    )
    _write_record(tmp_path, record)
    assert not reap(tmp_path, reapers=[])
    assert pid_running(sleeper.pid)
    with pytest.raises(CompatMatrixError, match="no session nope .* known sessions: kept-one"):
        down(["nope"], tmp_path, reapers=[])
    resources = RecordingReaper()
    result = down(["kept-one"], tmp_path, reapers=[resources])
    assert result.sessions == ("kept-one",)
    assert result.removed == (f"session kept-one: stopped process {sleeper.pid} (web-0)", "container of kept-one")
    assert not pid_running(sleeper.pid)  # stop_recorded_process waited for it
    assert resources.calls == [(["kept-one"], frozenset())]
    sleeper.wait(timeout=10)
    assert list_sessions(tmp_path) == []


def test_keep_survives_close_and_close_kills_leftovers(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
        for _ in range(2)
    ]
    try:
        dropped = Session.create("closing", directory=tmp_path)
        dropped.record_process(procs[0].pid, "a-0")
        assert dropped.close() == [f"process {procs[0].pid} (a-0)"]
        procs[0].wait(timeout=10)
        kept = Session.create("kept", directory=tmp_path)
        kept.record_process(procs[1].pid, "b-0")
        kept.annotate("cell", "server-latest")
        kept.keep()
        assert kept.close() == []
        assert pid_running(procs[1].pid)
        [record] = list_sessions(tmp_path)
        assert record.kept and record.info == {"cell": "server-latest"} and record.id == kept.id
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_a_broken_resource_reaper_does_not_stop_process_cleanup(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    owner_pid, owner_created = _dead_owner()
    created = psutil.Process(sleeper.pid).create_time()
    _write_record(
        tmp_path,
        SessionRecord(
            "dead",
            owner_pid,
            owner_created,
            time.time(),
            processes=(ProcessRecord(sleeper.pid, created, "w-0"),),
        ),
    )
    result = reap(tmp_path, reapers=[BrokenReaper()])
    assert result.problems == ("BrokenReaper: ConnectionError: engine unreachable",)
    sleeper.wait(timeout=10)
    assert list_sessions(tmp_path) == []


def test_records_are_written_atomically_and_unreadable_ones_skipped(tmp_path: Path) -> None:
    session = Session.create("atomic", directory=tmp_path)
    for n in range(20):
        session.record_container(f"c{n}")
    session.record_network("net")
    session.record_container("c0")  # no duplicates
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{session.id}.json"]  # no temp files left
    on_disk = SessionRecord.from_json(session.path.read_text())
    assert on_disk.containers == tuple(f"c{n}" for n in range(20)) and on_disk.networks == ("net",)
    assert on_disk.owner_pid == os.getpid() and on_disk.owner_alive()
    (tmp_path / "garbage.json").write_text("{not json")
    assert [r.id for r in list_sessions(tmp_path)] == [session.id]
    assert session.labels() == {LABEL_SESSION: session.id, LABEL_OWNER_PID: str(os.getpid())}
    session.close()


def test_sessions_dir_is_per_user_and_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COMPAT_MATRIX_SESSIONS_DIR", raising=False)
    assert sessions_dir().parts[-2:] == (f"compat-matrix-{os.getuid()}", "sessions")
    monkeypatch.setenv("COMPAT_MATRIX_SESSIONS_DIR", str(tmp_path))
    assert sessions_dir() == tmp_path


def test_missing_resource_reapers_are_skipped() -> None:
    reapers, skipped = load_resource_reapers(("compat_matrix.no_such_backend:RESOURCE_REAPER",))
    assert reapers == [] and "compat_matrix.no_such_backend" in skipped[0]


def test_records_in_subdirectories_are_reaped_too(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    # Tests isolate their sessions in a subdirectory of the default one; a killed test run's
    # leftovers must still be found by the reaper of the next normal run.
    owner_pid, owner_created = _dead_owner()
    created = psutil.Process(sleeper.pid).create_time()
    nested = tmp_path / "test-123-abc"
    _write_record(
        nested,
        SessionRecord("nested", owner_pid, owner_created, time.time(), processes=(ProcessRecord(sleeper.pid, created, "w-0"),)),
    )
    assert [r.id for r in list_sessions(tmp_path)] == ["nested"]
    result = reap(tmp_path, reapers=[])
    assert result.sessions == ("nested",)
    sleeper.wait(timeout=10)
    assert not (nested / "nested.json").exists()


def test_graceful_stop_escalates_to_sigkill() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint(1, flush=True)\ntime.sleep(300)"],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline()  # the handler is installed
        record = ProcessRecord(stubborn.pid, psutil.Process(stubborn.pid).create_time(), "stubborn-0")
        started = time.monotonic()
        assert stop_recorded_process(record, timeout=0.5)
        assert time.monotonic() - started >= 0.5  # SIGTERM was ignored: waited, then killed
        assert not pid_running(stubborn.pid)
        assert not stop_recorded_process(record)  # gone: nothing to do
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
            stubborn.wait()
