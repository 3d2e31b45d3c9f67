"""The conveyor CLI: ``conveyor server | code-server | scheduler | worker | submit | cancel | version``.

Each role's implementation is imported by *string* only when its subcommand runs, so that
a build of one role (dependency inference) does not pull in every other role.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from conveyor.version import PROTOCOL_VERSION, __version__

# subcommand -> module with `run(args) -> int`
ROLE_MODULES = {
    "server": "conveyor.server.main",
    "code-server": "conveyor.code_server.main",
    "scheduler": "conveyor.cluster.scheduler",
    "worker": "conveyor.cluster.worker",
}

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def host_arg(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if _HOSTNAME.match(value):
        return value
    raise argparse.ArgumentTypeError(
        f"invalid host {value!r}: use an IP address (e.g. 127.0.0.1, 0.0.0.0) or a hostname"
    )


def port_arg(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}: use an integer from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}: use an integer from 1 to 65535")
    return port


def host_port_arg(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"invalid address {value!r}: use HOST:PORT, e.g. 127.0.0.1:4000")
    try:
        host_arg(host.strip("[]"))
        port_arg(port)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"invalid address {value!r}: {exc}") from None
    return value


def scheduler_arg(value: str) -> str:
    if not value.startswith("tcp://"):
        raise argparse.ArgumentTypeError(
            f"invalid scheduler address {value!r}: use tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"
        )
    try:
        host_port_arg(value[len("tcp://") :])
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid scheduler address {value!r}: use tcp://HOST:PORT ({exc})"
        ) from None
    return value


def positive_int_arg(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {value!r}: use a positive integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value!r}: use a positive integer")
    return number


def positive_float_arg(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {value!r}: use a positive number of seconds"
        ) from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"invalid value {value!r}: use a positive number of seconds")
    return number


def module_arg(value: str) -> str:
    if not _MODULE.match(value):
        raise argparse.ArgumentTypeError(
            f"invalid module name {value!r}: use a dotted Python module name, e.g. conveyor.examples"
        )
    return value


def json_object_arg(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid JSON {value!r} ({exc}): use a JSON object, e.g. '{{\"a\": 1}}'"
        ) from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"invalid config {value!r}: use a JSON object, e.g. '{{\"a\": 1}}'")
    return parsed


def url_arg(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise argparse.ArgumentTypeError(
            f"invalid URL {value!r}: use http://HOST:PORT, e.g. http://127.0.0.1:8080"
        )
    return value


def _add_listen_args(p: argparse.ArgumentParser) -> None:
    """--host and --port, which every server role takes."""
    p.add_argument(
        "--host", type=host_arg, default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    p.add_argument("--port", type=port_arg, required=True, help="port to listen on")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conveyor", description="conveyor: a small job service.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "server", help="run the HTTP API server", description="Run the HTTP API server (SQLite run storage)."
    )
    _add_listen_args(p)
    p.add_argument(
        "--code-server",
        type=host_port_arg,
        required=True,
        metavar="HOST:PORT",
        help="the code server's gRPC address",
    )
    p.add_argument(
        "--db", required=True, metavar="PATH", help="SQLite file for run storage (created if missing)"
    )
    p.add_argument(
        "--max-body-bytes",
        type=positive_int_arg,
        default=1024 * 1024,
        metavar="N",
        help="largest accepted request body (default: 1 MiB)",
    )
    p.add_argument(
        "--code-server-timeout",
        type=positive_float_arg,
        default=5.0,
        metavar="S",
        help="seconds to wait for the code server to answer or to start a run (default: 5)",
    )

    p = sub.add_parser(
        "code-server",
        help="run the gRPC code server for a user module",
        description="Serve a user module's jobs over gRPC.",
    )
    _add_listen_args(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--module",
        type=module_arg,
        default="conveyor.examples",
        help="user module with a Definitions object (default: conveyor.examples)",
    )
    source.add_argument("--file", metavar="PATH", help="user code file with a Definitions object")
    cluster = p.add_mutually_exclusive_group()
    cluster.add_argument(
        "--dask-scheduler",
        type=scheduler_arg,
        metavar="tcp://HOST:PORT",
        help="run tasks on this dask cluster (default: in-process threads)",
    )
    cluster.add_argument(
        "--ipyparallel",
        metavar="CONNECTION_FILE",
        help="run tasks on ipyparallel engines: the controller's ipcontroller-client.json"
        " (default: in-process threads)",
    )
    p.add_argument(
        "--cluster-connect-timeout",
        type=positive_float_arg,
        default=15.0,
        metavar="S",
        help="seconds to wait for the dask scheduler or ipyparallel controller at start (default: 15)",
    )
    p.add_argument(
        "--max-concurrent-runs",
        type=positive_int_arg,
        default=16,
        metavar="N",
        help="runs executing at once; more are refused with RESOURCE_EXHAUSTED (default: 16)",
    )

    p = sub.add_parser(
        "scheduler",
        help="run a dask scheduler",
        description="Run a dask.distributed scheduler (no dashboard).",
    )
    _add_listen_args(p)

    p = sub.add_parser(
        "worker",
        help="run a dask worker",
        description="Run a dask.distributed worker with conveyor importable.",
    )
    p.add_argument(
        "--scheduler",
        type=scheduler_arg,
        required=True,
        metavar="tcp://HOST:PORT",
        help="the scheduler's address",
    )
    _add_listen_args(p)
    p.add_argument("--name", required=True, help="the worker's name (tasks report it)")
    p.add_argument(
        "--nthreads", type=positive_int_arg, default=1, metavar="N", help="task threads (default: 1)"
    )

    p = sub.add_parser(
        "submit", help="submit a run to a server", description="Submit a run and print it as JSON."
    )
    p.add_argument(
        "--server",
        type=url_arg,
        required=True,
        metavar="URL",
        help="the server's URL, e.g. http://127.0.0.1:8080",
    )
    p.add_argument("job", help="the job's name")
    p.add_argument(
        "--config", type=json_object_arg, default={}, metavar="JSON", help="the job's config as a JSON object"
    )
    p.add_argument(
        "--wait", action="store_true", help="wait for the run to finish; exit 1 unless it succeeds"
    )
    p.add_argument(
        "--timeout",
        type=positive_float_arg,
        default=60.0,
        metavar="S",
        help="seconds to wait with --wait (default: 60)",
    )

    p = sub.add_parser(
        "cancel", help="cancel a run (0.2.0 servers on)", description="Ask the server to cancel a run."
    )
    p.add_argument(
        "--server",
        type=url_arg,
        required=True,
        metavar="URL",
        help="the server's URL, e.g. http://127.0.0.1:8080",
    )
    p.add_argument("run_id", help="the run's id")

    sub.add_parser(
        "version", help="print the version", description="Print conveyor's version and protocol version."
    )
    return parser


def _submit(args: argparse.Namespace) -> int:
    from conveyor.client import Client, ConveyorError

    with Client(args.server) as client:
        try:
            run_id = client.submit(args.job, args.config)
            run: dict[str, Any] = (
                client.wait(run_id, timeout=args.timeout) if args.wait else {"run_id": run_id}
            )
        except ConveyorError as exc:
            print(f"conveyor submit: error: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(run, indent=2))
    if args.wait and run.get("status") != "SUCCESS":
        return 1
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from conveyor.client import Client, ConveyorError

    with Client(args.server) as client:
        try:
            result = client.cancel(args.run_id)
        except ConveyorError as exc:
            print(f"conveyor cancel: error: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(result, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"conveyor {__version__} (protocol {PROTOCOL_VERSION})")
        return 0
    if args.command == "submit":
        return _submit(args)
    if args.command == "cancel":
        return _cancel(args)
    module = importlib.import_module(ROLE_MODULES[args.command])
    return int(module.run(args))


if __name__ == "__main__":
    sys.exit(main())
