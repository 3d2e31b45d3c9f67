"""`conveyor scheduler`: a dask.distributed scheduler (no dashboard)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from distributed import Scheduler

from conveyor.cluster._serve import configure_logging, serve
from conveyor.version import __version__

log = logging.getLogger("conveyor.scheduler")


def run(args: argparse.Namespace) -> int:
    configure_logging("scheduler")

    def make() -> Any:
        return Scheduler(host=args.host, port=args.port, dashboard=False, dashboard_address=None)

    def started(node: Any) -> None:
        log.info("conveyor %s scheduler listening at %s", __version__, node.address)

    return serve("scheduler", make, started)
