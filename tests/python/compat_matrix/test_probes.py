"""Readiness probes against real sockets, a real HTTP server and a real gRPC health service."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from compat_core.errors import BackendError, ReadinessTimeout
from compat_core.model import Probe
from compat_matrix.backends.base import Endpoint
from compat_matrix.probes import (
    TIMED_OUT,
    CommandProbe,
    GrpcHealthProbe,
    HttpProbe,
    LogProbe,
    ProbeTarget,
    TcpProbe,
    check_once,
    probe_for,
    wait_ready,
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = {"/health": 200, "/created": 201, "/broken": 500}.get(self.path, 404)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[Endpoint]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Endpoint("127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def grpc_health_server() -> Iterator[tuple[Endpoint, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield Endpoint("127.0.0.1", port), servicer
    finally:
        server.stop(grace=None)


def test_tcp_probe_ready_only_when_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        endpoint = Endpoint("127.0.0.1", sock.getsockname()[1])
        assert TcpProbe("main").check(endpoint, 1.0) is None
    reason = TcpProbe("main").check(endpoint, 1.0)
    assert reason is not None and "connect failed" in reason


def test_http_probe_accepts_2xx_only(http_server: Endpoint) -> None:
    assert HttpProbe("http", "/health").check(http_server, 2.0) is None
    assert HttpProbe("http", "created").check(http_server, 2.0) is None  # leading slash added
    assert HttpProbe("http", "/broken").check(http_server, 2.0) == "HTTP 500"
    assert HttpProbe("http", "/missing").check(http_server, 2.0) == "HTTP 404"
    down = HttpProbe("http", "/health").check(Endpoint("127.0.0.1", _closed_port()), 1.0)
    assert down is not None and "ConnectionRefusedError" in down


def test_grpc_probe_follows_serving_status(
    grpc_health_server: tuple[Endpoint, health.HealthServicer],
) -> None:
    endpoint, servicer = grpc_health_server
    probe = GrpcHealthProbe("grpc")
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert probe.check(endpoint, 2.0) == "health status NOT_SERVING"
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert probe.check(endpoint, 2.0) is None
    assert GrpcHealthProbe("grpc", service="unknown.Service").check(endpoint, 2.0) == "gRPC NOT_FOUND"
    assert check_once(Probe("grpc-health", "grpc"), endpoint).ready


def test_grpc_probe_not_ready_without_server() -> None:
    reason = GrpcHealthProbe("grpc").check(Endpoint("127.0.0.1", _closed_port()), 0.5)
    assert reason is not None and reason.startswith("gRPC ")


def test_probe_for_builds_each_kind_from_the_model() -> None:
    http = probe_for(Probe("http", "web", "/health", timeout=3.0, interval=0.2))
    assert (
        isinstance(http, HttpProbe)
        and http.path == "/health"
        and http.timeout == 3.0
        and http.interval == 0.2
    )
    grpc_probe = probe_for(Probe("grpc-health", "grpc", service="conveyor.CodeLocation"))
    assert isinstance(grpc_probe, GrpcHealthProbe) and grpc_probe.service == "conveyor.CodeLocation"
    assert isinstance(probe_for(Probe("tcp", "dask")), TcpProbe)
    log = probe_for(Probe("log", pattern=r"ready \d+", timeout=2.0))
    assert isinstance(log, LogProbe) and log.pattern.pattern == r"ready \d+" and log.timeout == 2.0
    command = probe_for(Probe("command", args=("pkg.check", "--fast"), interval=0.01))
    assert isinstance(command, CommandProbe) and command.args == ("pkg.check", "--fast")
    assert command.interval == 0.5  # a command starts an interpreter: not polled faster than that
    with pytest.raises(BackendError, match="unknown readiness probe kind 'udp'"):
        probe_for(Probe("udp", "x"))


def test_wait_ready_waits_for_a_late_listener() -> None:
    port = _closed_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def open_later() -> None:
        listener.bind(("127.0.0.1", port))
        listener.listen()

    timer = threading.Timer(0.4, open_later)
    timer.start()
    try:
        took = wait_ready(
            Probe("tcp", "main", timeout=10.0, interval=0.05), Endpoint("127.0.0.1", port), lambda: True
        )
        assert 0.3 <= took < 5.0
    finally:
        timer.cancel()
        listener.close()


def test_wait_ready_fails_fast_when_the_process_died() -> None:
    endpoint = Endpoint("127.0.0.1", _closed_port())
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        wait_ready(
            Probe("http", "http", "/health", timeout=60.0),
            endpoint,
            lambda: False,
            instance="server-0",
            log_tail=lambda: "Traceback...\nImportError: no module named nope",
        )
    assert time.monotonic() - started < 5.0
    assert not isinstance(info.value, ReadinessTimeout)
    message = str(info.value)
    assert "server-0 exited before it was ready" in message
    assert f"HTTP GET http://{endpoint.address}/health" in message
    assert "ImportError: no module named nope" in message


def test_wait_ready_times_out_naming_probe_and_address() -> None:
    endpoint = Endpoint("127.0.0.1", _closed_port())
    alive_checks = []

    def alive() -> bool:
        alive_checks.append(1)
        return True

    with pytest.raises(ReadinessTimeout) as info:
        wait_ready(Probe("tcp", "main", timeout=0.5, interval=0.05), endpoint, alive, instance="worker-1")
    message = str(info.value)
    assert "worker-1 was not ready after 0.5s" in message
    assert f"TCP connect to {endpoint.address}" in message
    assert "connect failed" in message and "(its log is empty)" in message
    assert len(alive_checks) > 2  # polled at the interval, not once


def test_wait_ready_notices_death_during_polling() -> None:
    endpoint = Endpoint("127.0.0.1", _closed_port())
    deadline = time.monotonic() + 0.3
    started = time.monotonic()
    with pytest.raises(BackendError, match="exited before it was ready"):
        wait_ready(
            Probe("tcp", "main", timeout=30.0, interval=0.05), endpoint, lambda: time.monotonic() < deadline
        )
    assert time.monotonic() - started < 5.0


def test_grpc_probe_checks_the_named_service(
    grpc_health_server: tuple[Endpoint, health.HealthServicer],
) -> None:
    endpoint, servicer = grpc_health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    named = GrpcHealthProbe("grpc", service="conveyor.CodeLocation")
    # The server as a whole serves; the service it names is not registered yet.
    assert named.check(endpoint, 2.0) == "gRPC NOT_FOUND"
    servicer.set("conveyor.CodeLocation", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert named.check(endpoint, 2.0) == "health status NOT_SERVING"
    servicer.set("conveyor.CodeLocation", health_pb2.HealthCheckResponse.SERVING)
    assert named.check(endpoint, 2.0) is None
    assert "Check(service='conveyor.CodeLocation')" in named.describe(endpoint)
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert named.check(endpoint, 2.0) is None  # the named service, not the server's status
    assert GrpcHealthProbe("grpc").check(endpoint, 2.0) == "health status NOT_SERVING"


def _no_endpoint(port: str) -> Endpoint:
    raise AssertionError(f"a port-less probe asked for port {port!r}")


def test_log_probe_matches_a_line_by_regex() -> None:
    log: list[str] = ["starting", "loading 3 jobs"]
    target = ProbeTarget(endpoint=_no_endpoint, log=lambda: "\n".join(log))
    probe = LogProbe(r"^worker w-[0-9]+ ready$")
    assert probe.check_target(target, 1.0) == "no log line matches '^worker w-[0-9]+ ready$' yet"
    log.append("worker w-1 ready (not quite)")  # the pattern is anchored to a whole line
    assert probe.check_target(target, 1.0) is not None
    log.append("worker w-1 ready")
    assert probe.check_target(target, 1.0) is None
    assert probe.describe_target(target) == "a log line matching '^worker w-[0-9]+ ready$'"


def test_wait_ready_on_a_log_line_printed_later() -> None:
    log: list[str] = []
    timer = threading.Timer(0.3, lambda: log.append("listening"))
    timer.start()
    try:
        took = wait_ready(
            LogProbe("listening", timeout=10.0, interval=0.05),
            ProbeTarget(endpoint=_no_endpoint, log=lambda: "\n".join(log)),
            lambda: True,
        )
        assert 0.2 <= took < 5.0
    finally:
        timer.cancel()
    with pytest.raises(ReadinessTimeout, match="probe a log line matching 'never'; last result: no log line"):
        wait_ready(
            LogProbe("never", timeout=0.3, interval=0.05),
            ProbeTarget(endpoint=_no_endpoint, log=lambda: "something else"),
            lambda: True,
            instance="worker-0",
            log_tail=lambda: "something else",
        )


def _python_runner(
    calls: list[tuple[list[str], dict[str, str]]],
) -> Callable[[Sequence[str], Mapping[str, str], float], tuple[int, str]]:
    """A ``ProbeTarget.run`` that runs ``python -m $PEX_MODULE args`` for real, as a backend would."""

    def run(args: Sequence[str], env: Mapping[str, str], timeout: float) -> tuple[int, str]:
        calls.append((list(args), dict(env)))
        done = subprocess.run(
            [sys.executable, "-m", env["PEX_MODULE"], *args], capture_output=True, text=True, timeout=timeout
        )
        return done.returncode, done.stdout + done.stderr

    return run


def test_command_probe_runs_the_module_with_expanded_args(tmp_path: Path) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    target = ProbeTarget(
        endpoint=_no_endpoint,
        run=_python_runner(calls),
        expand=lambda text: text.replace("{shared_dir}", str(tmp_path)),
    )
    probe = CommandProbe(["json.tool", "{shared_dir}/ready.json"])
    reason = probe.check_target(target, 5.0)
    assert reason is not None and reason.startswith("exit status 2: ") and "ready.json" in reason
    # The module goes in PEX_MODULE (how a PEX picks its entry point), the rest are its arguments.
    assert calls == [([f"{tmp_path}/ready.json"], {"PEX_MODULE": "json.tool"})]
    (tmp_path / "ready.json").write_text('{"ready": true}')
    assert probe.check_target(target, 5.0) is None
    assert probe.describe_target(target) == f"command python -m json.tool {tmp_path}/ready.json -> exit 0"


def test_command_probe_needs_a_backend_that_runs_commands() -> None:
    probe = CommandProbe(["json.tool", "x"])
    assert probe.check_target(ProbeTarget(endpoint=_no_endpoint), 1.0) == (
        "this backend cannot run commands in an instance"
    )


def test_a_command_slower_than_its_first_limit_is_still_seen_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression (issue 24): each run of a command probe was stopped after 10 s. On a starved
    # machine an ipyparallel engine's probe needs longer than that just to import ipyparallel, so
    # every run was stopped the same way and the engine was never seen ready (180 s, a false red).
    # Here the limit starts at 2.5 s and the command takes about 6 s: a fixed limit stops it forever.
    monkeypatch.setattr(CommandProbe, "FIRST_ATTEMPT_SECONDS", 2.5)
    limits: list[float] = []

    def run(args: Sequence[str], env: Mapping[str, str], timeout: float) -> tuple[int, str]:
        limits.append(timeout)
        try:
            done = subprocess.run([sys.executable, "-c", "import time; time.sleep(6)"], timeout=timeout)
        except subprocess.TimeoutExpired:
            return TIMED_OUT, f"timed out after {timeout:g}s"
        return done.returncode, ""

    probe = CommandProbe(["slow.check"], timeout=30.0, interval=0.05)
    wait_ready(probe, ProbeTarget(endpoint=_no_endpoint, run=run), lambda: True, instance="engine-0")
    assert limits == [2.5, 5.0, 10.0], limits
