"""The HTTP JSON API (starlette): jobs, runs, run events, server info.

Every error is JSON ``{"error": "..."}`` naming the bad value and what to do; bad input
is always a 4xx, never a 5xx.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conveyor.server import storage as st
from conveyor.server.code_location import (
    CANCEL_CAPABILITY,
    CodeLocation,
    CodeLocationError,
    Event,
    JobNotFound,
)
from conveyor.server.limits import RequestRejected, check_job_name, check_value, listable, scan_depth, short
from conveyor.version import PROTOCOL_VERSION, __version__

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_RUN_FIELDS = ("job", "config")
SERVER_STOPPED = "the server stopped while this run was in progress; its outcome is unknown, submit it again"
_EXAMPLE_BODY = '{"job": "add", "config": {"a": 1, "b": 2}}'


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RunService:
    """Starts runs on the code location and records their events as they stream back."""

    def __init__(self, storage: st.RunStorage, location: CodeLocation) -> None:
        self.storage = storage
        self.location = location
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """At shutdown: runs still in flight cannot be followed any more; say so, then disconnect."""
        self._stopping.set()
        self.storage.fail_unfinished(SERVER_STOPPED)
        self.location.close()

    def submit(self, job: str, config: dict[str, Any]) -> dict[str, Any]:
        run_id = uuid.uuid4().hex
        self.storage.create_run(run_id, job, config)
        try:
            first, rest = self.location.execute(run_id, job, config)
        except CodeLocationError:
            # Rejected before it started (unknown job, bad config, no code server): no run.
            self.storage.delete_run(run_id)
            raise
        self.record(run_id, first)
        thread = threading.Thread(
            target=self._follow, args=(run_id, rest), name=f"follow-{run_id[:8]}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()
        run = self.storage.get_run(run_id)
        assert run is not None
        return {"run_id": run_id, "status": run.status}

    def record(self, run_id: str, event: Event) -> None:
        message = event.message
        if event.error:
            message = f"{message}: {event.error}" if message else event.error
        self.storage.add_event(run_id, event.kind, message, event.timestamp)
        if event.kind == "STARTED":
            self.storage.set_status(run_id, st.STARTED, only_from=(st.QUEUED,))
        elif event.kind == "SUCCESS":
            self.storage.finish_run(run_id, st.SUCCESS, result=event.result)
        elif event.kind == "FAILURE":
            self.storage.finish_run(run_id, st.FAILURE, error=event.error or event.message)
        elif event.kind == "CANCELED":
            self.storage.finish_run(run_id, st.CANCELED, error=event.error or event.message)

    def cancel(self, run_id: str) -> dict[str, Any]:
        run = self.storage.get_run(run_id)
        if run is None:
            raise ApiError(404, f"no run with id {run_id!r}; GET /runs lists recent runs")
        if run.status in st.TERMINAL_STATUSES:
            raise ApiError(
                409, f"run {run_id} already finished with status {run.status}; there is nothing to cancel"
            )
        if run.status == st.CANCELING:
            return {"run_id": run_id, "status": st.CANCELING}
        # An older code location gets a 409 naming the missing capability, not an unknown RPC.
        self.location.require_capability(CANCEL_CAPABILITY, "run cancellation", since="0.2.0")
        if self.storage.set_status(run_id, st.CANCELING, only_from=(st.QUEUED, st.STARTED)):
            self.storage.add_event(run_id, st.CANCELING, "cancel requested")
        try:
            self.location.cancel(run_id)
        except JobNotFound:
            pass  # not executing any more: it just finished, and its terminal event is on the way
        except CodeLocationError:
            if self.storage.set_status(run_id, st.STARTED, only_from=(st.CANCELING,)):
                self.storage.add_event(run_id, "LOG", "cancel failed: the code location could not be reached")
            raise
        current = self.storage.get_run(run_id)
        assert current is not None
        return {"run_id": run_id, "status": current.status}

    def _follow(self, run_id: str, events: Iterator[Event]) -> None:
        try:
            for event in events:
                self.record(run_id, event)
        except CodeLocationError as exc:
            if self._stopping.is_set():
                return
            reason = f"lost the run's event stream: {exc}"
            if self.storage.finish_run(run_id, st.FAILURE, error=reason):
                self.storage.add_event(run_id, st.FAILURE, reason)
        except Exception as exc:  # never leave a run hanging because of a bug here
            if self._stopping.is_set():
                return
            log.exception("following run %s failed", run_id)
            reason = f"the server failed while following the run: {type(exc).__name__}: {exc}"
            self.storage.finish_run(run_id, st.FAILURE, error=reason)
        else:
            if not self._stopping.is_set() and self.storage.finish_run(
                run_id, st.FAILURE, error="the code location ended the run without a result"
            ):
                self.storage.add_event(run_id, st.FAILURE, "the code location ended the run without a result")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())


async def read_json_body(request: Request, limit: int) -> Any:
    too_large = ApiError(
        413,
        f"request body is larger than the server's limit of {limit} bytes (--max-body-bytes); send a smaller config",
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large
        except ValueError:
            raise ApiError(400, f"invalid Content-Length header {declared!r}") from None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body:
        raise ApiError(400, f"request body is empty; send a JSON object like {_EXAMPLE_BODY}")
    try:
        scan_depth(body)  # before json.loads, whose recursion a deep body would exhaust
        return json.loads(body)
    except RequestRejected as exc:
        raise ApiError(exc.status, str(exc)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            400, f"request body is not valid JSON ({exc}); send a JSON object like {_EXAMPLE_BODY}"
        ) from None


def parse_run_request(data: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(data, dict):
        raise ApiError(
            422, f"request body must be a JSON object like {_EXAMPLE_BODY}, got {type(data).__name__}"
        )
    unknown = sorted(set(data) - set(_RUN_FIELDS))
    if unknown:
        raise ApiError(
            422, f"unknown field(s) {', '.join(map(repr, unknown))} in request body; allowed: job, config"
        )
    job = data.get("job")
    if not isinstance(job, str) or not job:
        raise ApiError(
            422, f"'job' must be a non-empty string naming a job (GET /jobs lists them), got {short(job)}"
        )
    config = data.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ApiError(
            422,
            f"'config' must be a JSON object of the job's parameters, got {type(config).__name__} {short(config)}",
        )
    try:
        check_job_name(job)
        # Whatever is accepted is stored and listed to everyone: it must be strict JSON.
        check_value(config, "config")
    except RequestRejected as exc:
        raise ApiError(exc.status, str(exc)) from None
    return job, config


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(
    storage: st.RunStorage,
    location: CodeLocation,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    runs = RunService(storage, location)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def info(request: Request) -> Response:
        code_location: dict[str, Any] = {"name": location.name, "address": location.address}
        try:
            peer = await run_in_threadpool(location.info)
        except CodeLocationError as exc:
            code_location.update(status="unavailable", error=str(exc))
        else:
            code_location.update(
                status="ok",
                version=peer.version,
                protocol_version=peer.protocol_version,
                capabilities=list(peer.capabilities),
                executor=peer.executor,
            )
        return JSONResponse(
            {
                "server": {"version": __version__, "protocol_version": PROTOCOL_VERSION},
                "code_location": code_location,
            }
        )

    async def list_jobs(request: Request) -> Response:
        jobs = await run_in_threadpool(location.list_jobs)
        return JSONResponse({"jobs": jobs})

    async def submit_run(request: Request) -> Response:
        data = await read_json_body(request, max_body_bytes)
        job, config = parse_run_request(data)
        created = await run_in_threadpool(runs.submit, job, config)
        return JSONResponse(created, status_code=201)

    async def get_run(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        run = await run_in_threadpool(storage.get_run, run_id)
        if run is None:
            raise ApiError(404, f"no run with id {run_id!r}; GET /runs lists recent runs")
        body = listable(run.to_json())
        body["events"] = await run_in_threadpool(storage.get_events, run_id)
        return JSONResponse(body)

    async def cancel_run(request: Request) -> Response:
        result = await run_in_threadpool(runs.cancel, request.path_params["run_id"])
        return JSONResponse(result, status_code=202)

    async def list_runs(request: Request) -> Response:
        raw_limit = request.query_params.get("limit", "50")
        try:
            limit = int(raw_limit)
            if not 1 <= limit <= 1000:
                raise ValueError
        except ValueError:
            raise ApiError(
                400, f"query parameter limit={raw_limit!r} must be an integer from 1 to 1000"
            ) from None
        status = request.query_params.get("status")
        known = (st.QUEUED, st.STARTED, st.SUCCESS, st.FAILURE, st.CANCELING, st.CANCELED)
        if status is not None and status not in known:
            raise ApiError(
                400, f"query parameter status={status!r} is not a run status; use one of {', '.join(known)}"
            )
        records = await run_in_threadpool(storage.list_runs, limit, status)
        # listable: rows stored before these checks (or results) may hold NaN / Infinity.
        return JSONResponse({"runs": [listable(r.to_json()) for r in records]})

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error(exc.status, exc.message)

    async def on_code_location_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CodeLocationError)
        return _error(exc.http_status, str(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}; see docs for the API"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return _error(exc.status_code, message)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, f"internal server error: {type(exc).__name__}: {exc}")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(runs.stop)

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/info", info, methods=["GET"]),
            Route("/jobs", list_jobs, methods=["GET"]),
            Route("/runs", submit_run, methods=["POST"]),
            Route("/runs", list_runs, methods=["GET"]),
            Route("/runs/{run_id}", get_run, methods=["GET"]),
            Route("/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
        ],
        exception_handlers={
            ApiError: on_api_error,
            CodeLocationError: on_code_location_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
        lifespan=lifespan,
    )
