"""Readiness probes: small composable objects that say whether an instance answers yet.

A probe checks one endpoint once (``check``) and returns ``None`` when the instance is ready,
or a short reason when it is not. ``wait_ready`` polls a probe at its interval until it is
ready, its timeout passes, or the instance's process dies (then it fails at once instead of
waiting out the timeout). The only sleep here is the probe's poll interval.
"""

from __future__ import annotations

import abc
import http.client
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from compat_core.errors import BackendError, ReadinessTimeout
from compat_core.model import PROBE_KINDS, Probe
from compat_matrix.backends.base import Endpoint

# A single check never blocks longer than this, so a dead process is noticed promptly even
# when the probe's overall timeout is long.
_MAX_CHECK_SECONDS = 2.0

TIMED_OUT = 124
"""The status a ``ProbeTarget.run`` returns for a command it stopped at its timeout."""


@dataclass(frozen=True)
class ProbeTarget:
    """What a probe may look at on one instance: its endpoints, its log, a command in its environment.

    A backend builds one per instance: ``endpoint(port)`` as the driver reaches it, ``log()`` the
    output so far, ``run(argv_tail, env, timeout)`` runs the instance's artifact (its PEX, or
    ``docker exec`` in its container) with ``env`` added and returns (exit status, output).
    """

    endpoint: Callable[[str], Endpoint]
    log: Callable[[], str] = str  # str() == "": no output
    run: Callable[[Sequence[str], Mapping[str, str], float], tuple[int, str]] | None = None
    expand: Callable[[str], str] = str  # str(text) == text: no templates


class ReadinessProbe(abc.ABC):
    """One way to tell that an instance is ready; ``timeout`` and ``interval`` in seconds."""

    kind: str = ""

    def __init__(self, port: str = "", timeout: float = 60.0, interval: float = 0.1) -> None:
        if timeout <= 0 or interval <= 0:
            raise ValueError(f"probe timeout and interval must be > 0, got {timeout!r} and {interval!r}")
        self.port = port
        self.timeout = timeout
        self.interval = interval

    def check_target(self, target: ProbeTarget, timeout: float) -> str | None:
        """Check once; ``None`` when ready, else why not (never raises for "not ready yet")."""
        return self.check(target.endpoint(self.port), timeout)

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:  # pragma: no cover - port probes override
        raise NotImplementedError

    def describe_target(self, target: ProbeTarget) -> str:
        return self.describe(target.endpoint(self.port))

    def describe(self, endpoint: Endpoint) -> str:
        """What this probe asks, for error messages (e.g. ``HTTP GET http://h:p/health -> 2xx``)."""
        return f"{self.kind} on port {self.port!r} ({endpoint.address})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(port={self.port!r}, timeout={self.timeout}, interval={self.interval})"


class TcpProbe(ReadinessProbe):
    """Ready when the port accepts a TCP connection."""

    kind = "tcp"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        try:
            with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
                return None
        except OSError as exc:
            return f"connect failed: {exc}"

    def describe(self, endpoint: Endpoint) -> str:
        return f"TCP connect to {endpoint.address}"


class HttpProbe(ReadinessProbe):
    """Ready when ``GET path`` answers with a 2xx status."""

    kind = "http"

    def __init__(self, port: str, path: str = "/", timeout: float = 60.0, interval: float = 0.1) -> None:
        super().__init__(port, timeout, interval)
        self.path = path if path.startswith("/") else "/" + path

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        # The standard library's plain HTTP connection: a probe polls many times, and an HTTP
        # client library sets up TLS (loads the CA bundle) for every request it is not reused for.
        connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
        try:
            connection.request("GET", self.path)
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"

    def describe(self, endpoint: Endpoint) -> str:
        return f"HTTP GET {endpoint.url()}{self.path} -> 2xx"


class GrpcHealthProbe(ReadinessProbe):
    """Ready when grpc.health.v1 ``Check(service)`` answers SERVING."""

    kind = "grpc-health"

    def __init__(self, port: str, service: str = "", timeout: float = 60.0, interval: float = 0.1) -> None:
        super().__init__(port, timeout, interval)
        self.service = service

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(endpoint.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=self.service), timeout=timeout)
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                return f"gRPC {getattr(code, 'name', code)}"
        if response.status == health_pb2.HealthCheckResponse.SERVING:
            return None
        return "health status " + health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def describe(self, endpoint: Endpoint) -> str:
        return f"grpc.health.v1 Check(service={self.service!r}) on {endpoint.address} -> SERVING"


class LogProbe(ReadinessProbe):
    """Ready when a line of the instance's output matches ``pattern`` (a regex)."""

    kind = "log"

    def __init__(self, pattern: str, timeout: float = 60.0, interval: float = 0.1) -> None:
        super().__init__("", timeout, interval)
        self.pattern = re.compile(pattern)

    def check_target(self, target: ProbeTarget, timeout: float) -> str | None:
        if any(self.pattern.search(line) for line in target.log().splitlines()):
            return None
        return f"no log line matches {self.pattern.pattern!r} yet"

    def describe_target(self, target: ProbeTarget) -> str:
        return f"a log line matching {self.pattern.pattern!r}"


