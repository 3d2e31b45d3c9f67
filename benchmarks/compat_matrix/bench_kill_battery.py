"""Kill battery: does a killed ``./pants test`` leave any of its cell behind?

For each backend and each signal (SIGINT, SIGTERM, SIGKILL), ``-n`` times: start
``./pants --tag=<cell> --tag=<backend> test --force ::`` from the repo root, wait until the cell's
instances are up (the session record lists every instance; on docker, every container runs),
send the signal to the ``./pants`` client, and count what is still there 10 seconds later:
instance processes and their children (process backend), and the session's containers,
networks and watchdog containers (docker backend). Then run the harness reaper, as the next
``./pants test`` would, and count again. Prints one row per backend and signal.

SIGINT goes to the client's whole process group, as Ctrl-C in a terminal sends it; SIGTERM and
SIGKILL go to the client process only. ``--no-watchdog`` runs the cells with
``COMPAT_MATRIX_NO_WATCHDOG=1`` (teardown and the reaper only), for comparison.

Run it without holding pantsd, so that the ``./pants test`` runs it starts can use pantsd:
``./pants --concurrent run benchmarks/compat_matrix:bench-kill-battery -- -n 5``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from compat_matrix.reaper import reap
from compat_matrix.session import (
    LABEL_SESSION,
    NO_WATCHDOG_ENV,
    SessionRecord,
    default_sessions_dir,
    list_sessions,
)
from compat_matrix.testing import eventually
from compat_matrix.workspace import find_repo_root

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
CELL_LABEL = "compat-matrix.cell"
WATCHDOG_SESSION_LABEL = "compat-matrix.watchdog-session"


@dataclass
class Trial:
    """What one kill left: (processes, containers, networks) 10 s later and after the reaper."""

    backend: str
    signal: str
    at_kill: tuple[int, int, int] = (0, 0, 0)
    after_10s: tuple[int, int, int] = (0, 0, 0)
    after_reap: tuple[int, int, int] = (0, 0, 0)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Killed while the cell was up (not before it came up, not after its teardown)."""
        return self.at_kill != (0, 0, 0)


def _within(predicate: Callable[[], bool], timeout: float, what: str) -> bool:
    """Whether ``predicate`` turned true within ``timeout`` seconds (polled by ``eventually``)."""
    try:
        eventually(predicate, timeout, what)
    except AssertionError:
        return False
    return True


