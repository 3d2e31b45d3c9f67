"""A ``compat_system`` in its BUILD file, as text: read its release fields, and edit them in place.

Pure: text in, text out. ``releases pin`` edits only the literals it changes (the ``releases``
list, the ``earliest`` and ``branch_release`` strings); every other byte of the file, comments
and layout included, stays as it was. A field it needs must be a literal (``ast.literal_eval``);
one computed by the BUILD file (a variable, a macro's result) is refused, naming the field.

The BUILD file is read with ``ast``, not evaluated: what Pants evaluates and what is read here
agree for literals, which is all this module accepts.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from compat_core.contract import DEFAULT_RELEASE_INDEX
from compat_core.errors import ReleaseError
from compat_core.model import Releases
from compat_core.parse import parse_releases

RELEASE_FIELDS = (
    "releases",
    "earliest",
    "support",
    "branch_release",
    "package",
    "release_index",
    "release_requirements",
    "release_resolves",
)
"""The ``compat_system`` fields that say what is pinned and where releases come from."""


@dataclass(frozen=True)
class SystemDeclaration:
    """A ``compat_system``'s release fields as its BUILD file writes them (``fields``: literal values
    of the ``RELEASE_FIELDS`` it sets)."""

    name: str
    where: str
    fields: Mapping[str, Any]

    @property
    def releases(self) -> Releases:
        """The pinned releases, parsed by the same core the plugin uses."""
        get = self.fields.get
        return parse_releases(
            self.name,
            get("releases", []),
            get("earliest", ""),
            requirements=get("release_requirements"),
            resolves=get("release_resolves") or {},
            package=get("package") or None,
            index=get("release_index") or DEFAULT_RELEASE_INDEX,
            where=self.where,
            branch_release=get("branch_release") or "",
        )

    @property
    def support(self) -> str:
        return str(self.fields.get("support") or "")

    @property
    def version_templates(self) -> tuple[str, ...]:
        """The requirement templates that name the release's version (``dagster=={version}``)."""
        templates = self.fields.get("release_requirements")
        if templates is None:
            templates = ["{system}=={version}"]
        return tuple(t for t in templates if isinstance(t, str) and "{version}" in t)


def _call(tree: ast.Module, name: str) -> ast.Call | None:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "compat_system"
            and any(
                k.arg == "name" and isinstance(k.value, ast.Constant) and k.value.value == name for k in node.keywords
            )
        ):
            return node
    return None


def _parse(text: str, where: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise ReleaseError(f"{where}: not valid Python ({exc.msg}, line {exc.lineno}); fix it first") from None


def has_system(text: str, name: str) -> bool:
    """Whether ``text`` (a BUILD file) declares ``compat_system(name=name, ...)`` at its top level."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    return _call(tree, name) is not None


def read_system(text: str, name: str, where: str) -> SystemDeclaration:
    """The release fields of ``compat_system(name=name)`` in ``text``; ``where`` names the file."""
    tree = _parse(text, where)
    call = _call(tree, name)
    if call is None:
        raise ReleaseError(
            f"{where} has no compat_system(name={name!r}, ...) call with its fields written out; name the "
            f"compat_system target (path/to/dir:name)"
        )
    where = f"{where}, compat_system(name={name!r})"
    fields: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise ReleaseError(f"{where}: **{ast.unparse(keyword.value)} hides fields; write them out")
        if keyword.arg not in RELEASE_FIELDS:
            continue
        try:
            fields[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise ReleaseError(
                f"{where}: {keyword.arg}={ast.unparse(keyword.value)} is not a literal; releases pin reads and "
                f"edits literals only: write the value out"
            ) from None
    return SystemDeclaration(name=name, where=where, fields=fields)


# --- editing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


class _Source:
    """Offsets into ``text`` from ``ast`` positions (whose columns count UTF-8 bytes)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8"))

    def span(self, node: ast.expr) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def line_span(self, lineno: int) -> tuple[int, int]:
        return self.starts[lineno - 1], self.starts[lineno]

    def line(self, lineno: int) -> str:
        return self.lines[lineno - 1]


def _quote(node: ast.expr, source: _Source) -> str:
    start, _ = source.span(node)
    char = source.text[start]
    return char if char in "'\"" else '"'


def _keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def _comments_within(text: str, start: int, end: int) -> bool:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text[start:end]).readline))
    except (tokenize.TokenError, SyntaxError):
        return True
    return any(t.type == tokenize.COMMENT for t in tokens)


def _alone_on_line(node: ast.expr, source: _Source) -> bool:
    """Whether ``node`` is the only thing on its line but a trailing comma and a comment."""
    if node.lineno != node.end_lineno:
        return False
    line = source.line(node.lineno)
    start, end = source.span(node)
    before = line[: start - source.starts[node.lineno - 1]]
    after = line[end - source.starts[node.lineno - 1] :].strip()
    return not before.strip() and (after in ("", ",") or after.lstrip(",").lstrip().startswith("#"))


