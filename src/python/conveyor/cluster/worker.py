"""`conveyor worker`: a dask.distributed worker that can run conveyor tasks."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from distributed import Worker

# Imported so that the default user module's tasks (pickled by reference) are importable
# here, and so that a worker's build includes conveyor's default jobs.
import conveyor.examples  # noqa: F401
from conveyor.cluster._serve import configure_logging, serve
from conveyor.version import __version__

log = logging.getLogger("conveyor.worker")


def run(args: argparse.Namespace) -> int:
    configure_logging("worker")

    def make() -> Any:
        return Worker(
            args.scheduler,
            host=args.host,
            port=args.port,
            name=args.name,
            nthreads=args.nthreads,
            dashboard=False,
            # Lost scheduler: give up instead of retrying forever.
            death_timeout=60,
        )

    def started(node: Any) -> None:
        log.info(
            "conveyor %s worker %r at %s connected to %s",
            __version__,
            args.name,
            node.address,
            args.scheduler,
        )

    return serve("worker", make, started)
