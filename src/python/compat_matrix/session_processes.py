"""The processes a session records: finding them again (pid and create time, so a reused pid is
never mistaken for ours), telling whether they run, and stopping or killing their trees."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

# psutil create times are floats derived from boot time and clock ticks; allow for rounding.
_CREATE_TIME_TOLERANCE = 0.05



@dataclass(frozen=True)
class ProcessRecord:
    """A process a session started: enough to find it again, and only it."""

    pid: int
    create_time: float
    instance: str
    log_path: str = ""


def process_matches(pid: int, create_time: float) -> bool:
    """True when ``pid`` is alive and is the very process created at ``create_time``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(proc.create_time() - create_time) <= _CREATE_TIME_TOLERANCE
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def create_time_of(pid: int) -> float:
    """psutil's create time of ``pid`` (raises ``psutil.NoSuchProcess`` if it is gone)."""
    return float(psutil.Process(pid).create_time())


def kill_recorded_process(record: ProcessRecord, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to a recorded process's group (and its descendants) if it is still ours.

    The harness starts every instance as the leader of a new session/process group, so the
    group id is the recorded pid. Returns True if the process was alive and was signalled.
    Never signals a pid whose create time differs (a reused pid).
    """
    if not process_matches(record.pid, record.create_time):
        return False
    try:
        descendants = psutil.Process(record.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    for child in descendants:
        # psutil.Process.send_signal re-checks the create time, so a reused pid is untouched.
        try:
            child.send_signal(sig)
        except psutil.Error:
            pass
    return True


def stop_recorded_process(record: ProcessRecord, timeout: float = 5.0) -> bool:
    """Stop a recorded process gracefully: SIGTERM its group, then SIGKILL after ``timeout``.

    Same identity checks as ``kill_recorded_process``; returns True if it was running.
    """
    if not process_matches(record.pid, record.create_time):
        return False
    try:
        leader = psutil.Process(record.pid)
        tree = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return False
    kill_recorded_process(record, signal.SIGCONT)  # a paused instance cannot handle SIGTERM
    if not kill_recorded_process(record, signal.SIGTERM):
        return False
    alive = _wait_gone(tree, timeout)
    for proc in alive:
        try:
            proc.kill()  # psutil re-checks identity
        except psutil.Error:
            pass
    _wait_gone(alive, timeout)
    return True


def _wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Poll until every process exited (a zombie counts: its parent may never reap it); return the rest."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if process_running(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def process_running(proc: psutil.Process) -> bool:
    """Whether ``proc`` still runs: the same process (psutil checks its create time), not a zombie."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def pid_running(pid: int) -> bool:
    """Whether a process ``pid`` runs (a zombie does not count)."""
    try:
        return process_running(psutil.Process(pid))
    except psutil.Error:
        return False


def kill_recorded_processes(records: Sequence[ProcessRecord], timeout: float = 5.0) -> list[ProcessRecord]:
    """SIGKILL every recorded process tree that is still ours (``kill_recorded_process``) and wait up
    to ``timeout`` seconds until they are gone: a dying instance may still write into the session's
    directories. Returns the processes that were running."""
    trees: list[psutil.Process] = []
    killed: list[ProcessRecord] = []
    for record in records:
        if not process_matches(record.pid, record.create_time):
            continue
        try:
            leader = psutil.Process(record.pid)
            trees.extend([leader, *leader.children(recursive=True)])
        except psutil.Error:
            pass
        if kill_recorded_process(record):
            killed.append(record)
    _wait_gone(trees, timeout)
    return killed


__all__ = (
    "ProcessRecord",
    "create_time_of",
    "kill_recorded_process",
    "kill_recorded_processes",
    "pid_running",
    "process_matches",
    "process_running",
    "stop_recorded_process",
)
