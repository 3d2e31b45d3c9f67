"""Sessions: the crash-safe record of everything a harness run starts (the reaper: ``compat_matrix.reaper``).

A ``Session`` is one harness run (a pytest session, a ``compat-matrix up``). It writes a JSON
record under ``<tempfile.gettempdir()>/compat-matrix-<uid>/sessions/<id>.json`` (override with
``COMPAT_MATRIX_SESSIONS_DIR``) naming its owner (pid + create time) and every process it
started (pid + create time from psutil, so a reused pid is never mistaken for ours), plus the
docker containers/networks a backend registered. Records are rewritten atomically.

A session's instances go away with the session however its owner dies: each backend gives the
session a *guard* (``Session.guard``) that outlives the owner and cleans up when the owner's end
of a pipe or socket closes, which the kernel does on any exit, SIGKILL included (the process
watchdog, ``compat_matrix.watchdog``; the docker watchdog container,
``compat_matrix.backends.docker_watchdog``). ``COMPAT_MATRIX_NO_WATCHDOG=1`` turns the guards
off (to test the reaper alone).

``compat_matrix.reaper`` is the last line of defence: it removes what sessions of dead owners
left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

import psutil

from compat_core.labels import LABEL_OWNER_PID, LABEL_SESSION
from compat_core.settings import Settings
from compat_matrix.session_processes import (
    ProcessRecord,
    create_time_of,
    kill_recorded_process,
    process_matches,
)

# A sessions subdirectory holding this file belongs to a live process (a test run isolating its
# planted sessions): reapers scanning a parent directory leave it alone until that process dies.
LEASE_FILE = ".lease"


def default_sessions_dir() -> Path:
    """``<tempfile.gettempdir()>/compat-matrix-<uid>/sessions`` (ignores ``COMPAT_MATRIX_SESSIONS_DIR``)."""
    return Path(tempfile.gettempdir()) / f"compat-matrix-{os.getuid()}" / "sessions"


def sessions_dir() -> Path:
    """The directory holding this user's session records (``COMPAT_MATRIX_SESSIONS_DIR`` overrides).

    Records in subdirectories count too: tests isolate themselves in a subdirectory of the
    default directory, so a test run killed midway is still reaped by the next normal run.
    """
    override = Settings.from_env(os.environ).sessions_dir
    if override:
        return Path(override)
    return default_sessions_dir()


@dataclass(frozen=True)
class SessionRecord:
    """The JSON content of one session record file."""

    id: str
    owner_pid: int
    owner_create_time: float
    created_at: float
    kept: bool = False
    description: str = ""
    processes: tuple[ProcessRecord, ...] = ()
    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    # Directories the session made and owns (e.g. `compat-matrix up`'s temporary work directory).
    directories: tuple[str, ...] = ()
    # Directories of the run that outlive a session closed normally (pytest's base temp, which pytest
    # keeps for a few runs to look at) but go with a session whose run was killed or interrupted.
    temp_dirs: tuple[str, ...] = ()
    info: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> SessionRecord:
        data = json.loads(text)
        return SessionRecord(
            id=str(data["id"]),
            owner_pid=int(data["owner_pid"]),
            owner_create_time=float(data["owner_create_time"]),
            created_at=float(data.get("created_at", 0.0)),
            kept=bool(data.get("kept", False)),
            description=str(data.get("description", "")),
            processes=tuple(ProcessRecord(**p) for p in data.get("processes", ())),
            containers=tuple(data.get("containers", ())),
            networks=tuple(data.get("networks", ())),
            directories=tuple(data.get("directories", ())),
            temp_dirs=tuple(data.get("temp_dirs", ())),
            info=dict(data.get("info", {})),
        )

    @property
    def all_directories(self) -> tuple[str, ...]:
        """What a watchdog or reaper removes when the owner died: owned and temporary directories."""
        return self.directories + self.temp_dirs

    def owner_alive(self) -> bool:
        """True when the owner process still runs (same pid and same create time)."""
        return process_matches(self.owner_pid, self.owner_create_time)


def watchdogs_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``COMPAT_MATRIX_NO_WATCHDOG`` is on (an on/off flag, read strictly)."""
    return not Settings.from_env(os.environ if environ is None else environ).no_watchdog


