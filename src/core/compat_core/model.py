"""The matrix model: systems, roles, releases, topology, cells, suites and plans as frozen data.

Pure and CPython 3.9-compatible: the Pants plugin builds these from BUILD-file fields, the
harness reads them back from a cell's JSON (``compat_core.codec``). Every value is hashable
(tuples, never dicts), because Pants hashes field values. Validation lives in
``compat_core.validate``, expansion in ``compat_core.plan``, naming in ``compat_core.names``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BRANCH = "branch"
EARLIEST = "earliest"
LATEST = "latest"
ALIASES = (EARLIEST, LATEST)

PROBE_KINDS = ("http", "grpc-health", "tcp", "log", "command")
"""Readiness probe kinds: ``http`` (GET ``path`` on ``port`` answers 2xx), ``grpc-health``
(grpc.health.v1 Check of ``service`` on ``port`` answers SERVING), ``tcp`` (``port`` accepts a
connection), ``log`` (a line of the instance's log matches the regex ``pattern``) and ``command``
(the instance's own executable run with ``args`` exits 0; for roles with no port)."""

PORT_PROBES = ("http", "grpc-health", "tcp")

COMMAND_KINDS = ("script", "module")
"""A role's command: a console ``script`` installed in the version's environment (e.g.
``dagster-webserver``), or a ``module`` entry point (``pkg.mod`` or ``pkg.mod:function``)."""


@dataclass(frozen=True)
class Probe:
    """How to tell that an instance is ready (see ``PROBE_KINDS``)."""

    kind: str
    port: str = ""
    path: str = "/"
    service: str = ""
    pattern: str = ""
    args: tuple[str, ...] = ()
    timeout: float = 60.0
    interval: float = 0.1


@dataclass(frozen=True)
class Command:
    """What a role runs from its version's artifact (see ``COMMAND_KINDS``)."""

    kind: str
    value: str

    def describe(self) -> str:
        return self.value if self.kind == "script" else "python -m " + self.value


@dataclass(frozen=True)
class RoleSpec:
    """One kind of process of a system, as every backend runs it.

    ``args``, ``env`` values, ``files`` paths and contents are ``str.format`` templates with:
    ``{host}`` (the address to bind), ``{port[NAME]}`` (this instance's port NAME), ``{name}``
    (instance name), ``{index}``, ``{data_dir}`` (a private writable directory), ``{shared_dir}``
    (a directory every instance of the deployment shares), ``{address[ROLE]}`` (``host:port`` of
    ROLE's first instance's first port, as peers reach it) and ``{peers[ROLE][I].host}`` /
    ``{peers[ROLE][I].port[NAME]}`` / ``{peers[ROLE][I].name}`` for every started instance.
    Literal braces are doubled (``{{`` and ``}}``).

    ``args_if_present`` adds arguments only when the topology runs the named role.
    ``depends_on``: roles that must be ready before this role starts (when present).
    ``requires``: roles a topology must run whenever it runs this one.
    ``branch``: the build addresses whose code the role's branch PEX holds (build-only).
    ``cpus`` / ``memory``: the container limits of each instance (docker backend), None for the
    backend's defaults.
    """

    name: str
    command: Command
    readiness: Probe
    args: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    depends_on: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    args_if_present: tuple[tuple[str, tuple[str, ...]], ...] = ()
    log_files: tuple[str, ...] = ()
    cpus: float | None = None
    memory: str | None = None
    branch: tuple[str, ...] = ()


@dataclass(frozen=True)
class Releases:
    """A system's pinned releases: per version the requirements that install it, and ``earliest``.

    ``resolves`` name each release's Pants resolve (a lockfile); ``branch`` the release that plays
    ``branch`` (never ``latest``); ``package`` is the distribution
    ``releases check`` looks for in ``index`` (a find-links directory or a simple index URL).
    """

    package: str
    pinned: tuple[str, ...]
    earliest: str
    index: str = ""
    requirements: tuple[tuple[str, tuple[str, ...]], ...] = ()
    resolves: tuple[tuple[str, str], ...] = ()
    branch: str = ""  # the release that plays branch (System.branch_release), if any

    @property
    def latest(self) -> str:
        """The newest pinned release; where a release plays branch, the newest other one (a
        ``latest`` cell would otherwise run the branch's own artifacts)."""
        from packaging.version import Version  # pure: parsing only

        others = [v for v in self.pinned if v != self.branch] or list(self.pinned)
        return max(others, key=Version)

    def requirements_of(self, version: str) -> tuple[str, ...]:
        return dict(self.requirements).get(version, ())

    def resolve_of(self, version: str) -> str:
        return dict(self.resolves).get(version, "")


@dataclass(frozen=True)
class System:
    """A product under test: its roles, where its branch code lives, and its pinned releases.

    ``branch_resolve`` is the resolve of every branch PEX. ``branch_release`` names a pinned
    release that plays ``branch`` for a product whose source is not in the repo (its branch
    artifacts are that release's). ``release_dependencies`` are in-repo targets shipped with every
    release PEX (adapters, test user code).
    """

    name: str
    role_specs: tuple[RoleSpec, ...]
    releases: Releases
    branch_resolve: str = "python-default"
    branch_release: str = ""
    release_dependencies: tuple[str, ...] = ()

    @property
    def roles(self) -> Mapping[str, RoleSpec]:
        """Role name -> spec, in declaration order."""
        return {role.name: role for role in self.role_specs}


@dataclass(frozen=True)
class Topology:
    """How many instances of each role a suite starts, in declaration order."""

    counts: tuple[tuple[str, int], ...]

    @staticmethod
    def of(counts: Mapping[str, int]) -> Topology:
        return Topology(tuple(counts.items()))

    def roles(self) -> tuple[str, ...]:
        return tuple(role for role, _ in self.counts)


@dataclass(frozen=True)
class CellSpec:
    """One cell: a version spec per role (``branch``, ``X.Y.Z``, ``earliest``, ``latest``).

    Roles not named run ``branch``.
    """

    name: str
    versions: tuple[tuple[str, str], ...] = ()

    def version_of(self, role: str) -> str:
        return dict(self.versions).get(role, BRANCH)


@dataclass(frozen=True)
class Suite:
    """A system, a topology, its cells, the backends and the test modules run in every cell."""

    name: str
    topology: Topology
    cells: tuple[CellSpec, ...]
    modules: tuple[str, ...] = ()
    system: str = ""
    backends: tuple[str, ...] = ()
    full_matrix: bool = False


@dataclass(frozen=True)
class InstancePlan:
    """One process of a planned cell: which role, which concrete version, which artifacts.

    Artifact paths are relative to the artifact root (the Pants test sandbox, or ``dist/``).
    """

    role: str
    index: int
    name: str  # e.g. "worker-1"; unique within a cell
    version: str  # "branch" or a concrete pinned release "X.Y.Z"
    pex: str
    image: str  # image reference, e.g. "compat-matrix/conveyor/server:branch"
    image_info: str  # docker-info.json path
    ports: tuple[str, ...]
    spec: str = ""  # the version as the cell declared it, e.g. "latest" (for display)
    runs: str = ""  # the release a "branch" instance runs, for systems with a branch_release


@dataclass(frozen=True)
class CellPlan:
    """A cell expanded to instances in start order, with the specs of the roles it runs."""

    suite: str
    cell: str
    instances: tuple[InstancePlan, ...]
    system: str = ""
    roles: tuple[RoleSpec, ...] = ()
    system_address: str = ""  # the compat_system target, for "build it with" hints

    def role(self, name: str) -> RoleSpec:
        for spec in self.roles:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.roles)
        from compat_core.errors import SuiteDeclarationError

        raise SuiteDeclarationError(f"cell {self.cell!r} runs no role {name!r}; its roles: {known}")

    def role_map(self) -> dict[str, RoleSpec]:
        return {spec.name: spec for spec in self.roles}


@dataclass(frozen=True)
class SuitePlan:
    """Every cell of a suite, planned."""

    suite: str
    cells: tuple[CellPlan, ...]
    system: str = ""

    def cell(self, name: str) -> CellPlan:
        for cell in self.cells:
            if cell.cell == name:
                return cell
        known = ", ".join(c.cell for c in self.cells)
        from compat_core.errors import UnknownCellError

        raise UnknownCellError(f"suite {self.suite!r} has no cell {name!r}; its cells are: {known}")


__all__ = (
    "ALIASES",
    "BRANCH",
    "COMMAND_KINDS",
    "EARLIEST",
    "LATEST",
    "PORT_PROBES",
    "PROBE_KINDS",
    "CellPlan",
    "CellSpec",
    "Command",
    "InstancePlan",
    "Probe",
    "Releases",
    "RoleSpec",
    "Suite",
    "SuitePlan",
    "System",
    "Topology",
)
