"""Distributed: a job's tasks run on a dask cluster of two workers, and survive worker faults.

Runs in every cell of the suite (see BUILD), driven from outside through the server's HTTP API.
The fault tests go last: they leave the cluster with one worker restarted.
"""

from __future__ import annotations

import pytest

from compat_core.cell_plan import CellPlan
from compat_matrix.backends.base import Deployment
from conveyor.client import Client

RUN_TIMEOUT = 120.0


def _client(deployment: Deployment) -> Client:
    return Client(deployment.first("server", "http").url())


def _workers(cell: CellPlan) -> list[str]:
    return [inst.name for inst in cell.instances if inst.role == "worker"]


def _run(client: Client, job: str, config: dict[str, object]) -> dict[str, object]:
    run = client.wait(client.submit(job, config), timeout=RUN_TIMEOUT)
    assert run["status"] == "SUCCESS", run
    return run


def test_tasks_run_on_every_worker(deployment: Deployment, cell: CellPlan) -> None:
    result = _run(_client(deployment), "where", {"n": 24})["result"]
    assert isinstance(result, dict)
    assert result["tasks"] == 24
    # Every task ran on a dask worker (not in-process), and on both of them.
    assert sorted(result["where"]) == sorted(_workers(cell))


def test_fan_out_result_is_correct(deployment: Deployment) -> None:
    assert _run(_client(deployment), "sum_squares", {"n": 50})["result"] == sum(i * i for i in range(50))


def test_a_killed_worker_does_not_fail_jobs(deployment: Deployment, cell: CellPlan) -> None:
    lost = _workers(cell)[-1]
    deployment.kill(lost)
    client = _client(deployment)
    assert _run(client, "sum_squares", {"n": 30})["result"] == sum(i * i for i in range(30))
    deployment.restart(lost)
    # Back in the cluster: tasks reach it again.
    assert sorted(_run(client, "where", {"n": 24})["result"]["where"]) == sorted(_workers(cell))  # type: ignore[index]


def test_a_partitioned_worker_does_not_fail_jobs(deployment: Deployment, cell: CellPlan) -> None:
    cut = _workers(cell)[0]
    try:
        deployment.disconnect(cut)
    except NotImplementedError:
        pytest.skip("this backend cannot partition an instance (the docker backend can)")
    client = _client(deployment)
    try:
        assert _run(client, "sum_squares", {"n": 20})["result"] == sum(i * i for i in range(20))
    finally:
        # A dask worker cut off from its scheduler shuts itself down (a nanny would restart it);
        # restart brings it back on the network with a fresh process.
        deployment.restart(cut)
    assert sorted(_run(client, "where", {"n": 24})["result"]["where"]) == sorted(_workers(cell))  # type: ignore[index]
