"""The docker reaper and the engine's removals against the real engine: only a dead session's
leftovers go, and removals by other actors on the same engine are not errors."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from compat_core.labels import (
    LABEL_OWNER_CREATED,
    LABEL_OWNER_PID,
    LABEL_SESSION,
    LABEL_SESSION_RECORD,
    LABEL_WATCHED_BY,
)
from compat_matrix.backends import docker_watchdog
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_engine import being_removed, connect, remove_container, remove_network
from compat_matrix.backends.docker_reaper import RESOURCE_REAPER, orphaned
from compat_matrix.backends.docker_watchdog import DockerWatchdog
from compat_matrix.reaper import reap
from compat_matrix.session import Session
from compat_matrix.session_processes import create_time_of
from docker_backend import fakes
from docker_backend.fakes import dead_pid, labelled

# -- the reaper ---------------------------------------------------------------------------------


def test_the_reaper_removes_only_dead_sessions_leftovers(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    pid, created = dead_pid()
    suffix = uuid.uuid4().hex[:8]

    def labels(session_id: str, owner: int, owner_created: float, record: Path) -> dict[str, str]:
        return {
            LABEL_SESSION: session_id,
            LABEL_OWNER_PID: str(owner),
            LABEL_OWNER_CREATED: repr(owner_created),
            LABEL_SESSION_RECORD: str(record),
        }

    # Planted sessions are watched by a watchdog of this test's own, so the reapers of other runs
    # on the machine see them alive and leave them to this test (issue 12: they raced for them).
    shield = DockerWatchdog.start(
        Session.create("planted sessions' watchdog", directory=tmp_path / "shield"),
        connect(),
        watchdog_id=f"test-shield-{suffix}",
    )
    # A dead session with a record, a dead session whose record and watchdog are gone, and a live
    # one whose owner pid is dead here: as a live session owned from another pid namespace looks.
    recorded = f"dead-recorded-{suffix}"
    (sessions / f"{recorded}.json").write_text(
        json.dumps({"id": recorded, "owner_pid": pid, "owner_create_time": created, "created_at": 0})
    )
    kinds = {
        recorded: {**labels(recorded, pid, created, sessions / f"{recorded}.json"), **shield.labels()},
        f"dead-unrecorded-{suffix}": {
            **labels(f"dead-unrecorded-{suffix}", pid, created, sessions / "gone.json"),
            LABEL_WATCHED_BY: f"gone-{suffix}",
        },
        f"live-{suffix}": {**labels(f"live-{suffix}", pid, created, sessions / "elsewhere.json"), **shield.labels()},
    }
    made_networks, made_containers = [], []
    try:
        for session_id, session_labels in kinds.items():
            net = client.networks.create(
                f"compat-matrix-test-{session_id}", internal=True, labels=session_labels
            )
            made_networks.append(net)
            made_containers.append(
                client.containers.create(
                    image,
                    ["web"],
                    name=f"compat-matrix-test-{session_id}",
                    labels=session_labels,
                    network=net.name,
                )
            )
        unlabelled = client.networks.create(f"compat-matrix-test-unlabelled-{suffix}", internal=True)
        made_networks.append(unlabelled)

        result = reap(sessions, reapers=[RESOURCE_REAPER])
        assert recorded in result.sessions
        removed = "\n".join(result.removed)
        # About this test's sessions only: the reaper also meets other runs' leftovers.
        assert not [line for line in result.removed if suffix in line and "could not remove" in line], removed
        assert f"container compat-matrix-test-{recorded} removed" in removed
        assert labelled(client, recorded) == ([], [])
        # Another run's reaper may remove the unwatched orphans first (they are orphans to it
        # too), so assert that they are gone, not who removed them.
        assert labelled(client, f"dead-unrecorded-{suffix}") == ([], [])
        assert labelled(client, f"live-{suffix}") == (
            [f"compat-matrix-test-live-{suffix}"],
            [f"compat-matrix-test-live-{suffix}"],
        )
        assert client.networks.get(unlabelled.id).name == unlabelled.name  # no label: never touched
    finally:
        shield.release(kept=False)  # removes what it watched, as it would if this test were killed
        # Other runs' reapers may be removing the orphans too: idempotent removals.
        for container in made_containers:
            remove_container(container)
        for net in made_networks:
            remove_network(net)


def test_orphaned_decides_from_labels_alone(tmp_path: Path) -> None:
    # Pure: no engine needed. The rules the reaper applies to every labelled resource.
    pid, created = dead_pid()
    me = {LABEL_OWNER_PID: str(os.getpid()), LABEL_OWNER_CREATED: repr(create_time_of(os.getpid()))}
    dead_owner = {LABEL_OWNER_PID: str(pid), LABEL_OWNER_CREATED: repr(created)}
    record = tmp_path / "other-dir-session.json"
    record.write_text("{}")
    none: frozenset[str] = frozenset()
    assert not orphaned({}, frozenset({"s"}), none)  # no session label: never ours to remove
    assert orphaned({LABEL_SESSION: "s", **me}, frozenset({"s"}), none)  # named dead by its record
    assert not orphaned({LABEL_SESSION: "s", **dead_owner}, none, frozenset({"s"}))  # live or kept
    assert orphaned({LABEL_SESSION: "s", **dead_owner}, none, none)  # no record, owner gone
    assert not orphaned({LABEL_SESSION: "s", **me}, none, none)  # no record here, owner alive
    # Another sessions directory still has its record: that directory's reaper decides.
    assert not orphaned({LABEL_SESSION: "s", **dead_owner, LABEL_SESSION_RECORD: str(record)}, none, none)
    assert orphaned(
        {LABEL_SESSION: "s", **dead_owner, LABEL_SESSION_RECORD: str(tmp_path / "gone.json")}, none, none
    )
    # A reused pid (same number, other create time) is not the owner.
    assert orphaned(
        {LABEL_SESSION: "s", LABEL_OWNER_PID: str(os.getpid()), LABEL_OWNER_CREATED: "1.0"}, none, none
    )
    # A watched session lives exactly as long as its watchdog, whatever the owner pid says here.
    watched = {LABEL_SESSION: "s", **dead_owner, LABEL_WATCHED_BY: "w"}
    assert not orphaned(watched, none, none, frozenset({"w"}))
    assert orphaned({**watched, **me}, none, none, frozenset({"x"}))
    assert orphaned(watched, frozenset({"s"}), none, frozenset({"w"}))  # named dead (down) wins

def test_a_removal_another_reaper_has_under_way_is_not_an_error() -> None:
    # Regression: two runs' reapers removing one dead session's container at once; the second got
    # 409 "removal ... is already in progress" and reported it as a failure.
    from types import SimpleNamespace

    def api_error(status: int, text: str) -> docker.errors.APIError:
        return docker.errors.APIError(text, response=SimpleNamespace(status_code=status, url="http+docker://localhost/x", reason=""), explanation=text)  # type: ignore[arg-type]

    assert being_removed(api_error(409, 'Conflict ("removal of container abc is already in progress")'))
    assert not being_removed(api_error(409, "Conflict (container is running)"))
    assert not being_removed(api_error(500, "already in progress"))


def test_a_session_starting_while_the_reaper_runs_is_left_alone(
    client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the reaper read the running watchdogs before listing networks, so a session whose
    # watchdog and network started in between looked dead, and its network was removed under it
    # (CI: "cannot create docker network ...: 404 ... not found"). Here that session starts right
    # after the reaper's first read of the running watchdogs.
    suffix = uuid.uuid4().hex[:8]
    started: list[tuple[DockerWatchdog, Any]] = []
    read_watchdogs = docker_watchdog.running_watchdogs

    def read_then_start_a_session(engine: docker.DockerClient) -> frozenset[str]:
        seen = read_watchdogs(engine)
        if not started:
            watchdog = DockerWatchdog.start(
                Session.create("starting session", directory=tmp_path / "s"), connect(), watchdog_id=f"test-{suffix}"
            )
            labels = {LABEL_SESSION: f"starting-{suffix}", **watchdog.labels()}
            started.append((watchdog, client.networks.create(f"compat-matrix-test-starting-{suffix}", internal=True, labels=labels)))
        return seen

    monkeypatch.setattr(docker_watchdog, "running_watchdogs", read_then_start_a_session)
    try:
        RESOURCE_REAPER.reap([], frozenset())
        (watchdog, network) = started[0]
        assert client.networks.get(network.id).name == network.name, "the starting session's network was reaped"
    finally:
        for watchdog, network in started:
            watchdog.release(kept=False)
            remove_network(network)


# -- another checkout on the same engine (issue 24) ---------------------------------------------


def test_a_deployment_stops_cleanly_while_another_actor_removes_its_containers(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression (issue 24): teardown treated 409 "removal ... already in progress" as an error
    # when something else on the engine (the session's watchdog, another checkout's reaper)
    # removed the same container at the same moment; the test then failed on a clean engine.
    session = Session.create("docker concurrent removal test", directory=tmp_path / "sessions")
    try:
        deployment = DockerBackend(session=session).start(fakes.plan({"web": 1, "peer": 1}, image), tmp_path, tmp_path / "w")
        ids = list(fakes.containers(client, deployment).values())
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def other_actor() -> None:
            start.wait()
            for container_id in ids:
                try:
                    client.api.remove_container(container_id, force=True, v=True)
                except docker.errors.APIError:
                    pass  # the other actor's own failures are its business

        def teardown() -> None:
            start.wait()
            try:
                deployment.stop()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=other_actor), threading.Thread(target=other_actor), threading.Thread(target=teardown)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert labelled(client, session.id) == ([], [])
    finally:
        session.close()


def test_concurrent_removals_of_one_container_all_succeed(client: docker.DockerClient, image: str) -> None:
    # The primitive the teardown and the reaper use: gone (404) is done, and a removal under way
    # elsewhere (409) is waited out, so every caller returns with the container gone.
    container = client.containers.run(image, ["web"], detach=True, labels={LABEL_SESSION: f"unlisted-{uuid.uuid4().hex[:8]}"})
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def remove() -> None:
        start.wait()
        try:
            remove_container(container)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=remove) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container.id)


def test_the_reaper_tolerates_containers_removed_while_it_lists_them(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression (issue 24): the reaper lists every labelled container on the engine, then
    # inspects each; one that another run removed in between raised 404 "No such container" and
    # stopped the reaper early. Here a live session of this test's own (watched by its own
    # watchdog: every reaper leaves it alone) removes its containers while the reaper runs.
    suffix = uuid.uuid4().hex[:8]
    shield = DockerWatchdog.start(
        Session.create("churning session's watchdog", directory=tmp_path / "shield"), connect(), watchdog_id=f"test-churn-{suffix}"
    )
    labels = {LABEL_SESSION: f"churn-{suffix}", **shield.labels()}
    made = [
        client.containers.create(image, ["web"], name=f"compat-matrix-test-churn-{suffix}-{i}", labels=labels)
        for i in range(24)
    ]
    lines: list[str] = []
    try:
        def remove_all() -> None:
            for container in made:
                remove_container(container)

        remover = threading.Thread(target=remove_all)
        remover.start()
        while remover.is_alive():
            lines.extend(RESOURCE_REAPER.reap([], frozenset()))
        remover.join()
        # Stopping early fails everyone's reap; a removal failing is judged for this test's containers.
        assert not [line for line in lines if "stopped early" in line or (suffix in line and "could not remove" in line)], lines
    finally:
        shield.release(kept=False)
        for container in made:
            remove_container(container)
