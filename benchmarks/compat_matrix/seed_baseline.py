"""The seed-style baseline of ``bench_edit_loop.py``: what a team without compat-matrix runs today.

One Docker image per version (the branch and each pinned release), each from a hand-written
Dockerfile in the usual style: ``FROM`` the base image, the version's third-party requirements
layer first, then the product (the branch's sources ``COPY``'d in, or the release wheel). One
docker-compose file per cell (server + user-code on an ``internal`` network, healthchecks,
``depends_on: service_healthy``), brought up, checked over HTTP with conveyor's client, and taken
down, one cell after the other.

Everything is generated at run time into a directory outside the repo; nothing here is committed
output. The requirements come from the repo's lockfiles (a release: its own lockfile; the branch:
the packages conveyor declares, closed over ``python-default.lock``), so both sides install the same
pinned versions. Containers cannot reach the package index, so the wheels are fetched on the host
with the host's pip (its configuration honoured) and installed in the image with ``--no-index``,
by pip run from its own wheel (the base image has no pip).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from compat_core.cell_plan import CellPlan
from compat_core.model import BRANCH, RoleSpec
from compat_matrix.backends.common import Peer, render_role
from compat_matrix.backends.docker_container import BIND_HOST, container_ports

LABEL_BENCH = "compat-matrix.bench"
"""On everything the benchmark creates (images, containers, networks): its value is the run id."""

DATA_DIR = "/data"
SHARED_DIR = "/shared"
HEALTH_INTERVAL = "1s"
"""Compose healthcheck interval. Compose files usually say 5-30 s; 1 s is generous to the baseline."""
STOP_TIMEOUT = 5
"""``docker-compose down -t``: the same grace period the docker backend gives a container."""

PRODUCT = "conveyor"
BRANCH_WHEELS = "3rdparty/python/python-default.lock"
RELEASE_LOCK = "3rdparty/python/releases/{system}-{version}.lock"
RELEASE_WHEELS = "3rdparty/python/releases/wheels"
BRANCH_SOURCES = "src/python/conveyor"


class BaselineError(Exception):
    """The baseline could not be generated or a step of it failed."""


# ---------------------------------------------------------------- requirements from the lockfiles


def read_lock(path: Path) -> dict[str, dict[str, object]]:
    """A Pants (pex) lockfile's locked requirements, by canonical project name."""
    body = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("//"))
    data = json.loads(body)
    (resolve,) = data["locked_resolves"]
    return {canonicalize_name(str(r["project_name"])): r for r in resolve["locked_requirements"]}


def lock_requirements(path: Path) -> list[str]:
    """The requirements a lockfile was generated from (its metadata header)."""
    header = "\n".join(line[2:] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("//"))
    match = re.search(r"--- BEGIN PANTS LOCKFILE METADATA: DO NOT EDIT OR REMOVE ---(.*)--- END", header, re.S)
    if not match:
        raise BaselineError(f"{path} has no Pants lockfile metadata header; regenerate it with ./pants generate-lockfiles")
    return [str(r) for r in json.loads(match.group(1))["generated_with_requirements"]]


def closure(locked: Mapping[str, Mapping[str, object]], roots: Iterable[str], source: Path) -> dict[str, str]:
    """Every project ``roots`` need (extras and markers evaluated here: CPython 3.11 on Linux, as
    in the image), pinned to the locked version: ``{name: version}``."""
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = [Requirement(r) for r in roots]
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        entry = locked.get(name)
        if entry is None:
            raise BaselineError(f"{req.name} is not locked in {source}; regenerate the lockfile")
        pins[name] = str(entry["version"])
        requires = entry.get("requires_dists") or []
        for text in requires if isinstance(requires, list) else []:
            dep = Requirement(str(text))
            if dep.marker is None or any(_marker_true(dep.marker, e) for e in (*req.extras, "")):
                queue.append(dep)
    return pins


