"""The matrix model: roles, versions, topology, cells and suites as plain frozen data.

Pure: no I/O. Everything here can be built, compared, printed and unit-tested without Pants,
Docker or a running process. Validation lives in ``compat_matrix.validate``; expansion into
per-instance data lives in ``compat_matrix.plan``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BRANCH = "branch"
EARLIEST = "earliest"
LATEST = "latest"
ALIASES = (EARLIEST, LATEST)


@dataclass(frozen=True)
class Probe:
    """How to tell that an instance is ready.

    ``kind`` is one of ``"http"`` (GET ``path`` on ``port`` answers 2xx), ``"grpc-health"``
    (grpc.health.v1 Check on ``port`` answers SERVING) or ``"tcp"`` (``port`` accepts a
    connection). ``port`` names one of the role's ports.
    """

    kind: str
    port: str
    path: str = "/"
    timeout: float = 60.0
    interval: float = 0.1


@dataclass(frozen=True)
class RoleSpec:
    """One kind of process of the system under test, as every backend runs it.

    ``args`` are the arguments after the version's executable (``<pex> *args``), as
    ``str.format`` templates. Available fields: ``{host}`` (the address to bind),
    ``{port[NAME]}`` (this instance's port NAME), ``{name}`` (instance name),
    ``{data_dir}`` (a private writable directory), and ``{address[ROLE]}`` (``host:port`` of
    the first instance of ROLE's first port, as seen by peers).
    ``args_if_present`` adds arguments only when the topology includes the named role (for
    example the user-code role joins the scheduler only when a scheduler runs).
    ``depends_on`` are roles that must be healthy before this role starts (when present).
    ``log_files`` are paths (templates, relative to ``{data_dir}``) collected besides stdout/stderr.
    ``requires`` are roles the topology must include whenever it includes this role (a role
    that cannot run without them, e.g. a worker without a scheduler); ``depends_on`` alone
    only orders the start.
    ``cpus`` is the CPU limit of each instance where the backend can enforce one (docker:
    ``--cpus``); None takes the backend's default. ``COMPAT_MATRIX_DOCKER_CPUS`` overrides it.
    """

    name: str
    args: tuple[str, ...]
    ports: tuple[str, ...]
    readiness: Probe
    depends_on: tuple[str, ...] = ()
    args_if_present: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    log_files: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    cpus: float | None = None


@dataclass(frozen=True)
class System:
    """The system under test: its package name (for releases) and its roles."""

    name: str
    package: str
    roles: Mapping[str, RoleSpec]


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
    """A topology, its cells, and the test modules run in every cell.

    ``system`` names ``compat_matrix.systems.<system>``; ``backends`` are the backends the
    suite runs on; ``full_matrix`` opts into the generated every-version cells
    (``compat_matrix.declaration.full_matrix_cells``).
    """

    name: str
    topology: Topology
    cells: tuple[CellSpec, ...]
    modules: tuple[str, ...] = ()
    system: str = ""
    backends: tuple[str, ...] = ()
    full_matrix: bool = False


@dataclass(frozen=True)
class Releases:
    """The pinned releases of the system under test and the default ``earliest``."""

    package: str
    pinned: tuple[str, ...]
    earliest: str
    index: str = ""  # the release index (find-links dir or simple index), relative to the repo root

    @property
    def latest(self) -> str:
        from packaging.version import Version  # pure: parsing only

        return max(self.pinned, key=Version)


@dataclass(frozen=True)
class InstancePlan:
    """One process of a planned cell: which role, which concrete version, which artifacts."""

    role: str
    index: int
    name: str  # e.g. "worker-1"; unique within a cell
    version: str  # "branch" or a concrete pinned release "X.Y.Z"
    pex: str  # artifact path relative to the artifact root, e.g. "docker/pex-branch-server.pex"
    image: str  # image tag, e.g. "conveyor/server:branch"
    image_info: str  # docker-info.json path relative to the artifact root
    ports: tuple[str, ...]
    spec: str = ""  # the version as the cell declared it, e.g. "latest" (for display)


@dataclass(frozen=True)
class CellPlan:
    """A cell expanded to instances, in start (dependency) order."""

    suite: str
    cell: str
    instances: tuple[InstancePlan, ...]
    system: str = ""


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
        from compat_matrix.errors import UnknownCellError

        raise UnknownCellError(f"suite {self.suite!r} has no cell {name!r}; its cells are: {known}")