def _list_edits(node: ast.List, wanted: Sequence[str], source: _Source, where: str) -> list[_Edit]:
    elements = node.elts
    current = [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if len(current) != len(elements):
        raise ReleaseError(f"{where}: releases holds something other than version strings; write them as strings")
    if list(current) == list(wanted):
        return []
    quote = _quote(elements[0], source) if elements else '"'
    start, end = source.span(node)
    if node.lineno == node.end_lineno or not elements or not all(_alone_on_line(e, source) for e in elements):
        # One line, or a layout other than one release per line: the list is written anew, which
        # loses nothing as long as no comment sits inside it.
        if node.lineno != node.end_lineno and _comments_within(source.text, start, end):
            raise ReleaseError(
                f"{where}: releases has comments inside a layout releases pin cannot edit in place; write one "
                f"release per line (or the list on one line) and run it again"
            )
        return [_Edit(start, end, "[" + ", ".join(f"{quote}{v}{quote}" for v in wanted) + "]")]
    # One release per line: delete the lines of releases that go, add a line per new release next to
    # its neighbour in version order, with the neighbour's indentation.
    edits: list[_Edit] = []
    keep = set(wanted)
    for element, version in zip(elements, current, strict=True):
        if version not in keep:
            edits.append(_Edit(*source.line_span(element.lineno), ""))
    last = elements[-1]
    _, last_end = source.span(last)
    needs_comma = current[-1] in keep and not source.text[last_end:].lstrip(" \t").startswith(",")
    inserted: dict[int, str] = {}  # offset -> the lines added there, oldest first
    for version in (v for v in wanted if v not in current):
        before = [e for e, v in zip(elements, current, strict=True) if Version(v) < Version(version)]
        anchor = before[-1] if before else elements[0]
        line = source.line(anchor.lineno)
        indent = line[: len(line) - len(line.lstrip())]
        at = source.line_span(anchor.lineno)[1 if before else 0]
        inserted[at] = inserted.get(at, "") + f"{indent}{quote}{version}{quote},\n"
        if anchor is last and needs_comma:
            edits.append(_Edit(last_end, last_end, ","))
            needs_comma = False
    edits += [_Edit(at, at, lines) for at, lines in inserted.items()]
    return edits


def _string_edit(call: ast.Call, field: str, value: str, source: _Source, where: str) -> list[_Edit]:
    keyword = _keyword(call, field)
    if keyword is None:
        raise ReleaseError(f"{where}: has no {field}=...; add {field}={value!r}")
    node = keyword.value
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        raise ReleaseError(f"{where}: {field} is not a string literal; write it as one")
    if node.value == value:
        return []
    quote = _quote(node, source)
    return [_Edit(*source.span(node), f"{quote}{value}{quote}")]


def rewrite_system(
    text: str, name: str, where: str, releases: Sequence[str], earliest: str, branch_release: str = ""
) -> str:
    """``text`` with ``compat_system(name=name)``'s ``releases`` list, ``earliest`` and (when given)
    ``branch_release`` set to these values, and nothing else changed.

    ``releases`` is the whole new list, oldest first. Releases already pinned keep their lines
    (and comments); new ones go next to their neighbours in version order. The list must be a list
    (a dict version -> requirements gives each release requirements this cannot invent).
    """
    source = _Source(text)
    call = _call(_parse(text, where), name)
    if call is None:
        raise ReleaseError(f"{where} has no compat_system(name={name!r}, ...)")
    where = f"{where}, compat_system(name={name!r})"
    keyword = _keyword(call, "releases")
    if keyword is None or not isinstance(keyword.value, ast.List):
        raise ReleaseError(
            f"{where}: releases is not a list of versions; releases pin edits a list "
            f"(releases=[\"1.0\", ...] with release_requirements); edit a dict of requirements by hand"
        )
    edits = _list_edits(keyword.value, releases, source, where)
    edits += _string_edit(call, "earliest", earliest, source, where)
    if branch_release:
        edits += _string_edit(call, "branch_release", branch_release, source, where)
    result = text
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        result = result[: edit.start] + edit.text + result[edit.end :]
    written = read_system(result, name, where)
    expected = {"releases": list(releases), "earliest": earliest}
    if branch_release:
        expected["branch_release"] = branch_release
    got = {k: written.fields.get(k) for k in expected}
    if got != expected:  # a bug here, not the user's: say what would have been written
        raise ReleaseError(f"{where}: editing the declaration gave {got}, not {expected}; edit it by hand")
    return result


__all__ = ("RELEASE_FIELDS", "SystemDeclaration", "has_system", "read_system", "rewrite_system")
