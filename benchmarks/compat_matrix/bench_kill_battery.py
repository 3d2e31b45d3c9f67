"""Kill battery: does a killed ``./pants test`` leave any of its cell behind?

For each backend and each kill, ``-n`` times: start ``./pants --tag=<cell> --tag=<backend> test
--force ::`` from the repo root, wait until the cell's instances are up (the session record lists
every instance; on docker, every container runs), kill, and count what is still there ``--wait``
seconds later (20 by default): the processes (the instances and their children, the session's
pytest and its process watchdog), the session's containers (watchdog containers included) and
networks, its session records, its host-isolation firewall rules, and its temporary directories
(every directory the record names: pytest's base temp, with the instances' data and logs, among them).
Then run the harness reaper, as the next ``./pants test`` would, and count again. Prints one line
per trial and a table per backend and kill.

The kills: ``SIGINT`` goes to the client's whole process group, as Ctrl-C in a terminal sends it;
``SIGTERM`` and ``SIGKILL`` go to the client process only; ``pytest-SIGKILL`` kills the pytest
process that runs the cell (the session's owner), as the OOM killer or a Pants timeout would.
``--no-watchdog`` runs the cells with ``COMPAT_MATRIX_NO_WATCHDOG=1`` (teardown and the reaper only),
for comparison.

Run it without holding pantsd, so that the ``./pants test`` runs it starts can use pantsd:
``./pants --concurrent run benchmarks/compat_matrix:bench-kill-battery -- -n 2``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from compat_core.contract import NO_WATCHDOG_ENV
from compat_core.labels import LABEL_CELL, LABEL_SESSION, LABEL_WATCHDOG_SESSION
from compat_matrix.reaper import reap
from compat_matrix.session import (
    SessionRecord,
    default_sessions_dir,
    list_sessions,
)
from compat_matrix.session_processes import process_running
from compat_matrix.testing_support import eventually
from compat_matrix.workspace import find_repo_root

KILLS = ("SIGINT", "SIGTERM", "SIGKILL", "pytest-SIGKILL")
# What a trial counts, in the order of its rows.
KINDS = ("processes", "containers", "networks", "records", "rules", "temp dirs")
Counts = dict[str, int]


def _zero() -> Counts:
    return dict.fromkeys(KINDS, 0)


@dataclass
class Trial:
    """What one kill left: at the kill, ``--wait`` seconds later, and after the reaper."""

    backend: str
    kill: str
    at_kill: Counts = field(default_factory=_zero)
    after_wait: Counts = field(default_factory=_zero)
    after_reap: Counts = field(default_factory=_zero)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Killed while the cell was up (not before it came up, not after its teardown)."""
        return self.at_kill["processes"] + self.at_kill["containers"] > 0


def _within(predicate: Callable[[], bool], timeout: float, what: str) -> bool:
    """Whether ``predicate`` turned true within ``timeout`` seconds (polled by ``eventually``)."""
    try:
        eventually(predicate, timeout, what)
    except AssertionError:
        return False
    return True


def _new_sessions(since: float, roles: tuple[str, ...]) -> list[SessionRecord]:
    return [
        r
        for r in list_sessions(default_sessions_dir())
        # The cell's own pytest session: not a harness test's fake cell running meanwhile.
        if r.created_at >= since
        and r.description.startswith("pytest")
        and all(p.instance.startswith(roles) for p in r.processes)
    ]


RUN_ENV = "COMPAT_MATRIX_KILL_BATTERY_RUN"
"""Set in the test process of each trial (a fresh value each): another run's cell of the same name
on this machine, whose session looks the same, is never counted or killed."""


def _ours(record: SessionRecord, run: str) -> bool:
    try:
        return psutil.Process(record.owner_pid).environ().get(RUN_ENV) == run
    except psutil.Error:
        return False


def _session_processes(record: SessionRecord) -> list[psutil.Process]:
    """The session's owner (pytest), its process watchdog, and every instance's process tree."""
    found: list[psutil.Process] = []
    try:
        found.append(psutil.Process(record.owner_pid))
    except psutil.Error:
        pass
    for p in record.processes:
        try:
            leader = psutil.Process(p.pid)
            found.extend([leader, *leader.children(recursive=True)])
        except psutil.Error:
            pass
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any("process_watchdog" in part for part in cmdline) and any(record.id in part for part in cmdline):
            found.append(proc)
    return found


