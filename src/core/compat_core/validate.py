"""Validation of systems and their releases: the rules both the build and the harness apply
(suites: ``validate_suite``; names and tags: ``validate_names``).

Pure and CPython 3.9-compatible. Every error is a ``SuiteDeclarationError`` (or ``ReleaseError``)
that names the system or suite, the cell or role, the bad value, and the fix. Validation stops at
the first problem so that the message stays one line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Iterable

from packaging.version import Version

from compat_core.errors import ReleaseError, SuiteDeclarationError
from compat_core.model import BRANCH, COMMAND_KINDS, PORT_PROBES, PROBE_KINDS, Releases, RoleSpec, System
from compat_core.names import (
    branch_requirements_target,
    image_target,
    pex_target,
    requirement_target,
    sources_target,
)
from compat_core.validate_names import check_name, check_not_reserved
from compat_core.versions import (
    listed,
    pin_instructions,
    release_key,
    release_problem,
    spelled_as,
)

# A port name is a template key ({port[NAME]}).
_PORT_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_MEMORY_RE = re.compile(r"^[1-9][0-9]*[bkmg]?$")
_TEMPLATE_FIELDS = ("host", "advertised_host", "port", "name", "index", "data_dir", "shared_dir", "address", "peers")


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
            if not isinstance(port, str) or not _PORT_NAME_RE.fullmatch(port):
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
                        f"{where}: {field_name} names unknown role {other!r}; known roles: {known_roles(known)}"
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
        if system.branch_release == "" and not role.branch_sources:
            raise SuiteDeclarationError(
                f"{where}: no branch code; give the role branch_sources=[...] (the addresses of its code on the branch), "
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


def known_roles(roles: Iterable[str]) -> str:
    """``roles`` as an error message lists them."""
    return ", ".join(sorted(roles))


__all__ = ("known_roles", "peer_roles", "validate_releases", "validate_system")
