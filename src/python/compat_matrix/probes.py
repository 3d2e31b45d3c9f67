"""Readiness probes: small composable objects that say whether an instance answers yet.

A probe checks one endpoint once (``check``) and returns ``None`` when the instance is ready,
or a short reason when it is not. ``wait_ready`` polls a probe at its interval until it is
ready, its timeout passes, or the instance's process dies (then it fails at once instead of
waiting out the timeout). The only sleep here is the probe's poll interval.
"""

from __future__ import annotations

import abc
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from compat_matrix.backends.base import Endpoint
from compat_matrix.errors import BackendError, ReadinessTimeout
from compat_matrix.model import Probe

# A single check never blocks longer than this, so a dead process is noticed promptly even
# when the probe's overall timeout is long.
_MAX_CHECK_SECONDS = 2.0


class ReadinessProbe(abc.ABC):
    """One way to tell that an endpoint is ready; ``timeout`` and ``interval`` in seconds."""

    kind: str = ""

    def __init__(self, port: str, timeout: float = 60.0, interval: float = 0.1) -> None:
        if timeout <= 0 or interval <= 0:
            raise ValueError(f"probe timeout and interval must be > 0, got {timeout!r} and {interval!r}")
        self.port = port
        self.timeout = timeout
        self.interval = interval

    @abc.abstractmethod
    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        """Check once; ``None`` when ready, else why not (never raises for "not ready yet")."""

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
        import httpx  # imported here so TCP-only users do not pay for it

        try:
            response = httpx.get(endpoint.url() + self.path, timeout=timeout)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

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


def probe_for(spec: Probe) -> ReadinessProbe:
    """Build the probe object a role's ``model.Probe`` declares."""
    if spec.kind == "http":
        return HttpProbe(spec.port, spec.path, spec.timeout, spec.interval)
    if spec.kind == "grpc-health":
        return GrpcHealthProbe(spec.port, "", spec.timeout, spec.interval)
    if spec.kind == "tcp":
        return TcpProbe(spec.port, spec.timeout, spec.interval)
    raise BackendError(
        f"unknown readiness probe kind {spec.kind!r} (port {spec.port!r}); use one of 'http', 'grpc-health', 'tcp'"
    )


def wait_ready(
    probe: ReadinessProbe | Probe,
    endpoint: Endpoint,
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
    start = clock()
    deadline = start + probe.timeout
    reason = "not checked yet"
    while True:
        if not is_alive():
            raise BackendError(
                _failure(f"{instance} exited before it was ready", probe, endpoint, reason, log_tail())
            )
        remaining = deadline - clock()
        if remaining <= 0:
            raise ReadinessTimeout(
                _failure(
                    f"{instance} was not ready after {probe.timeout:g}s", probe, endpoint, reason, log_tail()
                )
            )
        result = probe.check(endpoint, max(0.05, min(remaining, _MAX_CHECK_SECONDS)))
        if result is None:
            return clock() - start
        reason = result
        # The poll interval is the one sleep a readiness wait is allowed.
        time.sleep(max(0.0, min(probe.interval, deadline - clock())))


def _failure(headline: str, probe: ReadinessProbe, endpoint: Endpoint, reason: str, tail: str) -> str:
    text = f"{headline}: probe {probe.describe(endpoint)}; last result: {reason}"
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
    "GrpcHealthProbe",
    "HttpProbe",
    "ProbeResult",
    "ReadinessProbe",
    "TcpProbe",
    "check_once",
    "probe_for",
    "wait_ready",
)