class CommandProbe(ReadinessProbe):
    """Ready when ``python -m <args[0]> <args[1:]>`` in the instance's environment exits 0."""

    kind = "command"

    FIRST_ATTEMPT_SECONDS = 10.0
    """How long the first run of the command may take; each run stopped at its limit doubles it."""

    def __init__(self, args: Sequence[str], timeout: float = 60.0, interval: float = 0.5) -> None:
        super().__init__("", timeout, interval)
        self.args = tuple(args)
        self._attempt_seconds = self.FIRST_ATTEMPT_SECONDS

    def check_target(self, target: ProbeTarget, timeout: float) -> str | None:
        if target.run is None:
            return "this backend cannot run commands in an instance"
        module, *rest = (target.expand(a) for a in self.args)
        status, output = target.run(rest, {"PEX_MODULE": module}, max(timeout, self._attempt_seconds))
        if status == TIMED_OUT:
            # On a starved machine the command's own start (its Python importing the role's
            # packages) can take longer than any fixed limit: a limit that stops every run the same
            # way would never see the instance ready. The next run gets twice as long, up to the
            # probe's own timeout.
            self._attempt_seconds = min(self._attempt_seconds * 2, max(self.timeout, self.FIRST_ATTEMPT_SECONDS))
        if status == 0:
            return None
        return f"exit status {status}: {' '.join(output.strip().splitlines()[-1:])}"

    def describe_target(self, target: ProbeTarget) -> str:
        return f"command python -m {' '.join(target.expand(a) for a in self.args)} -> exit 0"


def probe_for(spec: Probe) -> ReadinessProbe:
    """Build the probe object a role's ``compat_core.model.Probe`` declares."""
    if spec.kind == "http":
        return HttpProbe(spec.port, spec.path, spec.timeout, spec.interval)
    if spec.kind == "grpc-health":
        return GrpcHealthProbe(spec.port, spec.service, spec.timeout, spec.interval)
    if spec.kind == "tcp":
        return TcpProbe(spec.port, spec.timeout, spec.interval)
    if spec.kind == "log":
        return LogProbe(spec.pattern, spec.timeout, spec.interval)
    if spec.kind == "command":
        return CommandProbe(spec.args, spec.timeout, max(spec.interval, 0.5))
    raise BackendError(f"unknown readiness probe kind {spec.kind!r}; use one of {', '.join(PROBE_KINDS)}")


def wait_ready(
    probe: ReadinessProbe | Probe,
    target: ProbeTarget | Endpoint,
    is_alive: Callable[[], bool],
    *,
    instance: str = "instance",
    log_tail: Callable[[], str] = lambda: "",
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Poll ``probe`` on ``endpoint`` until ready; return the seconds it took.

    Raises ``BackendError`` at once when ``is_alive()`` turns false (the process exited), and
    ``ReadinessTimeout`` after ``probe.timeout``; both name the instance, the probe, the
    address, the last reason and the tail of the instance's log.
    """
    if isinstance(probe, Probe):
        probe = probe_for(probe)
    if isinstance(target, Endpoint):
        endpoint = target
        target = ProbeTarget(endpoint=lambda _port: endpoint, log=log_tail)
    start = clock()
    deadline = start + probe.timeout
    while True:
        # The probe first: an instance that answers is alive, and asking whether it still runs
        # can cost as much as the probe (a backend may ask its engine).
        result = probe.check_target(target, max(0.05, min(deadline - clock(), _MAX_CHECK_SECONDS)))
        if result is None:
            return clock() - start
        if not is_alive():
            raise BackendError(
                _failure(f"{instance} exited before it was ready", probe, target, result, log_tail())
            )
        if clock() >= deadline:
            raise ReadinessTimeout(
                _failure(
                    f"{instance} was not ready after {probe.timeout:g}s", probe, target, result, log_tail()
                )
            )
        # The poll interval is the one sleep a readiness wait is allowed.
        time.sleep(max(0.0, min(probe.interval, deadline - clock())))


def _failure(headline: str, probe: ReadinessProbe, target: ProbeTarget, reason: str, tail: str) -> str:
    text = f"{headline}: probe {probe.describe_target(target)}; last result: {reason}"
    if tail.strip():
        text += "\n--- last lines of its log ---\n" + tail.rstrip("\n")
    else:
        text += "\n(its log is empty)"
    return text


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of ``check_once``: whether the endpoint is ready and why not."""

    ready: bool
    reason: str = ""


def check_once(probe: ReadinessProbe | Probe, endpoint: Endpoint, timeout: float = 2.0) -> ProbeResult:
    """Check a probe a single time (for status displays; no polling)."""
    if isinstance(probe, Probe):
        probe = probe_for(probe)
    reason = probe.check(endpoint, timeout)
    return ProbeResult(reason is None, reason or "")


__all__ = (
    "CommandProbe",
    "LogProbe",
    "ProbeTarget",
    "GrpcHealthProbe",
    "HttpProbe",
    "ProbeResult",
    "ReadinessProbe",
    "TcpProbe",
    "check_once",
    "probe_for",
    "wait_ready",
)
