"""`conveyor code-server`: serve a user module's jobs over gRPC."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from conveyor.code_server.executors import (
    DaskExecutor,
    Executor,
    ExecutorError,
    InProcessExecutor,
    IpyparallelExecutor,
)
from conveyor.code_server.loader import UserCodeError, load_file, load_module
from conveyor.code_server.service import SERVICE_NAME, CodeLocationService
from conveyor.protocol import code_location_pb2_grpc as pb2_grpc
from conveyor.version import PROTOCOL_VERSION, __version__

log = logging.getLogger("conveyor.code_server")


def _fail(message: str) -> int:
    print(f"conveyor code-server: error: {message}", file=sys.stderr, flush=True)
    return 1


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s [code-server] %(name)s: %(message)s",
    )
    try:
        definitions = load_file(args.file) if args.file else load_module(args.module)
    except UserCodeError as exc:
        return _fail(str(exc))

    executor: Executor
    try:
        if args.dask_scheduler:
            executor = DaskExecutor(args.dask_scheduler, connect_timeout=args.cluster_connect_timeout)
        elif args.ipyparallel:
            executor = IpyparallelExecutor(args.ipyparallel, connect_timeout=args.cluster_connect_timeout)
        else:
            executor = InProcessExecutor()
    except ExecutorError as exc:
        return _fail(str(exc))

    service = CodeLocationService(definitions, executor, max_concurrent_runs=args.max_concurrent_runs)
    health_servicer = health.HealthServicer()
    server = grpc.server(
        # Each executing run holds a thread for its event stream; the rest serve info, health, cancel.
        ThreadPoolExecutor(max_workers=args.max_concurrent_runs + 8, thread_name_prefix="conveyor-grpc"),
        # Without this a second server could silently share the port.
        options=[("grpc.so_reuseport", 0)],
    )
    pb2_grpc.add_CodeLocationServicer_to_server(service, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"{args.host}:{args.port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        bound = 0
        log.debug("binding %s failed: %s", address, exc)
    if not bound:
        executor.close()
        return _fail(f"cannot listen on {address} (is the port in use?); pick another --port")

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server.start()
    cluster = args.dask_scheduler or args.ipyparallel
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "conveyor %s (protocol %d) code server listening on %s; jobs: %s; executor: %s",
        __version__,
        PROTOCOL_VERSION,
        address,
        ", ".join(definitions.job_names),
        executor.name + (f" ({cluster})" if cluster else ""),
    )
    while not stop.wait(0.5):
        pass
    health_servicer.enter_graceful_shutdown()
    service.active_runs.stop_all("the code server is shutting down")
    server.stop(grace=5).wait()
    executor.close()
    log.info("stopped")
    return 0
