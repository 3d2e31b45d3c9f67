"""Benchmark: our edit loop against a seed-style docker-compose baseline, interleaved, in one run.

Run it from the repo (it never modifies your checkout; it benchmarks the committed HEAD)::

    ./pants run benchmarks/compat_matrix:bench-edit-loop -- --runs 3 --cold-runs 1
    ./pants run benchmarks/compat_matrix:bench-edit-loop -- --runs 1 --scenarios warm,edit

It prints one row per scenario: min / median seconds of the seed-style baseline and of
compat-matrix, and ours as a share of the baseline (ours / baseline, of the medians and of the
mins: below 1, compat-matrix is faster); then the one-line edit's floor and the edit against it.
Within every run the two sides alternate (the order flips from one run to the next), so machine
load hits both. It prints the machine's load average with every sample.

Scenarios, on conveyor's ``backcompat`` suite (its 4 cells, from ``./pants compat-plan --json``):

- ``cold``: nothing built. Ours: ``./pants --tag=backcompat --tag=docker test ::`` in a fresh clone
  with empty Pants caches (fresh ``PANTS_LOCAL_STORE_DIR`` / ``PANTS_NAMED_CACHES_DIR``, no
  ``.pants.d``, pantsd restarted) and none of its images. Baseline: an empty pip cache and wheelhouse
  (``pip download`` from the index), its 3 images built with no layer cache, then the 4 cells.
  "No images" on both sides: every cold round makes a new base image,
  ``compat-matrix/base:bench-<run id>-<round>`` (``$BASE_IMAGE`` plus a label, hence a new image id),
  and sets ``BASE_IMAGE`` to it for both sides, so every image above it is new; nothing another
  checkout built is touched or reused. The ``./pants`` launcher's own bootstrap (its CPython 3.9
  and Pants venv) is warmed once before measuring: it is not part of "cold".
- ``warm``: the same again, nothing changed (baseline: ``docker build`` of its 3 images, all layers
  cached, then the 4 cells up / checked / down; ours: every cell cached).
- ``edit``: append ``# edit N`` to ``src/python/conveyor/server/app.py`` in the clone, then the same
  (baseline: the branch image rebuilds its source layer, requirements layer cached, then 4 cells;
  ours: the cells whose server is on the branch rerun).
  After each edit run, its floor, measured then: Pants' no-op (the same ``./pants test`` again,
  nothing changed: every target cached) plus the cells the edit reruns (those whose server runs
  the branch) started at once by the harness's Python API outside Pants (docker backend, the
  edit's artifacts), waited ready, checked with the suite's checks and torn down (the deployment
  stopped, the session closed). The table gives the edit against it, run by run.
- ``start``: one cell (``user-code-earliest``) from start to every instance healthy. Ours: the
  harness's ``make_backend(...).start(plan, artifacts, workdir)`` (docker backend; the process
  backend is printed as an extra row). Baseline: ``docker-compose up -d`` until every container's
  healthcheck passes. Images are built beforehand on both sides; teardown is not timed.

The baseline (``seed_baseline.py``) is generated at run time in a temp directory: one Dockerfile
per version (requirements layer first, then the branch's sources or the release wheel), one
docker-compose file per cell (internal network, no published port, healthchecks,
``depends_on: service_healthy``), the cells run one after the other, each checked with the checks
of ``tests/python/integration/backcompat/test_backcompat.py`` over HTTP (conveyor's client) and
taken down with ``docker-compose down``. It needs Debian's ``docker-compose`` (installed with
apt-get when missing, as root on Debian).

Where the comparison is not like for like: the baseline runs its cells one after the other (as
seed scripts do; Pants runs ours concurrently); its readiness is compose healthchecks every 1 s
(``HEALTH_INTERVAL``; ours polls every 0.1 s); its wheels come through the host's pip configuration,
which may serve some from a local mirror (ours downloads what its lockfiles name); its containers
run without the docker backend's limits, watchdog and firewall rule; ours writes no matrix report
(``compat-report`` is a goal of its own, not run here). A full run with ``--runs 3 --cold-runs 1`` took about
5 minutes on an otherwise idle 2-core machine (8 on one busy with other Pants runs).

Everything it creates carries the label ``compat-matrix.bench=<run id>`` (images inherit it from
the benchmark's base image) and is removed on exit, Ctrl-C or SIGTERM; other containers and images
on the engine are left alone. Temp directories (clone, Pants caches, wheelhouse) are removed too.
A failing command stops the benchmark with a non-zero exit, naming the command and its last lines.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import seed_baseline as seed

from compat_core.cell_plan import CellPlan
from compat_core.contract import BASE_IMAGE_ENV
from compat_core.errors import CompatMatrixError
from compat_core.model import BRANCH
from compat_core.names import artifact_address
from compat_matrix import pants_toml
from compat_matrix.backends.registry import make_backend
from compat_matrix.session import Session
from compat_matrix.session_processes import pid_running
from compat_matrix.workspace import cells_from_plan_file, find_repo_root, pick_cell

SUITE = "tests/python/integration/backcompat:backcompat"
TEST_ARGS = ["--tag=backcompat", "--tag=docker", "test", "::"]
EDIT_FILE = "src/python/conveyor/server/app.py"
START_CELL = "user-code-earliest"
SCENARIOS = ("cold", "warm", "edit", "start")
SCENARIO_TITLES = {
    "cold": "cold",
    "warm": "warm, nothing changed",
    "edit": "one line changed in the server",
    "start": f"one cell ({START_CELL}), start to all healthy",
    "start-process": f"  (ours on the process backend, {START_CELL})",
    "noop": "  floor, part 1: Pants' no-op after the edit (nothing changed)",
    "floor-cells": "  floor, part 2: the edit's rerun cells at once, outside Pants (start, checks, teardown)",
    "floor": "  floor: no-op + cells, run by run; the one-line edit against it",
}
TAIL_LINES = 30
HEALTH_TIMEOUT = 180.0


class BenchError(Exception):
    """A step of the benchmark failed; the message names the command and its last output lines."""


# ---------------------------------------------------------------- commands


@dataclass
class Runner:
    """Runs commands, prints each one once (the exact argv, its directory and env overrides)."""

    shown: set[str] = field(default_factory=set)
    current: subprocess.Popen[str] | None = None

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        overrides: Mapping[str, str] | None = None,
        what: str = "",
        check: bool = True,
    ) -> tuple[float, str]:
        """Run ``argv``; return (seconds, combined output). Raises BenchError on a non-zero exit."""
        shown = " ".join(f"{k}={v}" for k, v in (overrides or {}).items())
        line = f"  $ (cd {cwd} && {shown + ' ' if shown else ''}{' '.join(argv)})"
        if line not in self.shown:
            self.shown.add(line)
            print(line, flush=True)
        started = time.perf_counter()
        self.current = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            output, _ = self.current.communicate()
        finally:
            code = self.current.wait()
            self.current = None
        took = time.perf_counter() - started
        if check and code != 0:
            tail = "\n".join(output.splitlines()[-TAIL_LINES:])
            raise BenchError(f"{what or argv[0]} failed (exit {code}): {' '.join(argv)}\n--- last lines ---\n{tail}")
        return took, output

    def stop_current(self) -> None:
        """Terminate the command running now (on Ctrl-C / SIGTERM): it is ours."""
        proc = self.current
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def clean_env() -> dict[str, str]:
    """This environment without what a ``./pants run`` wrapper adds (PEX_*, PANTS_*, PYTHONPATH)."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("PEX_", "PANTS_", "_PANTS")) and k != "PYTHONPATH"
    }


