"""Names and tags: what a cell, suite, system or role may be called, and which names would
select more than their own targets with ``--tag``.

Pure and CPython 3.9-compatible, like the rest of ``compat_core``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from compat_core.contract import RESERVED_TAGS
from compat_core.errors import SuiteDeclarationError
from compat_core.model import Suite, System

# Cell, suite, system and role names become Pants tags, target names, pytest markers (``-m
# <cell>``) and parts of image names, so they are restricted to what all of these accept unquoted
# (ASCII only). The first character is alphanumeric so a name never looks like a flag. Matched
# with fullmatch: `$` alone also matches before a final newline.
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
# Words that ``pytest -m`` parses as operators, never as marker names.
_PYTEST_KEYWORDS = frozenset({"and", "or", "not"})


def check_name(kind: str, name: object, where: str = "") -> None:
    """Raise unless ``name`` is a valid ``kind`` name (lowercase ``[a-z0-9.-]``, not an operator).

    ``kind`` is "cell", "suite", "system" or "role".
    """
    prefix = f"{where}: " if where else ""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name in _PYTEST_KEYWORDS:
        raise SuiteDeclarationError(
            f"{prefix}invalid {kind} name {name!r}; {kind} names are lowercase ASCII letters, digits, '.' "
            f"and '-', starting with a letter or digit, and not 'and'/'or'/'not' (they become Pants tags, "
            f"target names and pytest markers), e.g. 'server-earliest'"
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


__all__ = ("cell_names", "check_cell_name", "check_name", "check_not_reserved", "validate_repo_names")