class Guard(Protocol):
    """Something that removes a session's instances if the session's owner dies (a watchdog)."""

    def release(self, kept: bool) -> None:
        """The session ended normally: stand down (``kept``: leave the kept instances running)."""


_G = TypeVar("_G", bound=Guard)


class Session:
    """One harness run: its record file and the processes/resources it started.

    Create with ``Session.create()``; call ``close()`` when everything it started is stopped
    (``close`` also kills whatever is still recorded, so nothing outlives a closed session).
    """

    def __init__(self, record: SessionRecord, directory: Path) -> None:
        self._record = record
        self._dir = directory
        self._lock = threading.Lock()
        self._closed = False
        self._guards: dict[str, Guard] = {}

    @classmethod
    def create(cls, description: str = "", directory: Path | None = None) -> Session:
        """Start a session owned by the current process and write its record."""
        directory = directory or sessions_dir()
        directory.mkdir(parents=True, exist_ok=True)
        me = os.getpid()
        record = SessionRecord(
            id=f"{time.strftime('%Y%m%d-%H%M%S')}-{me}-{uuid.uuid4().hex[:8]}",
            owner_pid=me,
            owner_create_time=create_time_of(me),
            created_at=time.time(),
            description=description,
        )
        session = cls(record, directory)
        session._write()
        return session

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def path(self) -> Path:
        """The record file."""
        return self._dir / f"{self._record.id}.json"

    @property
    def record(self) -> SessionRecord:
        return self._record

    def labels(self) -> dict[str, str]:
        """Docker labels every container/network of this session must carry."""
        return {LABEL_SESSION: self.id, LABEL_OWNER_PID: str(self._record.owner_pid)}

    def record_process(self, pid: int, instance: str, log_path: str = "") -> ProcessRecord:
        """Record a started process (call right after starting it)."""
        try:
            created = create_time_of(pid)
        except psutil.NoSuchProcess:
            created = 0.0  # already gone: nothing to reap, but keep the trace
        entry = ProcessRecord(pid=pid, create_time=created, instance=instance, log_path=log_path)
        self._update(lambda r: {"processes": r.processes + (entry,)})
        return entry

    def forget_process(self, pid: int) -> None:
        """Drop a process that was stopped cleanly."""
        self._update(lambda r: {"processes": tuple(p for p in r.processes if p.pid != pid)})

    def record_container(self, container_id: str) -> None:
        """Record a docker container (it must also carry ``labels()``)."""
        self._update(lambda r: {"containers": _added(r.containers, container_id)})

    def forget_container(self, container_id: str) -> None:
        self._update(lambda r: {"containers": tuple(c for c in r.containers if c != container_id)})

    def record_network(self, network_id: str) -> None:
        """Record a docker network (it must also carry ``labels()``)."""
        self._update(lambda r: {"networks": _added(r.networks, network_id)})

    def forget_network(self, network_id: str) -> None:
        self._update(lambda r: {"networks": tuple(n for n in r.networks if n != network_id)})

    def annotate(self, key: str, value: object) -> None:
        """Store JSON-serialisable information (cell, endpoints) shown by ``compat-matrix down``."""
        self._update(lambda r: {"info": {**r.info, key: value}})

    def own_directory(self, path: Path) -> None:
        """Record a directory the session made: removed on close and by the watchdog or reaper."""
        self._update(lambda r: {"directories": _added(r.directories, str(path))})

    def own_temp_directory(self, path: Path) -> None:
        """Record a temporary directory of the run (pytest's base temp): kept by a normal ``close``,
        removed by ``close(interrupted=True)`` and by the watchdog or reaper when the owner dies."""
        self._update(lambda r: {"temp_dirs": _added(r.temp_dirs, str(path))})

    def guard(self, key: str, start: Callable[[Session], _G]) -> _G | None:
        """The session's guard ``key``, started with ``start(session)`` the first time.

        A backend calls this before it starts anything, so its instances never run unguarded.
        Returns None when guards are turned off (``COMPAT_MATRIX_NO_WATCHDOG``).
        """
        if not watchdogs_enabled():
            return None
        with self._lock:
            existing = self._guards.get(key)
        if existing is None:
            existing = start(self)
            with self._lock:
                self._guards[key] = existing
        return existing  # type: ignore[return-value]

    def keep(self) -> None:
        """Mark the session as kept: the reaper leaves it alone until ``down`` removes it."""
        self._update(lambda r: {"kept": True})

    def close(self, *, kill_leftovers: bool = True, interrupted: bool = False) -> list[str]:
        """End the session: kill still-recorded processes (unless kept) and delete the record.

        A kept session's record stays so ``compat-matrix down`` can find it. ``interrupted``
        (the run was stopped by a signal) removes the temporary directories too, as the watchdog
        does after a kill. Returns the instances killed here (normally none: the backends stop
        their own processes). The guards stand down last, once nothing is left for them to clean.
        """
        with self._lock:
            if self._closed:
                return []
            self._closed = True
            killed: list[str] = []
            if not self._record.kept:
                if kill_leftovers:
                    for proc in self._record.processes:
                        if kill_recorded_process(proc):
                            killed.append(f"process {proc.pid} ({proc.instance})")
                remove_directories(self._record.directories)
                if interrupted:
                    remove_directories(self._record.temp_dirs)
                _unlink(self.path)
            guards = list(self._guards.values())
            self._guards.clear()
        for guard in guards:
            guard.release(self._record.kept)
        return killed

    def _update(self, change: Callable[[SessionRecord], dict[str, object]]) -> None:
        """Apply ``change`` (the record -> fields to replace) under the lock: instances start on
        several threads at once, and no recorded pid, container or network may be lost."""
        with self._lock:
            self._record = replace(self._record, **change(self._record))  # type: ignore[arg-type]
            if not self._closed or self._record.kept:
                self._write()

    def _write(self) -> None:
        _atomic_write(self.path, self._record.to_json())


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink(Path(tmp))
        raise


