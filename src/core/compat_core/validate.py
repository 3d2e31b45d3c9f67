"""Validation of systems, suites and cells: the rules both the build and the harness apply.

Pure and CPython 3.9-compatible. Every error is a ``SuiteDeclarationError`` (or ``ReleaseError``)
that names the system or suite, the cell or role, the bad value, and the fix. Validation stops at
the first problem so that the message stays one line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Iterable, Mapping, Sequence

from packaging.version import Version

from compat_core.contract import BACKENDS, DOCKER_BACKEND, PROCESS_BACKEND, RESERVED_TAGS
from compat_core.errors import ReleaseError, SuiteDeclarationError
from compat_core.model import (
    ALIASES,
    BRANCH,
    COMMAND_KINDS,
    FAULT_KINDS,
    PORT_PROBES,
    PROBE_KINDS,
    CellSpec,
    Releases,
    RoleSpec,
    Suite,
    System,
    UpgradeSpec,
)
from compat_core.names import (
    branch_requirements_target,
    image_target,
    pex_target,
    requirement_target,
    sources_target,
)
from compat_core.versions import (
    listed,
    pin_instructions,
    release_key,
    release_problem,
    resolve_version,
    spelled_as,
)

# Cell, suite, system and role names become Pants tags, target names, pytest markers (``-m
# <cell>``) and parts of image names, so they are restricted to what all of these accept unquoted
# (ASCII only). The first character is alphanumeric so a name never looks like a flag. Matched
# with fullmatch: `$` alone also matches before a final newline.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
CELL_NAME_RE = NAME_RE
SUITE_NAME_RE = NAME_RE
# A port name is a template key ({port[NAME]}).
PORT_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
# Words that ``pytest -m`` parses as operators, never as marker names.
_PYTEST_KEYWORDS = frozenset({"and", "or", "not"})
MAX_INSTANCES_PER_ROLE = 16
"""The most instances a topology may give one role. Every instance is a process (or a container)
of its own, started on one machine with its own ports, data directory and readiness probe: a
larger count is a typo (`10000` planned 10000 instances), not a test this system can run."""
_MEMORY_RE = re.compile(r"^[1-9][0-9]*[bkmg]?$")
_TEMPLATE_FIELDS = ("host", "advertised_host", "port", "name", "index", "data_dir", "shared_dir", "address", "peers")


def check_name(kind: str, name: object, where: str = "") -> None:
    """Raise unless ``name`` is a valid ``kind`` name (lowercase ``[a-z0-9.-]``, not an operator).

    ``kind`` is "cell", "suite", "system" or "role".
    """
    prefix = f"{where}: " if where else ""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in _PYTEST_KEYWORDS:
        raise SuiteDeclarationError(
            f"{prefix}invalid {kind} name {name!r}; {kind} names are lowercase ASCII letters, digits, '.' "
            f"and '-', starting with a letter or digit, and not 'and'/'or'/'not' (they become Pants tags, "
            f"target names and pytest markers), e.g. 'server-earliest'"
        )


def check_instance_count(role: str, count: int, where: str) -> None:
    """Raise when a topology gives ``role`` more than ``MAX_INSTANCES_PER_ROLE`` instances."""
    if count > MAX_INSTANCES_PER_ROLE:
        raise SuiteDeclarationError(
            f"{where}: topology gives role {role!r} {count} instances; the cap is {MAX_INSTANCES_PER_ROLE} per role "
            f"(each instance is a process or container of its own on this machine); give it at most "
            f"{MAX_INSTANCES_PER_ROLE}"
        )


def check_cell_name(name: object, suite: str = "?") -> None:
    """Raise unless ``name`` is a valid cell name."""
    check_name("cell", name, f"suite {suite!r}")


def check_not_reserved(kind: str, name: str, taken: Iterable[str], where: str) -> None:
    """Raise when a ``kind`` name equals a tag the build gives other targets (``taken`` adds more)."""
    others = set(RESERVED_TAGS) | set(taken)
    if name in others:
        raise SuiteDeclarationError(
            f"{where}: {kind} name {name!r} is also a tag of other targets ({', '.join(sorted(others))}), "
            f"so --tag={name} would select more than this {kind}; rename it"
        )


def validate_repo_names(
    systems: Mapping[str, tuple[str, System]],
    suites: Sequence[tuple[str, Suite, Sequence[str]]],
    other_tags: Mapping[str, str],
) -> None:
    """No cell of any suite is named like a tag that other targets of the repo carry.

    ``systems``: name -> (address, system); ``suites``: (address, suite, its extra tags); ``other_tags``: tag ->
    the address of a target (not a compat_suite) whose ``tags`` has it. A cell's name is a tag of its
    tests, so ``--tag=<cell>`` must select that cell (in every suite that has one of that name) and
    nothing else: not another suite, system, backend, role, version or tagged target. What one
    BUILD file shows (reserved tags, the suite's own name, system and tags) is checked when Pants
    parses it (``check_not_reserved``); this sees the whole repo.
    """
    claims: dict[str, str] = {}

    def claim(tag: str, what: str) -> None:
        claims.setdefault(tag, what)

    for tag in RESERVED_TAGS:
        claim(tag, f"the tag {tag!r} the build gives generated targets")
    for address, suite, _ in suites:
        claim(suite.name, f"the suite {address}")
    for address, _, tags in suites:
        for tag in tags:
            claim(tag, f"a tag of the suite {address}")
    for name, (address, system) in systems.items():
        claim(name, f"the system {address}")
        for role in system.role_specs:
            claim(role.name, f"a role of the system {address} (a tag of its artifacts)")
        for version in system.releases.pinned:
            claim(version, f"a release of the system {address} (a tag of its images)")
    for tag, address in other_tags.items():
        claim(tag, f"a tag of {address}")
    for address, suite, _ in suites:
        for cell in cell_names(suite):
            what = claims.get(cell)
            if what is not None:
                raise SuiteDeclarationError(
                    f"{address}: cell {cell!r} is named like {what}, so --tag={cell} would select both; rename the "
                    f"cell in {address.split(':')[0] or '.'}/BUILD (e.g. {_suggest(cell, suite.name, claims)!r})"
                )


def cell_names(suite: Suite) -> tuple[str, ...]:
    """The names of a suite's declared cells and of its upgrade path's cell."""
    names = tuple(cell.name for cell in suite.cells)
    return names + ((suite.upgrade.name,) if suite.upgrade is not None else ())


def _suggest(cell: str, suite: str, taken: Collection[str]) -> str:
    for candidate in (f"{cell}-cell", f"{suite}-{cell}"):
        if candidate not in taken:
            return candidate
    return f"{cell}-2"


def validate_releases(releases: Releases, system: str) -> None:
    """Pinned versions are releases (``compat_core.versions``), each pinned once in one spelling and
    with requirements; ``earliest`` is pinned."""
    where = f"system {system!r}"
    if not releases.pinned:
        raise ReleaseError(f"{where}: no pinned releases; pin at least one ({pin_instructions(system, '<version>')})")
    seen: dict[Version, str] = {}
    for version in releases.pinned:
        problem = release_problem(version)
        if problem:
            raise ReleaseError(f"{where}: release {version!r} {problem}")
        key = release_key(version)
        if key in seen:
            first = seen[key]
            raise ReleaseError(
                f"{where}: release {version!r} is listed twice; remove one"
                if first == version
                else f"{where}: releases {first!r} and {version!r} are the same PEP 440 version; pin it once, in the "
                f"spelling its package index uses (it names its resolve, images and cells)"
            )
        seen[key] = version
        if not releases.requirements_of(version):
            raise ReleaseError(
                f"{where}: release {version!r} has no requirements; give it e.g. [\"{releases.package}=={version}\"]"
            )
    if releases.earliest not in releases.pinned:
        other = spelled_as(releases.earliest, releases.pinned)
        raise ReleaseError(
            f"{where}: earliest={releases.earliest!r} is not a pinned release (pinned: "
            f"{listed(releases.pinned)}); set earliest to " + (repr(other) if other else "one of those")
        )


def validate_system(system: System) -> None:
    """Check a system for internal consistency (roles, probes, templates, releases, start order)."""
    check_name("system", system.name, "compat_system")
    check_not_reserved("system", system.name, (), f"system {system.name!r}")
    validate_releases(system.releases, system.name)
    if system.branch_release and system.branch_release not in system.releases.pinned:
        other = spelled_as(system.branch_release, system.releases.pinned)
        raise ReleaseError(
            f"system {system.name!r}: branch_release={system.branch_release!r} is not one of its releases "
            f"({listed(system.releases.pinned)}); "
            + (f"write {other!r}, as releases does" if other else "pin it or change branch_release")
        )
    if not system.role_specs:
        raise SuiteDeclarationError(f"system {system.name!r} declares no roles; add at least one compat_role(...)")
    names = [role.name for role in system.role_specs]
    known = set(names)
    for role in system.role_specs:
        where = f"system {system.name!r}, role {role.name!r}"
        check_name("role", role.name, f"system {system.name!r}")
        if names.count(role.name) > 1:
            raise SuiteDeclarationError(f"{where}: declared twice; give each role one compat_role(...)")
        if role.command.kind not in COMMAND_KINDS:
            raise SuiteDeclarationError(f"{where}: command kind {role.command.kind!r} is not one of {COMMAND_KINDS}")
        if not role.command.value:
            raise SuiteDeclarationError(f"{where}: empty command; give a console script or a module entry point")
        for port in role.ports:
            if not isinstance(port, str) or not PORT_NAME_RE.fullmatch(port):
                raise SuiteDeclarationError(
                    f"{where}: port name {port!r} must be lowercase letters, digits, '_' or '-', starting with a letter"
                )
        if len(set(role.ports)) != len(role.ports):
            raise SuiteDeclarationError(f"{where}: ports {role.ports!r} name a port twice")
        for field_name, others in (
            ("depends_on", role.depends_on),
            ("requires", role.requires),
            ("args_if_present", tuple(r for r, _ in role.args_if_present)),
        ):
            for other in others:
                if other not in known:
                    raise SuiteDeclarationError(
                        f"{where}: {field_name} names unknown role {other!r}; known roles: {_known(known)}"
                    )
        _validate_probe(role.readiness, role.ports, where)
        if role.cpus is not None and (
            isinstance(role.cpus, bool) or not isinstance(role.cpus, (int, float)) or not 0 < role.cpus <= 1024
        ):
            raise SuiteDeclarationError(
                f"{where}: cpus={role.cpus!r} must be a number of CPUs above 0 (e.g. 0.5 or 2), or None"
            )
        if role.memory is not None and not (isinstance(role.memory, str) and _MEMORY_RE.fullmatch(role.memory)):
            raise SuiteDeclarationError(f"{where}: memory={role.memory!r} must be like \"512m\" or \"2g\", or None")
        for path, _ in role.files:
            if not path.startswith(("{data_dir}/", "{shared_dir}/")):
                raise SuiteDeclarationError(
                    f"{where}: file {path!r} must be under {{data_dir}}/ (the instance's) or {{shared_dir}}/ "
                    f"(the deployment's), e.g. \"{{data_dir}}/workspace.yaml\""
                )
        # args_if_present and command_probe args expand like args (only the former may name a
        # role that `requires` does not: it applies only where that role runs).
        present_args = [arg for _, extra in role.args_if_present for arg in extra]
        probe_args = list(role.readiness.args)
        templates = list(role.args) + [v for _, v in role.env] + [p for p, _ in role.files]
        templates += [c for _, c in role.files] + list(role.log_files) + present_args + probe_args
        for template in templates:
            _check_template(template, role.ports, where)
        for needed in sorted(peer_roles(role)):
            if needed not in role.requires:
                raise SuiteDeclarationError(
                    f"{where}: uses {{address[{needed}]}} (or peers[{needed}]) but requires does not include "
                    f"{needed!r}; add it to requires, or move those args to args_if_present"
                )
        if system.branch_release == "" and not role.branch:
            raise SuiteDeclarationError(
                f"{where}: no branch code; give the role branch=[...] (the addresses of its code on the branch), "
                f"or give the system a branch_release (a pinned release that plays branch)"
            )
    _check_acyclic(system)
    _check_artifact_names(system)


def _check_artifact_names(system: System) -> None:
    """No two artifacts of ``system`` get one generated target name (the plugin keys them by it).

    A role named like a part of another generated name ("pex", "release") would otherwise
    silently replace that target.
    """
    owners: dict[str, str] = {}

    def claim(name: str, what: str) -> None:
        other = owners.setdefault(name, what)
        if other != what:
            raise SuiteDeclarationError(
                f"system {system.name!r}: {other} and {what} would both be the generated target {name!r}; "
                f"rename the role (generated names: compat_core.names)"
            )

    for version in system.releases.pinned:
        claim(requirement_target(version), f"the requirements of release {version}")
        claim(pex_target(system, version), f"the PEX of release {version}")
    versions = list(system.releases.pinned) if system.branch_release else [BRANCH, *system.releases.pinned]
    if not system.branch_release:
        claim(pex_target(system, BRANCH), "the branch's requirements PEX")
        claim(branch_requirements_target(system), "the branch's requirements")
    for role in system.role_specs:
        if not system.branch_release:
            claim(sources_target(system, role.name, BRANCH), f"the branch sources of role {role.name!r}")
        for version in versions:
            claim(image_target(system, role.name, version), f"the image of role {role.name!r} at {version}")


def _validate_probe(probe: object, ports: Iterable[str], where: str) -> None:
    from compat_core.model import Probe

    if not isinstance(probe, Probe):
        raise SuiteDeclarationError(
            f"{where}: readiness={probe!r} is not a probe; use http_probe, grpc_health_probe, tcp_probe, "
            f"log_probe or command_probe"
        )
    if probe.kind not in PROBE_KINDS:
        raise SuiteDeclarationError(f"{where}: probe kind {probe.kind!r} is not one of {', '.join(PROBE_KINDS)}")
    if probe.kind in PORT_PROBES and probe.port not in tuple(ports):
        raise SuiteDeclarationError(
            f"{where}: the {probe.kind} readiness probe uses port {probe.port!r}, which is not one of the role's "
            f"ports {tuple(ports)!r}; a role with no port is ready by log_probe or command_probe"
        )
    if probe.kind == "log":
        try:
            re.compile(probe.pattern)
        except re.error as exc:
            raise SuiteDeclarationError(f"{where}: log_probe pattern {probe.pattern!r} is not a regex: {exc}") from None
        if not probe.pattern:
            raise SuiteDeclarationError(f"{where}: log_probe needs a pattern (a regex a log line matches)")
    if probe.kind == "command" and not probe.args:
        raise SuiteDeclarationError(f"{where}: command_probe needs args (the command to run; exit 0 = ready)")
    if not (probe.timeout > 0 and probe.interval > 0):
        raise SuiteDeclarationError(
            f"{where}: probe timeout {probe.timeout!r} and interval {probe.interval!r} must be > 0 seconds"
        )


def _check_template(template: str, ports: Iterable[str], where: str) -> None:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise SuiteDeclarationError(
            f"{where}: template {template!r} is malformed ({exc}); write literal braces as {{{{ and }}}}"
        ) from None
    for _, field_name, _, _ in parsed:
        if field_name is None:
            continue
        head = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        if head not in _TEMPLATE_FIELDS:
            raise SuiteDeclarationError(
                f"{where}: template {template!r} uses {{{field_name}}}; the fields are "
                f"{', '.join('{' + f + '}' for f in _TEMPLATE_FIELDS)} (literal braces: {{{{ and }}}})"
            )
        if head == "port":
            port = field_name[len("port[") : -1] if field_name.startswith("port[") and field_name.endswith("]") else ""
            if port not in tuple(ports):
                raise SuiteDeclarationError(
                    f"{where}: template {template!r} uses {{{field_name}}}, but the role's ports are {tuple(ports)!r}"
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
            f"topology={{\"server\": 1}} (roles of {system.name!r}: {_known(system.roles)})"
        )
    present: set[str] = set()
    for role, count in counts:
        if role not in system.roles:
            raise SuiteDeclarationError(
                f"{where}: topology names unknown role {role!r}; the roles of system {system.name!r} are: "
                f"{_known(system.roles)}"
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
                f"{where}: unknown role {role!r}; the roles of system {system.name!r} are: {_known(system.roles)}"
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


def peer_roles(role: RoleSpec, present: Collection[str] = ()) -> set[str]:
    """The roles ``role``'s templates name (``{address[ROLE]}``, ``{peers[ROLE]...}``): in its args,
    env values, file contents and command probe's args, and in the ``args_if_present`` of the
    roles in ``present``."""
    templates = list(role.args) + [v for _, v in role.env] + [c for _, c in role.files] + list(role.readiness.args)
    templates += [arg for other, extra in role.args_if_present if other in present for arg in extra]
    return _address_refs(templates)


def _address_refs(templates: Iterable[str]) -> set[str]:
    """The ROLE of every ``{address[ROLE]}`` / ``{peers[ROLE]...}`` field in ``templates``."""
    refs: set[str] = set()
    for template in templates:
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError:
            continue
        for _, field_name, _, _ in parsed:
            if not field_name:
                continue
            for head in ("address[", "peers["):
                if field_name.startswith(head) and "]" in field_name:
                    refs.add(field_name[len(head) : field_name.index("]")])
    return refs


def _check_acyclic(system: System) -> None:
    state: dict = {}
    path: list = []
    roles = system.roles

    def visit(role: str) -> None:
        state[role] = 1
        path.append(role)
        for dep in roles[role].depends_on:
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :] + [dep]
                raise SuiteDeclarationError(
                    f"system {system.name!r}: depends_on has a cycle: {' -> '.join(cycle)}; remove one of them"
                )
            if dep not in state:
                visit(dep)
        path.pop()
        state[role] = 2

    for role in roles:
        if role not in state:
            visit(role)


def _known(roles: Iterable[str]) -> str:
    return ", ".join(sorted(roles))


__all__ = (
    "CELL_NAME_RE",
    "MAX_INSTANCES_PER_ROLE",
    "NAME_RE",
    "SUITE_NAME_RE",
    "check_cell_name",
    "check_instance_count",
    "check_name",
    "check_not_reserved",
    "peer_roles",
    "memory_limit_error",
    "validate_backends",
    "validate_limits",
    "validate_cell",
    "validate_releases",
    "validate_repo_names",
    "validate_suite",
    "validate_system",
    "validate_topology",
    "validate_upgrade",
)
