"""The ``compat-matrix`` command line: ``plan``, ``releases check``, and ``up``/``down``/``reap``
(``compat_matrix.runtime_commands``).

Every subcommand is one ``Command`` in the ``COMMANDS`` table: its path of words (``("plan",)``,
``("releases", "check")``), a help line, a function that adds its arguments, and a function that
runs it and returns the exit status. Adding a subcommand is adding one entry.

Expected failures print one line, ``compat-matrix: error: ...``, and exit 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compat_matrix.declaration import FULL_MATRIX_ENV, expand_cells, read_suite, split_suite_address
from compat_matrix.errors import CompatMatrixError, ReleaseError
from compat_matrix.index import compare_releases, exit_code, read_index, render_report
from compat_matrix.model import CellPlan, Releases, SuitePlan
from compat_matrix.plan import plan_suite, plan_to_json, render
from compat_matrix.runtime_commands import (
    down_arguments,
    reap_arguments,
    run_down,
    run_reap,
    run_up,
    up_arguments,
)
from compat_matrix.systems import load_system
from compat_matrix.versions import RELEASES_FILE, find_repo_root, load_releases

PROG = "compat-matrix"


@dataclass(frozen=True)
class Command:
    """One subcommand: ``path`` words on the command line, its arguments, and what it runs."""

    path: tuple[str, ...]
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --- plan --------------------------------------------------------------------------------------


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--suite",
        required=True,
        metavar="PATH",
        help="the suite's directory or BUILD file (PATH:NAME picks one of several suites)",
    )
    parser.add_argument("--cell", metavar="NAME", help="print only this cell")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument(
        "--full-matrix",
        action="store_true",
        help=f"add the every-version cells of a full_matrix=True suite (as {FULL_MATRIX_ENV}=1 does)",
    )
    _releases_argument(parser)


def run_plan(args: argparse.Namespace) -> int:
    """Print the plan of a suite (or one of its cells): instances, versions and artifacts."""
    environ = dict(os.environ)
    if args.full_matrix:
        environ[FULL_MATRIX_ENV] = "1"
    suite = read_suite(args.suite)
    suite_path, _ = split_suite_address(args.suite)
    system = load_system(suite.system)
    releases = _load_releases(args.releases, suite_path, environ)
    plan = plan_suite(expand_cells(suite, releases, environ), system, releases)
    selected: SuitePlan | CellPlan = plan.cell(args.cell) if args.cell else plan
    if args.json:
        print(json.dumps(plan_to_json(selected), indent=2))
    else:
        print(render(selected))
    return 0


# --- releases check ----------------------------------------------------------------------------


def _releases_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        metavar="PATH_OR_URL",
        help="a find-links directory, a PEP 503 project page (file) or a simple index URL "
        f"(default: 'index' in {RELEASES_FILE}, relative to the repo root)",
    )
    _releases_argument(parser)


def run_releases_check(args: argparse.Namespace) -> int:
    """Compare the pinned releases with the index: exit 0 if current, 1 if newer releases exist."""
    releases = _load_releases(args.releases, Path.cwd(), os.environ)
    if args.index:
        location, base = str(args.index), Path.cwd()
    elif releases.index:
        location, base = releases.index, _repo_root(args.releases, Path.cwd())
    else:
        raise ReleaseError(f"no index configured: set 'index' in {RELEASES_FILE} or pass --index PATH_OR_URL")
    report = compare_releases(releases, read_index(location, releases.package, base), location)
    print(render_report(report))
    return exit_code(report)


# --- shared ------------------------------------------------------------------------------------


def _releases_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--releases",
        metavar="PATH",
        help=f"the releases file (default: {RELEASES_FILE} in the repo root, found by walking up to pants.toml)",
    )


def _repo_root(releases_arg: str | None, start: Path) -> Path:
    if releases_arg:
        # The releases file sits at <root>/3rdparty/python/releases/releases.py.
        return find_repo_root(Path(releases_arg).parent)
    return find_repo_root(start, Path.cwd())


def _load_releases(releases_arg: str | None, start: Path, environ: Mapping[str, str]) -> Releases:
    if releases_arg:
        return load_releases(Path(releases_arg), environ)
    return load_releases(find_repo_root(start, Path.cwd()) / RELEASES_FILE, environ)


COMMANDS: tuple[Command, ...] = (
    Command(("plan",), "print a suite's plan: cells, instances, versions, artifacts", _plan_arguments, run_plan),
    Command(
        ("releases", "check"),
        "is the newest release in the index pinned? (exit 0 yes, 1 newer exist, 2 error)",
        _releases_check_arguments,
        run_releases_check,
    ),
    Command(("up",), "start one cell, print its endpoints and logs, tear down on Ctrl-C/SIGTERM", up_arguments, run_up),
    Command(("down",), "list sessions, or tear down kept / running ones", down_arguments, run_down),
    Command(("reap",), "remove what killed sessions left behind (processes, containers, networks)", reap_arguments, run_reap),
)
"""Every subcommand, in the order ``--help`` lists them."""

GROUPS: dict[str, str] = {"releases": "the pinned releases of the system under test"}
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


__all__ = ("COMMANDS", "Command", "build_parser", "main", "run_plan", "run_releases_check")
