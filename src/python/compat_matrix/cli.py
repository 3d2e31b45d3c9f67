"""The ``compat-matrix`` command line: ``releases check`` and ``releases pin``
(``compat_matrix.release_commands``), and ``up``/``down``/``reap`` (``compat_matrix.runtime_commands``).
Plans come from Pants: ``./pants compat-plan``.

Every subcommand is one ``Command`` in the ``COMMANDS`` table: its path of words (``("plan",)``,
``("releases", "check")``), a help line, a function that adds its arguments, and a function that
runs it and returns the exit status. Adding a subcommand is adding one entry.

Expected failures print one line, ``compat-matrix: error: ...``, and exit 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from compat_core.errors import CompatMatrixError
from compat_matrix.release_commands import check_arguments, pin_arguments, run_check, run_pin
from compat_matrix.runtime_commands import (
    down_arguments,
    reap_arguments,
    run_down,
    run_reap,
    run_up,
    up_arguments,
)

PROG = "compat-matrix"


@dataclass(frozen=True)
class Command:
    """One subcommand: ``path`` words on the command line, its arguments, and what it runs."""

    path: tuple[str, ...]
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: tuple[Command, ...] = (
    Command(
        ("releases", "check"),
        "are a system's pins current with its index? (exit 0 yes, 1 newer exist, 2 error)",
        check_arguments,
        run_check,
    ),
    Command(
        ("releases", "pin"),
        "pin releases of a system: its BUILD file, pants.toml, lockfiles (and earliest / support)",
        pin_arguments,
        run_pin,
    ),
    Command(("up",), "start one cell, print its endpoints and logs, tear down on Ctrl-C/SIGTERM", up_arguments, run_up),
    Command(("down",), "list sessions, or tear down kept / running ones", down_arguments, run_down),
    Command(("reap",), "remove what killed sessions left behind (processes, containers, networks)", reap_arguments, run_reap),
)
"""Every subcommand, in the order ``--help`` lists them."""

GROUPS: dict[str, str] = {"releases": "the pinned releases of a system under test"}
"""Help lines of command words that only group subcommands (``releases ...``)."""


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """The argument parser of ``commands`` (nested words become nested subparsers)."""
    parser = argparse.ArgumentParser(prog=PROG, description="Plan and run compatibility matrix cells.")
    subparsers: dict[tuple[str, ...], argparse._SubParsersAction[argparse.ArgumentParser]] = {
        (): parser.add_subparsers(dest="command", metavar="COMMAND")
    }
    for command in commands:
        for depth in range(1, len(command.path)):
            group = command.path[:depth]
            if group not in subparsers:
                group_parser = subparsers[group[:-1]].add_parser(group[-1], help=GROUPS.get(group[-1], ""))
                subparsers[group] = group_parser.add_subparsers(dest=f"command_{depth}", metavar="COMMAND")
        sub = subparsers[command.path[:-1]].add_parser(command.path[-1], help=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None, commands: Sequence[Command] = COMMANDS) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser(commands)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse's usage errors (2) and --help (0)
        return e.code if isinstance(e.code, int) else 2
    run = getattr(args, "run", None)
    if run is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: name a command (see {PROG} --help)", file=sys.stderr)
        return 2
    try:
        return int(run(args))
    except (CompatMatrixError, OSError) as e:
        message = " ".join(str(e).split("\n"))
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


__all__ = ("COMMANDS", "Command", "build_parser", "main")
