"""The ipyparallel executor: controller + two engines + code server + server, all real processes."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    Launcher,  # pants: no-infer-dep
    RoleProcess,  # pants: no-infer-dep
    ipyparallel_controller,  # pants: no-infer-dep
    ipyparallel_process,  # pants: no-infer-dep
    subprocess_env,  # pants: no-infer-dep
)

from compat_core.ipyparallel import IPYPARALLEL_ENGINE_ARGS
from compat_probes import ipyparallel_ready
from conveyor.client import Client


@dataclass(frozen=True)
class Cluster:
    url: str
    client_file: str
    engines: list[RoleProcess]
    code_server: RoleProcess
    server: RoleProcess


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    launch = Launcher(tmp_path_factory.mktemp("ipyparallel"))
    profile = launch.tmp_path / "profile"
    client_file = str(profile / "security" / "ipcontroller-client.json")
    try:
        controller = ipyparallel_controller(launch, profile)
        controller.wait_until(lambda: ipyparallel_ready.main(["controller", client_file]) == 0, "answering")
        engines = []
        for index in range(2):
            engine = ipyparallel_process(
                launch,
                f"engine-{index}",
                "ipyparallel.engine",
                f"--file={profile / 'security' / 'ipcontroller-engine.json'}",
                f"--IPEngine.id={index}",
                *IPYPARALLEL_ENGINE_ARGS,
            )
            # Ready = the controller counts it (an engine listens on no port).
            engine.wait_until(lambda i=index: ipyparallel_ready.main(["engine", client_file, str(i)]) == 0, "counted")
            engines.append(engine)
        code_server, address = launch.code_server("--ipyparallel", client_file)
        server, url = launch.server(address)
        yield Cluster(url, client_file, engines, code_server, server)
    finally:
        launch.stop_all()


def test_info_reports_the_ipyparallel_executor(cluster: Cluster) -> None:
    location = Client(cluster.url).info()["code_location"]
    assert location["executor"] == "ipyparallel" and "executor:ipyparallel" in location["capabilities"]


def test_tasks_run_on_both_engines(cluster: Cluster) -> None:
    client = Client(cluster.url)
    run = client.wait(client.submit("where", {"n": 16}), timeout=60)
    assert run["status"] == "SUCCESS", run
    # An engine runs tasks in its own process, which `identify` reports.
    assert run["result"] == {"tasks": 16, "where": sorted(f"in-process:{e.proc.pid}" for e in cluster.engines if e.proc)}


def test_fan_out_result_and_failure_on_ipyparallel(cluster: Cluster) -> None:
    client = Client(cluster.url)
    assert client.wait(client.submit("sum_squares", {"n": 30}), timeout=60)["result"] == sum(
        i * i for i in range(30)
    )
    run = client.wait(client.submit("fail", {"message": "ipyparallel boom"}))
    assert run["status"] == "FAILURE" and "ipyparallel boom" in run["error"]


def test_cancel_stops_tasks_on_the_engines(cluster: Cluster) -> None:
    client = Client(cluster.url)
    run_id = client.submit("where", {"n": 2000})  # ~50 s of tasks on two engines
    deadline = time.monotonic() + 30
    while client.run(run_id)["status"] != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.cancel(run_id)
    run = client.wait(run_id, timeout=20)
    assert run["status"] == "CANCELED", run
    # The engines are free again right away (the remaining tasks were aborted).
    assert client.wait(client.submit("sum_squares", {"n": 3}), timeout=20)["result"] == 5


def test_user_code_from_a_file_travels_by_value(cluster: Cluster, launcher: Launcher, tmp_path: Path) -> None:
    # The engines cannot import a module loaded from a file: its tasks go by value, as to dask.
    user_file = tmp_path / "my_jobs.py"
    user_file.write_text(
        textwrap.dedent(
            """
            from conveyor import Definitions, job, task

            @task
            def shout(word):
                return word.upper()

            @job
            def greet(ctx, names: list):
                return ctx.map(shout, names)

            defs = Definitions(jobs=[greet])
            """
        )
    )
    _, address = launcher.code_server("--file", str(user_file), "--ipyparallel", cluster.client_file)
    _, url = launcher.server(address)
    client = Client(url)
    run = client.wait(client.submit("greet", {"names": ["a", "b", "c"]}), timeout=60)
    assert run["status"] == "SUCCESS" and run["result"] == ["A", "B", "C"], run


def test_an_engine_runs_the_task_code_installed_with_it(launcher: Launcher, tmp_path: Path) -> None:
    # The same user module in two versions: the code server's and the engine's. Tasks go by
    # reference, so the engine runs its own version's code (ipyparallel alone would send the code
    # server's code object and run it on the engine).
    for side in ("code-server", "engine"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "versioned_jobs.py").write_text(
            textwrap.dedent(
                f"""
                from conveyor import Definitions, job, task

                @task
                def which(_index):
                    return "{side}'s code"

                @job
                def ask(ctx):
                    return ctx.map(which, [0])

                defs = Definitions(jobs=[ask])
                """
            )
        )
    profile = tmp_path / "profile"
    client_file = str(profile / "security" / "ipcontroller-client.json")
    controller = ipyparallel_controller(launcher, profile)
    controller.wait_until(lambda: ipyparallel_ready.main(["controller", client_file]) == 0, "answering")
    engine = ipyparallel_process(
        launcher, "engine", "ipyparallel.engine", f"--file={profile / 'security' / 'ipcontroller-engine.json'}",
        *IPYPARALLEL_ENGINE_ARGS, pythonpath=[str(tmp_path / "engine")],
    )
    engine.wait_until(lambda: ipyparallel_ready.main(["engine", client_file, "0"]) == 0, "counted")
    code_env = subprocess_env([str(tmp_path / "code-server")])
    _, address = launcher.code_server("--module", "versioned_jobs", "--ipyparallel", client_file, env=code_env)
    _, url = launcher.server(address)
    client = Client(url)
    run = client.wait(client.submit("ask", {}), timeout=60)
    assert run["status"] == "SUCCESS" and run["result"] == ["engine's code"], run


def test_an_unusable_connection_file_stops_the_code_server(launcher: Launcher, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ipcontroller-client.json"
    proc = launcher.spawn("no-controller", ["code-server", "--port", "1", "--ipyparallel", str(missing)])
    assert proc.wait_exit() == 1
    assert f"cannot connect to the ipyparallel controller with {missing}" in proc.logs()


def test_one_cluster_at_a_time(launcher: Launcher) -> None:
    proc = launcher.spawn(
        "two-clusters",
        ["code-server", "--port", "1", "--dask-scheduler", "tcp://127.0.0.1:1", "--ipyparallel", "x.json"],
    )
    assert proc.wait_exit() == 2
    assert "not allowed with argument" in proc.logs()


def test_roles_exit_0_on_sigterm(cluster: Cluster) -> None:
    # Last in the module: stops the code server and server in dependency order.
    assert cluster.server.terminate() == 0
    assert cluster.code_server.terminate() == 0
