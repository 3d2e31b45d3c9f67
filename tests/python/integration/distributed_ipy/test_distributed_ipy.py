"""Distributed over ipyparallel: a job's tasks run on two engines, and survive a killed engine.

Runs in every cell of the suite ``distributed-ipy`` (see BUILD): an ipyparallel controller, two
engines, the code server as the controller's client (``--ipyparallel``) and the server, driven from
outside through the server's HTTP API. The test also connects to the controller itself, as a user
of the cluster would, to see which engine ran what and which conveyor each engine has. The fault
test goes last: it leaves the cluster with one engine restarted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipyparallel
import pytest

from compat_core.cell_plan import CellPlan
from compat_matrix.backends.base import Deployment
from compat_matrix.ipyparallel_driver import driver_client_file
from compat_matrix.testing_support import eventually
from conveyor.client import Client
from conveyor.version import __version__ as BRANCH_VERSION

RUN_TIMEOUT = 120.0
CLIENT_FILE = Path("ipyparallel/security/ipcontroller-client.json")  # under {shared_dir}, as in the BUILD


def _client(deployment: Deployment) -> Client:
    return Client(deployment.first("server", "http").url())


def _engines(cell: CellPlan) -> list[Any]:
    return [inst for inst in cell.instances if inst.role == "ipy-engine"]


def _run(client: Client, job: str, config: dict[str, object]) -> dict[str, object]:
    run = client.wait(client.submit(job, config), timeout=RUN_TIMEOUT)
    assert run["status"] == "SUCCESS", run
    return run


@pytest.fixture(scope="module")
def controller(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An ipyparallel client of the cell's controller, as the driver reaches it."""
    path = driver_client_file(deployment, deployment.shared_dir / CLIENT_FILE, tmp_path_factory.mktemp("ipyparallel"))
    client = ipyparallel.Client(str(path), timeout=30)  # positionally: url_file= is ignored
    try:
        yield client
    finally:
        client.close()


def _completed(controller: Any) -> dict[int, int]:
    """Engine id -> tasks it completed, as the controller counts them."""
    status = controller.queue_status(verbose=False)
    return {engine: info["completed"] for engine, info in status.items() if isinstance(engine, int)}


def _tasks_reach_every_engine(client: Client, controller: Any, cell: CellPlan) -> None:
    before = _completed(controller)
    result = _run(client, "where", {"n": 24})["result"]
    assert isinstance(result, dict) and result["tasks"] == 24
    # Tasks ran in engines, not in the code server's threads (an engine reports its own process).
    assert all(place.startswith("in-process:") for place in result["where"]), result
    after = _completed(controller)
    ran = {engine: after.get(engine, 0) - before.get(engine, 0) for engine in after}
    assert sorted(ran) == [inst.index for inst in _engines(cell)], ran
    assert all(count > 0 for count in ran.values()), f"tasks per engine: {ran}"


def test_the_code_server_runs_tasks_on_ipyparallel(deployment: Deployment) -> None:
    info = _client(deployment).info()
    assert info["code_location"]["executor"] == "ipyparallel", info


def test_each_engine_runs_the_cells_version(controller: Any, cell: CellPlan) -> None:
    ids = sorted(controller.ids)
    view = controller[ids]
    view.execute("from conveyor.version import __version__ as conveyor_version", block=False).get(timeout=60)
    reported = dict(zip(ids, view.pull("conveyor_version", block=False).get(timeout=60), strict=True))
    expected = {inst.index: BRANCH_VERSION if inst.version == "branch" else inst.version for inst in _engines(cell)}
    assert reported == expected


def test_tasks_run_on_every_engine(deployment: Deployment, controller: Any, cell: CellPlan) -> None:
    _tasks_reach_every_engine(_client(deployment), controller, cell)


def test_fan_out_result_is_correct(deployment: Deployment) -> None:
    assert _run(_client(deployment), "sum_squares", {"n": 50})["result"] == sum(i * i for i in range(50))


def test_a_killed_engine_does_not_fail_jobs(deployment: Deployment, controller: Any, cell: CellPlan) -> None:
    lost = _engines(cell)[-1]
    deployment.kill(lost.name)
    client = _client(deployment)
    started = time.monotonic()
    # Tasks the controller sent to the dead engine fail once its heartbeat is missed, and the code
    # server's view resubmits them to the engine left.
    assert _run(client, "sum_squares", {"n": 30})["result"] == sum(i * i for i in range(30))
    assert time.monotonic() - started < RUN_TIMEOUT
    # The restarted engine asks for its old id, which the controller frees once it stopped counting it.
    eventually(lambda: lost.index not in controller.ids, 60, f"the controller drops the killed {lost.name}")
    deployment.restart(lost.name)  # ready again when the controller counts it under its id
    _tasks_reach_every_engine(client, controller, cell)
