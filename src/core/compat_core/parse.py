"""Raw BUILD field values turned into the model: a suite's cells, topology and upgrade path, a
system's roles and releases.

Pure and CPython 3.9-compatible. The plugin's fields call these while Pants parses a BUILD file,
so a mistake fails there with a message naming the value and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat_core.errors import SuiteDeclarationError
from compat_core.model import CellSpec, Releases, RoleSpec, Topology, UpgradeSpec
from compat_core.names import release_resolve
from compat_core.validate_suite import check_instance_count

DEFAULT_REQUIREMENTS = ("{system}=={version}",)
"""Requirements of a release when the system gives none: the distribution named like the system."""


def strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    """``value`` as a tuple of strings; an error naming ``what`` and the fix when it is not a list of them."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SuiteDeclarationError(f"{where}: {what}={value!r} must be a list of strings, e.g. [\"a\", \"b\"]")
    return tuple(value)


def string_map(value: Any, what: str, where: str) -> tuple[tuple[str, str], ...]:
    """``value`` as (key, value) pairs; an error naming ``what`` when it is not a dict of strings."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise SuiteDeclarationError(f"{where}: {what}={value!r} must be a dict of strings to strings")
    return tuple(value.items())


def parse_upgrade(value: Any, where: str) -> UpgradeSpec | None:
    """A suite's ``upgrade``: one ``compat_upgrade(...)``, or None."""
    if value is None or isinstance(value, UpgradeSpec):
        return value
    raise SuiteDeclarationError(f"{where}: upgrade={value!r} must be compat_upgrade(...)")


def parse_cells(value: Any, where: str) -> tuple[CellSpec, ...]:
    """A suite's ``cells``: a list of ``compat_cell(...)`` (a list, so a repeated name is seen)."""
    if isinstance(value, Mapping):
        raise SuiteDeclarationError(
            f"{where}: cells must be a list of compat_cell(name, {{role: version}}), not a dict (a dict "
            f"silently keeps only the last of two cells with the same name)"
        )
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, CellSpec) for c in value):
        raise SuiteDeclarationError(f"{where}: cells={value!r} must be a list of compat_cell(...)")
    names: list[str] = []
    for cell in value:
        if cell.name in names:
            raise SuiteDeclarationError(f"{where}: cell {cell.name!r} is declared twice; give each cell a unique name")
        names.append(cell.name)
    return tuple(value)


def parse_topology(value: Any, where: str) -> Topology:
    """A suite's ``topology``: role -> instance count."""
    if not isinstance(value, Mapping) or not value:
        raise SuiteDeclarationError(
            f"{where}: topology={value!r} must be a non-empty dict of role -> instance count, e.g. {{\"server\": 1}}"
        )
    for role, count in value.items():
        if not isinstance(role, str):
            raise SuiteDeclarationError(f"{where}: topology role {role!r} must be a string")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SuiteDeclarationError(
                f"{where}: topology gives role {role!r} the count {count!r}; it must be an integer >= 1"
            )
        check_instance_count(role, count, where)
    return Topology(tuple(value.items()))


def parse_roles(value: Any, where: str) -> tuple[RoleSpec, ...]:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(r, RoleSpec) for r in value):
        raise SuiteDeclarationError(f"{where}: roles must be a non-empty list of compat_role(...), got {value!r}")
    return tuple(value)


def parse_releases(
    system: str,
    releases: Any,
    earliest: Any,
    requirements: Any = None,
    resolves: Any = None,
    package: str | None = None,
    index: str = "",
    where: str = "",
    branch_release: str = "",
) -> Releases:
    """A system's releases from its fields.

    ``releases``: a list of versions ``["0.1.0", ...]`` (each installed by ``requirements``, templates
    with ``{version}`` and ``{system}``, default ``["<system>=={version}"]``), or a dict version ->
    list of requirements. ``resolves``: version -> resolve (default ``<system>-<version>``).
    Versions are checked by ``compat_core.validate.validate_releases``.
    """
    where = where or f"compat_system(name={system!r})"
    template = DEFAULT_REQUIREMENTS if requirements is None else strings(requirements, "release_requirements", where)
    pinned: list[str] = []
    reqs: dict[str, tuple[str, ...]] = {}
    if isinstance(releases, Mapping):
        items = list(releases.items())
    elif isinstance(releases, (list, tuple)):
        items = [(v, None) for v in releases]
    else:
        raise SuiteDeclarationError(
            f"{where}: releases={releases!r} must be a list of versions [\"0.1.0\", ...] or a dict version -> requirements"
        )
    for version, given in items:
        if not isinstance(version, str):
            raise SuiteDeclarationError(
                f"{where}: release {version!r} is not a string; write versions in quotes, e.g. \"0.1.0\""
            )
        pinned.append(version)
        if given is None:
            reqs[version] = tuple(t.format(system=system, version=version) for t in template)
        else:
            reqs[version] = strings(given, f"releases[{version!r}]", where)
    if not isinstance(earliest, str):
        raise SuiteDeclarationError(f"{where}: earliest={earliest!r} must be a release string, e.g. \"0.1.0\"")
    given_resolves = dict(string_map(resolves or {}, "release_resolves", where))
    for version in given_resolves:
        if version not in pinned:
            raise SuiteDeclarationError(f"{where}: release_resolves names {version!r}, which is not a release")
    from compat_core.versions import is_release

    return Releases(
        branch_release=branch_release,
        package=package or system,
        pinned=tuple(pinned),
        earliest=earliest,
        index=index,
        requirements=tuple((v, reqs[v]) for v in pinned),
        resolves=tuple(
            (v, given_resolves.get(v) or (release_resolve(system, v) if is_release(v) else "")) for v in pinned
        ),
    )


__all__ = (
    "DEFAULT_REQUIREMENTS",
    "parse_cells",
    "parse_releases",
    "parse_roles",
    "parse_topology",
    "parse_upgrade",
    "string_map",
    "strings",
)
