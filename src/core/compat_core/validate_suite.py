"""Validation of suites: backends, topology, limits, cells and upgrade paths, against the system
(``compat_core.validate``) and its pinned releases.

Pure and CPython 3.9-compatible. Every error is a ``SuiteDeclarationError`` that names the suite,
the cell or role, the bad value, and the fix.
"""

from __future__ import annotations

from compat_core.contract import BACKENDS, DOCKER_BACKEND, PROCESS_BACKEND
from compat_core.errors import ReleaseError, SuiteDeclarationError
from compat_core.model import ALIASES, FAULT_KINDS, CellSpec, Releases, RoleSpec, Suite, System, UpgradeSpec
from compat_core.validate import known_roles, validate_system
from compat_core.validate_names import check_cell_name, check_name, check_not_reserved
from compat_core.versions import resolve_version

MAX_INSTANCES_PER_ROLE = 16
"""The most instances a topology may give one role. Every instance is a process (or a container)
of its own, started on one machine with its own ports, data directory and readiness probe: a
larger count is a typo (`10000` planned 10000 instances), not a test this system can run."""


def check_instance_count(role: str, count: int, where: str) -> None:
    """Raise when a topology gives ``role`` more than ``MAX_INSTANCES_PER_ROLE`` instances."""
    if count > MAX_INSTANCES_PER_ROLE:
        raise SuiteDeclarationError(
            f"{where}: topology gives role {role!r} {count} instances; the cap is {MAX_INSTANCES_PER_ROLE} per role "
            f"(each instance is a process or container of its own on this machine); give it at most "
            f"{MAX_INSTANCES_PER_ROLE}"
        )


def validate_suite(suite: Suite, system: System, releases: Releases | None = None) -> None:
    """Check ``suite`` against ``system``'s roles and (when given) its pinned ``releases``."""
    validate_system(system)
    where = f"suite {suite.name!r}"
    check_name("suite", suite.name, "compat_suite")
    if suite.system and suite.system != system.name:
        raise SuiteDeclarationError(f"{where}: declared for system {suite.system!r} but validated against {system.name!r}")
    check_not_reserved("suite", suite.name, (system.name,), where)
    validate_backends(suite)
    validate_topology(suite, system)
    validate_limits(suite, system)
    if not suite.cells and suite.upgrade is None:
        raise SuiteDeclarationError(
            f"{where}: has no cells; declare at least one, e.g. cells=[compat_cell(\"all-branch\")] "
            f"(roles a cell does not name run 'branch'), or an upgrade path, upgrade=compat_upgrade(...)"
        )
    seen: set[str] = set()
    for cell in suite.cells:
        if cell.name in seen:
            raise SuiteDeclarationError(f"{where}: cell {cell.name!r} is declared twice; give each cell a unique name")
        seen.add(cell.name)
        validate_cell(suite, cell, system, releases)
    if suite.upgrade is not None:
        if suite.upgrade.name in seen:
            raise SuiteDeclarationError(
                f"{where}: the upgrade path {suite.upgrade.name!r} is named like a cell; the path runs in a cell of "
                f"its own, so give compat_upgrade(...) another name"
            )
        validate_upgrade(suite, suite.upgrade, system, releases)