def _marker_true(marker: Marker, extra: str) -> bool:
    return marker.evaluate({"extra": extra})


def wheel_requirements(wheel: Path) -> list[str]:
    """A wheel's ``Requires-Dist`` lines (what the package declares it needs)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode("utf-8")
    return [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]


@dataclass(frozen=True)
class VersionRecipe:
    """What one version's image installs: pinned third-party requirements, then the product."""

    version: str
    pins: Mapping[str, str]
    wheel: Path | None  # a release's wheel; None for the branch (its sources are copied)

    def requirements_txt(self) -> str:
        return "".join(f"{name}=={version}\n" for name, version in sorted(self.pins.items()))


def recipes(repo: Path, system: str, releases: Sequence[str]) -> dict[str, VersionRecipe]:
    """One recipe per version: ``branch`` and every release in ``releases``.

    A release installs its own lockfile (minus the product, which comes from its wheel). The
    branch installs what the newest release wheel declares plus the non-product requirements every
    release lockfile adds (e.g. ``ipyparallel``), pinned by ``python-default.lock``: the same
    versions Pants builds the branch's PEXes from.
    """
    out: dict[str, VersionRecipe] = {}
    extra_roots: set[str] = set()
    for version in releases:
        lock = repo / RELEASE_LOCK.format(system=system, version=version)
        locked = read_lock(lock)
        wanted = lock_requirements(lock)
        product = [r for r in wanted if canonicalize_name(Requirement(r).name) == PRODUCT]
        extra_roots.update(r for r in wanted if r not in product)
        pins = {n: v for n, v in closure(locked, wanted, lock).items() if n != PRODUCT}
        wheels = sorted((repo / RELEASE_WHEELS).glob(f"{PRODUCT}-{version}-*.whl"))
        if not wheels:
            raise BaselineError(f"no wheel of {PRODUCT} {version} in {RELEASE_WHEELS}")
        out[version] = VersionRecipe(version, pins, wheels[0])
    newest = out[sorted(releases, key=_version_key)[-1]].wheel
    assert newest is not None
    roots = [*wheel_requirements(newest), *sorted(extra_roots)]
    lock = repo / BRANCH_WHEELS
    out[BRANCH] = VersionRecipe(BRANCH, closure(read_lock(lock), roots, lock), None)
    return out


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


# ---------------------------------------------------------------- images


def fetch_wheels(recipe: VersionRecipe, pip_version: str, dest: Path, env: Mapping[str, str]) -> list[str]:
    """``pip download`` (the host's pip and configuration) of a recipe's pins and of pip itself."""
    dest.mkdir(parents=True, exist_ok=True)
    reqs = dest.parent / f"{dest.name}.requirements.txt"
    reqs.write_text(recipe.requirements_txt() + f"pip=={pip_version}\n", encoding="utf-8")
    command = [
        "python3", "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--dest", str(dest), "-r", str(reqs),
    ]
    subprocess.run(command, check=True, env=dict(env), capture_output=True, text=True)
    return command


def dockerfile(recipe: VersionRecipe, pip_wheel: str) -> str:
    """The seed-style Dockerfile: requirements layer first, then the product."""
    pip = f"python3 /opt/pip/{pip_wheel}/pip"
    install = f"{pip} install --no-index --disable-pip-version-check --find-links /tmp/wheels"
    lines = [
        "ARG BASE_IMAGE",
        "FROM ${BASE_IMAGE}",
        "# The base image has no pip: pip runs from its own wheel.",
        f"COPY {pip_wheel} /opt/pip/{pip_wheel}",
        "COPY requirements.txt /tmp/requirements.txt",
        "COPY wheels/ /tmp/wheels/",
        f"RUN {install} --target /opt/deps -r /tmp/requirements.txt && rm -rf /tmp/wheels",
        "ENV PYTHONPATH=/opt/product:/opt/deps PYTHONDONTWRITEBYTECODE=1",
    ]
    if recipe.wheel is None:
        lines.append(f"COPY src/ /opt/product/{PRODUCT}/")
    else:
        lines += [
            f"COPY {recipe.wheel.name} /tmp/{recipe.wheel.name}",
            f"RUN {pip} install --no-index --disable-pip-version-check --no-deps --target /opt/product "
            f"/tmp/{recipe.wheel.name} && rm /tmp/{recipe.wheel.name}",
        ]
    return "\n".join(lines) + "\n"


