"""``adopter-tally store|web``: run one of tally's two processes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="adopter-tally")
    roles = parser.add_subparsers(dest="role", required=True)
    store = roles.add_parser("store", help="the counters")
    web = roles.add_parser("web", help="the front end, which counts in a store")
    web.add_argument("--store", required=True, help="the store's URL, http://HOST:PORT")
    for role in (store, web):
        role.add_argument("--host", default="127.0.0.1")
        role.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.role == "store":
        from adopter_tally.store import serve

        serve(args.host, args.port)
    else:
        from adopter_tally.web import serve as serve_web

        serve_web(args.host, args.port, args.store)


if __name__ == "__main__":
    main()
