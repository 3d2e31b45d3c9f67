"""Helpers for the harness's own tests: polling, a Docker engine or a skip, a private sessions
directory, and cleanup after a test killed a session's owner. (The fake system they start is
``compat_matrix.testing``.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from compat_matrix.reaper import reap
from compat_matrix.session import SessionRecord, default_sessions_dir, list_sessions, write_lease
from compat_matrix.session_processes import ProcessRecord, kill_recorded_process, pid_running


def eventually(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate`` until it is true; after ``timeout`` seconds fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: still not true after {timeout:.1f}s")
        time.sleep(interval)


@contextmanager
def docker_client_or_skip() -> Iterator[Any]:
    """A client of the Docker engine, closed at the end, for a test module's fixture; skips the
    test, with the reason, when no engine answers or the base image is missing."""
    import pytest

    from compat_core.errors import ArtifactError, BackendError
    from compat_core.settings import Settings
    from compat_matrix.backends.docker_engine import connect, present_image

    try:
        client = connect()
    except BackendError as exc:
        pytest.skip(f"no Docker engine answers: {exc}")
    try:
        try:
            present_image(client, Settings.from_env(os.environ).base_image, "the base image")
        except ArtifactError as exc:
            pytest.skip(str(exc))
        yield client
    finally:
        client.close()


@contextmanager
def isolated_sessions(prefix: str = "test", parent: Path | None = None) -> Iterator[Path]:
    """A private sessions directory for one test, inside the default one (or ``parent``).

    Inside, so that a test run killed midway (a Pants timeout, a cancelled CI job) is still
    cleaned up by the next normal reaper run. Leased to this process (``session.write_lease``):
    while it lives, the reapers of other runs on the machine leave the sessions a test plants
    here alone. On exit, sessions of dead owners are reaped, this process's leftovers are
    killed, and the directory is removed unless a live process still owns a session in it.
    """
    directory = (parent or default_sessions_dir()) / f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    directory.mkdir(parents=True)
    write_lease(directory)
    try:
        yield directory
    finally:
        reap(directory, reapers=[])
        others = False
        for record in list_sessions(directory):
            if record.owner_pid == os.getpid():
                for proc in record.processes:
                    kill_recorded_process(proc)
            else:
                others = True
        if not others:
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def dead_session_with_a_leftover(directory: Path, name: str = "killed-earlier") -> Iterator[subprocess.Popen[bytes]]:
    """A session record in ``directory`` as a killed run leaves it: its owner has exited, and its one
    process (a sleeper in a process session of its own, recorded as ``server-0``) still runs. The
    leftover is yielded, for the test to see its reaper kill it; killed at the end if it did not."""
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone_created = psutil.Process(gone.pid).create_time()
        gone.wait()
        directory.mkdir(parents=True, exist_ok=True)
        record = SessionRecord(
            name,
            gone.pid,
            gone_created,
            time.time(),
            processes=(ProcessRecord(leftover.pid, psutil.Process(leftover.pid).create_time(), "server-0"),),
        )
        (directory / f"{name}.json").write_text(record.to_json())
        yield leftover
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


def kill_owner_and_instances(owner: subprocess.Popen[Any], pids: Iterable[int]) -> None:
    """A test's last resort after it killed a session's owner: nothing it started stays behind."""
    if owner.poll() is None:
        owner.kill()
        owner.wait()
    for pid in pids:
        if pid_running(pid):
            os.killpg(pid, signal.SIGKILL)


__all__ = (
    "dead_session_with_a_leftover",
    "docker_client_or_skip",
    "eventually",
    "isolated_sessions",
    "kill_owner_and_instances",
)
