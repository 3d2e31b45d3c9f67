"""The CodeLocation gRPC service: serves the loaded Definitions and executes runs."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import grpc

from conveyor.code_server.executors import Executor
from conveyor.definitions import ConfigError, Definitions, JobDefinition, RunCanceled, RunContext
from conveyor.protocol import code_location_pb2 as pb2
from conveyor.protocol import code_location_pb2_grpc as pb2_grpc
from conveyor.version import PROTOCOL_VERSION, __version__

log = logging.getLogger(__name__)

SERVICE_NAME = "conveyor.v1.CodeLocation"

# What this code server offers; peers check these instead of comparing version numbers
# (docs/compatibility.md). "cancel" (CancelRun) is new in protocol 2 / conveyor 0.2.0.
BASE_CAPABILITIES = ("list_jobs", "execute_run", "run_events", "cancel")

_END = object()


# gRPC carries status details in trailing metadata, which peers cap (8 KiB by default): longer
# details arrive as RESOURCE_EXHAUSTED instead of the real error. Stay well below.
MAX_DETAILS_CHARS = 2000


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    if len(details) > MAX_DETAILS_CHARS:
        details = f"{details[:MAX_DETAILS_CHARS]}... (cut from {len(details)} characters)"
    context.abort(code, details)
    raise AssertionError("unreachable: abort raises")


class AtCapacity(Exception):
    """The code server already executes its maximum number of concurrent runs."""


class RunControl:
    """Stops one executing run; remembers why, so the run ends with the right event."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.by_request = False
        self.reason = ""

    def stop(self, reason: str, by_request: bool) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.by_request = by_request
            self.event.set()


