"""The dask executor: scheduler + two workers + code server + server, all real processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import Launcher, RoleProcess, free_port  # pants: no-infer-dep
from distributed import Client as DaskClient

from conveyor.client import Client


@dataclass(frozen=True)
class Cluster:
    url: str
    scheduler: RoleProcess
    workers: list[RoleProcess]
    code_server: RoleProcess
    server: RoleProcess


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    launch = Launcher(tmp_path_factory.mktemp("dask"))
    try:
        scheduler, scheduler_address = launch.scheduler()
        workers = [launch.worker(scheduler_address, name) for name in ("w1", "w2")]
        # Ready = both workers registered with the scheduler (asked through dask itself).
        with DaskClient(scheduler_address, timeout=30, set_as_default=False) as dask:
            dask.wait_for_workers(2, timeout=30)
        code_server, address = launch.code_server("--dask-scheduler", scheduler_address)
        server, url = launch.server(address)
        yield Cluster(url, scheduler, workers, code_server, server)
    finally:
        launch.stop_all()


def test_info_reports_dask_executor(cluster: Cluster) -> None:
    location = Client(cluster.url).info()["code_location"]
    assert location["executor"] == "dask" and "executor:dask" in location["capabilities"]


def test_tasks_run_on_both_workers(cluster: Cluster) -> None:
    client = Client(cluster.url)
    run = client.wait(client.submit("where", {"n": 16}), timeout=60)
    assert run["status"] == "SUCCESS", run
    assert run["result"] == {"tasks": 16, "where": ["w1", "w2"]}


def test_fan_out_result_and_failure_on_dask(cluster: Cluster) -> None:
    client = Client(cluster.url)
    assert client.wait(client.submit("sum_squares", {"n": 30}), timeout=60)["result"] == sum(
        i * i for i in range(30)
    )
    run = client.wait(client.submit("fail", {"message": "dask boom"}))
    assert run["status"] == "FAILURE" and "dask boom" in run["error"]


def test_cancel_stops_tasks_on_the_cluster(cluster: Cluster) -> None:
    client = Client(cluster.url)
    run_id = client.submit("where", {"n": 2000})  # ~50 s of tasks on two single-threaded workers
    deadline = time.monotonic() + 30
    while client.run(run_id)["status"] != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.cancel(run_id)
    run = client.wait(run_id, timeout=20)
    assert run["status"] == "CANCELED", run
    # The cluster is free again right away (the remaining tasks were canceled).
    assert client.wait(client.submit("sum_squares", {"n": 3}), timeout=20)["result"] == 5


def test_roles_exit_0_on_sigterm(cluster: Cluster) -> None:
    # Last in the module: stops the cluster in dependency order.
    assert cluster.server.terminate() == 0
    assert cluster.code_server.terminate() == 0
    assert [w.terminate() for w in cluster.workers] == [0, 0]
    assert cluster.scheduler.terminate() == 0


def test_unreachable_scheduler_exits_nonzero(launcher: Launcher) -> None:
    port = free_port()
    proc = launcher.spawn(
        "code-server-no-scheduler",
        [
            "code-server", "--port", str(free_port()), "--dask-scheduler", f"tcp://127.0.0.1:{port}",
            # Nothing listens there: no wait shows more than the default's 15 s would.
            "--cluster-connect-timeout", "2",
        ],
    )
    assert proc.wait_exit(timeout=60) == 1
    assert f"cannot connect to the dask scheduler at tcp://127.0.0.1:{port}" in proc.logs()
