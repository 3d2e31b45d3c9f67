"""The server's gRPC client for its code location (the code server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from conveyor.protocol import code_location_pb2 as pb2
from conveyor.protocol import code_location_pb2_grpc as pb2_grpc
from conveyor.version import PROTOCOL_VERSION

# Reconnect quickly once the code server is back (gRPC's default backoff grows to 2 min).
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.enable_retries", 0),
]


CANCEL_CAPABILITY = "cancel"


class CodeLocationError(Exception):
    """A call to the code location failed; `http_status` says how the API reports it."""

    http_status = 502


class CodeLocationUnavailable(CodeLocationError):
    http_status = 503


class JobNotFound(CodeLocationError):
    http_status = 404


class InvalidRunConfig(CodeLocationError):
    http_status = 422


class CapabilityMissing(CodeLocationError):
    http_status = 409


@dataclass(frozen=True)
class CodeLocationInfo:
    version: str
    protocol_version: int
    capabilities: tuple[str, ...]
    executor: str


@dataclass(frozen=True)
class Event:
    kind: str
    timestamp: float
    message: str
    result: Any = None
    error: str | None = None


def _kind_name(kind: int) -> str:
    try:
        return str(pb2.RunEvent.Kind.Name(kind))
    except ValueError:  # a newer code server's event kind: keep it, as a number
        return f"KIND_{kind}"


class CodeLocation:
    """One code location ('default') at host:port, reached over one reconnecting channel."""

    def __init__(self, address: str, name: str = "default", timeout: float = 5.0) -> None:
        self.address = address
        self.name = name
        self.timeout = timeout
        self._channel = grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
        self._stub = pb2_grpc.CodeLocationStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def _error(self, exc: grpc.RpcError) -> CodeLocationError:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        details = (exc.details() if isinstance(exc, grpc.Call) else None) or str(exc)
        if code in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.CANCELLED,
        ):
            return CodeLocationUnavailable(
                f"code location {self.name!r} at {self.address} is unavailable: {details};"
                " check that its code server is running (conveyor code-server) and --code-server points at it"
            )
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return CodeLocationUnavailable(
                f"code location {self.name!r} at {self.address} is busy: {details}"
            )
        if code == grpc.StatusCode.NOT_FOUND:
            return JobNotFound(details)
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidRunConfig(details)
        name = code.name if code is not None else "UNKNOWN"
        return CodeLocationError(f"code location {self.name!r} at {self.address} answered {name}: {details}")

    def info(self) -> CodeLocationInfo:
        try:
            reply = self._stub.GetServerInfo(
                pb2.GetServerInfoRequest(client_protocol_version=PROTOCOL_VERSION), timeout=self.timeout
            )
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return CodeLocationInfo(
            version=reply.conveyor_version,
            protocol_version=reply.protocol_version,
            capabilities=tuple(reply.capabilities),
            executor=reply.executor,
        )

    def list_jobs(self) -> list[dict[str, Any]]:
        try:
            reply = self._stub.ListJobs(pb2.ListJobsRequest(), timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return [
            {
                "name": job.name,
                "description": job.description,
                "parameters": [{"name": p.name, "required": p.required} for p in job.parameters],
            }
            for job in reply.jobs
        ]

    def require_capability(self, capability: str, feature: str, since: str) -> None:
        """Raises CapabilityMissing (409) unless the code server announces `capability`."""
        peer = self.info()
        if capability not in peer.capabilities:
            raise CapabilityMissing(
                f"code location {self.name!r} at {self.address} (conveyor {peer.version or 'unknown'},"
                f" protocol {peer.protocol_version}) does not support {feature}"
                f" (capability {capability!r}); upgrade its code server to conveyor >= {since}"
            )

    def cancel(self, run_id: str) -> str:
        """Asks the code server to cancel a run (protocol 2; check require_capability first).

        Raises JobNotFound if the run is not executing there (any more).
        """
        try:
            reply = self._stub.CancelRun(pb2.CancelRunRequest(run_id=run_id), timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        return str(reply.message)

    def execute(self, run_id: str, job: str, config: dict[str, Any]) -> tuple[Event, Iterator[Event]]:
        """Starts a run; returns its first event (the code server accepted it) and the rest.

        Raises JobNotFound / InvalidRunConfig / CodeLocationUnavailable if it was not accepted.
        """
        stream = self._stub.ExecuteRun(
            pb2.ExecuteRunRequest(run_id=run_id, job_name=job, config_json=json.dumps(config))
        )
        # The stream has no deadline (runs take as long as they take), but accepting a run must
        # not: a hung code server would otherwise hang POST /runs.
        outcome: dict[str, Any] = {}

        def read_first() -> None:
            try:
                outcome["event"] = next(stream)
            except BaseException as exc:  # handed to the caller below
                outcome["error"] = exc

        reader = threading.Thread(target=read_first, name=f"start-{run_id[:8]}", daemon=True)
        reader.start()
        reader.join(self.timeout)
        if reader.is_alive():
            stream.cancel()
            reader.join()
            raise CodeLocationUnavailable(
                f"code location {self.name!r} at {self.address} is unavailable: it did not start run"
                f" {run_id} within {self.timeout}s; check that its code server is responsive"
            )
        error = outcome.get("error")
        if isinstance(error, grpc.RpcError):
            raise self._error(error) from None
        if isinstance(error, StopIteration):
            raise CodeLocationError(
                f"code location {self.name!r} at {self.address} ended run {run_id} without any event"
            ) from None
        if error is not None:
            raise error
        first = outcome["event"]
        return self._event(first), self._rest(stream)

    def _rest(self, stream: Iterator[pb2.RunEvent]) -> Iterator[Event]:
        try:
            for event in stream:
                yield self._event(event)
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    @staticmethod
    def _event(event: pb2.RunEvent) -> Event:
        kind = _kind_name(event.kind)
        result = None
        if kind == "SUCCESS" and event.result_json:
            result = json.loads(event.result_json)
        return Event(
            kind=kind,
            timestamp=event.timestamp,
            message=event.message,
            result=result,
            error=event.error or None,
        )
