"""The code server over real gRPC: info, jobs, runs, and every kind of bad input."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import Launcher, subprocess_env  # pants: no-infer-dep (conftest.py is every test's dependency)

from conveyor.protocol import code_location_pb2 as pb2
from conveyor.protocol import code_location_pb2_grpc as pb2_grpc
from conveyor.version import PROTOCOL_VERSION, __version__


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pb2_grpc.CodeLocationStub]:
    launch = Launcher(tmp_path_factory.mktemp("code-server"))
    try:
        _, address = launch.code_server()
        with grpc.insecure_channel(address) as channel:
            yield pb2_grpc.CodeLocationStub(channel)
    finally:
        launch.stop_all()


def _run(stub: pb2_grpc.CodeLocationStub, job: str, config: object) -> list[pb2.RunEvent]:
    request = pb2.ExecuteRunRequest(run_id=uuid.uuid4().hex, job_name=job, config_json=json.dumps(config))
    return list(stub.ExecuteRun(request, timeout=30))


def test_server_info(stub: pb2_grpc.CodeLocationStub) -> None:
    info = stub.GetServerInfo(pb2.GetServerInfoRequest(client_protocol_version=PROTOCOL_VERSION), timeout=5)
    assert (info.conveyor_version, info.protocol_version, info.executor) == (
        __version__,
        PROTOCOL_VERSION,
        "in-process",
    )
    assert {"list_jobs", "execute_run", "run_events", "cancel", "executor:in-process"} <= set(
        info.capabilities
    )


def test_list_jobs(stub: pb2_grpc.CodeLocationStub) -> None:
    jobs = {j.name: j for j in stub.ListJobs(pb2.ListJobsRequest(), timeout=5).jobs}
    assert {"add", "sum_squares", "where", "fail", "sleep"} <= set(jobs)
    assert [(p.name, p.required) for p in jobs["add"].parameters] == [("a", True), ("b", True)]


def test_execute_run_streams_to_success(stub: pb2_grpc.CodeLocationStub) -> None:
    events = _run(stub, "sum_squares", {"n": 10})
    kinds = [pb2.RunEvent.Kind.Name(e.kind) for e in events]
    assert kinds[0] == "STARTED" and kinds[-1] == "SUCCESS" and "LOG" in kinds
    assert json.loads(events[-1].result_json) == sum(i * i for i in range(10))


def test_failing_job_is_a_failure_event_and_server_keeps_serving(stub: pb2_grpc.CodeLocationStub) -> None:
    events = _run(stub, "fail", {"message": "kaput"})
    assert pb2.RunEvent.Kind.Name(events[-1].kind) == "FAILURE"
    assert events[-1].error == "RuntimeError: kaput"
    assert json.loads(_run(stub, "add", {"a": 2, "b": 3})[-1].result_json) == 5


@pytest.mark.parametrize(
    ("job", "config_json", "code", "message"),
    [
        ("add", '{"a": 1}', grpc.StatusCode.INVALID_ARGUMENT, "missing required config key(s) 'b'"),
        ("add", '{"a": 1, "b": 2, "c": 3}', grpc.StatusCode.INVALID_ARGUMENT, "unknown config key 'c'"),
        (
            "add",
            '{"a": "1", "b": 2}',
            grpc.StatusCode.INVALID_ARGUMENT,
            "config key 'a' of job 'add' must be float, got str",
        ),
        ("add", "{not json", grpc.StatusCode.INVALID_ARGUMENT, "is not valid JSON"),
        ("add", "[1, 2]", grpc.StatusCode.INVALID_ARGUMENT, "must be a JSON object"),
        (
            "nope",
            "{}",
            grpc.StatusCode.NOT_FOUND,
            "no job named 'nope' in this code location; available jobs: add,",
        ),
        # Regression (issue 12): details echoing a huge name or value overflowed gRPC's metadata
        # limit and arrived as RESOURCE_EXHAUSTED ("busy").
        ("j" * 100_000, "{}", grpc.StatusCode.NOT_FOUND, "no job named 'jjjj"),
        ("add", '{"a": 1, "%s": 2}' % ("k" * 100_000), grpc.StatusCode.INVALID_ARGUMENT, "unknown config key"),
        ("add", '{"a": 1, "b": "%s"}' % ("x" * 100_000), grpc.StatusCode.INVALID_ARGUMENT, "(100002 characters)"),
        # Regression (issue 12): job parameters had no bounds.
        ("sleep", '{"seconds": -1}', grpc.StatusCode.INVALID_ARGUMENT, "must be from 0.0 to 3600.0, got -1"),
        ("sleep", '{"seconds": NaN}', grpc.StatusCode.INVALID_ARGUMENT, "must be from 0.0 to 3600.0, got nan"),
        ("sum_squares", '{"n": 1000000}', grpc.StatusCode.INVALID_ARGUMENT, "must be from 0 to 10000"),
        ("where", '{"n": -5}', grpc.StatusCode.INVALID_ARGUMENT, "must be from 0 to 10000"),
    ],
)
def test_invalid_requests_are_rejected(
    stub: pb2_grpc.CodeLocationStub, job: str, config_json: str, code: grpc.StatusCode, message: str
) -> None:
    request = pb2.ExecuteRunRequest(run_id=uuid.uuid4().hex, job_name=job, config_json=config_json)
    with pytest.raises(grpc.RpcError) as exc:
        list(stub.ExecuteRun(request, timeout=10))
    assert exc.value.code() == code
    assert message in exc.value.details()


def test_empty_run_id_is_invalid(stub: pb2_grpc.CodeLocationStub) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        list(stub.ExecuteRun(pb2.ExecuteRunRequest(job_name="add", config_json="{}"), timeout=10))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_bad_user_module_exits_nonzero_with_the_cause(launcher: Launcher, tmp_path: Path) -> None:
    (tmp_path / "broken_jobs.py").write_text(
        "import conveyor\nraise ValueError('the user module is broken')\n"
    )
    env_dir = str(tmp_path)
    proc = launcher.spawn(
        "bad-module", ["code-server", "--port", "1", "--module", "broken_jobs"], env=subprocess_env([env_dir])
    )
    assert proc.wait_exit() != 0
    logs = proc.logs()
    assert "user module 'broken_jobs' failed to import: ValueError: the user module is broken" in logs
    assert "broken_jobs.py:2" in logs


def test_missing_user_module_exits_nonzero(launcher: Launcher) -> None:
    proc = launcher.spawn("missing-module", ["code-server", "--port", "1", "--module", "no_such_jobs_module"])
    assert proc.wait_exit() != 0
    assert (
        "cannot import user module 'no_such_jobs_module': no module named 'no_such_jobs_module'"
        in proc.logs()
    )


def test_user_file_without_definitions_exits_nonzero(launcher: Launcher, tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    proc = launcher.spawn("no-defs", ["code-server", "--port", "1", "--file", str(tmp_path / "empty.py")])
    assert proc.wait_exit() != 0
    assert "defines no Definitions object; add `defs = Definitions(jobs=[...])`" in proc.logs()


def test_user_file_is_served_and_stops_cleanly_on_sigterm(launcher: Launcher, tmp_path: Path) -> None:
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
    proc, address = launcher.code_server("--file", str(user_file))
    with grpc.insecure_channel(address) as channel:
        stub = pb2_grpc.CodeLocationStub(channel)
        assert [j.name for j in stub.ListJobs(pb2.ListJobsRequest(), timeout=5).jobs] == ["greet"]
        events = _run(stub, "greet", {"names": ["a", "b"]})
        assert json.loads(events[-1].result_json) == ["A", "B"]
    assert proc.terminate() == 0


def test_port_in_use_exits_nonzero(launcher: Launcher) -> None:
    _, address = launcher.code_server(name="first")
    port = address.rsplit(":", 1)[1]
    second = launcher.spawn("second", ["code-server", "--port", port])
    assert second.wait_exit() == 1
    assert f"cannot listen on 127.0.0.1:{port}" in second.logs()


def test_cancel_run_over_grpc(stub: pb2_grpc.CodeLocationStub) -> None:
    run_id = uuid.uuid4().hex
    stream = stub.ExecuteRun(
        pb2.ExecuteRunRequest(run_id=run_id, job_name="sleep", config_json='{"seconds": 60}'), timeout=30
    )
    first = next(stream)
    assert pb2.RunEvent.Kind.Name(first.kind) == "STARTED"
    reply = stub.CancelRun(pb2.CancelRunRequest(run_id=run_id), timeout=5)
    assert "cancel requested" in reply.message
    rest = list(stream)
    assert pb2.RunEvent.Kind.Name(rest[-1].kind) == "CANCELED"
    assert rest[-1].error == "canceled by request"


def test_cancel_unknown_run_is_not_found(stub: pb2_grpc.CodeLocationStub) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        stub.CancelRun(pb2.CancelRunRequest(run_id="nope"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert "run 'nope' is not executing in this code location" in exc.value.details()
    with pytest.raises(grpc.RpcError) as exc:
        stub.CancelRun(pb2.CancelRunRequest(), timeout=5)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_concurrent_run_limit_is_resource_exhausted(launcher: Launcher) -> None:
    _, address = launcher.code_server("--max-concurrent-runs", "1")
    with grpc.insecure_channel(address) as channel:
        stub = pb2_grpc.CodeLocationStub(channel)
        first_id = uuid.uuid4().hex
        first = stub.ExecuteRun(
            pb2.ExecuteRunRequest(run_id=first_id, job_name="sleep", config_json='{"seconds": 60}'),
            timeout=30,
        )
        assert pb2.RunEvent.Kind.Name(next(first).kind) == "STARTED"
        with pytest.raises(grpc.RpcError) as exc:
            _run(stub, "add", {"a": 1, "b": 2})
        assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "already executing 1 runs, its limit (--max-concurrent-runs)" in exc.value.details()
        # Health and info still answer while the run slots are full.
        assert stub.GetServerInfo(pb2.GetServerInfoRequest(), timeout=5).conveyor_version
        stub.CancelRun(pb2.CancelRunRequest(run_id=first_id), timeout=5)
        assert pb2.RunEvent.Kind.Name(list(first)[-1].kind) == "CANCELED"
        assert json.loads(_run(stub, "add", {"a": 1, "b": 2})[-1].result_json) == 3
