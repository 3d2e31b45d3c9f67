"""The process watchdog: a session's processes die with the session's owner, however it dies.

``ProcessWatchdog.start(session)`` runs ``python -m compat_matrix.backends.process_watchdog
RECORD`` as a small supervisor in its own session (so a signal to the owner's process group, such
as Ctrl-C in a terminal or Pants killing a test's group, does not reach it), with the read end of
a pipe as its stdin. The owner keeps the write end. The kernel closes that end when the owner
exits, for any reason, SIGKILL included, so the watchdog reads EOF. It then checks that the owner
really is gone, and that the session record is still there and not kept. If so, it kills every
recorded process tree (group and descendants, with pid and create time checked as the reaper
does), removes the session's directories and temporary directories (pytest's base temp of the
killed run, with its instances' data and logs), and, for a docker session (which starts this
watchdog too), waits for the docker watchdog to remove its networks and removes their
host-isolation rules (``docker_network.remove_rules_after_networks``). It deletes the record unless
docker resources remain for their own watchdog and reaper. On a normal ``Session.close`` the record is deleted (or kept)
before the pipe closes, and the watchdog just exits.

Why not ``PR_SET_PDEATHSIG`` on each instance: it fires when the *thread* that started the
instance exits, not when the process does. It also kills only the instance's first process: a
PEX's children, or a role's own children (a dask nanny's worker), would be orphaned, and the
reaper, which recognises a process tree by its recorded leader, could no longer find them.

Limits: a child the owner forks *without* exec (multiprocessing's ``fork``) inherits the write
end and delays the watchdog until that child exits too. A SIGKILL of the watchdog itself leaves the
next run's reaper as the last line of defence.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from compat_matrix.session import Session, SessionRecord, remove_directories
from compat_matrix.session_processes import kill_recorded_processes

GUARD_KEY = "process-watchdog"
# How long the watchdog waits for the owner to finish exiting after its pipe closed.
OWNER_EXIT_GRACE = 5.0


class ProcessWatchdog:
    """The owner's side: the pipe's write end and the supervisor process (a ``session.Guard``)."""

    def __init__(self, process: subprocess.Popen[bytes], write_end: int) -> None:
        self.process = process
        self._write_end: int | None = write_end

    @classmethod
    def start(cls, session: Session) -> ProcessWatchdog:
        """Start the supervisor for ``session`` (its record file must exist)."""
        from compat_matrix.backends.process_command import child_environment
        from compat_matrix.backends.source_launch import python_path

        read_end, write_end = os.pipe()  # both non-inheritable: instances never hold the write end
        try:
            env = child_environment({"PYTHONPATH": os.pathsep.join(python_path())})
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(session.path)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd="/",
                start_new_session=True,
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        return cls(process, write_end)

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self, kept: bool) -> None:
        """Close the pipe (the record is already deleted or kept, so it only exits) and reap it."""
        del kept  # the supervisor reads the kept flag from the record
        if self._write_end is not None:
            os.close(self._write_end)
            self._write_end = None
        try:
            self.process.wait(timeout=OWNER_EXIT_GRACE + 5)
        except subprocess.TimeoutExpired:
            pass  # it will finish on its own; do not hold up the owner's exit


def guard(session: Session) -> ProcessWatchdog | None:
    """The session's process watchdog, started on first use (None when watchdogs are off)."""
    return session.guard(GUARD_KEY, ProcessWatchdog.start)


def _read_record(path: Path) -> SessionRecord | None:
    try:
        return SessionRecord.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clean_up_after(record_path: Path) -> list[str]:
    """What the supervisor does after the owner's pipe closed; returns what it removed."""
    record = _read_record(record_path)
    if record is None or record.kept:
        return []
    deadline = time.monotonic() + OWNER_EXIT_GRACE
    while record.owner_alive():
        # The kernel closes an exiting process's files before it is reaped: give it a moment.
        if time.monotonic() >= deadline:
            return []  # the pipe closed but the owner lives on: it still answers for its session
        time.sleep(0.02)
    killed = kill_recorded_processes(tuple(reversed(record.processes)))
    removed = [f"process {proc.pid} ({proc.instance})" for proc in killed]
    remove_directories(record.all_directories)
    removed.extend(f"directory {d}" for d in record.all_directories)
    docker_left = bool(record.containers or record.networks)
    if record.networks:  # a docker session's host-isolation rules: see docker_network
        from compat_matrix.backends.docker_network import remove_rules_after_networks

        rules, bridges_gone = remove_rules_after_networks(record.id, record.networks)
        removed.extend(rules)
        docker_left = not bridges_gone  # its watchdog removed the containers before the networks
    if not docker_left:
        try:
            record_path.unlink()
        except FileNotFoundError:
            pass
    return removed


def main(argv: list[str] | None = None) -> int:
    """Wait for EOF on stdin, then clean up after the session whose record ``argv[0]`` names."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m compat_matrix.backends.process_watchdog SESSION_RECORD", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the owner's to handle
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        try:
            if not os.read(0, 4096):
                break
        except InterruptedError:
            continue
    clean_up_after(Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
