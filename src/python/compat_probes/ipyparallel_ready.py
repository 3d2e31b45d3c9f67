"""Readiness of ipyparallel roles, asked of the controller: ``python -m compat_probes.ipyparallel_ready``.

- ``controller CLIENT_FILE``: ready when ``ipcontroller`` has written its client connection file
  and a client connects with it (the hub answers).
- ``engine CLIENT_FILE ID``: ready when the controller counts the engine that requested ``ID``
  (``ipengine --IPEngine.id=ID``) among its engines. An engine listens on no port; the hub
  counts it once its registration completed and its heartbeat was seen, which is when a client
  can use it.

The connection file is passed positionally: ``ipyparallel.Client(url_file=...)`` silently ignores
the keyword in 8.x and 9.x and waits for the default profile's file instead.

It keeps checking for up to ``--wait`` seconds before it answers "not ready" (over one connection
once it has one): the harness runs it again and again until the instance is ready, and each run's
Python start and imports cost far more than a check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.2
"""How often one run checks again while it waits."""


def connect(client_file: str, timeout: float) -> tuple[Any, str]:
    """A connected ``ipyparallel.Client``, or None and why not."""
    path = Path(client_file)
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"no complete connection file {path} yet ({type(exc).__name__}: {exc})"
    # The role's own ipyparallel, whatever its version: no requirement of the harness wheel.
    import ipyparallel  # pants: no-infer-dep

    try:
        return ipyparallel.Client(str(path), timeout=timeout), ""
    except (OSError, TimeoutError) as exc:
        return None, f"the controller does not answer ({type(exc).__name__}: {exc})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compat_probes.ipyparallel_ready", description=__doc__)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the controller")
    parser.add_argument(
        "--wait", type=float, default=4.0, help="seconds to keep checking before answering not ready (default 4; 0: check once)"
    )
    sub = parser.add_subparsers(dest="what", required=True)
    controller = sub.add_parser("controller", help="the controller answers")
    controller.add_argument("client_file", metavar="CLIENT_FILE")
    engine = sub.add_parser("engine", help="the controller counts engine ID")
    engine.add_argument("client_file", metavar="CLIENT_FILE")
    engine.add_argument("engine_id", metavar="ID", type=int)
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.wait
    client, why = connect(args.client_file, args.timeout)
    while client is None and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        client, why = connect(args.client_file, args.timeout)
    if client is None:
        print(f"not ready: {why}", flush=True)
        return 1
    try:
        while True:
            ids = sorted(client.ids)
            if args.what == "controller":
                print(f"ready: the controller answers (engines {ids})", flush=True)
                return 0
            if args.engine_id in ids:
                print(f"ready: the controller counts engine {args.engine_id} (engines {ids})", flush=True)
                return 0
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
    finally:
        client.close()
    print(f"not ready: the controller counts engines {ids}, not yet {args.engine_id}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