class Engine:
    """Counts a session's docker resources (the docker SDK, only when the docker backend runs)."""

    def __init__(self) -> None:
        import docker

        self.client = docker.from_env()

    def cell_sessions(self, cell: str, since: float) -> set[str]:
        sessions = set()
        for c in self.client.containers.list(filters={"label": f"{LABEL_CELL}={cell}", "status": "running"}):
            created = c.attrs.get("Created", "")
            if created and _docker_time(created) >= since - 1:
                sessions.add(c.labels.get(LABEL_SESSION, ""))
        return sessions - {""}

    def running_instances(self, cell: str, sessions: set[str]) -> int:
        return sum(
            len(self.client.containers.list(filters={"label": [f"{LABEL_CELL}={cell}", f"{LABEL_SESSION}={s}"]}))
            for s in sessions
        )

    def count(self, sessions: set[str]) -> tuple[int, int]:
        containers = networks = 0
        for session in sessions:
            containers += len(self.client.containers.list(all=True, filters={"label": f"{LABEL_SESSION}={session}"}))
            containers += len(
                self.client.containers.list(all=True, filters={"label": f"{LABEL_WATCHDOG_SESSION}={session}"})
            )
            networks += len(self.client.networks.list(filters={"label": f"{LABEL_SESSION}={session}"}))
        return containers, networks


def _firewall_rules(sessions: set[str]) -> int:
    """The host-isolation rules (``docker_network``) that name one of ``sessions``."""
    from compat_matrix.backends.docker_network import RULE_COMMENT_PREFIX, Firewall

    try:
        rules = Firewall.detect().our_rules()
    except Exception:  # no iptables here: there are no rules to count
        return 0
    return sum(
        1 for _, words in rules if any(f"{RULE_COMMENT_PREFIX}{s}" in " ".join(words) for s in sessions)
    )


def _docker_time(text: str) -> float:
    from datetime import datetime

    # e.g. 2026-11-29T21:50:41.123456789Z: drop the nanoseconds Python cannot parse.
    base, _, rest = text.partition(".")
    return datetime.fromisoformat(base + "+00:00").timestamp()


@dataclass
class Watched:
    """What a trial found of its cell's session at the kill, to count again later."""

    sessions: set[str] = field(default_factory=set)
    processes: list[psutil.Process] = field(default_factory=list)
    # Directory -> its (device, inode) at the kill: another run may reuse a removed pytest-N's name.
    directories: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def watch(self, paths: Iterable[Path]) -> None:
        for path in paths:
            try:
                found = path.stat()
            except OSError:
                continue
            self.directories[path] = (found.st_dev, found.st_ino)

    def directories_left(self) -> list[Path]:
        left = []
        for path, identity in self.directories.items():
            try:
                found = path.stat()
            except OSError:
                continue
            if (found.st_dev, found.st_ino) == identity:
                left.append(path)
        return left


def _count(watched: Watched, engine: Engine | None) -> Counts:
    containers, networks = engine.count(watched.sessions) if engine is not None else (0, 0)
    records = [r for r in list_sessions(default_sessions_dir()) if r.id in watched.sessions]
    return {
        "processes": len({p.pid for p in watched.processes if process_running(p)}),
        "containers": containers,
        "networks": networks,
        "records": len(records),
        "rules": _firewall_rules(watched.sessions) if engine is not None else 0,
        "temp dirs": len(watched.directories_left()),
    }


