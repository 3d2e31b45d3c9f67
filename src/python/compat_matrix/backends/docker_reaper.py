"""The docker backend's reaper: removes the containers and networks of sessions that are gone.

The last line of defence after teardown and the session's watchdog (``docker_watchdog``): it
removes what a dead session left behind, and only that (see ``orphaned``). Found by the session
reaper through ``RESOURCE_REAPER`` (``compat_matrix.session.RESOURCE_REAPERS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import docker
import docker.errors
import psutil

from compat_core.errors import BackendError
from compat_core.labels import (
    LABEL_OWNER_CREATED,
    LABEL_OWNER_PID,
    LABEL_SESSION,
    LABEL_SESSION_RECORD,
    LABEL_WATCHDOG_SESSION,
    LABEL_WATCHED_BY,
)
from compat_matrix.backends import docker_watchdog
from compat_matrix.backends.docker_engine import connect, remove_container, remove_network
from compat_matrix.backends.docker_network import reap_host_rules
from compat_matrix.session import SessionRecord
from compat_matrix.session_processes import process_matches


def _owner_alive(labels: Mapping[str, str]) -> bool:
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return False
    created = labels.get(LABEL_OWNER_CREATED)
    if created is None:
        return psutil.pid_exists(pid)  # no create time: assume the pid is still the owner
    try:
        return process_matches(pid, float(created))
    except ValueError:
        return psutil.pid_exists(pid)


def orphaned(
    labels: Mapping[str, str],
    dead_ids: frozenset[str],
    live_ids: frozenset[str],
    watchdogs: frozenset[str] | None = None,
) -> bool:
    """Whether a labelled container/network belongs to a session that is gone.

    Gone: a dead session the caller names; a watched session (``docker_watchdog``) whose
    watchdog is not among the running ``watchdogs``, whatever pid namespace the caller is in; or,
    for a session without a watchdog, one the caller does not know whose record file no longer
    exists and whose owner (pid + create time) is not running. A session known to another
    sessions directory (its record exists) is left to that directory's reaper.
    """
    session = labels.get(LABEL_SESSION)
    if not session or session in live_ids:
        return False
    if session in dead_ids:
        return True
    watched_by = labels.get(LABEL_WATCHED_BY)
    if watched_by and watchdogs is not None:
        return watched_by not in watchdogs
    record = labels.get(LABEL_SESSION_RECORD)
    if record and Path(record).exists():
        return False
    return not _owner_alive(labels)


class DockerResourceReaper:
    """Removes containers and networks left by dead sessions; never anything without our label."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url

    def reap(self, dead_sessions: Sequence[SessionRecord], live_session_ids: frozenset[str]) -> list[str]:
        """Remove the dead sessions' containers, then their networks, then the host-isolation
        rules of dead sessions and gone bridges; one line per resource.

        The rules are the host's, not the engine's: they are reaped even when no engine answers
        (a killed run's networks went with a stopped engine, and its rules would stay forever).
        """
        dead = frozenset(r.id for r in dead_sessions)
        lines = self._reap_engine(dead, live_session_ids)
        # After the networks: a rule whose bridge is gone is an orphan whatever its session.
        lines.extend(reap_host_rules(dead, live_session_ids))
        return lines

    def _reap_engine(self, dead: frozenset[str], live_session_ids: frozenset[str]) -> list[str]:
        try:
            client = connect(self.base_url)
        except BackendError:
            return []  # no engine: nothing of ours can be running on it
        lines: list[str] = []
        try:
            # A dead (downed) kept session's watchdog stands by until removed here.
            # ignore_removed: every run on the engine is listed here, and a container another run
            # removes between the listing and its inspection is not an error (it was: 404).
            standing_by = client.containers.list(
                all=True, filters={"label": LABEL_WATCHDOG_SESSION}, ignore_removed=True
            )
            for container in standing_by:
                session = (container.labels or {}).get(LABEL_WATCHDOG_SESSION)
                if session in dead:
                    try:
                        remove_container(container)
                        lines.append(f"session {session}: watchdog {container.name} removed")
                    except docker.errors.APIError as exc:
                        lines.append(f"session {session}: watchdog {container.name}: could not remove: {exc}")
            containers = client.containers.list(all=True, filters={"label": LABEL_SESSION}, ignore_removed=True)
            # The running watchdogs are read after the resources they judge: a watched session's
            # watchdog runs before any of its resources exists, so one listed above whose session
            # lives has its watchdog here. (Read before, a session starting in between looked dead.)
            watchdogs = docker_watchdog.running_watchdogs(client)
            for container in containers:
                labels = container.labels or {}
                if not orphaned(labels, dead, live_session_ids, watchdogs):
                    continue
                what = f"session {labels.get(LABEL_SESSION)}: container {container.name}"
                try:
                    remove_container(container)
                    lines.append(f"{what} removed")
                except docker.errors.APIError as exc:
                    lines.append(f"{what}: could not remove: {exc}")
            networks = client.networks.list(filters={"label": LABEL_SESSION})
            watchdogs = docker_watchdog.running_watchdogs(client)
            for network in networks:
                labels = network.attrs.get("Labels") or {}
                if not orphaned(labels, dead, live_session_ids, watchdogs):
                    continue
                what = f"session {labels.get(LABEL_SESSION)}: network {network.name}"
                try:
                    remove_network(network)
                    lines.append(f"{what} removed")
                except docker.errors.NotFound:
                    pass
                except docker.errors.APIError as exc:
                    lines.append(f"{what}: could not remove: {exc}")
        except docker.errors.DockerException as exc:
            lines.append(f"docker reaper stopped early: {exc}")
        finally:
            client.close()
        return lines


RESOURCE_REAPER = DockerResourceReaper()
"""The docker resource reaper ``compat_matrix.session.RESOURCE_REAPERS`` names."""


__all__ = ("RESOURCE_REAPER", "DockerResourceReaper", "orphaned")
