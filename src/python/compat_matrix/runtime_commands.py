"""The CLI's runtime subcommands: ``up``, ``down`` and ``reap`` (registered in ``compat_matrix.cli``).

- ``compat-matrix up --plan FILE [CELL]``: start one cell of a plan written by
  ``./pants compat-plan --json <suite or cell target>``, print every instance's endpoints and
  log file, wait until Ctrl-C / SIGTERM (or ``compat-matrix down SESSION`` from another
  shell), then tear it down and remove its temporary work directory (a ``--work-dir`` stays).
  ``--from-source`` runs the branch roles' module commands from ``src/python`` instead of their
  PEXes (the other roles need ``./pants package <system target>:``).
- ``compat-matrix down``: without arguments, list the sessions (kept ones from
  ``pytest --compat-keep``, running ``up`` ones); ``down SESSION...`` tears those down (a running
  ``up`` is asked to stop with SIGTERM); ``down --all`` tears down every kept session.
- ``compat-matrix reap``: remove what killed sessions left behind (the pytest plugin also does
  this at the start of every session).

This module does not import ``compat_matrix.cli`` (the CLI imports it), so there is no cycle.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from compat_core.errors import CompatMatrixError
from compat_matrix import pants_toml
from compat_matrix.backends.registry import BACKENDS, default_backend_name, describe_deployment, make_backend
from compat_matrix.backends.source_launch import Launcher, source_launcher
from compat_matrix.reaper import down, reap
from compat_matrix.session import Session, list_sessions
from compat_matrix.workspace import cells_from_plan_file, find_repo_root, pick_cell

_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Terminated(KeyboardInterrupt):
    """Raised on SIGTERM so ``up`` unwinds through its ``finally`` like on Ctrl-C."""


# --- up ----------------------------------------------------------------------------------------


def up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cell", metavar="CELL", nargs="?", help="the cell to start (needed when the plan has several)")
    parser.add_argument(
        "--plan",
        required=True,
        metavar="FILE",
        help="the plan: `./pants compat-plan --json <suite or cell target> > FILE`",
    )
    parser.add_argument(
        "--backend",
        choices=sorted(BACKENDS),
        default=None,
        help="process or docker (default: $COMPAT_MATRIX_BACKEND, else process)",
    )
    parser.add_argument("--artifacts", metavar="DIR", help="the artifact root (default: <repo>/dist)")
    parser.add_argument(
        "--work-dir",
        metavar="DIR",
        help="instance data and logs, kept after teardown (default: a new temp dir, removed at teardown)",
    )
    parser.add_argument(
        "--from-source",
        nargs="?",
        const="",
        default=None,
        metavar="SOURCE_ROOT",
        help="process backend: run branch roles' module commands from SOURCE_ROOT "
        "(default <repo>/src/python) instead of their PEXes",
    )


def run_up(args: argparse.Namespace) -> int:
    """Start a cell, print where it answers, wait for Ctrl-C/SIGTERM, tear it down."""
    plan_file = Path(args.plan)
    plan = pick_cell(cells_from_plan_file(plan_file), args.cell, str(plan_file))
    root = _repo_root(Path.cwd())
    backend_name = args.backend or default_backend_name()
    if root is not None:
        # What the plugin gives this cell's test (the repo's [compat-matrix] settings), unless the
        # environment sets it: the backend reads its settings from the environment.
        repo_settings = pants_toml.compat_settings((root / "pants.toml").read_text(encoding="utf-8"))
        for name, value in repo_settings.with_env(os.environ).cell_env(backend_name).items():
            os.environ.setdefault(name, value)
    artifacts = Path(args.artifacts).resolve() if args.artifacts else (root or Path.cwd()) / "dist"
    launcher: Launcher | None = None
    if args.from_source is not None:
        if args.from_source:
            source_root = Path(args.from_source)
        elif root is not None:
            source_root = root / "src" / "python"
        else:
            raise CompatMatrixError(
                "--from-source needs the repo (pants.toml) above the suite or the cwd to find src/python; "
                "or pass --from-source SOURCE_ROOT"
            )
        launcher = source_launcher(source_root)
    temporary = not args.work_dir
    work_dir = Path(args.work_dir).resolve() if args.work_dir else _temp_work_dir(plan.name)

    previous = _install_sigterm()
    # Ctrl-C must tear down even when `up` was started with SIGINT ignored (a background job of a
    # script inherits SIG_IGN, and Python then never installs its KeyboardInterrupt handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    session = Session.create(f"compat-matrix up {plan.name} ({plan.suite}, {backend_name})")
    if temporary:
        # Ours to remove with the session (on teardown, or by its watchdog or the reaper if `up`
        # is killed); a --work-dir the user named is theirs and stays.
        session.own_directory(work_dir)
    deployment = None
    try:
        session.annotate(
            "cell",
            {"suite": plan.suite, "cell": plan.name, "backend": backend_name, "work_dir": str(work_dir)},
        )
        backend = make_backend(backend_name, session, launcher)
        print(
            f"starting cell {plan.name} of suite {plan.suite} on the {backend_name} backend ...", flush=True
        )
        started = time.monotonic()
        deployment = backend.start(plan, artifacts, work_dir)
        lines = describe_deployment(deployment)
        session.annotate("describe", lines)
        print(
            f"cell {plan.name} is up ({time.monotonic() - started:.1f}s), session {session.id}:", flush=True
        )
        for line in lines:
            print(f"  {line}", flush=True)
        print(
            f"stop with Ctrl-C, SIGTERM (pid {os.getpid()}) or `compat-matrix down {session.id}` from another "
            f"terminal (e.g. `dist/src.python.compat_matrix/cli.pex down {session.id}`; a second `./pants run` "
            "would wait for pantsd, which runs this one, unless given --concurrent)",
            flush=True,
        )
        threading.Event().wait()  # until a signal unwinds us
    except KeyboardInterrupt:
        print("\ntearing down ...", flush=True)
    finally:
        # Ignore further SIGTERMs while tearing down: a second one must not abandon instances.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if deployment is not None:
                deployment.stop()
        finally:
            session.close()
            signal.signal(signal.SIGTERM, previous)
    print(f"cell {plan.name} is down", flush=True)
    return 0


def _install_sigterm() -> _SignalHandler:
    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise Terminated("SIGTERM")

    return signal.signal(signal.SIGTERM, on_sigterm)


def _temp_work_dir(cell: str) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"compat-matrix-{cell}-"))


def _repo_root(start: Path) -> Path | None:
    try:
        return find_repo_root(start)
    except CompatMatrixError:
        return None


# --- down --------------------------------------------------------------------------------------


def down_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sessions", nargs="*", metavar="SESSION", help="session ids (none: list the sessions)"
    )
    parser.add_argument("--all", action="store_true", help="tear down every kept session")


def run_down(args: argparse.Namespace) -> int:
    """List sessions, or tear down the named (or all kept) ones."""
    records = list_sessions()
    if args.all:
        chosen = [r.id for r in records if r.kept]
    else:
        chosen = list(args.sessions)
    if not chosen:
        if not records:
            print("no compat-matrix sessions")
            return 0
        for record in records:
            state = (
                "kept"
                if record.kept
                else ("running" if record.owner_alive() else "dead (run `compat-matrix reap`)")
            )
            print(f"{record.id}  {state}  {record.description}")
            describe = record.info.get("describe")
            for line in describe if isinstance(describe, list) else []:
                print(f"    {line}")
            for key, value in record.info.items():
                if key.startswith("cell ") and isinstance(value, dict):
                    print(f"    {key}:")
                    for line in value.get("describe", []):
                        print(f"      {line}")
        print("tear one down with: compat-matrix down SESSION (or --all for every kept one)")
        return 0
    result = down(chosen)
    for line in result.removed:
        print(line)
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"tore down {len(result.sessions)} session(s)")
    return 1 if result.problems else 0


# --- reap --------------------------------------------------------------------------------------


def reap_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no arguments


def run_reap(args: argparse.Namespace) -> int:
    """Remove what dead sessions left: processes (pid + create time checked), containers, networks."""
    result = reap()
    for line in result.removed:
        print(line)
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"reaped {len(result.sessions)} dead session(s), removed {len(result.removed)} resource(s)")
    return 1 if result.problems else 0


__all__ = (
    "down_arguments",
    "reap_arguments",
    "run_down",
    "run_reap",
    "run_up",
    "up_arguments",
)