def run_trial(
    root: Path,
    backend: str,
    kill: str,
    cell: str,
    roles: tuple[str, ...],
    instances: int,
    up_timeout: float,
    wait: float,
    watchdog: bool = True,
) -> Trial:
    trial = Trial(backend, kill)
    engine = Engine() if backend == "docker" else None
    since = time.time()
    run = uuid.uuid4().hex
    command = [
        str(root / "pants"), f"--tag={cell}", f"--tag={backend}", f"--test-extra-env-vars=+['{RUN_ENV}={run}']",
        "test", "--force", "::",
    ]
    if not watchdog:
        command.insert(-1, f"--test-extra-env-vars=+['{NO_WATCHDOG_ENV}=1']")
    client = subprocess.Popen(
        command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    watched = Watched()

    def up() -> bool:
        ours = [r for r in _new_sessions(since, roles) if _ours(r, run)]
        records = [r for r in ours if len(r.processes) >= instances or r.containers]
        if engine is not None:
            watched.sessions = engine.cell_sessions(cell, since) & {r.id for r in ours}
            return engine.running_instances(cell, watched.sessions) >= instances
        if not records:
            return False
        watched.sessions = {r.id for r in records}
        return all(psutil.pid_exists(p.pid) for r in records for p in r.processes)

    try:
        if not _within(up, up_timeout, "the cell up"):
            trial.notes.append(f"cell never came up within {up_timeout:.0f}s (exit {client.poll()})")
            return trial
        owners = []
        for record in list_sessions(default_sessions_dir()):
            if record.id in watched.sessions:
                owners.append(record.owner_pid)
                watched.processes.extend(_session_processes(record))
                watched.watch(Path(d) for d in (*record.directories, *record.temp_dirs))
        trial.at_kill = _count(watched, engine)
        if not trial.valid:
            trial.notes.append("the cell was already down at the kill: not counted")
            return trial
        if kill == "SIGINT":
            os.killpg(client.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        elif kill == "pytest-SIGKILL":
            for pid in owners:
                os.kill(pid, signal.SIGKILL)
        else:
            client.send_signal(getattr(signal, kill))
        time.sleep(wait)
        trial.after_wait = _count(watched, engine)
        left = sorted(str(d) for d in watched.directories_left())
        if left:
            trial.notes.append(f"directories left: {', '.join(left)}")
        result = reap()
        trial.notes.extend(result.problems)
        _within(lambda: engine is None or engine.count(watched.sessions) == (0, 0), 5.0, "the reaper done")
        trial.after_reap = _count(watched, engine)
        return trial
    finally:
        try:
            client.wait(timeout=60)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()


def _show(counts: Counts) -> str:
    return "/".join(str(counts[k]) for k in KINDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2, help="kills per backend and kind of kill (default 2)")
    parser.add_argument("--backend", action="append", choices=["process", "docker"], help="default: both")
    parser.add_argument("--kill", action="append", choices=KILLS, help=f"default: all of {', '.join(KILLS)}")
    parser.add_argument("--cell", default="user-code-earliest", help="the cell to run (default user-code-earliest)")
    parser.add_argument(
        "--roles", default="server,user-code", help="the cell's roles, comma-separated (default server,user-code)"
    )
    parser.add_argument("--instances", type=int, default=2, help="instances in the cell (default 2)")
    parser.add_argument("--up-timeout", type=float, default=300.0, help="seconds to wait for the cell")
    parser.add_argument("--wait", type=float, default=20.0, help="seconds after the kill to count (default 20)")
    parser.add_argument(
        "--no-watchdog", action="store_true", help=f"run the cells with {NO_WATCHDOG_ENV}=1, for comparison"
    )
    args = parser.parse_args(argv)
    root = find_repo_root(Path.cwd())
    roles = tuple(f"{r}-" for r in args.roles.split(",") if r)
    rows = []
    for backend in args.backend or ["process", "docker"]:
        for kill in args.kill or KILLS:
            trials: list[Trial] = []
            for index in range(args.n * 2):  # a trial that missed the cell is retried
                if sum(1 for t in trials if t.valid) == args.n:
                    break
                trial = run_trial(
                    root, backend, kill, args.cell, roles, args.instances, args.up_timeout, args.wait,
                    not args.no_watchdog,
                )
                print(
                    f"{backend:8} {kill:14} #{index + 1}: ({'/'.join(KINDS)}) at the kill {_show(trial.at_kill)}, "
                    f"{args.wait:g} s later {_show(trial.after_wait)}, after the reaper {_show(trial.after_reap)} "
                    f"{'; '.join(trial.notes)}",
                    flush=True,
                )
                trials.append(trial)
            rows.append((backend, kill, [t for t in trials if t.valid]))
    print()
    print(f"Left {args.wait:g} s after the kill (summed over the runs), then after the reaper")
    header = " | ".join(f"{k:>10}" for k in KINDS)
    print(f"{'backend':8} {'kill':14} {'runs':>4} | {header} | after reap")
    for backend, kill, ran in rows:
        left = {k: sum(t.after_wait[k] for t in ran) for k in KINDS}
        reaped = {k: sum(t.after_reap[k] for t in ran) for k in KINDS}
        cells = " | ".join(f"{left[k]:>10}" for k in KINDS)
        print(f"{backend:8} {kill:14} {len(ran):>4} | {cells} | {_show(reaped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