# How long removing a session's directory keeps trying while something still writes into it (a
# container the docker watchdog is removing, through its bind mount).
REMOVE_TIMEOUT = 10.0


def remove_directories(paths: Iterable[str], timeout: float = REMOVE_TIMEOUT) -> None:
    """Remove directories a session owned (gone already is fine).

    A file written while the tree is being removed (an instance's database checkpointing as it
    stops) leaves a partial tree behind: removal is tried again until the directory is gone or
    ``timeout`` seconds passed.
    """
    for path in paths:
        deadline = time.monotonic() + timeout
        while True:
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path) or time.monotonic() >= deadline:
                break
            time.sleep(0.1)


def write_lease(directory: Path) -> Path:
    """Mark ``directory`` as owned by this process: reapers of a parent directory skip it while we live."""
    me = os.getpid()
    lease = directory / LEASE_FILE
    _atomic_write(lease, json.dumps({"pid": me, "create_time": create_time_of(me)}))
    return lease


def _lease_alive(lease: Path) -> bool:
    try:
        data = json.loads(lease.read_text(encoding="utf-8"))
        return process_matches(int(data["pid"]), float(data["create_time"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def list_sessions(directory: Path | None = None) -> list[SessionRecord]:
    """Every readable session record under ``directory``, subdirectories included.

    Unreadable or partial files are skipped.
    """
    return [record for _, record in _scan(directory or sessions_dir())]


def _scan(directory: Path) -> list[tuple[Path, SessionRecord]]:
    # Subdirectories leased by a live process (another test run's planted sessions) are its own.
    leased = [
        lease.parent for lease in directory.rglob(LEASE_FILE) if lease.parent != directory and _lease_alive(lease)
    ]
    found = []
    for path in sorted(directory.rglob("*.json")):
        if any(path.is_relative_to(other) for other in leased):
            continue
        try:
            found.append((path, SessionRecord.from_json(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found



def _added(items: tuple[str, ...], item: str) -> tuple[str, ...]:
    return items if item in items else items + (item,)


__all__ = (
    "LEASE_FILE",
    "Guard",
    "Session",
    "SessionRecord",
    "default_sessions_dir",
    "list_sessions",
    "remove_directories",
    "sessions_dir",
    "watchdogs_enabled",
    "write_lease",
)