class ActiveRuns:
    """Runs executing in this code server, by run id (for cancellation and shutdown)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, RunControl] = {}

    def add(self, run_id: str, limit: int) -> RunControl | None:
        """Registers a run; None if the id is taken. Raises AtCapacity at `limit` runs."""
        with self._lock:
            if run_id in self._runs:
                return None
            if len(self._runs) >= limit:
                raise AtCapacity(len(self._runs))
            control = RunControl()
            self._runs[run_id] = control
            return control

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def get(self, run_id: str) -> RunControl | None:
        with self._lock:
            return self._runs.get(run_id)

    def stop_all(self, reason: str) -> None:
        with self._lock:
            for control in self._runs.values():
                control.stop(reason, by_request=False)


class CodeLocationService(pb2_grpc.CodeLocationServicer):
    def __init__(self, definitions: Definitions, executor: Executor, max_concurrent_runs: int = 16) -> None:
        self._definitions = definitions
        self._executor = executor
        self.max_concurrent_runs = max_concurrent_runs
        self.active_runs = ActiveRuns()

    def capabilities(self) -> list[str]:
        return [*BASE_CAPABILITIES, f"executor:{self._executor.name}"]

    def GetServerInfo(
        self, request: pb2.GetServerInfoRequest, context: grpc.ServicerContext
    ) -> pb2.ServerInfo:
        return pb2.ServerInfo(
            conveyor_version=__version__,
            protocol_version=PROTOCOL_VERSION,
            capabilities=self.capabilities(),
            executor=self._executor.name,
        )

    def ListJobs(self, request: pb2.ListJobsRequest, context: grpc.ServicerContext) -> pb2.ListJobsResponse:
        return pb2.ListJobsResponse(
            jobs=[
                pb2.JobInfo(
                    name=job.name,
                    description=job.description,
                    parameters=[pb2.JobParameter(name=p.name, required=p.required) for p in job.parameters],
                )
                for job in self._definitions.all_jobs()
            ]
        )

    def ExecuteRun(
        self, request: pb2.ExecuteRunRequest, context: grpc.ServicerContext
    ) -> Iterator[pb2.RunEvent]:
        job = self._definitions.get_job(request.job_name)
        if not request.run_id:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "run_id is empty; every ExecuteRun needs a unique run_id",
            )
        if job is None:
            _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"no job named {request.job_name[:200]!r} in this code location;"
                f" available jobs: {', '.join(self._definitions.job_names) or '(none)'}",
            )
        try:
            config = json.loads(request.config_json) if request.config_json else {}
        except json.JSONDecodeError as exc:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"config_json for job {job.name!r} is not valid JSON ({exc}): {request.config_json[:200]!r}",
            )
        try:
            kwargs = job.validate_config(config)
        except ConfigError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return self._execute(request.run_id, job, kwargs, context)

    def _execute(
        self,
        run_id: str,
        job: JobDefinition,
        kwargs: dict[str, Any],
        context: grpc.ServicerContext,
    ) -> Iterator[pb2.RunEvent]:
        # Registered here, in the stream's first step, so that `finally` below always unregisters.
        try:
            registered = self.active_runs.add(run_id, self.max_concurrent_runs)
        except AtCapacity as exc:
            _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the code server is already executing {exc.args[0]} runs, its limit"
                " (--max-concurrent-runs); retry when runs have finished",
            )
        if registered is None:
            _abort(
                context,
                grpc.StatusCode.ALREADY_EXISTS,
                f"run {run_id!r} is already executing; use a new run_id",
            )
        control = registered
        job_name = job.name
        events: queue.Queue[Any] = queue.Queue()

        def emit(kind: int, message: str = "", **fields: str) -> None:
            events.put(pb2.RunEvent(kind=kind, timestamp=time.time(), message=message, **fields))  # type: ignore[arg-type]

        def body() -> None:
            ctx = RunContext(
                run_id,
                job_name,
                self._executor,
                emit=lambda m: emit(pb2.RunEvent.LOG, m),
                cancel_event=control.event,
            )
            try:
                result = job(ctx, **kwargs)
                try:
                    result_json = json.dumps(result)
                except (TypeError, ValueError) as exc:
                    raise TypeError(
                        f"job {job_name!r} returned a value that is not JSON-serializable: {exc}"
                    ) from exc
            except Exception as exc:
                # A stopped run may end with RunCanceled or with whatever its stopped tasks raised.
                if control.event.is_set() and (isinstance(exc, RunCanceled) or control.by_request):
                    if control.by_request:
                        emit(pb2.RunEvent.CANCELED, f"run {run_id} was canceled", error=control.reason)
                    else:
                        emit(pb2.RunEvent.FAILURE, f"run {run_id} was stopped", error=control.reason)
                    return
                log.info("run %s of job %s failed: %s: %s", run_id, job_name, type(exc).__name__, exc)
                emit(pb2.RunEvent.FAILURE, f"job {job_name!r} failed", error=f"{type(exc).__name__}: {exc}")
            else:
                emit(pb2.RunEvent.SUCCESS, f"job {job_name!r} succeeded", result_json=result_json)
            finally:
                events.put(_END)

        emit(
            pb2.RunEvent.STARTED,
            f"run {run_id} of job {job_name!r} started on the {self._executor.name} executor",
        )
        log.info("run %s of job %s started", run_id, job_name)
        thread = threading.Thread(target=body, name=f"conveyor-run-{run_id[:8]}", daemon=True)
        thread.start()
        try:
            while True:
                event = events.get()
                if event is _END:
                    return
                yield event
        finally:
            # The stream ended, or the server went away: a run nobody follows stops.
            if thread.is_alive():
                control.stop("the run's event stream was closed (the server went away)", by_request=False)
            self.active_runs.remove(run_id)

    def CancelRun(
        self, request: pb2.CancelRunRequest, context: grpc.ServicerContext
    ) -> pb2.CancelRunResponse:
        if not request.run_id:
            _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, "run_id is empty; pass the id of the run to cancel"
            )
        control = self.active_runs.get(request.run_id)
        if control is None:
            _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"run {request.run_id!r} is not executing in this code location (it finished or never started)",
            )
        control.stop("canceled by request", by_request=True)
        log.info("run %s: cancel requested", request.run_id)
        return pb2.CancelRunResponse(message="cancel requested; the job stops at its next cancellation point")
