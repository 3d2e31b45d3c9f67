"""`conveyor server`: the HTTP API over SQLite, talking to one code location over gRPC."""

from __future__ import annotations

import argparse
import logging
import sys
from types import FrameType

import uvicorn

from conveyor.server.app import SERVER_STOPPED, create_app
from conveyor.server.code_location import CodeLocation
from conveyor.server.storage import RunStorage, StorageError
from conveyor.version import PROTOCOL_VERSION, __version__

log = logging.getLogger("conveyor.server")


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn re-raises a captured SIGTERM/SIGINT after its graceful shutdown, which
        # makes the process die by the signal; conveyor's roles exit 0 after a clean stop.
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s [server] %(name)s: %(message)s",
    )
    try:
        storage = RunStorage(args.db)
    except StorageError as exc:
        print(f"conveyor server: error: {exc}", file=sys.stderr, flush=True)
        return 1
    abandoned = storage.fail_unfinished(SERVER_STOPPED)
    if abandoned:
        log.warning("marked %d run(s) left unfinished by a previous server as FAILURE", len(abandoned))
    location = CodeLocation(args.code_server, timeout=args.code_server_timeout)
    app = create_app(storage, location, max_body_bytes=args.max_body_bytes)
    log.info(
        "conveyor %s (protocol %d) server on http://%s:%d, code location 'default' at %s, db %s",
        __version__,
        PROTOCOL_VERSION,
        args.host,
        args.port,
        args.code_server,
        args.db,
    )
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="info", access_log=False, lifespan="on"
    )
    server = _Server(config)
    try:
        server.run()
    finally:
        storage.close()
    if not server.started:
        print(
            f"conveyor server: error: could not start on {args.host}:{args.port}; pick another --port",
            file=sys.stderr,
        )
        return 1
    return 0