def _new_sessions(since: float) -> list[SessionRecord]:
    return [
        r
        for r in list_sessions(default_sessions_dir())
        # The cell's own pytest session: not a harness test's fake cell running meanwhile.
        if r.created_at >= since
        and r.description.startswith("pytest")
        and all(p.instance.startswith(("server-", "user-code-")) for p in r.processes)
    ]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Engine:
    """Counts a session's docker resources (the docker SDK, only when the docker backend runs)."""

    def __init__(self) -> None:
        import docker

        self.client = docker.from_env()

    def cell_sessions(self, cell: str, since: float) -> set[str]:
        sessions = set()
        for c in self.client.containers.list(filters={"label": f"{CELL_LABEL}={cell}", "status": "running"}):
            created = c.attrs.get("Created", "")
            if created and _docker_time(created) >= since - 1:
                sessions.add(c.labels.get(LABEL_SESSION, ""))
        return sessions - {""}

    def running_instances(self, cell: str, sessions: set[str]) -> int:
        return sum(
            len(self.client.containers.list(filters={"label": [f"{CELL_LABEL}={cell}", f"{LABEL_SESSION}={s}"]}))
            for s in sessions
        )

    def count(self, sessions: set[str]) -> tuple[int, int]:
        containers = networks = 0
        for session in sessions:
            containers += len(self.client.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={session}"}))
            containers += len(
                self.client.containers.list(all=True, filters={"label": f"{WATCHDOG_SESSION_LABEL}={session}"})
            )
            networks += len(self.client.networks.list(filters={"label": f"{LABEL_SESSION}={session}"}))
        return containers, networks


def _docker_time(text: str) -> float:
    from datetime import datetime

    # e.g. 2026-11-29T21:50:41.123456789Z: drop the nanoseconds Python cannot parse.
    base, _, rest = text.partition(".")
    return datetime.fromisoformat(base + "+00:00").timestamp()


def run_trial(
    root: Path, backend: str, sig_name: str, cell: str, instances: int, up_timeout: float, watchdog: bool = True
) -> Trial:
    trial = Trial(backend, sig_name)
    engine = Engine() if backend == "docker" else None
    since = time.time()
    command = [str(root / "pants"), f"--tag={cell}", f"--tag={backend}", "test", "--force", "::"]
    if not watchdog:
        command.insert(-1, f"--test-extra-env-vars={NO_WATCHDOG_ENV}=1")
    client = subprocess.Popen(
        command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    tree: list[psutil.Process] = []
    sessions: set[str] = set()

    def up() -> bool:
        nonlocal sessions
        records = [r for r in _new_sessions(since) if len(r.processes) >= instances or r.containers]
        if engine is not None:
            sessions = engine.cell_sessions(cell, since)
            return engine.running_instances(cell, sessions) >= instances
        if not records:
            return False
        sessions = {r.id for r in records}
        return all(psutil.pid_exists(p.pid) for r in records for p in r.processes)

    try:
        if not _within(up, up_timeout, "the cell up"):
            trial.notes.append(f"cell never came up within {up_timeout:.0f}s (exit {client.poll()})")
            return trial
        for record in _new_sessions(since) if engine is None else []:
            for p in record.processes:
                try:
                    leader = psutil.Process(p.pid)
                    tree.extend([leader, *leader.children(recursive=True)])
                except psutil.Error:
                    pass
        at_kill = engine.count(sessions) if engine is not None else (0, 0)
        trial.at_kill = (sum(1 for p in tree if _alive(p)), *at_kill)
        if trial.at_kill == (0, 0, 0):
            trial.notes.append("the cell was already down at the kill: not counted")
            return trial
        if sig_name == "SIGINT":
            os.killpg(client.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        else:
            client.send_signal(SIGNALS[sig_name])
        time.sleep(10.0)
        docker_counts = engine.count(sessions) if engine is not None else (0, 0)
        trial.after_10s = (sum(1 for p in tree if _alive(p)), *docker_counts)
        result = reap()
        trial.notes.extend(result.problems)
        _within(lambda: engine is None or engine.count(sessions) == (0, 0), 5.0, "the reaper done")
        docker_counts = engine.count(sessions) if engine is not None else (0, 0)
        trial.after_reap = (sum(1 for p in tree if _alive(p)), *docker_counts)
        return trial
    finally:
        try:
            client.wait(timeout=60)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="kills per backend and signal (default 5)")
    parser.add_argument("--backend", action="append", choices=["process", "docker"], help="default: both")
    parser.add_argument("--signal", action="append", choices=sorted(SIGNALS), help="default: all three")
    parser.add_argument("--cell", default="user-code-earliest", help="the cell to run (default user-code-earliest)")
    parser.add_argument("--instances", type=int, default=2, help="instances in the cell (default 2)")
    parser.add_argument("--up-timeout", type=float, default=300.0, help="seconds to wait for the cell")
    parser.add_argument(
        "--no-watchdog", action="store_true", help=f"run the cells with {NO_WATCHDOG_ENV}=1, for comparison"
    )
    args = parser.parse_args(argv)
    root = find_repo_root(Path.cwd())
    rows = []
    for backend in args.backend or ["process", "docker"]:
        for sig_name in args.signal or ["SIGINT", "SIGTERM", "SIGKILL"]:
            trials: list[Trial] = []
            for index in range(args.n * 2):  # a trial that missed the cell is retried
                if sum(1 for t in trials if t.valid) == args.n:
                    break
                trial = run_trial(
                    root, backend, sig_name, args.cell, args.instances, args.up_timeout, not args.no_watchdog
                )
                print(
                    f"{backend:8} {sig_name:8} #{index + 1}: (processes, containers, networks) at the kill "
                    f"{trial.at_kill}, left after 10 s {trial.after_10s}, after the reaper {trial.after_reap} "
                    f"{'; '.join(trial.notes)}",
                    flush=True,
                )
                trials.append(trial)
            rows.append((backend, sig_name, trials))
    print()
    print(f"{'backend':8} {'signal':8} {'runs':>4} {'dirty@10s':>9} {'left@10s (p/c/n)':>18} {'left after reap':>16}")
    for backend, sig_name, trials in rows:
        ran = [t for t in trials if t.valid]
        dirty = sum(1 for t in ran if t.after_10s != (0, 0, 0))
        left = tuple(sum(t.after_10s[i] for t in ran) for i in range(3))
        reaped = tuple(sum(t.after_reap[i] for t in ran) for i in range(3))
        print(f"{backend:8} {sig_name:8} {len(ran):>4} {dirty:>9} {str(left):>18} {str(reaped):>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