def ensure_compose(runner: Runner, cwd: Path) -> None:
    """Debian's docker-compose (1.29), installed with apt-get when missing (as root on Debian)."""
    if shutil.which("docker-compose"):
        return
    if os.geteuid() != 0 or not Path("/etc/debian_version").exists():
        raise BenchError("docker-compose is missing: install it (Debian: apt-get install docker-compose)")
    env = {**clean_env(), "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "docker-compose"]
    try:
        runner.run(install, cwd=cwd, env=env, what="install docker-compose")
    except BenchError:
        runner.run(["apt-get", "update"], cwd=cwd, env=env, what="apt-get update")
        runner.run(install, cwd=cwd, env=env, what="install docker-compose")


# ---------------------------------------------------------------- results


@dataclass
class Sample:
    seconds: float
    note: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])


@dataclass
class Results:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)

    def add(self, scenario: str, side: str, sample: Sample) -> None:
        self.samples.setdefault((scenario, side), []).append(sample)
        note = f"  ({sample.note})" if sample.note else ""
        print(f"  -> {scenario:6} {side:8} {sample.seconds:8.1f}s  load {sample.load:.1f}{note}", flush=True)

    def seconds(self, scenario: str, side: str = "ours") -> list[float]:
        return [s.seconds for s in self.samples.get((scenario, side), [])]

    def floors(self) -> list[float]:
        """Each edit run's floor: the no-op and the rerun cells measured after it."""
        return [a + b for a, b in zip(self.seconds("noop"), self.seconds("floor-cells"), strict=False)]

    def table(self) -> str:
        def stats(values: list[float]) -> tuple[float, float] | None:
            return (min(values), statistics.median(values)) if values else None

        def cell(s: tuple[float, float] | None) -> str:
            return f"{s[0]:.1f} / {s[1]:.1f} s" if s else "-"

        def share(ours: tuple[float, float] | None, of: tuple[float, float] | None) -> str:
            if not ours or not of or of[0] <= 0 or of[1] <= 0:
                return "-"
            return f"{ours[1] / of[1]:.2f}x ({ours[0] / of[0]:.2f}x)"

        loads = [s.load for samples in self.samples.values() for s in samples]
        rows = [
            "| scenario | seed-style baseline (min / median) | compat-matrix (min / median) | "
            "ours / baseline: of medians (of mins) | runs |",
            "|---|---|---|---|---|",
        ]
        for scenario in (*SCENARIOS, "start-process", "noop", "floor-cells"):
            base = stats(self.seconds(scenario, "baseline"))
            ours = stats(self.seconds(scenario))
            if ours is None and base is None:
                continue
            rows.append(
                f"| {SCENARIO_TITLES[scenario]} | {cell(base)} | {cell(ours)} | {share(ours, base)} | "
                f"{len(self.seconds(scenario))} |"
            )
        edits, floors = self.seconds("edit"), self.floors()
        if floors:
            each = ", ".join(f"{e / f:.2f}x" for e, f in zip(edits, floors, strict=False))
            rows.append(
                f"| {SCENARIO_TITLES['floor']} | - | {cell(stats(floors))} | edit / floor: "
                f"{share(stats(edits), stats(floors))}; by run {each} | {len(floors)} |"
            )
        if loads:
            rows.append(f"\nload average (1 min) at the samples: {min(loads):.1f} to {max(loads):.1f}")
        return "\n".join(rows)


