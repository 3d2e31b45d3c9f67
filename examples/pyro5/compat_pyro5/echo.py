"""Pyro5's test echo server (``pyro5-echoserver``), registering the address its peers reach it at.

The echo server takes no NAT options, and Pyro5 before 5.17 cannot take ``PYRO_NATHOST`` from the
environment (importing Pyro5 with it set fails: ``TypeError: NoneType takes no arguments``; see
docs/pyro5.md). So this sets ``config.NATHOST`` / ``config.NATPORT`` from ``--nathost`` /
``--natport``, as ``pyro5-ns`` takes them, and runs the echo server's own ``main`` with the other
arguments: the URI it registers with the name server carries that address. It first prints the
Pyro5 it runs. Shipped in every release PEX (``examples/pyro5:launcher``).
"""

from __future__ import annotations

import argparse
import sys

import Pyro5
from Pyro5 import config
from Pyro5.utils import echoserver


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nathost", required=True, help="the host peers reach this server at")
    parser.add_argument("--natport", type=int, default=0, help="the port peers reach it at (0: the port it binds)")
    ours, theirs = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    config.NATHOST = ours.nathost
    config.NATPORT = ours.natport
    print(f"compat_pyro5: Pyro5 {Pyro5.__version__}, NAT {ours.nathost}:{ours.natport}")
    echoserver.main(theirs)


if __name__ == "__main__":
    main()
