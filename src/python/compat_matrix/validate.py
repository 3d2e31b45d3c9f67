"""Validation of suites against a system's role catalog and the pinned releases.

Pure: no I/O. Every error is a ``SuiteDeclarationError`` that names the suite, the cell (when there
is one), the bad value, and the fix. Validation stops at the first problem so that the message
stays one line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from compat_matrix.errors import ReleaseError, SuiteDeclarationError
from compat_matrix.model import ALIASES, CellSpec, Releases, Suite, System
from compat_matrix.versions import resolve_version

KNOWN_BACKENDS = ("process", "docker")
"""Backends a suite may name."""

# Cell names become Pants tags, pytest markers (``-m <cell>``) and parts of target names, so they
# are restricted to what all three accept unquoted. The first character is alphanumeric so that a
# name never looks like a command-line flag.
CELL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
# Suite names are tags and parts of target names: the same rule (as the macro applies).
SUITE_NAME_RE = CELL_NAME_RE
# Words that ``pytest -m`` parses as operators, never as marker names.
_PYTEST_KEYWORDS = frozenset({"and", "or", "not"})


def validate_suite(suite: Suite, system: System, releases: Releases | None = None) -> None:
    """Check ``suite`` against ``system``'s roles and (when given) the pinned ``releases``.

    With ``releases=None`` version specs are only checked for form (``branch``, an alias, or
    ``X.Y.Z``), not for being pinned. Raises ``SuiteDeclarationError`` on the first problem.
    """
    validate_system(system)
    where = f"suite {suite.name!r}"
    if not isinstance(suite.name, str) or not SUITE_NAME_RE.match(suite.name):
        raise SuiteDeclarationError(
            f"{where}: invalid suite name {suite.name!r}; use lowercase letters, digits, '.' and '-' "
            f"(it becomes a Pants target name and tag)"
        )
    if suite.system and suite.system != system.name:
        raise SuiteDeclarationError(
            f"{where}: declared for system {suite.system!r} but validated against {system.name!r}"
        )
    _validate_backends(suite)
    validate_topology(suite, system)
    if not suite.cells:
        raise SuiteDeclarationError(
            f"{where}: has no cells; declare at least one, e.g. cells={{\"all-branch\": {{}}}} "
            f"(roles a cell does not name run 'branch')"
        )
    seen: set[str] = set()
    for cell in suite.cells:
        if cell.name in seen:
            raise SuiteDeclarationError(
                f"{where}: cell name {cell.name!r} is declared twice; give each cell a unique name"
            )
        seen.add(cell.name)
        validate_cell(suite, cell, system, releases)


def validate_system(system: System) -> None:
    """Check a role catalog for internal consistency.

    Every role named by ``depends_on``, ``requires`` or ``args_if_present`` exists, every
    ``{address[ROLE]}`` in a role's unconditional ``args`` is one it ``requires`` (otherwise the
    arguments could not be rendered), probes use a declared port, and ``depends_on`` has no cycle.
    """
    known = set(system.roles)
    for key, role in system.roles.items():
        where = f"system {system.name!r}, role {key!r}"
        if role.name != key:
            raise SuiteDeclarationError(f"{where}: RoleSpec.name is {role.name!r}; it must equal its key")
        for field_name, names in (
            ("depends_on", role.depends_on),
            ("requires", role.requires),
            ("args_if_present", tuple(role.args_if_present)),
        ):
            for other in names:
                if other not in known:
                    raise SuiteDeclarationError(
                        f"{where}: {field_name} names unknown role {other!r}; known roles: {_known(known)}"
                    )
        if role.readiness.port not in role.ports:
            raise SuiteDeclarationError(
                f"{where}: readiness probe uses port {role.readiness.port!r}, which is not one of its "
                f"ports {role.ports!r}"
            )
        if role.cpus is not None and (
            isinstance(role.cpus, bool) or not isinstance(role.cpus, int | float) or not 0 < role.cpus <= 1024
        ):
            raise SuiteDeclarationError(
                f"{where}: cpus={role.cpus!r} must be a number of CPUs above 0 (e.g. 0.5 or 2), or None "
                f"for the backend's default"
            )
        for needed in sorted(_address_refs(role.args)):
            if needed not in role.requires:
                raise SuiteDeclarationError(
                    f"{where}: args use {{address[{needed}]}} but 'requires' does not include {needed!r}; "
                    f"add it to requires, or move those args to args_if_present"
                )
    _check_acyclic(system)


def validate_topology(suite: Suite, system: System) -> None:
    """Check the suite's topology: known roles, each once, integer counts >= 1, requirements met."""
    where = f"suite {suite.name!r}"
    counts = suite.topology.counts
    if not counts:
        raise SuiteDeclarationError(
            f"{where}: the topology is empty; give each role an instance count, e.g. "
            f"topology={{\"server\": 1, \"user-code\": 1}} (roles of {system.name!r}: {_known(system.roles)})"
        )
    present: set[str] = set()
    for role, count in counts:
        if role not in system.roles:
            raise SuiteDeclarationError(
                f"{where}: topology names unknown role {role!r}; the roles of system {system.name!r} "
                f"are: {_known(system.roles)}"
            )
        if role in present:
            raise SuiteDeclarationError(f"{where}: topology names role {role!r} twice; give it one count")
        present.add(role)
        # bool is an int subclass; True as a count is a typo, not one instance.
        if isinstance(count, bool) or not isinstance(count, int):
            raise SuiteDeclarationError(
                f"{where}: topology count for role {role!r} is {count!r}; it must be an integer >= 1"
            )
        if count < 1:
            raise SuiteDeclarationError(
                f"{where}: topology count for role {role!r} is {count!r}; it must be >= 1 "
                f"(remove the role from the topology to run none)"
            )
    for role in suite.topology.roles():
        for needed in system.roles[role].requires:
            if needed not in present:
                raise SuiteDeclarationError(
                    f"{where}: topology has role {role!r}, which requires role {needed!r}, but has no "
                    f"{needed!r}; add {needed!r} to the topology"
                )


