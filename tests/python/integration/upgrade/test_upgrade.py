"""Upgrade: conveyor upgraded one instance at a time while a workload runs, then rolled back.

The cell's upgrade path (see BUILD; `./pants compat-plan tests/python/integration/upgrade:upgrade`
prints it) starts every instance on the earliest release, upgrades the workers one by one, then the
scheduler, the user-code server and the API server to the branch, and rolls the server back to the
latest release, with faults where the seed puts them. A background workload submits jobs to the
server throughout. After every step: every run the server accepted reaches a final state (SUCCESS,
FAILURE or CANCELED: a run in flight on an instance that is replaced may fail, but may not hang),
none is lost (the server still lists it, across its own replacement), the server and the code
location report the versions the plan says they run, and a new job succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from compat_core.cell_plan import CellPlan, UpgradeStep
from compat_core.model import BRANCH
from compat_core.upgrade import final_versions
from compat_matrix.backends.base import Deployment
from compat_matrix.testing_support import eventually
from compat_matrix.upgrade_runner import run_upgrade
from conveyor.client import TERMINAL_STATUSES, Client, ConveyorError
from conveyor.version import __version__ as BRANCH_VERSION

SETTLE_TIMEOUT = 120.0  # for every accepted run to finish after a step
RECONNECT_TIMEOUT = 60.0  # for the server to reach a replaced code server
SUBMIT_INTERVAL = 0.25
LIST_LIMIT = 1000  # the most GET /runs returns at once


def _server_url(deployment: Deployment) -> str:
    # Looked up on every use: a replaced container may have another IP (the same name and port).
    return deployment.first("server", "http").url()


def _release(version: str) -> str:
    """What ``conveyor version`` says for a plan's concrete version."""
    return BRANCH_VERSION if version == BRANCH else version


class Workload:
    """Submits jobs to the server from a background thread; remembers every run it accepted."""

    JOBS: tuple[tuple[str, dict[str, object]], ...] = (
        ("sum_squares", {"n": 12}),
        ("add", {"a": 1, "b": 2}),
        ("where", {"n": 4}),
    )

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="workload", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Workload:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def runs(self) -> list[str]:
        with self._lock:
            return list(self.accepted)

    def _run(self) -> None:
        n = 0
        try:
            while not self._stop.is_set():
                job, config = self.JOBS[n % len(self.JOBS)]
                n += 1
                try:
                    with Client(_server_url(self.deployment), timeout=10.0) as client:
                        run_id = client.submit(job, config)
                except ConveyorError as exc:
                    # Not accepted (the server or its code location is being replaced): not a run.
                    with self._lock:
                        self.refused.append(str(exc))
                else:
                    with self._lock:
                        self.accepted.append(run_id)
                self._stop.wait(SUBMIT_INTERVAL)
        except BaseException as exc:  # seen by the check: a dead workload must fail the test
            self.error = exc


class Checker:
    """The check after every step (see the module docstring)."""

    def __init__(self, deployment: Deployment, workload: Workload) -> None:
        self.deployment = deployment
        self.workload = workload
        self.finished: dict[str, str] = {}  # run id -> final status, as last seen

    def __call__(self, step: UpgradeStep | None) -> None:
        if self.workload.error is not None:
            raise AssertionError(f"the workload thread died: {self.workload.error!r}")
        with Client(_server_url(self.deployment), timeout=10.0) as client:
            self._versions(client)
            ids = self.workload.runs()
            self._settled(client, ids)
            self._none_lost(client, ids)
            probe = client.wait(client.submit("sum_squares", {"n": 10}), timeout=SETTLE_TIMEOUT)
            assert probe["status"] == "SUCCESS", f"a job submitted after the step did not succeed: {probe}"
        statuses = {status: list(self.finished.values()).count(status) for status in sorted(set(self.finished.values()))}
        print(
            f"  {len(ids)} runs accepted so far, all final ({statuses}); "
            f"{len(self.workload.refused)} submissions refused while a part was down"
        )

    def _versions(self, client: Client) -> None:
        running = {inst.role: inst.version for inst in self.deployment.plan.instances}
        info: dict[str, Any] = {}

        def location_back() -> bool:
            # The server reconnects to a replaced code server by itself (its documented behaviour).
            info.update(client.info())
            return bool(info["code_location"].get("status") == "ok")

        eventually(location_back, RECONNECT_TIMEOUT, "the server reaches its code location again")
        assert info["server"]["version"] == _release(running["server"]), info
        assert info["code_location"]["version"] == _release(running["user-code"]), info

    def _settled(self, client: Client, ids: list[str]) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        for run_id in ids:
            if run_id in self.finished:
                continue
            while True:
                try:
                    run = client.run(run_id)
                except ConveyorError as exc:
                    if exc.status_code == 404:
                        raise AssertionError(f"run {run_id}, accepted by the server, is lost: {exc}") from None
                    raise
                if run["status"] in TERMINAL_STATUSES:
                    self.finished[run_id] = run["status"]
                    break
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        f"run {run_id} ({run['job']}) is still {run['status']} {SETTLE_TIMEOUT:g}s after the step; "
                        f"events: {run.get('events')}"
                    )
                time.sleep(0.1)

    def _none_lost(self, client: Client, ids: list[str]) -> None:
        listed = {run["run_id"]: run["status"] for run in client.runs(limit=LIST_LIMIT)}
        for run_id in ids:
            status = listed.get(run_id)
            if status is None:  # older than the listing's limit: ask for it alone
                try:
                    status = client.run(run_id)["status"]
                except ConveyorError as exc:
                    raise AssertionError(f"run {run_id}, accepted by the server, is lost: {exc}") from None
            assert status == self.finished[run_id], (
                f"run {run_id} finished as {self.finished[run_id]}, but the server now says {status}"
            )
            self.finished[run_id] = status


@pytest.fixture
def workload(deployment: Deployment) -> Iterator[Workload]:
    with Workload(deployment) as running:
        yield running


def test_rolling_upgrade_with_faults(deployment: Deployment, cell: CellPlan, workload: Workload) -> None:
    run_upgrade(deployment, cell, check=Checker(deployment, workload))
    assert workload.runs(), "the workload had no run accepted"
    # Every instance ends where the plan says (the server rolled back).
    assert cell.upgrade is not None
    ended = {inst.name: inst.version for inst in deployment.plan.instances}
    assert ended == final_versions(cell.upgrade, cell.instances)
