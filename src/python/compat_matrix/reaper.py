"""The reaper: the last line of defence after teardown and the watchdogs.

``reap()`` finds sessions whose owner is dead (and that were not kept on purpose with
``--compat-keep``/``up``), kills their recorded processes whose identity still matches, asks
each resource reaper (the docker backend's, when it is importable) to remove the session's
labelled resources, and deletes the records. ``down()`` tears named sessions down on purpose.

Resource reapers are objects with ``reap(dead_sessions, live_session_ids) -> list of str``
(see ``ResourceReaper``). They are found by import path in ``RESOURCE_REAPERS`` (a module
attribute ``RESOURCE_REAPER``), so the process path never imports the docker SDK; tests and
other backends can pass extra reapers to ``reap``.
"""

from __future__ import annotations

import errno
import importlib
import os
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from compat_matrix.session import SessionRecord, _unlink, list_sessions, remove_directories, sessions_dir
from compat_matrix.session_processes import kill_recorded_processes, stop_recorded_process

# Where resource reapers live: "module:attribute". Imported lazily; a module that cannot be
# imported (no docker SDK installed) is skipped.
RESOURCE_REAPERS: tuple[str, ...] = ("compat_matrix.backends.docker_reaper:RESOURCE_REAPER",)


class ResourceReaper(Protocol):
    """Removes non-process resources (containers, networks) left by dead sessions."""

    def reap(self, dead_sessions: Sequence[SessionRecord], live_session_ids: frozenset[str]) -> list[str]:
        """Remove what ``dead_sessions`` left (use their records and/or the session label).

        ``live_session_ids`` are sessions that must not be touched (owner alive or kept).
        Returns one human-readable line per removed resource. Must not raise when the
        resource's engine is unreachable; return nothing instead.
        """


@dataclass(frozen=True)
class ReapResult:
    """What a reap removed (``removed``) and what went wrong without stopping it (``problems``)."""

    sessions: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sessions or self.removed)


def load_resource_reapers(paths: Iterable[str] = RESOURCE_REAPERS) -> tuple[list[ResourceReaper], list[str]]:
    """Import the resource reapers named ``module:attribute``; skip (and report) unimportable ones."""
    reapers: list[ResourceReaper] = []
    skipped: list[str] = []
    for spec in paths:
        module_name, _, attribute = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
            reapers.append(getattr(module, attribute or "RESOURCE_REAPER"))
        except (ImportError, AttributeError) as exc:
            skipped.append(f"{spec}: {exc}")
    return reapers, skipped


def _remove_session(
    records: Sequence[SessionRecord],
    live_ids: frozenset[str],
    directory: Path,
    reapers: Sequence[ResourceReaper] | None,
    graceful: bool = False,
) -> ReapResult:
    removed: list[str] = []
    problems: list[str] = []
    for record in records:
        in_stop_order = tuple(reversed(record.processes))  # reverse start order, as a deployment stops
        if graceful:
            for proc in in_stop_order:
                if stop_recorded_process(proc):
                    removed.append(f"session {record.id}: stopped process {proc.pid} ({proc.instance})")
        else:
            # Waits until they are gone: a dying instance may still write into the directories below.
            for proc in kill_recorded_processes(in_stop_order):
                removed.append(f"session {record.id}: killed process {proc.pid} ({proc.instance})")
        if record.all_directories:
            remove_directories(record.all_directories)
            removed.extend(f"session {record.id}: removed directory {d}" for d in record.all_directories)
    if reapers is None:
        loaded, _skipped = load_resource_reapers()
        reapers = loaded
    if records or reapers:
        for reaper in reapers:
            try:
                removed.extend(reaper.reap(records, live_ids))
            except Exception as exc:  # one broken engine must not stop process cleanup
                problems.append(f"{type(reaper).__name__}: {type(exc).__name__}: {exc}")
    for record in records:
        for path in directory.rglob(f"{record.id}.json"):
            _unlink(path)
    return ReapResult(tuple(r.id for r in records), tuple(removed), tuple(problems))


def reap(
    directory: Path | None = None,
    reapers: Sequence[ResourceReaper] | None = None,
) -> ReapResult:
    """Remove everything left by sessions whose owner is dead and that were not kept.

    ``reapers`` replaces the default resource reapers (``RESOURCE_REAPERS``) when given.
    Safe to run concurrently and while other sessions are live.
    """
    directory = directory or sessions_dir()
    records = list_sessions(directory)
    dead = [r for r in records if not r.kept and not r.owner_alive()]
    live = frozenset(r.id for r in records if r not in dead)
    return _remove_session(dead, live, directory, reapers)


def down(
    session_ids: Sequence[str],
    directory: Path | None = None,
    reapers: Sequence[ResourceReaper] | None = None,
) -> ReapResult:
    """Tear down the named sessions (kept ones, or a running ``up``), whoever owns them.

    A live owner (a ``compat-matrix up`` still waiting) is sent SIGTERM so it tears down
    itself; its record is then left for it to remove.
    """
    directory = directory or sessions_dir()
    records = list_sessions(directory)
    by_id = {r.id: r for r in records}
    unknown = [s for s in session_ids if s not in by_id]
    if unknown:
        from compat_core.errors import CompatMatrixError

        known = ", ".join(sorted(by_id)) or "none"
        raise CompatMatrixError(
            f"no session {', '.join(unknown)} under {directory}; known sessions: {known} "
            "(run `compat-matrix down` without arguments to list them)"
        )
    chosen = [by_id[s] for s in session_ids]
    owned_elsewhere = [r for r in chosen if r.owner_alive() and r.owner_pid != os.getpid()]
    for record in owned_elsewhere:
        try:
            os.kill(record.owner_pid, signal.SIGTERM)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
    targets = [r for r in chosen if r not in owned_elsewhere]
    live = frozenset(r.id for r in records if r not in targets)
    result = _remove_session(targets, live, directory, reapers, graceful=True)
    signalled = tuple(f"session {r.id}: asked its owner pid {r.owner_pid} to stop" for r in owned_elsewhere)
    return replace(
        result,
        sessions=result.sessions + tuple(r.id for r in owned_elsewhere),
        removed=result.removed + signalled,
    )


__all__ = (
    "RESOURCE_REAPERS",
    "ReapResult",
    "ResourceReaper",
    "down",
    "load_resource_reapers",
    "reap",
)
