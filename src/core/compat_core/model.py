"""The matrix model: systems, roles, releases, topology, cells and suites as frozen data.

Pure and CPython 3.9-compatible: the Pants plugin builds these from BUILD-file fields, the
harness reads them back from a cell's JSON (``compat_core.codec``). Every value is hashable
(tuples, never dicts), because Pants hashes field values. Validation lives in
``compat_core.validate``, expansion in ``compat_core.plan`` (to ``compat_core.cell_plan``),
naming in ``compat_core.names``.
"""

from __future__ import annotations

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
    ``branch_sources``: the build addresses of the role's code on the branch (its sources artifact;
    build-only).
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
    branch_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Releases:
    """A system's pinned releases: per version the requirements that install it, and ``earliest``.

    ``resolves`` name each release's Pants resolve (a lockfile); ``branch_release`` the release that
    plays ``branch`` (never ``latest``); ``package`` is the distribution
    ``releases check`` looks for in ``index`` (a find-links directory or a simple index URL).
    """

    package: str
    pinned: tuple[str, ...]
    earliest: str
    index: str = ""
    requirements: tuple[tuple[str, tuple[str, ...]], ...] = ()
    resolves: tuple[tuple[str, str], ...] = ()
    branch_release: str = ""  # System.branch_release, which ``latest`` leaves out

    @property
    def latest(self) -> str:
        """The newest pinned release; where a release plays branch, the newest other one (a
        ``latest`` cell would otherwise run the branch's own artifacts)."""
        from packaging.version import Version  # pure: parsing only

        others = [v for v in self.pinned if v != self.branch_release] or list(self.pinned)
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
    "CellSpec",
    "Command",
    "FaultSpec",
    "Probe",
    "Releases",
    "RoleSpec",
    "Suite",
    "System",
    "Topology",
    "UpgradeSpec",
)
