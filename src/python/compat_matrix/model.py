"""The matrix model: roles, versions, topology, cells and suites as plain frozen data.

Pure: no I/O. Everything here can be built, compared, printed and unit-tested without Pants,
Docker or a running process. Validation lives in ``compat_matrix.validate``; expansion into
per-instance data lives in ``compat_matrix.plan``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Tuple

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
    """

    name: str
    args: Tuple[str, ...]
    ports: Tuple[str, ...]
    readiness: Probe
    depends_on: Tuple[str, ...] = ()
    args_if_present: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    log_files: Tuple[str, ...] = ()


@dataclass(frozen=True)
class System:
    """The system under test: its package name (for releases) and its roles."""

    name: str
    package: str
    roles: Mapping[str, RoleSpec]


@dataclass(frozen=True)
class Topology:
    """How many instances of each role a suite starts, in declaration order."""

    counts: Tuple[Tuple[str, int], ...]

    @staticmethod
    def of(counts: Mapping[str, int]) -> "Topology":
        return Topology(tuple(counts.items()))

    def roles(self) -> Tuple[str, ...]:
        return tuple(role for role, _ in self.counts)


@dataclass(frozen=True)
class CellSpec:
    """One cell: a version spec per role (``branch``, ``X.Y.Z``, ``earliest``, ``latest``).

    Roles not named run ``branch``.
    """

    name: str
    versions: Tuple[Tuple[str, str], ...] = ()

    def version_of(self, role: str) -> str:
        return dict(self.versions).get(role, BRANCH)


@dataclass(frozen=True)
class Suite:
    """A topology, its cells, and the test modules run in every cell."""

    name: str
    topology: Topology
    cells: Tuple[CellSpec, ...]
    modules: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Releases:
    """The pinned releases of the system under test and the default ``earliest``."""

    package: str
    pinned: Tuple[str, ...]
    earliest: str

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
    ports: Tuple[str, ...]


@dataclass(frozen=True)
class CellPlan:
    """A cell expanded to instances, in start (dependency) order."""

    suite: str
    cell: str
    instances: Tuple[InstancePlan, ...]


@dataclass(frozen=True)
class SuitePlan:
    suite: str
    cells: Tuple[CellPlan, ...]

    def cell(self, name: str) -> CellPlan:
        for cell in self.cells:
            if cell.cell == name:
                return cell
        known = ", ".join(c.cell for c in self.cells)
        from compat_matrix.errors import UnknownCellError

        raise UnknownCellError(f"suite {self.suite!r} has no cell {name!r}; its cells are: {known}")


