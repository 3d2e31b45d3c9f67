"""The server and code server as real processes: the HTTP API end to end, and its failure modes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import Launcher, Stack, free_port, grpc_serving, http_ok, subprocess_env  # pants: no-infer-dep

from conveyor.client import Client, ConveyorError
from conveyor.server.storage import RunStorage
from conveyor.version import PROTOCOL_VERSION, __version__


@pytest.fixture
def client(stack: Stack) -> Client:
    return Client(stack.url)


def test_health_info_and_jobs(client: Client, stack: Stack) -> None:
    assert client.health() == {"status": "ok"}
    info = client.info()
    assert info["server"] == {"version": __version__, "protocol_version": PROTOCOL_VERSION}
    location = info["code_location"]
    assert (location["name"], location["address"], location["status"]) == ("default", stack.code_server, "ok")
    assert location["version"] == __version__ and location["protocol_version"] == PROTOCOL_VERSION
    assert "execute_run" in location["capabilities"]
    jobs = {j["name"]: j for j in client.jobs()}
    assert {"add", "sum_squares", "where", "fail", "sleep"} <= set(jobs)
    assert jobs["add"]["description"] == "Adds two numbers."


def test_submit_and_wait(client: Client) -> None:
    run = client.wait(client.submit("add", {"a": 2, "b": 40}), timeout=30)
    assert (run["status"], run["result"], run["error"]) == ("SUCCESS", 42, None)
    assert run["job"] == "add" and run["config"] == {"a": 2, "b": 40}
    assert [e["kind"] for e in run["events"]] == ["STARTED", "LOG", "SUCCESS"]
    assert run["created_at"] <= run["finished_at"]


def test_fan_out_in_process(client: Client) -> None:
    assert client.wait(client.submit("sum_squares", {"n": 20}))["result"] == sum(i * i for i in range(20))
    where = client.wait(client.submit("where", {"n": 4}))["result"]
    assert where["tasks"] == 4 and len(where["where"]) == 1 and where["where"][0].startswith("in-process:")


def test_failing_job_is_failure_and_server_keeps_serving(client: Client) -> None:
    run = client.wait(client.submit("fail", {"message": "kaput"}))
    assert run["status"] == "FAILURE" and run["error"] == "RuntimeError: kaput"
    assert run["events"][-1]["kind"] == "FAILURE" and "kaput" in run["events"][-1]["message"]
    assert client.wait(client.submit("add", {"a": 1, "b": 1}))["result"] == 2


def test_recent_runs(client: Client, stack: Stack) -> None:
    run_id = client.submit("add", {"a": 0, "b": 0})
    client.wait(run_id)
    runs = client.runs(limit=5)
    assert runs[0]["run_id"] == run_id and len(runs) <= 5
    assert httpx.get(f"{stack.url}/runs", params={"status": "SUCCESS"}).status_code == 200


def _post(stack: Stack, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/runs",
        content=content,
        headers=headers or {"content-type": "application/json"},
        timeout=10,
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"job": "nope"}', 404, "no job named 'nope'"),
        (b'{"job": "add", "config": {"a": 1}}', 422, "missing required config key(s) 'b' for job 'add'"),
        (
            b'{"job": "add", "config": {"a": 1, "b": "x"}}',
            422,
            "config key 'b' of job 'add' must be float, got str 'x'",
        ),
        (b'{"job": ', 400, "request body is not valid JSON"),
        (b"", 400, "request body is empty"),
        (b"\xff\xfe", 400, "request body is not valid JSON"),
        (b"[1, 2]", 422, "request body must be a JSON object"),
        (b'{"job": 5}', 422, "'job' must be a non-empty string naming a job (GET /jobs lists them), got 5"),
        (b'{"config": {}}', 422, "'job' must be a non-empty string"),
        (
            b'{"job": "add", "config": [1]}',
            422,
            "'config' must be a JSON object of the job's parameters, got list [1]",
        ),
        (b'{"job": "add", "cfg": {}}', 422, "unknown field(s) 'cfg' in request body; allowed: job, config"),
        # Regression (issue 12): non-finite numbers were accepted (201) and then broke GET /runs.
        (b'{"job": "add", "config": {"a": NaN, "b": 1}}', 422, "config.a is NaN, which is not a JSON number"),
        (b'{"job": "add", "config": {"a": 1, "b": Infinity}}', 422, "config.b is Infinity"),
        (b'{"job": "add", "config": {"a": -Infinity, "b": 1}}', 422, "config.a is -Infinity"),
        (b'{"job": "add", "config": {"a": 1e400, "b": 1}}', 422, "config.a is Infinity"),
        (b'{"job": "fail", "config": {"message": [1, {"x": NaN}]}}', 422, "config.message[1].x is NaN"),
        # Regression (issue 12): a 100,000-character job name got 503 "busy" (gRPC metadata limit).
        (b'{"job": "%s"}' % (b"j" * 100_000), 422, "'job' is 100000 characters long"),
        (b'{"job": "fail", "config": {"%s": 1}}' % (b"k" * 1000), 422, "config has a key of 1000 characters"),
        # Regression (issue 12): JSON nested 100,000 deep got 500.
        (b'{"job": "fail", "config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
         "field 'config' nests JSON deeper than 40 levels"),
        (b"[" * 100_000, 400, "the request body nests JSON deeper than 40 levels"),
        (b'{"job": "fail", "config": {"message": ' + b"[" * 35 + b"]" * 35 + b"}}", 422,
         "config.message[0][0][0]"),
        # Regression (issue 12): job parameters had no bounds.
        (b'{"job": "sleep", "config": {"seconds": -1}}', 422,
         "config key 'seconds' of job 'sleep' must be from 0.0 to 3600.0, got -1"),
        (b'{"job": "sum_squares", "config": {"n": 1000000}}', 422,
         "config key 'n' of job 'sum_squares' must be from 0 to 10000, got 1000000"),
        (b'{"job": "add", "config": {"a": 1, "b": "%s"}}' % (b"x" * 100_000), 422, "(100002 characters)"),
        # A lone surrogate was stored and then made every UTF-8 listing fail.
        (b'{"job": "fail", "config": {"message": "\\ud800"}}', 422, "config.message holds a lone UTF-16 surrogate"),
        (b'{"job": "\\udfff"}', 422, "'job' holds a lone UTF-16 surrogate"),
    ],
)
def test_bad_run_requests_are_4xx_json(stack: Stack, body: bytes, status: int, message: str) -> None:
    response = _post(stack, body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_rejected_requests_never_break_listing(stack: Stack, client: Client) -> None:
    # Regression (issue 12): after POST /runs with NaN, GET /runs answered 500 for everyone.
    for body in (b'{"job": "add", "config": {"a": NaN, "b": 1}}', b'{"job": "add", "config": {"a": 1e999, "b": 1}}'):
        assert _post(stack, body).status_code == 422
    response = httpx.get(f"{stack.url}/runs", params={"limit": 1000}, timeout=10)
    assert response.status_code == 200, response.text
    # A job whose result overflows to infinity is stored, and still lists.
    run = client.wait(client.submit("add", {"a": 1.7e308, "b": 1.7e308}))
    assert (run["status"], run["result"]) == ("SUCCESS", "Infinity")
    assert httpx.get(f"{stack.url}/runs", timeout=10).status_code == 200


def test_rows_stored_with_non_json_values_still_list(launcher: Launcher, tmp_path: Path) -> None:
    # Regression (issue 12): rows an older server stored with NaN / Infinity made GET /runs 500,
    # also after a restart. Plant such rows (and unreadable ones) in SQLite directly.
    db = tmp_path / "history.sqlite"
    RunStorage(str(db)).close()  # the schema
    rows = [
        ("nan-config", '{"a": NaN, "b": 1}', "Infinity"),
        ("inf-result", '{"a": 1, "b": 2}', '[1, -Infinity, {"x": NaN}]'),
        ("not-json", "{not json", "also not json"),
        ("too-deep", "[" * 100_000 + "]" * 100_000, "[" * 100_000 + "]" * 100_000),
        ("surrogate", '{"message": "\\ud800"}', '"\\udfff"'),
    ]
    with sqlite3.connect(db) as conn:
        for created, (run_id, config, result) in enumerate(rows):
            conn.execute(
                "INSERT INTO runs (run_id, job, config_json, status, result_json, created_at, finished_at)"
                " VALUES (?, 'add', ?, 'SUCCESS', ?, ?, ?)",
                (run_id, config, result, 1_700_000_000 + created, 1_700_000_000 + created),
            )
    _, address = launcher.code_server()
    _, url = launcher.server(address, db)
    response = httpx.get(f"{url}/runs", timeout=10)
    assert response.status_code == 200, response.text
    listed = {run["run_id"]: run for run in response.json()["runs"]}
    assert set(listed) == {run_id for run_id, _, _ in rows}
    assert (listed["nan-config"]["config"], listed["nan-config"]["result"]) == ({"a": "NaN", "b": 1}, "Infinity")
    assert listed["inf-result"]["result"] == [1, "-Infinity", {"x": "NaN"}]
    assert (listed["not-json"]["config"], listed["not-json"]["result"]) == ({}, None)
    assert listed["too-deep"]["config"] == {}
    assert (listed["surrogate"]["config"], listed["surrogate"]["result"]) == ({"message": "?"}, "?")
    for run_id, _, _ in rows:
        assert httpx.get(f"{url}/runs/{run_id}", timeout=10).status_code == 200


def test_oversized_body_is_413(stack: Stack) -> None:
    big = json.dumps({"job": "add", "config": {"a": 1, "b": 2, "pad": "x" * (1024 * 1024 + 10)}}).encode()
    response = _post(stack, big)
    assert response.status_code == 413
    assert "larger than the server's limit of 1048576 bytes (--max-body-bytes)" in response.json()["error"]


def test_oversized_chunked_body_is_413(stack: Stack) -> None:
    def chunks():  # no Content-Length: the server must count while reading
        for _ in range(20):
            yield b"x" * 65536
        yield b'"'

    response = httpx.post(f"{stack.url}/runs", content=chunks(), timeout=10)
    assert response.status_code == 413


def test_unknown_run_unknown_route_and_bad_query_are_json(stack: Stack, client: Client) -> None:
    with pytest.raises(ConveyorError) as exc:
        client.run("does-not-exist")
    assert exc.value.status_code == 404
    assert "no run with id 'does-not-exist'; GET /runs lists recent runs" in exc.value.message
    response = httpx.get(f"{stack.url}/nope")
    assert response.status_code == 404 and "no such endpoint: GET /nope" in response.json()["error"]
    response = httpx.delete(f"{stack.url}/runs")
    assert response.status_code == 405 and "error" in response.json()
    for query in ("limit=abc", "limit=0", "status=DONE"):
        response = httpx.get(f"{stack.url}/runs?{query}")
        assert response.status_code == 400 and query.split("=")[1] in response.json()["error"]


def test_client_errors() -> None:
    with pytest.raises(ValueError, match="must start with http:// or https://"):
        Client("127.0.0.1:8080")
    with pytest.raises(ConveyorError) as exc:
        Client(f"http://127.0.0.1:{free_port()}", timeout=2).health()
    assert exc.value.status_code == 0 and "cannot reach the conveyor server" in exc.value.message


def test_cli_submit_wait(stack: Stack) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "conveyor",
            "submit",
            "--server",
            stack.url,
            "add",
            "--config",
            '{"a": 1, "b": 2}',
            "--wait",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["result"] == 3
    out = subprocess.run(
        [sys.executable, "-m", "conveyor", "submit", "--server", stack.url, "nope"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "404: no job named 'nope'" in out.stderr


def test_code_server_down_is_503_then_recovers(launcher: Launcher) -> None:
    code_server, address = launcher.code_server()
    _, url = launcher.server(address)
    client = Client(url)
    assert client.wait(client.submit("add", {"a": 1, "b": 2}))["result"] == 3

    assert code_server.terminate() == 0
    for call in (client.jobs, lambda: client.submit("add", {"a": 1, "b": 2})):
        with pytest.raises(ConveyorError) as exc:
            call()
        assert exc.value.status_code == 503
        assert f"code location 'default' at {address} is unavailable" in exc.value.message
    info = client.info()
    assert info["code_location"]["status"] == "unavailable" and address in info["code_location"]["error"]
    assert client.health() == {"status": "ok"}

    # Same address again; the server must notice on its own (no restart).
    launcher.code_server(port=int(address.rsplit(":", 1)[1]), name="code-server-again")
    server_proc = launcher.processes[1]
    server_proc.wait_until(
        lambda: client.info()["code_location"]["status"] == "ok", "reconnected to the code server"
    )
    assert client.wait(client.submit("add", {"a": 2, "b": 2}))["result"] == 4


def test_history_survives_server_restart_and_sigterm_exits_0(launcher: Launcher, tmp_path: Path) -> None:
    _, address = launcher.code_server()
    db = tmp_path / "history.sqlite"
    server, url = launcher.server(address, db)
    run_id = Client(url).submit("add", {"a": 5, "b": 6})
    assert Client(url).wait(run_id)["result"] == 11
    assert server.terminate() == 0

    _, url2 = launcher.server(address, db, name="server-again")
    run = Client(url2).run(run_id)
    assert (run["status"], run["result"]) == ("SUCCESS", 11)


def test_run_in_flight_when_server_stops_is_failed_on_restart(launcher: Launcher, tmp_path: Path) -> None:
    _, address = launcher.code_server()
    db = tmp_path / "history.sqlite"
    server, url = launcher.server(address, db)
    run_id = Client(url).submit("sleep", {"seconds": 30})
    assert server.terminate() == 0
    _, url2 = launcher.server(address, db, name="server-again")
    run = Client(url2).run(run_id)
    assert run["status"] == "FAILURE" and "the server stopped while this run was in progress" in run["error"]


def test_server_bad_db_path_exits_nonzero(launcher: Launcher, tmp_path: Path) -> None:
    proc = launcher.spawn(
        "bad-db",
        [
            "server",
            "--port",
            str(free_port()),
            "--code-server",
            "127.0.0.1:1",
            "--db",
            str(tmp_path / "no" / "dir.sqlite"),
        ],
    )
    assert proc.wait_exit() == 1
    assert "does not exist; create it or fix --db" in proc.logs()


def _wait_status(client: Client, run_id: str, status: str, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.run(run_id)
        if run["status"] == status:
            return run
        assert time.monotonic() < deadline, f"run {run_id} never reached {status}: {run}"
        time.sleep(0.05)


def test_cancel_a_running_job(client: Client) -> None:
    run_id = client.submit("sleep", {"seconds": 60})
    _wait_status(client, run_id, "STARTED")
    assert client.cancel(run_id)["status"] in ("CANCELING", "CANCELED")
    run = client.wait(run_id, timeout=15)
    assert run["status"] == "CANCELED" and run["error"] == "canceled by request"
    kinds = [e["kind"] for e in run["events"]]
    assert kinds[0] == "STARTED" and kinds[-1] == "CANCELED"
    # Canceling again: the run is finished.
    with pytest.raises(ConveyorError) as exc:
        client.cancel(run_id)
    assert exc.value.status_code == 409 and "already finished with status CANCELED" in exc.value.message


def test_cancel_unknown_or_finished_run(client: Client) -> None:
    with pytest.raises(ConveyorError) as exc:
        client.cancel("nope")
    assert exc.value.status_code == 404
    run_id = client.submit("add", {"a": 1, "b": 1})
    client.wait(run_id)
    with pytest.raises(ConveyorError) as exc:
        client.cancel(run_id)
    assert exc.value.status_code == 409 and "already finished with status SUCCESS" in exc.value.message


def test_roles_listen_on_all_interfaces_and_exit_0_on_sigint(launcher: Launcher) -> None:
    cs_port, srv_port = free_port(), free_port()
    code_server = launcher.spawn(
        "code-server-any", ["code-server", "--host", "0.0.0.0", "--port", str(cs_port)]
    )
    code_server.wait_until(grpc_serving(f"127.0.0.1:{cs_port}"), "SERVING (grpc health)")
    server = launcher.spawn(
        "server-any",
        [
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            str(srv_port),
            "--code-server",
            f"127.0.0.1:{cs_port}",
            "--db",
            str(launcher.tmp_path / "any.sqlite"),
        ],
    )
    url = f"http://127.0.0.1:{srv_port}"
    server.wait_until(http_ok(f"{url}/health"), "healthy (GET /health)")
    client = Client(url)
    assert client.wait(client.submit("add", {"a": 1, "b": 1}))["result"] == 2
    for proc in (server, code_server):
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGINT)
        assert proc.wait_exit(timeout=15) == 0


def test_hung_code_server_is_503_not_a_hang_and_recovers(launcher: Launcher) -> None:
    code_server, address = launcher.code_server()
    _, url = launcher.server(address, None, "--code-server-timeout", "1")
    client = Client(url, timeout=10)
    assert client.wait(client.submit("add", {"a": 1, "b": 2}))["result"] == 3
    assert code_server.proc is not None
    code_server.proc.send_signal(signal.SIGSTOP)  # accepts TCP, answers nothing
    try:
        for call in (client.jobs, lambda: client.submit("add", {"a": 1, "b": 2})):
            start = time.monotonic()
            with pytest.raises(ConveyorError) as exc:
                call()
            assert exc.value.status_code == 503 and address in exc.value.message
            assert time.monotonic() - start < 8
        assert client.info()["code_location"]["status"] == "unavailable"
    finally:
        code_server.proc.send_signal(signal.SIGCONT)
    assert client.wait(client.submit("add", {"a": 2, "b": 3}))["result"] == 5
