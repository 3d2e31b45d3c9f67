"""Where suites come from: the ``compat_suite(...)`` call in a BUILD file, or one cell from the env.

A suite is declared once, in its BUILD file, as a literal macro call. The Pants prelude macro
turns it into targets; the harness reads the same call with ``ast`` (never executing the BUILD
file), so both sides see one source of truth. Under Pants, the macro hands a test its cell as
``COMPAT_MATRIX_CELL`` JSON with versions already concrete.

The full matrix (``full_matrix=True`` + ``COMPAT_MATRIX_FULL=1``) is generated here by a pure
function; the macro mirrors its cell names exactly.

Only ``read_suites`` / ``read_suite`` / ``find_build_files`` touch the file system.
"""

from __future__ import annotations

import ast
import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from compat_matrix.errors import SuiteDeclarationError
from compat_matrix.model import ALIASES, BRANCH, CellSpec, Releases, Suite, Topology
from compat_matrix.settings import flag
from compat_matrix.validate import check_cell_name
from compat_matrix.versions import resolve_version

SUITE_MACRO = "compat_suite"
"""The name of the prelude macro that declares a suite in a BUILD file."""

CELL_ENV = "COMPAT_MATRIX_CELL"
"""Set by the macro in a cell's test: the cell as JSON (versions concrete)."""

BACKEND_ENV = "COMPAT_MATRIX_BACKEND"
"""Set by the macro in a cell's test: ``process`` or ``docker``."""

FULL_MATRIX_ENV = "COMPAT_MATRIX_FULL"
"""Set to an on value (``1``, ``true``, ``yes``, ``on``) to add the every-version cells to suites
with ``full_matrix=True``; ``0``, ``false``, ``no``, ``off`` or unset leave them out, anything else
is an error (``compat_matrix.settings``)."""

ALL_BRANCH = "all-branch"
"""The name of the full-matrix cell in which every role runs the branch."""

DEFAULT_BACKENDS = ("process", "docker")
"""Backends of a suite that names none (as in the macro)."""

DEFAULT_SYSTEM = "conveyor"
"""System of a suite that names none (as in the macro)."""

DEFAULT_SOURCES = ("test_*.py",)
"""Test modules of a suite that names none."""

_REQUIRED = ("name", "topology", "cells")
_OPTIONAL = ("system", "full_matrix", "backends", "sources")


# --- BUILD files -------------------------------------------------------------------------------


def parse_build_text(text: str, source: str = "BUILD") -> tuple[Suite, ...]:
    """Every suite declared by a top-level ``compat_suite(...)`` call in BUILD-file ``text``.

    ``source`` names the file in errors. Keyword arguments the harness uses must be literals;
    other keyword arguments are left to the macro (e.g. ones it passes on to ``python_tests``).
    """
    try:
        module = ast.parse(text, filename=source)
    except SyntaxError as e:
        raise SuiteDeclarationError(f"{source}:{e.lineno}: not valid BUILD syntax ({e.msg})") from None
    suites: list[Suite] = []
    for node in module.body:
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == SUITE_MACRO
        ):
            suites.append(_suite_from_call(node.value, source, text))
    names = [s.name for s in suites]
    for name in names:
        if names.count(name) > 1:
            raise SuiteDeclarationError(f"{source}: suite {name!r} is declared twice; rename one")
    return tuple(suites)


def find_build_files(directory: Path) -> tuple[Path, ...]:
    """The BUILD files of ``directory`` (``BUILD`` and ``BUILD.*``, as Pants 2.17 finds them)."""
    return tuple(sorted(p for p in directory.glob("BUILD*") if p.is_file() and (p.name == "BUILD" or p.name.startswith("BUILD."))))


def read_suites(path: Path) -> tuple[Suite, ...]:
    """The suites declared in ``path``: a BUILD file, or a directory whose BUILD files are read."""
    files = find_build_files(path) if path.is_dir() else (path,)
    if not files:
        raise SuiteDeclarationError(f"{path}: no BUILD file here; a suite is declared by {SUITE_MACRO}(...) in BUILD")
    suites: list[Suite] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as e:
            raise SuiteDeclarationError(f"cannot read {file}: {e.strerror or e}") from None
        suites.extend(parse_build_text(text, str(file)))
    return tuple(suites)