def write_context(
    recipe: VersionRecipe, context: Path, wheelhouse: Path, pip_wheel: Path, branch_sources: Path
) -> None:
    """The build context: Dockerfile, requirements.txt, wheels/, pip's wheel, and the product.

    Rewritten before every build (as a checkout's files are): Docker's layer cache compares
    content, not timestamps.
    """
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text(dockerfile(recipe, pip_wheel.name), encoding="utf-8")
    (context / "requirements.txt").write_text(recipe.requirements_txt(), encoding="utf-8")
    wheels = context / "wheels"
    wheels.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if wheel.name != pip_wheel.name:
            _link(wheel, wheels / wheel.name)
    _link(pip_wheel, context / pip_wheel.name)
    if recipe.wheel is None:
        shutil.copytree(branch_sources, context / "src", ignore=shutil.ignore_patterns("__pycache__", "BUILD"))
    else:
        _link(recipe.wheel, context / recipe.wheel.name)


def _link(source: Path, target: Path) -> None:
    try:
        target.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, target)


# ---------------------------------------------------------------- compose


def module_command(role: RoleSpec) -> list[str]:
    """The role's command run with the image's python3 (a module ``pkg.mod:func``)."""
    if role.command.kind != "module":
        raise BaselineError(f"role {role.name}: the baseline runs module commands only, not {role.command.kind}")
    module, _, func = role.command.value.partition(":")
    if not func:
        return ["python3", "-m", module]
    return ["python3", "-c", f"import sys; from {module} import {func}; sys.exit({func}())"]


def healthcheck(role: RoleSpec, ports: Mapping[str, int]) -> list[str]:
    """A compose healthcheck doing what the role's readiness probe does, from inside the container."""
    readiness = role.readiness
    port = ports.get(readiness.port, 0)
    if readiness.kind == "http":
        code = f"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}{readiness.path}', timeout=3)"
    elif readiness.kind == "grpc-health":
        code = (
            "import grpc, sys; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; "
            f"c = grpc.insecure_channel('127.0.0.1:{port}'); "
            f"r = g.HealthStub(c).Check(h.HealthCheckRequest(service={readiness.service!r}), timeout=3); "
            "sys.exit(0 if r.status == h.HealthCheckResponse.SERVING else 1)"
        )
    elif readiness.kind == "tcp":
        code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3).close()"
    else:
        raise BaselineError(f"role {role.name}: no compose healthcheck for readiness {readiness.kind!r}")
    return ["CMD", "python3", "-c", code]


def compose_file(plan: CellPlan, images: Mapping[str, str], run_id: str) -> dict[str, object]:
    """The cell's docker-compose file (format 2.4, for ``depends_on: condition``): one service per
    instance, an internal network, no published port; JSON is valid YAML."""
    services: dict[str, object] = {}
    peers: dict[str, list[Peer]] = {}
    present = {i.role for i in plan.instances}
    labels = {LABEL_BENCH: run_id}
    for instance in plan.instances:  # the plan lists instances in start order
        spec = plan.role(instance.role)
        ports = container_ports(spec)
        rendered = render_role(spec, instance, ports, DATA_DIR, SHARED_DIR, peers, present, host=BIND_HOST)
        service: dict[str, object] = {
            "image": images[instance.version],
            "command": [*module_command(spec), *rendered.args],
            "environment": dict(rendered.env),
            "labels": labels,
            "networks": ["cell"],
            "tmpfs": [DATA_DIR, SHARED_DIR],
            "healthcheck": {
                "test": healthcheck(spec, ports),
                "interval": HEALTH_INTERVAL,
                "timeout": "5s",
                "retries": 120,
            },
        }
        gates = [r for r in spec.depends_on if r in present]
        if gates:
            service["depends_on"] = {
                i.name: {"condition": "service_healthy"} for i in plan.instances if i.role in gates
            }
        services[instance.name] = service
        peers.setdefault(instance.role, []).append(Peer(instance.name, instance.name, ports))
    return {
        "version": "2.4",
        "services": services,
        "networks": {"cell": {"internal": True, "labels": labels}},
    }


