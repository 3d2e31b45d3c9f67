"""The matrix model: systems, roles, releases, topology, cells, suites and plans as frozen data.

Pure and CPython 3.9-compatible: the Pants plugin builds these from BUILD-file fields, the
harness reads them back from a cell's JSON (``compat_core.codec``). Every value is hashable
(tuples, never dicts), because Pants hashes field values. Validation lives in
``compat_core.validate``, expansion in ``compat_core.plan``, naming in ``compat_core.names``.
"""

from __future__ import annotations

import dataclasses
import shlex
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

FAULT_KINDS = ("kill", "pause", "partition", "restart")
"""Faults an upgrade path can inject into one instance: ``kill`` (SIGKILL, then start it again),
``pause`` (freeze, then resume), ``partition`` (cut it off its peers, then reconnect; docker
backend only) and ``restart`` (stop and start it again). Each lasts ``FaultSpec.seconds``."""

STEP_KINDS = ("upgrade", "rollback", "fault")
"""What a step of an upgrade path does: replace instances with the path's target version
(``upgrade``), replace them with an older one (``rollback``), or inject a fault."""

UPGRADE = "upgrade"
ROLLBACK = "rollback"
FAULT = "fault"

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

    @property
    def pex_variable(self) -> str:
        """The variable that makes a version's PEX run this command: ``PEX_SCRIPT`` or ``PEX_MODULE``."""
        return "PEX_SCRIPT" if self.kind == "script" else "PEX_MODULE"

    def argv(self) -> tuple[str, ...]:
        """The command as it runs in an environment where the version is installed (a venv of its
        PEX, its image's ``/app/venv``): the script, ``python -m pkg.mod``, or for an entry point
        ``pkg.mod:function`` Python calling it and exiting with its result, as a PEX does."""
        if self.kind == "script":
            return (self.value,)
        module, _, function = self.value.partition(":")
        if not function:
            return ("python", "-m", module)
        return ("python", "-c", f"import sys, {module}; sys.exit({module}.{function}())")

    def describe(self) -> str:
        """``argv()`` as one shell command line."""
        return " ".join(shlex.quote(word) for word in self.argv())