# ---------------------------------------------------------------- ours: ./pants in a clean clone


SUMMARY = re.compile(r"^\s*[✓✕]\s+(\S+)\s+(succeeded|failed)(.*)$")


def pants_counts(output: str) -> tuple[int, int]:
    """(ran, cached) test targets from Pants' summary lines."""
    ran = cached = 0
    for line in output.splitlines():
        match = SUMMARY.match(line)
        if match:
            if "(cached" in match.group(3) or "(memoized" in match.group(3):
                cached += 1
            else:
                ran += 1
    return ran, cached


@dataclass
class Ours:
    """compat-matrix in its own clone: ``./pants ... test ::`` with caches the benchmark owns."""

    runner: Runner
    clone: Path
    scratch: Path
    base_image: str = ""
    caches: Path | None = None
    cells: int = 4

    def env(self) -> tuple[dict[str, str], dict[str, str]]:
        assert self.caches is not None
        overrides = {
            BASE_IMAGE_ENV: self.base_image,
            "PANTS_LOCAL_STORE_DIR": str(self.caches / "lmdb_store"),
            "PANTS_NAMED_CACHES_DIR": str(self.caches / "named_caches"),
        }
        return {**clean_env(), **overrides}, overrides

    def pants(self, args: Sequence[str], what: str) -> tuple[float, str]:
        env, overrides = self.env()
        return self.runner.run(["./pants", *args], cwd=self.clone, env=env, overrides=overrides, what=what)

    def fresh_caches(self) -> None:
        """Empty Pants caches for the clone: new cache dirs, no .pants.d / dist, pantsd stopped."""
        self.stop_pantsd()
        if self.caches is not None:
            shutil.rmtree(self.caches, ignore_errors=True)
        self.caches = Path(tempfile.mkdtemp(prefix="pants-caches-", dir=self.scratch))
        for name in (".pants.d", "dist", ".pids"):
            shutil.rmtree(self.clone / name, ignore_errors=True)

    def stop_pantsd(self) -> None:
        """Stop the clone's pantsd (started by this benchmark's runs there), if it runs."""
        for pid_file in (self.clone / ".pids").glob("*/pantsd/pid"):
            try:
                pid = int(pid_file.read_text().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                continue
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and pid_running(pid):
                time.sleep(0.1)  # bounded wait for the process we signalled to exit
            if pid_running(pid):
                os.kill(pid, signal.SIGKILL)

    def test(self) -> Sample:
        took, output = self.pants(TEST_ARGS, "./pants test (ours)")
        ran, cached = pants_counts(output)
        if ran + cached != self.cells:
            tail = "\n".join(output.splitlines()[-TAIL_LINES:])
            raise BenchError(
                f"./pants {' '.join(TEST_ARGS)} reported {ran + cached} test targets, expected {self.cells}\n{tail}"
            )
        return Sample(took, f"{ran} ran, {cached} cached")


# ---------------------------------------------------------------- the seed-style baseline


@dataclass
class Baseline:
    """The seed-style baseline: docker build per version, docker-compose per cell."""

    runner: Runner
    clone: Path
    scratch: Path
    run_id: str
    plan: Sequence[CellPlan]
    releases: Sequence[str]
    base_image: str = ""
    wheelhouse: Path | None = None
    pip_cache: Path | None = None
    active: set[tuple[Path, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        system = self.plan[0].system
        self.recipes = seed.recipes(self.clone, system, self.releases)
        self.pip_version = _pip_version(self.clone / seed.BRANCH_WHEELS)
        self.expected_branch = seed.branch_version(self.clone)

    def image(self, version: str) -> str:
        return f"compat-matrix-bench/{self.run_id}/{self.plan[0].system}:{version}"

    def fresh_caches(self) -> None:
        """Cold: an empty wheelhouse and pip cache (the images are new with the new base image)."""
        for path in (self.wheelhouse, self.pip_cache):
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)
        self.wheelhouse = Path(tempfile.mkdtemp(prefix="wheelhouse-", dir=self.scratch))
        self.pip_cache = Path(tempfile.mkdtemp(prefix="pip-cache-", dir=self.scratch))

    def build(self) -> str:
        """Fetch any missing wheelhouse, then ``docker build`` every version's image; a note."""
        assert self.wheelhouse is not None and self.pip_cache is not None
        env = {**clean_env(), "PIP_CACHE_DIR": str(self.pip_cache)}
        fetched = 0
        for version, recipe in self.recipes.items():
            dest = self.wheelhouse / version
            if not dest.exists():
                argv = [
                    "python3", "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--dest", str(dest), "-r", f"{dest}.requirements.txt",
                ]
                shown = f"  $ (PIP_CACHE_DIR={self.pip_cache} {' '.join(argv)})"
                if shown not in self.runner.shown:
                    self.runner.shown.add(shown)
                    print(shown, flush=True)
                try:
                    seed.fetch_wheels(recipe, self.pip_version, dest, env)
                except subprocess.CalledProcessError as exc:
                    raise BenchError(
                        f"pip download for {version} failed: {' '.join(exc.cmd)}\n{_tail(exc.stderr or '')}"
                    ) from None
                fetched += 1
        rebuilt: dict[str, int] = {}
        for version, recipe in self.recipes.items():
            context = self.scratch / "contexts" / version
            pip_wheel = next((self.wheelhouse / version).glob("pip-*.whl"))
            seed.write_context(
                recipe, context, self.wheelhouse / version, pip_wheel, self.clone / seed.BRANCH_SOURCES
            )
            argv = [
                "docker", "build", "--build-arg", f"{BASE_IMAGE_ENV}={self.base_image}",
                "--label", f"{seed.LABEL_BENCH}={self.run_id}", "-t", self.image(version), str(context),
            ]
            _, output = self.runner.run(argv, cwd=self.scratch, env=clean_env(), what=f"docker build {version}")
            rebuilt[version] = _rebuilt_steps(output)
        layers = ", ".join(f"{v} {n}" for v, n in rebuilt.items())
        return f"wheelhouses fetched {fetched}; build steps not from cache: {layers}"

    def compose_path(self, cell: CellPlan) -> Path:
        path = self.scratch / "compose" / f"{cell.name}.yml"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            images = {v: self.image(v) for v in self.recipes}
            path.write_text(json.dumps(seed.compose_file(cell, images, self.run_id), indent=2), encoding="utf-8")
        return path

    def compose(self, cell: CellPlan, *args: str) -> tuple[float, str]:
        path = self.compose_path(cell)
        project = seed.project_name(self.run_id, cell.name)
        argv = ["docker-compose", "-f", str(path), "-p", project, *args]
        return self.runner.run(argv, cwd=self.scratch, env=clean_env(), what=f"docker-compose {args[0]} {cell.name}")

    def up(self, cell: CellPlan) -> dict[str, str]:
        """``docker-compose up -d``, then wait until every container is healthy; their URLs by service."""
        project = seed.project_name(self.run_id, cell.name)
        self.active.add((self.compose_path(cell), project))
        self.compose(cell, "up", "-d")
        return wait_healthy(project, len(cell.instances), cell)

    def down(self, cell: CellPlan) -> None:
        project = seed.project_name(self.run_id, cell.name)
        self.compose(cell, "down", "--remove-orphans", "-t", str(seed.STOP_TIMEOUT))
        self.active.discard((self.compose_path(cell), project))

    def run_cell(self, cell: CellPlan) -> int:
        urls = self.up(cell)
        try:
            server = next(i for i in cell.instances if i.role == "server")
            expected = {
                i.role: (self.expected_branch if i.version == BRANCH else i.version) for i in cell.instances
            }
            return seed.run_checks(urls[server.name], expected)
        except seed.BaselineError as exc:
            raise BenchError(f"baseline cell {cell.name}: {exc}\n{_compose_logs(self, cell)}") from None
        finally:
            self.down(cell)

    def test(self) -> Sample:
        started = time.perf_counter()
        note = self.build()
        built = time.perf_counter() - started
        checks = sum(self.run_cell(cell) for cell in self.plan)
        took = time.perf_counter() - started
        return Sample(took, f"build {built:.1f}s; {note}; {len(self.plan)} cells, {checks} checks passed")

    def cleanup(self) -> None:
        for path, project in list(self.active):
            self.runner.run(
                ["docker-compose", "-f", str(path), "-p", project, "down", "--remove-orphans", "-t", "1"],
                cwd=self.scratch, env=clean_env(), check=False,
            )
        self.active.clear()


def _compose_logs(baseline: Baseline, cell: CellPlan) -> str:
    try:
        _, output = baseline.compose(cell, "logs", "--no-color", "--tail", "20")
    except BenchError as exc:
        return str(exc)
    return output


def wait_healthy(project: str, count: int, cell: CellPlan) -> dict[str, str]:
    """Poll the engine (0.1 s) until the project's ``count`` containers are healthy; their HTTP URLs."""
    import docker

    from compat_matrix.backends.docker_container import container_ports

    client = docker.from_env()
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while True:
            containers = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
            states = {c.labels.get("com.docker.compose.service", c.name): c.attrs["State"] for c in containers}
            dead = [name for name, s in states.items() if s.get("Status") in ("exited", "dead")]
            if dead:
                raise BenchError(f"baseline cell {cell.name}: {', '.join(dead)} exited before it was healthy")
            healthy = [n for n, s in states.items() if (s.get("Health") or {}).get("Status") == "healthy"]
            if len(healthy) == count:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"baseline cell {cell.name}: not healthy within {HEALTH_TIMEOUT:.0f}s: {states}")
            time.sleep(0.1)  # polling the engine's health status, not waiting blindly
        urls = {}
        for c in containers:
            service = c.labels["com.docker.compose.service"]
            role = next(i.role for i in cell.instances if i.name == service)
            ports = container_ports(cell.role(role))
            if ports:
                urls[service] = seed.http_url(c.attrs, next(iter(ports.values())))
        return urls
    finally:
        client.close()


def _rebuilt_steps(output: str) -> int:
    """Build steps the legacy builder did not take from its cache (ARG and FROM never are)."""
    steps = [m for m in re.findall(r"^Step \d+/\d+ : (\S+)", output, re.M) if m.upper() not in ("ARG", "FROM")]
    return max(0, len(steps) - output.count("---> Using cache"))


def _pip_version(lock: Path) -> str:
    body = "\n".join(line for line in lock.read_text(encoding="utf-8").splitlines() if not line.startswith("//"))
    return str(json.loads(body)["pip_version"])


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-TAIL_LINES:])


