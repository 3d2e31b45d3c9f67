"""Ready when a dask scheduler counts an instance's workers: ``python -m compat_probes.dask_ready``.

For roles that start dask workers but listen on no declared port: ``libertem-worker --name N``
starts ``--n-cpus`` workers named ``N-cpu-<i>`` and one named ``N-service-0``, each on a random
port. The instance is ready when the scheduler has registered ``--count`` workers whose name
starts with ``--prefix``::

    python -m compat_probes.dask_ready --scheduler tcp://scheduler-0:8000 --prefix worker-0- --count 2

It keeps asking over one connection for up to ``--wait`` seconds before it answers "not ready":
the harness runs it again and again until the instance is ready, and each run's Python start and
imports (distributed, in the role's environment) cost far more than a question to the scheduler.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

POLL_SECONDS = 0.2
"""How often one run asks the scheduler again while it waits."""


def worker_names(client: Any) -> list[str]:
    """The names of every worker the scheduler knows (newer distributed lists 5 unless asked)."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:  # distributed before 2025 has no n_workers and lists them all
        info = client.scheduler_info()
    return sorted(str(worker.get("name")) for worker in info.get("workers", {}).values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat_probes.dask_ready", description=__doc__)
    parser.add_argument("--scheduler", required=True, help="the scheduler, tcp://HOST:PORT")
    parser.add_argument("--prefix", required=True, help="the instance's workers' names start with this")
    parser.add_argument("--count", type=int, default=1, help="how many such workers make it ready (default 1)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the scheduler")
    parser.add_argument(
        "--wait", type=float, default=4.0, help="seconds to keep asking before answering not ready (default 4; 0: ask once)"
    )
    args = parser.parse_args(argv)

    # The role's own distributed, whatever its version: no requirement of the harness wheel.
    from distributed import Client  # pants: no-infer-dep

    try:
        client = Client(args.scheduler, timeout=args.timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        print(f"not ready: cannot reach the scheduler at {args.scheduler}: {exc}", flush=True)
        return 1
    deadline = time.monotonic() + args.wait
    try:
        while True:
            names = worker_names(client)
            mine = [name for name in names if name.startswith(args.prefix)]
            if len(mine) >= args.count:
                print(f"ready: the scheduler counts {', '.join(mine)}", flush=True)
                return 0
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
    finally:
        client.close()
    print(
        f"not ready: the scheduler counts {len(mine)} of {args.count} workers named {args.prefix}*"
        f" (its workers: {', '.join(names) or 'none'})",
        flush=True,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
