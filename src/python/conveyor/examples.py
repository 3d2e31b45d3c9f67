"""The default user module (``conveyor code-server --module conveyor.examples``).

Every release keeps these jobs, with the same config and results, so that compatibility
suites can drive any pair of versions with them.
"""

from __future__ import annotations

import os
import time
from typing import Any

from conveyor.definitions import Definitions, RunContext, job, task


@task
def square(x: int) -> int:
    return x * x


@task
def identify(_index: int) -> str:
    """Where this task ran: the dask worker's name, or ``in-process:<pid>``."""
    # Long enough that a fan-out spreads over every worker instead of one worker
    # finishing all tasks before the scheduler hands any to the others.
    time.sleep(0.05)
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return f"in-process:{os.getpid()}"
    return str(worker.name if worker.name is not None else worker.address)


@job
def add(ctx: RunContext, a: float, b: float) -> float:
    """Adds two numbers."""
    ctx.log(f"adding {a} and {b}")
    return a + b


# Bounds keep one run from occupying a worker (or the code server's memory) indefinitely.
MAX_TASKS = 10_000
MAX_SLEEP_SECONDS = 3600.0


@job(limits={"n": (0, MAX_TASKS)})
def sum_squares(ctx: RunContext, n: int) -> int:
    """Sums i*i for i in range(n), one task per i."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    ctx.log(f"fanning out {n} tasks")
    return sum(ctx.map(square, range(n)))


@job(limits={"n": (0, MAX_TASKS)})
def where(ctx: RunContext, n: int = 8) -> dict[str, Any]:
    """Runs n tasks and reports the distinct places (workers/processes) that ran them."""
    places = ctx.map(identify, range(n))
    return {"tasks": len(places), "where": sorted(set(places))}


@job
def fail(ctx: RunContext, message: str = "boom") -> None:
    """Always fails with RuntimeError(message)."""
    raise RuntimeError(message)


@job(limits={"seconds": (0.0, MAX_SLEEP_SECONDS)})
def sleep(ctx: RunContext, seconds: float = 1.0) -> float:
    """Sleeps for the given number of seconds (wakes early if the run is canceled)."""
    ctx.log(f"sleeping {seconds}s")
    ctx.sleep(seconds)
    return seconds


defs = Definitions(jobs=[add, sum_squares, where, fail, sleep])