# ---------------------------------------------------------------- engine housekeeping


def make_base_image(runner: Runner, source: str, run_id: str, round_: int, scratch: Path) -> str:
    """A new base image: ``source`` plus the benchmark's label, so its id (and every image built on it) is new."""
    tag = f"compat-matrix/base:bench-{run_id}-{round_}"
    context = scratch / f"base-{round_}"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(
        f"FROM {source}\nLABEL {seed.LABEL_BENCH}={run_id} {seed.LABEL_BENCH}.round={round_}\n", encoding="utf-8"
    )
    runner.run(["docker", "build", "-q", "-t", tag, str(context)], cwd=scratch, env=clean_env(), what="base image")
    return tag


def remove_labelled(run_id: str, keep_base: str | None = None) -> None:
    """Remove this run's containers, networks and images (everything labelled with its run id).

    Images built on the benchmark's base images inherit the label, ours and the baseline's alike;
    no other image carries this run id.
    """
    import docker
    import docker.errors

    label = f"{seed.LABEL_BENCH}={run_id}"
    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"label": label}):
            try:
                container.remove(force=True, v=True)
            except docker.errors.APIError:
                pass
        for network in client.networks.list(filters={"label": label}):
            try:
                network.remove()
            except docker.errors.APIError:
                pass
        keep = client.images.get(keep_base).id if keep_base else None
        images = client.images.list(filters={"label": label})
        # Children before parents: the images with the most layers first.
        images.sort(key=lambda i: len(i.attrs.get("RootFS", {}).get("Layers", [])), reverse=True)
        for image in images:
            if image.id == keep:
                continue
            for _ in range(2):
                try:
                    client.images.remove(image.id, force=True, noprune=False)
                    break
                except docker.errors.ImageNotFound:
                    break
                except docker.errors.APIError:
                    time.sleep(0.5)  # a container of ours still being removed: one retry
    finally:
        client.close()


@contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves as Ctrl-C, so that cleanup runs either way."""

    def handler(signum: int, frame: types.FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- scenarios


def alternate(run: int, baseline: Callable[[], None], ours: Callable[[], None]) -> None:
    """Both sides, baseline first on odd runs, ours first on even runs."""
    for step in (baseline, ours) if run % 2 == 0 else (ours, baseline):
        step()


@dataclass
class Bench:
    args: argparse.Namespace
    runner: Runner
    repo: Path
    scratch: Path
    run_id: str
    clone: Path = field(init=False)
    results: Results = field(default_factory=Results)
    round: int = 0

    def setup(self) -> None:
        self.clone = self.scratch / "clone"
        head = subprocess.run(
            ["git", "-C", str(self.repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(self.repo), "status", "--porcelain", "--untracked-files=no"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        print(f"benchmarking commit {head[:12]} in a clone (uncommitted changes are not included{': there are some' if dirty else ''})")
        env = clean_env()
        self.runner.run(["git", "clone", "--quiet", "--no-checkout", str(self.repo), str(self.clone)],
                        cwd=self.scratch, env=env, what="git clone")
        self.runner.run(["git", "checkout", "--quiet", "--detach", head], cwd=self.clone, env=env, what="git checkout")
        self.edit_original = (self.clone / EDIT_FILE).read_text(encoding="utf-8")
        ensure_compose(self.runner, self.scratch)
        # The clone's own base image ([compat-matrix] in its pants.toml), unless the environment sets one.
        toml_text = (self.clone / "pants.toml").read_text(encoding="utf-8")
        self.source_base = pants_toml.compat_settings(toml_text).with_env(os.environ).base_image
        if subprocess.run(["docker", "image", "inspect", self.source_base], capture_output=True).returncode != 0:
            self.runner.run(["build-support/bootstrap/docker-engine.sh"], cwd=self.clone, env=env, what="docker engine")
            self.runner.run(["build-support/bootstrap/base-image.sh"], cwd=self.clone, env=env, what="base image")

        self.ours = Ours(self.runner, self.clone, self.scratch)
        self.ours.fresh_caches()
        print("warming the ./pants launcher (its Python and Pants venv; not measured) and planning the suite:")
        self.ours.pants(["--version"], "./pants --version")
        _, plan_json = self.ours.pants(["compat-plan", "--json", SUITE], "./pants compat-plan")
        plan_file = self.scratch / "plan.json"
        plan_file.write_text(plan_json[plan_json.index("{"):], encoding="utf-8")
        self.plan_file = plan_file
        cells = cells_from_plan_file(plan_file)
        self.ours.cells = len(cells)
        releases = sorted({i.version for c in cells for i in c.instances if i.version != BRANCH})
        self.baseline = Baseline(self.runner, self.clone, self.scratch, self.run_id, cells, releases)
        self.cells = cells
        print(f"cells: {', '.join(c.name for c in cells)}; versions: branch, {', '.join(releases)}")

    def new_base(self) -> None:
        """A new base image for both sides (the previous round's images removed first)."""
        if self.round:
            remove_labelled(self.run_id)
        self.round += 1
        base = make_base_image(self.runner, self.source_base, self.run_id, self.round, self.scratch)
        self.ours.base_image = self.baseline.base_image = base
        os.environ[BASE_IMAGE_ENV] = base  # for the harness's own image builds (start scenario)

    def cold(self, run: int) -> None:
        print(f"[cold {run + 1}/{self.args.cold_runs}] new base image, empty caches on both sides")
        self.new_base()
        self.ours.fresh_caches()
        self.baseline.fresh_caches()
        alternate(
            run,
            lambda: self.results.add("cold", "baseline", self.baseline.test()),
            lambda: self.results.add("cold", "ours", self.ours.test()),
        )

    def prime(self) -> None:
        """Without a cold scenario: build both sides once (not measured)."""
        print("[prime] building both sides once (not measured)")
        self.new_base()
        self.baseline.fresh_caches()
        self.baseline.test()
        self.ours.test()

    def warm(self, run: int) -> None:
        print(f"[warm {run + 1}/{self.args.runs}]")
        alternate(
            run,
            lambda: self.results.add("warm", "baseline", self.baseline.test()),
            lambda: self.results.add("warm", "ours", self.ours.test()),
        )

    def edit(self, run: int) -> None:
        marker = f"# edit {self.run_id}-{run + 1}"
        print(f"[edit {run + 1}/{self.args.runs}] appending {marker!r} to {EDIT_FILE}")
        (self.clone / EDIT_FILE).write_text(self.edit_original + marker + "\n", encoding="utf-8")
        alternate(
            run,
            lambda: self.results.add("edit", "baseline", self.baseline.test()),
            lambda: self.results.add("edit", "ours", self.ours.test()),
        )
        self.floor()

    def floor(self) -> None:
        """The edit's floor: Pants' no-op now, then the edit's rerun cells started, checked and torn
        down at once by the harness, outside Pants."""
        noop = self.ours.test()
        if not noop.note.startswith("0 ran"):
            raise BenchError(f"./pants {' '.join(TEST_ARGS)} again after the edit ran targets: {noop.note}")
        self.results.add("noop", "ours", noop)
        rerun = [c for c in self.cells if any(i.role == "server" and i.version == BRANCH for i in c.instances)]
        addresses = sorted({artifact_address(c, path) for c in rerun for i in c.instances for path in (i.pex, i.sources) if path})
        self.ours.pants(["package", *addresses], "./pants package (the edit's artifacts, for its floor)")
        took: dict[str, float] = {}
        errors: list[BaseException] = []

        def one(cell: CellPlan) -> None:
            try:
                took[cell.name] = self._harness_cell(cell)
            except BaseException as exc:  # raised again below, in the benchmark's thread
                errors.append(exc)

        started = time.perf_counter()
        threads = [threading.Thread(target=one, args=(c,)) for c in rerun]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        if errors:
            raise errors[0]
        each = ", ".join(f"{name} {s:.1f}s" for name, s in sorted(took.items()))
        self.results.add("floor-cells", "ours", Sample(wall, f"{len(rerun)} cells at once: {each}"))

    def _harness_cell(self, cell: CellPlan) -> float:
        """One cell as its test runs it, without Pants: its session, the docker backend's start,
        the checks, the deployment stopped and the session closed (its watchdogs stood down)."""
        expected = {i.role: (self.baseline.expected_branch if i.version == BRANCH else i.version) for i in cell.instances}
        with tempfile.TemporaryDirectory(prefix="floor-", dir=self.scratch) as work:
            started = time.perf_counter()
            session = Session.create(f"bench_edit_loop floor {cell.name}")
            try:
                deployment = make_backend("docker", session, None).start(cell, self.clone / "dist", Path(work))
                try:
                    seed.run_checks(deployment.first("server", "http").url(), expected)
                finally:
                    deployment.stop()
            finally:
                session.close()
            return time.perf_counter() - started

    def start(self, run: int) -> None:
        print(f"[start {run + 1}/{self.args.runs}] cell {START_CELL}")
        cell = pick_cell(self.cells, START_CELL, str(self.plan_file))
        if run == 0:
            self._prepare_start(cell)

        def baseline() -> None:
            project = seed.project_name(self.run_id, cell.name)
            started = time.perf_counter()
            self.baseline.active.add((self.baseline.compose_path(cell), project))
            self.baseline.compose(cell, "up", "-d")
            wait_healthy(project, len(cell.instances), cell)
            took = time.perf_counter() - started
            self.baseline.down(cell)
            self.results.add("start", "baseline", Sample(took, "docker-compose up -d until healthy"))

        def ours() -> None:
            for backend, scenario in (("docker", "start"), ("process", "start-process")):
                took = self._harness_start(cell, backend)
                self.results.add(scenario, "ours", Sample(took, f"{backend} backend start()"))

        alternate(run, baseline, ours)

    def _prepare_start(self, cell: CellPlan) -> None:
        """The cell's PEXes under the clone's dist/ and its images built (not measured)."""
        addresses = sorted({artifact_address(cell, path) for i in cell.instances for path in (i.pex, i.sources) if path})
        self.ours.pants(["package", *addresses], "./pants package (start scenario)")
        self.baseline.build()
        for backend in ("docker", "process"):
            self._harness_start(cell, backend)  # builds the harness's images from those PEXes once

    def _harness_start(self, cell: CellPlan, backend_name: str) -> float:
        session = Session.create(f"bench_edit_loop {cell.name}")
        try:
            backend = make_backend(backend_name, session, None)
            with tempfile.TemporaryDirectory(prefix="start-", dir=self.scratch) as work:
                started = time.perf_counter()
                deployment = backend.start(cell, self.clone / "dist", Path(work))
                took = time.perf_counter() - started
                deployment.stop()
        finally:
            session.close()
        return took

    def cleanup(self) -> None:
        self.runner.stop_current()
        try:
            self.baseline.cleanup()
        except AttributeError:
            pass
        try:
            self.ours.stop_pantsd()
        except AttributeError:
            pass
        remove_labelled(self.run_id)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of warm, edit and start (default 3)")
    parser.add_argument("--cold-runs", type=int, default=1, help="runs of cold (default 1)")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma list of {', '.join(SCENARIOS)} (default: all)"
    )
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp directory (clone, caches, compose files)")
    args = parser.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    repo = find_repo_root(Path.cwd(), Path(__file__).parent)
    # Unique on the engine: labels, tags and compose projects of other runs never match it.
    run_id = f"{os.getpid()}{uuid.uuid4().hex[:6]}"
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-edit-loop-{run_id}-"))
    runner = Runner()
    bench = Bench(args, runner, repo, scratch, run_id)
    started = time.perf_counter()
    print(f"bench_edit_loop: run id {run_id}, temp dir {scratch}; scenarios {', '.join(args.scenarios)}; "
          f"runs {args.runs}, cold runs {args.cold_runs}")
    print("commands:")
    code = 0
    try:
        with terminated_as_interrupt():
            bench.setup()
            if "cold" in args.scenarios:
                for run in range(args.cold_runs):
                    bench.cold(run)
            elif {"warm", "edit", "start"} & set(args.scenarios):
                bench.prime()
            for scenario in ("warm", "edit", "start"):
                if scenario in args.scenarios:
                    for run in range(args.runs):
                        getattr(bench, scenario)(run)
    except (BenchError, CompatMatrixError, seed.BaselineError) as exc:
        print(f"\nbench_edit_loop: FAILED: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("\nbench_edit_loop: interrupted; cleaning up", file=sys.stderr)
        code = 130
    finally:
        bench.cleanup()
        if not args.keep_temp:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n{bench.results.table()}")
    print(
        f"\nours / baseline below 1: compat-matrix is faster. Total wall time "
        f"{time.perf_counter() - started:.0f}s; load average at the end {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores."
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