@dataclass(frozen=True)
class RoleSpec:
    """One kind of process of a system, as every backend runs it.

    ``args``, ``env`` values, ``files`` paths and contents are ``str.format`` templates with:
    ``{host}`` (the address to bind), ``{advertised_host}`` (the host other instances reach this
    instance at: what it registers or advertises), ``{port[NAME]}`` (this instance's port NAME),
    ``{name}`` (instance name), ``{index}``, ``{data_dir}`` (a private writable directory),
    ``{shared_dir}`` (a directory every instance of the deployment shares),
    ``{address[ROLE]}`` (``host:port`` of ROLE's first instance's first port, as peers reach it)
    and ``{peers[ROLE][I].host}`` / ``{peers[ROLE][I].port[NAME]}`` / ``{peers[ROLE][I].name}``
    for every started instance.
    Literal braces are doubled (``{{`` and ``}}``).

    ``args_if_present`` adds arguments only when the topology runs the named role.
    ``depends_on``: roles that must be ready before this role starts (when present).
    ``requires``: roles a topology must run whenever it runs this one (the two compared, with an
    example: ``compat_core.declare.DEPENDS_ON_AND_REQUIRES``).
    ``branch``: the build addresses of the role's code on the branch (its sources artifact; build-only).
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
    """One cell: a version spec per role (``branch``, a release such as ``5.15``, ``earliest``, ``latest``).

    Roles not named run ``branch``.
    """

    name: str
    versions: tuple[tuple[str, str], ...] = ()

    def version_of(self, role: str) -> str:
        return dict(self.versions).get(role, BRANCH)


@dataclass(frozen=True)
class FaultSpec:
    """A fault an upgrade path injects: which kind, into an instance of which role, and when.

    ``after`` names a role of the path: the fault lands right after one of that role's steps
    (which one is drawn with the path's seed); empty, after any step. The instance is drawn too.
    """

    kind: str
    role: str
    after: str = ""
    seconds: float = 2.0


@dataclass(frozen=True)
class UpgradeSpec:
    """A declared upgrade path: a cell named ``name`` starts every instance on ``start``, then the
    instances of the roles in ``order`` are replaced by ``to`` (one at a time unless
    ``one_at_a_time`` is False), then ``rollback`` moves roles back, with ``faults`` in between.

    ``restart_after``: role -> roles whose instances exit when an instance of it stops (dask
    workers when their scheduler goes) and are started again right after it, as a supervisor
    would. ``seed`` draws the order of a role's instances and where faults land: the same seed
    gives the same plan.
    """

    name: str
    start: str = EARLIEST
    to: str = BRANCH
    order: tuple[str, ...] = ()
    rollback: tuple[tuple[str, str], ...] = ()
    restart_after: tuple[tuple[str, tuple[str, ...]], ...] = ()
    faults: tuple[FaultSpec, ...] = ()
    seed: int = 0
    one_at_a_time: bool = True


@dataclass(frozen=True)
class Suite:
    """A system, a topology, its cells, the backends and the test modules run in every cell.

    ``upgrade``: an upgrade path, run in a cell of its own (named after the path).
    """

    name: str
    topology: Topology
    cells: tuple[CellSpec, ...]
    modules: tuple[str, ...] = ()
    system: str = ""
    backends: tuple[str, ...] = ()
    full_matrix: bool = False
    upgrade: UpgradeSpec | None = None


@dataclass(frozen=True)
class InstancePlan:
    """One process of a planned cell: which role, which concrete version, which artifacts.

    Artifact paths are relative to the artifact root (the Pants test sandbox, or ``dist/``).
    """

    role: str
    index: int
    name: str  # e.g. "worker-1"; unique within a cell
    version: str  # "branch" or a concrete pinned release such as "5.15"
    pex: str
    image: str  # image reference, e.g. "compat-matrix/conveyor/server:branch"
    image_info: str  # docker-info.json path
    ports: tuple[str, ...]
    spec: str = ""  # the version as the cell declared it, e.g. "latest" (for display)
    runs: str = ""  # the release a "branch" instance runs, for systems with a branch_release
    sources: str = ""  # the branch role's first-party sources directory ('' for a release: all in ``pex``)


@dataclass(frozen=True)
class RoleArtifacts:
    """The artifacts of one role at one concrete version (paths relative to the artifact root)."""

    role: str
    version: str
    pex: str
    image: str
    image_info: str
    runs: str = ""  # the release a "branch" runs, for systems with a branch_release
    sources: str = ""  # the branch role's first-party sources directory ('' for a release)


@dataclass(frozen=True)
class UpgradeStep:
    """One step of a planned upgrade path (see ``STEP_KINDS``), numbered from 1.

    ``instances`` are replaced (``upgrade`` / ``rollback``: from ``version_from`` to
    ``version_to``) or faulted (``fault``: ``fault`` for ``seconds``, then recovered), one after
    another; then the instances in ``restarts`` are started again (``UpgradeSpec.restart_after``).
    """

    number: int
    kind: str
    role: str
    instances: tuple[str, ...]
    version_from: str = ""
    version_to: str = ""
    fault: str = ""
    seconds: float = 0.0
    restarts: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line saying what the step does, e.g. ``upgrade worker-1 0.1.0 -> branch``."""
        who = ", ".join(self.instances)
        if self.kind == FAULT:
            undo = {"kill": "start it again", "pause": "resume it", "partition": "reconnect it", "restart": ""}
            text = f"fault: {self.fault} {who} ({self.version_from})"
            if self.fault != "restart":
                text += f" for {self.seconds:g}s, then {undo.get(self.fault, 'recover')}"
        else:
            text = f"{self.kind} {who} {self.version_from} -> {self.version_to}"
        if self.restarts:
            text += f"; then restart {', '.join(self.restarts)}"
        return text


@dataclass(frozen=True)
class UpgradePlan:
    """An upgrade path expanded with its seed: the steps a cell's test runs, in order."""

    name: str
    seed: int
    start: str  # concrete
    to: str  # concrete
    steps: tuple[UpgradeStep, ...]


@dataclass(frozen=True)
class CellPlan:
    """A cell expanded to instances in start order, with the specs of the roles it runs.

    ``upgrade``: the cell's planned upgrade path, if it runs one; ``artifacts``: the other
    (role, version) artifacts the path switches instances to (its test depends on them too).
    """

    suite: str
    cell: str
    instances: tuple[InstancePlan, ...]
    system: str = ""
    roles: tuple[RoleSpec, ...] = ()
    system_address: str = ""  # the compat_system target, for "build it with" hints
    upgrade: UpgradePlan | None = None
    artifacts: tuple[RoleArtifacts, ...] = ()

    def instance_at(self, name: str, version: str) -> InstancePlan:
        """Instance ``name`` as it runs at concrete ``version``: same role, index, name and ports,
        that version's artifacts. Only versions the cell starts or its upgrade path visits (the
        artifacts its test has) are known."""
        current = None
        for inst in self.instances:
            if inst.name == name:
                current = inst
        if current is None:
            known = ", ".join(i.name for i in self.instances)
            from compat_core.errors import UnknownCellError

            raise UnknownCellError(f"cell {self.cell!r} has no instance {name!r}; its instances are: {known}")
        if current.version == version:
            return current
        for other in self.instances:
            if other.role == current.role and other.version == version:
                return _at(current, other)
        for art in self.artifacts:
            if art.role == current.role and art.version == version:
                return _at(current, art)
        have = sorted({i.version for i in self.instances if i.role == current.role} | {
            a.version for a in self.artifacts if a.role == current.role
        })
        from compat_core.errors import ArtifactError

        raise ArtifactError(
            f"cell {self.cell!r}: no artifact of role {current.role!r} at version {version!r} (it has "
            f"{', '.join(have)}); a version an instance switches to must be on the cell's upgrade path "
            f"(compat_upgrade(...) in the suite's BUILD), so that its test depends on that artifact"
        )

    def role(self, name: str) -> RoleSpec:
        for spec in self.roles:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.roles)
        from compat_core.errors import SuiteDeclarationError

        raise SuiteDeclarationError(f"cell {self.cell!r} runs no role {name!r}; its roles: {known}")

    def role_map(self) -> dict[str, RoleSpec]:
        return {spec.name: spec for spec in self.roles}


def _at(inst: InstancePlan, other: InstancePlan | RoleArtifacts) -> InstancePlan:
    """``inst`` running ``other``'s version and artifacts."""
    return dataclasses.replace(
        inst,
        version=other.version,
        pex=other.pex,
        image=other.image,
        image_info=other.image_info,
        spec=other.version,
        runs=other.runs,
        sources=other.sources,
    )


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
    "FAULT",
    "FAULT_KINDS",
    "LATEST",
    "PORT_PROBES",
    "PROBE_KINDS",
    "ROLLBACK",
    "STEP_KINDS",
    "UPGRADE",
    "CellPlan",
    "CellSpec",
    "Command",
    "FaultSpec",
    "InstancePlan",
    "Probe",
    "Releases",
    "RoleArtifacts",
    "RoleSpec",
    "Suite",
    "SuitePlan",
    "System",
    "Topology",
    "UpgradePlan",
    "UpgradeSpec",
    "UpgradeStep",
)