def project_name(run_id: str, cell: str) -> str:
    """A compose project name (1.29 keeps only [a-z0-9]): unique to the run and cell."""
    return re.sub(r"[^a-z0-9]", "", f"cmbench{run_id}{cell}".lower())


def http_url(container_attrs: Mapping[str, object], port: int) -> str:
    """``http://<bridge IP>:port`` of a container (no port is published)."""
    settings = container_attrs.get("NetworkSettings", {})
    networks = settings.get("Networks", {}) if isinstance(settings, dict) else {}
    for network in networks.values():
        if network.get("IPAddress"):
            return f"http://{network['IPAddress']}:{port}"
    raise BaselineError(f"container {container_attrs.get('Name')} has no IP address")


# ---------------------------------------------------------------- checks


def run_checks(url: str, expected: Mapping[str, str], timeout: float = 60.0) -> int:
    """The checks of tests/python/integration/backcompat/test_backcompat.py, against ``url``.

    ``expected`` maps role (server, user-code) to the version it must report. Returns how many
    checks passed (all of them, or it raises).
    """
    from conveyor.client import Client

    client = Client(url)

    def check(ok: bool, what: str, detail: object) -> None:
        if not ok:
            raise BaselineError(f"check failed at {url}: {what}: {detail}")

    names = {job["name"] for job in client.jobs()}
    check({"add", "sum_squares", "where", "fail"} <= names, "jobs listed", sorted(names))
    run = client.wait(client.submit("add", {"a": 19, "b": 23}), timeout=timeout)
    check(run["status"] == "SUCCESS" and run["result"] == 42, "add returns 42", run)
    run = client.wait(client.submit("sum_squares", {"n": 12}), timeout=timeout)
    check(run["status"] == "SUCCESS" and run["result"] == sum(i * i for i in range(12)), "sum_squares", run)
    info = client.info()
    check(info["server"]["version"] == expected["server"], "server version", info)
    location = info["code_location"]
    check(location["status"] == "ok" and location["version"] == expected["user-code"], "code location", info)
    run = client.wait(client.submit("fail", {"message": "backcompat-boom-7"}), timeout=timeout)
    check(run["status"] == "FAILURE" and "backcompat-boom-7" in (run["error"] or ""), "failing job", run)
    after = client.wait(client.submit("add", {"a": 1, "b": 1}), timeout=timeout)
    check(after["status"] == "SUCCESS", "serving after a failure", after)
    return 5


def branch_version(repo: Path) -> str:
    """``__version__`` of the product's branch sources (what a branch role reports)."""
    text = (repo / BRANCH_SOURCES / "version.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise BaselineError(f"no __version__ in {BRANCH_SOURCES}/version.py")
    return match.group(1)


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (for printed commands)."""
    try:
        return str(PurePath(path).relative_to(root))
    except ValueError:
        return str(path)


__all__ = (
    "LABEL_BENCH",
    "STOP_TIMEOUT",
    "BaselineError",
    "VersionRecipe",
    "branch_version",
    "compose_file",
    "dockerfile",
    "fetch_wheels",
    "http_url",
    "project_name",
    "recipes",
    "run_checks",
    "write_context",
)