def split_suite_address(path: Path | str) -> tuple[Path, str | None]:
    """``PATH:NAME`` (Pants address syntax) -> (PATH, NAME); a plain path -> (path, None)."""
    text = str(path)
    # Only the last path component may hold the colon, so directories with colons still work.
    if ":" in Path(text).name:
        directory, _, name = text.rpartition(":")
        return Path(directory or "."), name
    return Path(text), None


def read_suite(path: Path | str, name: str | None = None) -> Suite:
    """The one suite at ``path`` (a BUILD file or directory, optionally ``PATH:NAME`` as in Pants).

    ``name`` (or ``:NAME``) picks a suite when the file declares several.
    """
    suite_path, address_name = split_suite_address(path)
    name = name if name is not None else address_name
    text_path = str(suite_path)
    suites = read_suites(suite_path)
    if name is not None:
        for suite in suites:
            if suite.name == name:
                return suite
        known = ", ".join(s.name for s in suites) or "none"
        raise SuiteDeclarationError(f"{text_path}: declares no suite {name!r}; suites there: {known}")
    if len(suites) == 1:
        return suites[0]
    if not suites:
        raise SuiteDeclarationError(f"{text_path}: no {SUITE_MACRO}(...) call; declare the suite there")
    known = ", ".join(s.name for s in suites)
    raise SuiteDeclarationError(
        f"{text_path}: declares several suites ({known}); pick one with {text_path}:<name>"
    )


def _suite_from_call(call: ast.Call, source: str, text: str) -> Suite:
    where = f"{source}:{call.lineno}"
    if call.args:
        raise SuiteDeclarationError(
            f"{where}: {SUITE_MACRO}(...) takes keyword arguments only; write name=..., system=..., ..."
        )
    kwargs: dict[str, ast.expr] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise SuiteDeclarationError(
                f"{where}: {SUITE_MACRO}(**...) is not allowed; write every argument out as a literal"
            )
        kwargs[kw.arg] = kw.value
    if "name" not in kwargs:
        raise SuiteDeclarationError(f"{where}: {SUITE_MACRO}(...) has no name=; add name=\"<suite>\"")
    name = _literal(kwargs["name"], "name", "?", where, text)
    if not isinstance(name, str):
        raise SuiteDeclarationError(f"{where}: {SUITE_MACRO}(name={name!r}) must be a string")
    for key in _REQUIRED:
        if key not in kwargs:
            raise SuiteDeclarationError(
                f"{where}: suite {name!r} has no {key}= argument; add it (required: {', '.join(_REQUIRED)})"
            )
    values = {key: _literal(kwargs[key], key, name, where, text) for key in _REQUIRED + _OPTIONAL if key in kwargs}
    _check_unique_keys(kwargs["topology"], f"{where}: suite {name!r}: topology role")
    _check_unique_keys(kwargs["cells"], f"{where}: suite {name!r}: cell")
    cells_node = kwargs["cells"]
    if isinstance(cells_node, ast.Dict):
        for key_node, value_node in zip(cells_node.keys, cells_node.values, strict=True):
            label = ast.literal_eval(key_node) if key_node is not None else "?"
            _check_unique_keys(value_node, f"{where}: suite {name!r}, cell {label!r}: role")

    system = values.get("system", DEFAULT_SYSTEM)
    if not isinstance(system, str):
        raise SuiteDeclarationError(f"{where}: suite {name!r}: system={system!r} must be a string, e.g. \"conveyor\"")
    topology = values["topology"]
    if not isinstance(topology, dict) or not all(isinstance(k, str) for k in topology):
        raise SuiteDeclarationError(
            f"{where}: suite {name!r}: topology={topology!r} must be a dict of role -> instance count, "
            f"e.g. {{\"server\": 1, \"user-code\": 1}}"
        )
    cells_raw = values["cells"]
    if not isinstance(cells_raw, dict):
        raise SuiteDeclarationError(
            f"{where}: suite {name!r}: cells={cells_raw!r} must be a dict of cell name -> "
            f"{{role: version}}, e.g. {{\"server-latest\": {{\"server\": \"latest\"}}}}"
        )
    cells: list[CellSpec] = []
    for cell_name, versions in cells_raw.items():
        if not isinstance(versions, dict) or not all(isinstance(k, str) for k in versions):
            raise SuiteDeclarationError(
                f"{where}: suite {name!r}, cell {cell_name!r}: {versions!r} must be a dict of role -> "
                f"version, e.g. {{\"server\": \"earliest\"}}"
            )
        cells.append(CellSpec(name=cell_name, versions=tuple(versions.items())))
    full_matrix = values.get("full_matrix", False)
    if not isinstance(full_matrix, bool):
        raise SuiteDeclarationError(f"{where}: suite {name!r}: full_matrix={full_matrix!r} must be True or False")
    backends = _strings(values.get("backends", DEFAULT_BACKENDS), "backends", name, where)
    sources = _strings(values.get("sources", DEFAULT_SOURCES), "sources", name, where)
    return Suite(
        name=name,
        topology=Topology.of(topology),
        cells=tuple(cells),
        modules=sources,
        system=system,
        backends=backends,
        full_matrix=full_matrix,
    )