def validate_cell(suite: Suite, cell: CellSpec, system: System, releases: Releases | None = None) -> None:
    """Check one cell: a valid name, roles known and in the topology, each once, valid versions."""
    check_cell_name(cell.name, suite.name)
    where = f"suite {suite.name!r}, cell {cell.name!r}"
    topology_roles = suite.topology.roles()
    named: set[str] = set()
    for role, spec in cell.versions:
        if role not in system.roles:
            raise SuiteDeclarationError(
                f"{where}: unknown role {role!r}; the roles of system {system.name!r} are: "
                f"{_known(system.roles)}"
            )
        if role not in topology_roles:
            raise SuiteDeclarationError(
                f"{where}: names role {role!r}, which the suite's topology does not run "
                f"(topology: {', '.join(topology_roles)}); add {role!r} to the topology or drop it "
                f"from the cell"
            )
        if role in named:
            raise SuiteDeclarationError(f"{where}: names role {role!r} twice; give it one version")
        named.add(role)
        if releases is None and spec in ALIASES:
            continue  # form is fine; resolving it needs the releases (plan_cell says so)
        try:
            resolve_version(spec, releases)
        except ReleaseError as e:
            raise SuiteDeclarationError(f"{where}, role {role!r}: {e}") from None


def check_cell_name(name: object, suite: str = "?") -> None:
    """Raise unless ``name`` is a valid cell name (lowercase ``[a-z0-9.-]``, usable as tag and marker)."""
    if not isinstance(name, str) or not CELL_NAME_RE.match(name) or name in _PYTEST_KEYWORDS:
        raise SuiteDeclarationError(
            f"suite {suite!r}: invalid cell name {name!r}; cell names are lowercase letters, digits, "
            f"'.' and '-', starting with a letter or digit, and not 'and'/'or'/'not' (they become "
            f"Pants tags and pytest markers), e.g. 'server-earliest'"
        )


def _validate_backends(suite: Suite) -> None:
    seen: set[str] = set()
    for backend in suite.backends:
        if backend not in KNOWN_BACKENDS:
            raise SuiteDeclarationError(
                f"suite {suite.name!r}: unknown backend {backend!r}; known backends: "
                f"{', '.join(KNOWN_BACKENDS)}"
            )
        if backend in seen:
            raise SuiteDeclarationError(f"suite {suite.name!r}: backend {backend!r} is listed twice")
        seen.add(backend)


def _address_refs(templates: Iterable[str]) -> set[str]:
    """The ROLE of every ``{address[ROLE]}`` field in ``templates``."""
    refs: set[str] = set()
    for template in templates:
        for _, field_name, _, _ in string.Formatter().parse(template):
            if field_name and field_name.startswith("address[") and field_name.endswith("]"):
                refs.add(field_name[len("address[") : -1])
    return refs


def _check_acyclic(system: System) -> None:
    # Depth-first search with colours; reports the cycle it finds.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(role: str) -> None:
        state[role] = 1
        path.append(role)
        for dep in system.roles[role].depends_on:
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :] + [dep]
                raise SuiteDeclarationError(
                    f"system {system.name!r}: depends_on has a cycle: {' -> '.join(cycle)}; "
                    f"remove one of those dependencies"
                )
            if dep not in state:
                visit(dep)
        path.pop()
        state[role] = 2

    for role in system.roles:
        if role not in state:
            visit(role)


def _known(roles: Iterable[str]) -> str:
    return ", ".join(sorted(roles))


__all__ = (
    "CELL_NAME_RE",
    "KNOWN_BACKENDS",
    "SUITE_NAME_RE",
    "check_cell_name",
    "validate_cell",
    "validate_suite",
    "validate_system",
    "validate_topology",
)
