"""Runs a dask server node until SIGTERM/SIGINT, then closes it cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any


def configure_logging(role: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s [{role}] %(name)s: %(message)s",
    )


def serve(role: str, make_node: Callable[[], Any], on_started: Callable[[Any], None]) -> int:
    """`make_node()` builds an unstarted dask Server (Scheduler/Worker); returns an exit code."""
    log = logging.getLogger(f"conveyor.{role}")

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        node = make_node()
        try:
            await node
        except OSError as exc:
            print(
                f"conveyor {role}: error: cannot start: {exc}; pick another --port",
                file=sys.stderr,
                flush=True,
            )
            return 1
        on_started(node)
        finished: Awaitable[Any] = node.finished()
        stop_task = asyncio.ensure_future(stop.wait())
        node_task = asyncio.ensure_future(finished)
        done, _ = await asyncio.wait({stop_task, node_task}, return_when=asyncio.FIRST_COMPLETED)
        if stop_task in done:
            log.info("signal received, shutting down")
            await node.close()
            node_task.cancel()
            return 0
        stop_task.cancel()
        log.error("the %s stopped on its own (status %s)", role, getattr(node, "status", "?"))
        return 1

    return asyncio.run(main())