def validate_upgrade(suite: Suite, upgrade: UpgradeSpec, system: System, releases: Releases | None = None) -> None:
    """Check a suite's upgrade path: its cell name, versions, roles, faults and seed."""
    where = f"suite {suite.name!r}, upgrade path {upgrade.name!r}"
    check_cell_name(upgrade.name, suite.name)
    check_not_reserved("cell", upgrade.name, (suite.name, system.name), where)
    roles = suite.topology.roles()

    def concrete(spec: str, what: str) -> str:
        if releases is None and spec in ALIASES:
            return spec
        try:
            return resolve_version(spec, releases, system.name)
        except ReleaseError as e:
            raise SuiteDeclarationError(f"{where}, {what}: {e}") from None

    def known_role(role: str, what: str) -> None:
        if role not in roles:
            raise SuiteDeclarationError(
                f"{where}: {what} names role {role!r}, which the suite's topology does not run "
                f"(topology: {', '.join(roles)})"
            )

    start = concrete(upgrade.start, "start")
    to = concrete(upgrade.to, "to")
    if start == to:
        raise SuiteDeclarationError(
            f"{where}: start={upgrade.start!r} and to={upgrade.to!r} are the same version ({to}); there is "
            f"nothing to upgrade"
        )
    for role in upgrade.order:
        known_role(role, "order")
        if upgrade.order.count(role) > 1:
            raise SuiteDeclarationError(f"{where}: order names role {role!r} twice; upgrade each role once")
    for role, spec in upgrade.rollback:
        known_role(role, "rollback")
        if role not in upgrade.order:
            raise SuiteDeclarationError(
                f"{where}: rollback names role {role!r}, which order does not upgrade; add it to order"
            )
        if concrete(spec, f"rollback of {role!r}") == to:
            raise SuiteDeclarationError(
                f"{where}: rollback moves {role!r} to {spec!r}, the version it was upgraded to ({to}); roll it back "
                f"to an older one, e.g. \"latest\""
            )
    for role, others in upgrade.restart_after:
        known_role(role, "restart_after")
        for other in others:
            known_role(other, f"restart_after[{role!r}]")
            if other == role:
                raise SuiteDeclarationError(f"{where}: restart_after[{role!r}] names {role!r} itself")
    stepped = set(upgrade.order)
    for fault in upgrade.faults:
        if fault.kind not in FAULT_KINDS:
            raise SuiteDeclarationError(f"{where}: fault kind {fault.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        known_role(fault.role, f"compat_fault({fault.kind!r})")
        if fault.after and fault.after not in stepped:
            raise SuiteDeclarationError(
                f"{where}: compat_fault({fault.kind!r}, after={fault.after!r}) names a role the path does not "
                f"step through; use one of {', '.join(upgrade.order)}, or leave after empty (after any step)"
            )
        if fault.kind == "partition" and tuple(suite.backends) != (DOCKER_BACKEND,) and suite.backends:
            raise SuiteDeclarationError(
                f"{where}: a partition fault needs the docker backend (the process backend cannot cut an instance "
                f"off its peers), but the suite runs on {', '.join(suite.backends)}; set backends=[\"docker\"] or "
                f"use another fault (kill, pause, restart)"
            )
    if isinstance(upgrade.seed, bool) or not isinstance(upgrade.seed, int) or upgrade.seed < 0:
        raise SuiteDeclarationError(f"{where}: seed={upgrade.seed!r} must be a whole number >= 0")


def validate_backends(suite: Suite) -> None:
    where = f"suite {suite.name!r}"
    if not suite.backends:
        raise SuiteDeclarationError(f"{where}: backends is empty; name at least one of {', '.join(BACKENDS)}")
    seen: set[str] = set()
    for backend in suite.backends:
        if backend not in BACKENDS:
            raise SuiteDeclarationError(f"{where}: unknown backend {backend!r}; known backends: {', '.join(BACKENDS)}")
        if backend in seen:
            raise SuiteDeclarationError(f"{where}: backend {backend!r} is listed twice")
        seen.add(backend)


def memory_limit_error(role: RoleSpec, where: str) -> str:
    """Why a role's ``memory`` cannot run on the process backend, and what to do."""
    return (
        f"{where}: role {role.name!r} declares memory={role.memory!r}, a limit only the docker backend applies "
        f"(a process has no honest memory limit: RLIMIT_AS counts virtual memory, not what it uses); run the "
        f"suite on docker only (backends=[\"docker\"]) or remove memory from the role"
    )


def validate_limits(suite: Suite, system: System) -> None:
    """A suite that runs a role with a ``memory`` limit on the process backend is an error: the
    limit would be silently ignored there."""
    if PROCESS_BACKEND not in suite.backends:
        return
    for role in suite.topology.roles():
        if system.roles[role].memory is not None:
            raise SuiteDeclarationError(memory_limit_error(system.roles[role], f"suite {suite.name!r}"))


def validate_topology(suite: Suite, system: System) -> None:
    """Check the suite's topology: known roles, each once, integer counts >= 1, requirements met."""
    where = f"suite {suite.name!r}"
    counts = suite.topology.counts
    if not counts:
        raise SuiteDeclarationError(
            f"{where}: the topology is empty; give each role an instance count, e.g. "
            f"topology={{\"server\": 1}} (roles of {system.name!r}: {known_roles(system.roles)})"
        )
    present: set[str] = set()
    for role, count in counts:
        if role not in system.roles:
            raise SuiteDeclarationError(
                f"{where}: topology names unknown role {role!r}; the roles of system {system.name!r} are: "
                f"{known_roles(system.roles)}"
            )
        if role in present:
            raise SuiteDeclarationError(f"{where}: topology names role {role!r} twice; give it one count")
        present.add(role)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SuiteDeclarationError(
                f"{where}: topology count for role {role!r} is {count!r}; it must be an integer >= 1 "
                f"(remove the role from the topology to run none)"
            )
        check_instance_count(role, count, where)
    for role in suite.topology.roles():
        for needed in system.roles[role].requires:
            if needed not in present:
                raise SuiteDeclarationError(
                    f"{where}: topology has role {role!r}, which requires role {needed!r}, but has no "
                    f"{needed!r}; add {needed!r} to the topology"
                )


def validate_cell(suite: Suite, cell: CellSpec, system: System, releases: Releases | None = None) -> None:
    """Check one cell: a valid, unreserved name; roles known and in the topology; valid versions."""
    check_cell_name(cell.name, suite.name)
    where = f"suite {suite.name!r}, cell {cell.name!r}"
    check_not_reserved("cell", cell.name, (suite.name, system.name), where)
    topology_roles = suite.topology.roles()
    named: set[str] = set()
    for role, spec in cell.versions:
        if role not in system.roles:
            raise SuiteDeclarationError(
                f"{where}: unknown role {role!r}; the roles of system {system.name!r} are: {known_roles(system.roles)}"
            )
        if role not in topology_roles:
            raise SuiteDeclarationError(
                f"{where}: names role {role!r}, which the suite's topology does not run "
                f"(topology: {', '.join(topology_roles)}); add {role!r} to the topology or drop it from the cell"
            )
        if role in named:
            raise SuiteDeclarationError(f"{where}: names role {role!r} twice; give it one version")
        named.add(role)
        if releases is None and spec in ALIASES:
            continue
        try:
            resolve_version(spec, releases, system.name)
        except ReleaseError as e:
            raise SuiteDeclarationError(f"{where}, role {role!r}: {e}") from None


__all__ = (
    "MAX_INSTANCES_PER_ROLE",
    "check_instance_count",
    "memory_limit_error",
    "validate_backends",
    "validate_cell",
    "validate_limits",
    "validate_suite",
    "validate_topology",
    "validate_upgrade",
)
