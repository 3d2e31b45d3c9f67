"""Benchmark: time from "start the cell" to "every instance healthy", on either backend.

Starts one cell of a plan N times, stopping it between runs, and prints min / median / max of
the start time (the backend's ``start``: allocate ports, spawn every instance in order, wait on
each readiness probe). The plan comes from Pants::

    ./pants compat-plan --json tests/python/integration/backcompat:backcompat > /tmp/plan.json
    ./pants package src/python/conveyor:     # PEXes (process) and images (docker) under dist/
    ./pants run benchmarks/compat_matrix:bench-cell-start -- --plan /tmp/plan.json -n 5

Before the PEXes exist, run from source instead::

    pip install --no-deps --target /tmp/conveyor-0.1.0 \\
        --find-links 3rdparty/python/releases/wheels conveyor==0.1.0
    ... bench_cell_start.py --plan /tmp/plan.json --from-source --release-path 0.1.0=/tmp/conveyor-0.1.0

(``--from-source`` runs branch roles from ``src/python``; ``--release-path`` runs a release
from a directory holding its package, with this interpreter's dependencies.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from compat_core.errors import CompatMatrixError
from compat_core.names import artifact_address
from compat_core.plan import render
from compat_matrix.backends.registry import BACKENDS, make_backend
from compat_matrix.backends.source_launch import Launcher, source_launcher
from compat_matrix.session import Session
from compat_matrix.workspace import cells_from_plan_file, find_repo_root, pick_cell

DEFAULT_CELL = "user-code-earliest"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", "-n", type=int, default=5, help="how many times to start the cell (default 5)"
    )
    parser.add_argument("--cell", default=DEFAULT_CELL, help=f"the cell (default {DEFAULT_CELL})")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="process", help="default: process")
    parser.add_argument(
        "--plan", required=True, help="`./pants compat-plan --json <suite target> > FILE` (see the module docstring)"
    )
    parser.add_argument("--artifacts", help="the artifact root (default <repo>/dist)")
    parser.add_argument("--from-source", action="store_true", help="run branch roles from <repo>/src/python")
    parser.add_argument(
        "--release-path",
        action="append",
        default=[],
        metavar="X.Y.Z=DIR",
        help="run release X.Y.Z from DIR (its package installed with pip --target); repeatable",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    root = find_repo_root(Path.cwd(), Path(__file__).parent)
    plan = pick_cell(cells_from_plan_file(Path(args.plan)), args.cell, args.plan)
    artifacts = Path(args.artifacts).resolve() if args.artifacts else root / "dist"

    release_paths = {}
    for item in args.release_path:
        version, _, path = item.partition("=")
        release_paths[version] = Path(path)
    launcher: Launcher | None = None
    if args.from_source or release_paths:
        launcher = source_launcher(
            root / "src" / "python" if args.from_source else None, release_paths
        )
    runs_from_pex = [i for i in plan.instances if launcher is None or launcher(i, plan.role(i.role)) is None]
    # The docker backend checks its images itself (naming the command that builds a missing one).
    missing = [i.pex for i in runs_from_pex if args.backend == "process" and not (artifacts / i.pex).exists()]
    if missing:
        print(
            f"missing artifacts under {artifacts}: {', '.join(sorted(set(missing)))}\n"
            f"build them with `./pants package {' '.join(sorted({artifact_address(plan, p) for p in missing}))}` "
            "(or run from source: see --help)",
            file=sys.stderr,
        )
        return 2

    print(render(plan))
    how = {
        i.name: ("source" if launcher is not None and launcher(i, plan.role(i.role)) is not None else "pex")
        for i in plan.instances
    }
    print("runs: " + ", ".join(f"{name} from {kind}" for name, kind in how.items()))
    durations: list[float] = []
    session = Session.create(f"bench_cell_start {plan.name}")
    try:
        backend = make_backend(args.backend, session, launcher)
        for n in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix=f"bench-{plan.name}-") as work:
                started = time.perf_counter()
                deployment = backend.start(plan, artifacts, Path(work))
                took = time.perf_counter() - started
                deployment.stop()
            durations.append(took)
            print(f"run {n + 1}/{args.repeats}: {took:.3f}s", flush=True)
    except CompatMatrixError as exc:
        print(f"bench_cell_start: error: {exc}", file=sys.stderr)
        return 2
    finally:
        session.close()
    print(
        f"cell {plan.name} on the {args.backend} backend, start-to-healthy over {len(durations)} run(s): "
        f"min {min(durations):.3f}s  median {statistics.median(durations):.3f}s  max {max(durations):.3f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