def _literal(node: ast.expr, key: str, suite: str, where: str, text: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise SuiteDeclarationError(
            f"{where}: suite {suite!r}: {key}= must be a literal (strings, numbers, lists, dicts), "
            f"not {ast.get_source_segment(text, node) or ast.unparse(node)}; the harness reads BUILD files "
            f"without running them"
        ) from None


def _check_unique_keys(node: ast.expr, what: str) -> None:
    # literal_eval keeps the last of two equal keys silently; a duplicated cell or role is a typo.
    if not isinstance(node, ast.Dict):
        return
    seen: set[object] = set()
    for key in node.keys:
        if key is None:
            continue
        try:
            value = ast.literal_eval(key)
        except ValueError:
            continue
        if value in seen:
            raise SuiteDeclarationError(f"{what} {value!r} is declared twice; keep one")
        seen.add(value)


def _strings(value: Any, key: str, suite: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SuiteDeclarationError(
            f"{where}: suite {suite!r}: {key}={value!r} must be a list of strings, e.g. [\"process\", \"docker\"]"
        )
    return tuple(value)


# --- the full matrix ---------------------------------------------------------------------------


def full_matrix_cell_name(versions: Sequence[tuple[str, str]]) -> str:
    """The name of a generated cell: ``<role>-<version>`` for each role not on branch, joined by '-'.

    In the order given (the topology's); ``all-branch`` when every role runs the branch.
    E.g. ``server-0.1.0``, ``server-0.1.0-user-code-0.2.0``.
    """
    parts = [f"{role}-{version}" for role, version in versions if version != BRANCH]
    return "-".join(parts) if parts else ALL_BRANCH


def full_matrix_cells(suite: Suite, releases: Releases) -> tuple[CellSpec, ...]:
    """Every combination of versions over the suite's roles, as cells with concrete versions.

    Each role runs ``branch`` or one of the pinned releases, combined in topology order with
    ``branch`` first and releases ascending (the first role varies slowest); the first cell is
    ``all-branch``. A cell's ``versions`` name only the roles not on the branch.
    """
    choices = (BRANCH, *releases.pinned)
    roles = suite.topology.roles()
    cells: list[CellSpec] = []
    for combination in itertools.product(choices, repeat=len(roles)):
        assigned = tuple((role, version) for role, version in zip(roles, combination, strict=True) if version != BRANCH)
        cells.append(CellSpec(name=full_matrix_cell_name(assigned), versions=assigned))
    return tuple(cells)


def full_matrix_enabled(suite: Suite, environ: Mapping[str, str]) -> bool:
    """Whether the suite opted in (``full_matrix=True``) and the run asked (``COMPAT_MATRIX_FULL`` on).

    ``COMPAT_MATRIX_FULL`` is read strictly (``compat_matrix.settings.flag``): ``false`` / ``no``
    mean off, and a value that is neither on nor off raises ``SettingError``, even for a suite
    that did not opt in (a typo should not go unnoticed until someone opts in).
    """
    wanted = flag(environ, FULL_MATRIX_ENV)
    return suite.full_matrix and wanted


def expand_cells(suite: Suite, releases: Releases, environ: Mapping[str, str]) -> Suite:
    """``suite`` with the full-matrix cells appended when enabled (see ``full_matrix_enabled``).

    A generated cell is left out when a declared cell has its name or runs the same versions
    (e.g. ``server-0.2.0`` when ``server-latest`` is declared and 0.2.0 is the latest), exactly
    as the macro does, so both sides agree on the cells.
    """
    if not full_matrix_enabled(suite, environ):
        return suite
    names = {cell.name for cell in suite.cells}
    assignments = {_concrete(cell, suite, releases) for cell in suite.cells}
    extra: list[CellSpec] = []
    for cell in full_matrix_cells(suite, releases):
        concrete = _concrete(cell, suite, releases)
        if cell.name in names or concrete in assignments:
            continue
        names.add(cell.name)
        assignments.add(concrete)
        extra.append(cell)
    return Suite(
        name=suite.name,
        topology=suite.topology,
        cells=suite.cells + tuple(extra),
        modules=suite.modules,
        system=suite.system,
        backends=suite.backends,
        full_matrix=suite.full_matrix,
    )


def _concrete(cell: CellSpec, suite: Suite, releases: Releases) -> tuple[tuple[str, str], ...]:
    return tuple((role, resolve_version(cell.version_of(role), releases)) for role in suite.topology.roles())


# --- one cell from the environment (under Pants) -----------------------------------------------


def cell_to_json(suite: Suite, cell: CellSpec, releases: Releases | None = None) -> str:
    """The ``COMPAT_MATRIX_CELL`` value for ``cell`` of ``suite``, as the macro sets it.

    Aliases resolved; ``versions`` lists the roles not on the branch, in topology order.
    """
    resolved = [(role, resolve_version(cell.version_of(role), releases)) for role in suite.topology.roles()]
    return json.dumps(
        {
            "suite": suite.name,
            "system": suite.system,
            "cell": cell.name,
            "topology": [[role, count] for role, count in suite.topology.counts],
            "versions": [[role, version] for role, version in resolved if version != BRANCH],
        }
    )


def cell_from_json(text: str) -> Suite:
    """The suite, holding just that one cell, that a ``COMPAT_MATRIX_CELL`` value describes.

    Versions are taken as given (the macro resolved them); ``validate`` / ``plan_cell`` with
    ``releases=None`` check their form.
    """
    fix = f"{CELL_ENV} is set by the {SUITE_MACRO} macro; run the cell through Pants, or unset it to run every cell"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise SuiteDeclarationError(f"{CELL_ENV} is not JSON ({e.msg}): {text!r}; {fix}") from None
    if not isinstance(raw, dict):
        raise SuiteDeclarationError(f"{CELL_ENV} must be a JSON object, got {text!r}; {fix}")
    for key, kind in (("suite", str), ("system", str), ("cell", str), ("topology", list), ("versions", list)):
        if not isinstance(raw.get(key), kind):
            raise SuiteDeclarationError(
                f"{CELL_ENV} has no valid {key!r} (got {raw.get(key)!r}) in {text!r}; {fix}"
            )
    pairs: dict[str, list[tuple[Any, Any]]] = {}
    for key in ("topology", "versions"):
        items = []
        for item in raw[key]:
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
                raise SuiteDeclarationError(
                    f"{CELL_ENV}: {key} entry {item!r} must be a [role, value] pair; {fix}"
                )
            items.append((item[0], item[1]))
        pairs[key] = items
    check_cell_name(raw["cell"], raw["suite"])
    return Suite(
        name=raw["suite"],
        topology=Topology(tuple(pairs["topology"])),
        cells=(CellSpec(name=raw["cell"], versions=tuple(pairs["versions"])),),
        system=raw["system"],
    )


def check_env_cell(env_suite: Suite, declared: Suite, releases: Releases | None, source: str = "BUILD") -> None:
    """Fail unless the one cell of ``env_suite`` (from ``COMPAT_MATRIX_CELL``) is what ``declared`` says.

    The macro writes ``COMPAT_MATRIX_CELL`` from the declaration, so under Pants the two agree; a
    hand-set value can name a real cell with other (or no) versions and would then silently test
    something else under that cell's name. Checked: the system, the topology, that the suite
    declares the cell (or generates it: full-matrix cells count, since ``COMPAT_MATRIX_FULL`` at
    BUILD-parse time need not be in the test's environment), and that its versions resolve to
    exactly the ones given. Without ``releases`` an alias (``earliest`` / ``latest``) matches any
    concrete release (it cannot be resolved). ``source`` names the declaring file in errors.
    """
    cell = env_suite.cells[0]
    where = f"{CELL_ENV} names cell {cell.name!r} of suite {env_suite.name!r}"
    fix = (
        f"unset {CELL_ENV} and pick the cell with `pytest -m {cell.name}` or "
        f"`./pants --tag={cell.name} test ::`"
    )
    if env_suite.system != declared.system:
        raise SuiteDeclarationError(
            f"{where} with system {env_suite.system!r}, but {source} declares system {declared.system!r}; {fix}"
        )
    if env_suite.topology != declared.topology:
        raise SuiteDeclarationError(
            f"{where} with topology {dict(env_suite.topology.counts)}, but {source} declares "
            f"{dict(declared.topology.counts)}; {fix}"
        )
    candidates = {c.name: c for c in declared.cells}
    if declared.full_matrix and releases is not None:
        for generated in full_matrix_cells(declared, releases):
            candidates.setdefault(generated.name, generated)
    spec = candidates.get(cell.name)
    if spec is None:
        known = ", ".join(candidates) or "none"
        raise SuiteDeclarationError(f"{where}, which {source} does not declare (its cells: {known}); {fix}")
    roles = declared.topology.roles()
    given = dict(cell.versions)
    unknown = sorted(set(given) - set(roles))
    mismatched: list[str] = []
    for role in roles:
        wanted = spec.version_of(role)
        got = given.get(role, BRANCH)
        if wanted in ALIASES and releases is None:
            ok = got != BRANCH
        else:
            ok = resolve_version(wanted, releases) == got
        if not ok:
            mismatched.append(f"{role}: {got} (declared {wanted})")
    if unknown or mismatched:
        details = "; ".join(mismatched + [f"{role}: not in the topology" for role in unknown])
        expected = cell_to_json(declared, spec, releases) if releases is not None or not any(
            v in ALIASES for _, v in spec.versions
        ) else ""
        set_it = f", or set it to {expected}" if expected else ""
        raise SuiteDeclarationError(
            f"{where} with versions that disagree with {source} ({details}); {fix}{set_it}"
        )


def suite_from_env(environ: Mapping[str, str]) -> Suite | None:
    """The one-cell suite of ``COMPAT_MATRIX_CELL`` in ``environ``, or None when it is unset."""
    text = environ.get(CELL_ENV, "").strip()
    return cell_from_json(text) if text else None


__all__ = (
    "ALL_BRANCH",
    "BACKEND_ENV",
    "CELL_ENV",
    "DEFAULT_BACKENDS",
    "DEFAULT_SOURCES",
    "DEFAULT_SYSTEM",
    "FULL_MATRIX_ENV",
    "SUITE_MACRO",
    "cell_from_json",
    "cell_to_json",
    "check_env_cell",
    "expand_cells",
    "find_build_files",
    "full_matrix_cell_name",
    "full_matrix_cells",
    "full_matrix_enabled",
    "parse_build_text",
    "read_suite",
    "read_suites",
    "split_suite_address",
    "suite_from_env",
)
