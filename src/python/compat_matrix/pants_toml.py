"""``pants.toml`` as text: read the resolves, local release indexes and ``[compat-matrix]`` settings,
and add or remove resolves.

Pure: text in, text out. An edit touches only the lines of the resolves it adds or removes, in
the ``[python.resolves]`` table; comments and every other line stay. The result is parsed back
(``tomllib``) and must hold exactly the resolves asked for, or nothing is written.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.version import InvalidVersion, Version

from compat_core.errors import ReleaseError
from compat_core.settings import SCOPE, Settings

_TABLE_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY_RE = re.compile(r'^\s*(?:"(?P<quoted>[^"\\]+)"|(?P<bare>[A-Za-z0-9_-]+))\s*=')


def _load(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReleaseError(f"{where} is not valid TOML ({exc}); fix it first") from None


def resolves(text: str, where: str = "pants.toml") -> dict[str, str]:
    """``[python.resolves]``: resolve name -> lockfile path."""
    table = _load(text, where).get("python", {}).get("resolves", {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def find_links(text: str, where: str = "pants.toml") -> tuple[str, ...]:
    """``[python-repos].find_links`` as written (``%(buildroot)s`` not expanded)."""
    value = _load(text, where).get("python-repos", {}).get("find_links", [])
    if isinstance(value, dict):  # `find_links.add = [...]`
        value = list(value.get("add", []))
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def indexes(text: str, where: str = "pants.toml") -> tuple[str, ...]:
    """``[python-repos].indexes`` (Pants' default, PyPI, when unset)."""
    value = _load(text, where).get("python-repos", {}).get("indexes")
    if isinstance(value, dict):
        return ("https://pypi.org/simple/", *value.get("add", []))
    return tuple(str(v) for v in value) if isinstance(value, list) else ("https://pypi.org/simple/",)


def _table_lines(lines: list[str], where: str) -> tuple[int, int]:
    """The line range [first, end) of ``[python.resolves]``'s key lines (after its header)."""
    start = next((i for i, line in enumerate(lines) if (m := _TABLE_RE.match(line)) and m.group(1) == "python.resolves"), None)
    if start is None:
        raise ReleaseError(
            f"{where} has no [python.resolves] table (a line of its own); add one: every pinned release needs "
            f"a resolve there"
        )
    end = next((i for i in range(start + 1, len(lines)) if _TABLE_RE.match(lines[i])), len(lines))
    # Blank and comment lines at the end of the table belong to what follows.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return start + 1, end


def _key(line: str) -> str | None:
    match = _KEY_RE.match(line)
    return (match.group("quoted") or match.group("bare")) if match else None


def _order(key: str) -> tuple[str, Any]:
    # `<system>-<version>` keys of one system sort by version (5.9 before 5.15), others by name.
    system, _, version = key.rpartition("-")
    try:
        return (system, (0, Version(version)))
    except InvalidVersion:
        return (key, (1, ""))


def edit_resolves(text: str, add: Mapping[str, str], remove: Iterable[str] = (), where: str = "pants.toml") -> str:
    """``text`` with the resolves ``add`` (name -> lockfile) added and ``remove`` removed.

    A resolve already there with the same lockfile stays as it is (pinning twice changes nothing);
    with another lockfile it is an error. A new ``<system>-<version>`` resolve goes next to the
    resolves of its system in version order (``dagster-1.12.22`` between ``dagster-1.11.16`` and
    ``dagster-1.13.27``), or of the system whose name sorts before it.
    """
    before = resolves(text, where)
    removed = set(remove)
    expected = {k: v for k, v in before.items() if k not in removed}
    for name, lockfile in add.items():
        if before.get(name, lockfile) != lockfile:
            raise ReleaseError(
                f"{where}: the resolve {name!r} is there with the lockfile {before[name]!r}, not {lockfile!r}; "
                f"remove it or make it {lockfile!r}"
            )
        expected[name] = lockfile
    if expected == before:
        return text
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    first, end = _table_lines(lines, where)
    kept: list[str] = []
    keys: list[tuple[int, str]] = []  # (index in kept, key)
    for line in lines[first:end]:
        key = _key(line)
        if key is not None and key in removed:
            continue
        if key is not None:
            keys.append((len(kept), key))
        kept.append(line)
    for name in sorted((n for n in add if n not in before), key=_order):
        # Next to the release resolves that sort just before it (its system's older releases, else
        # the system before it), else before the first that sorts after it, else last.
        releases = [(i, k) for i, k in keys if _order(k)[1][0] == 0]
        smaller = [(i, k) for i, k in releases if _order(k) < _order(name)]
        larger = [(i, k) for i, k in releases if _order(k) > _order(name)]
        if smaller:
            at = max(smaller, key=lambda item: _order(item[1]))[0] + 1
        elif larger:
            at = min(larger, key=lambda item: _order(item[1]))[0]
            while at > 0 and kept[at - 1].lstrip().startswith("#"):
                at -= 1  # the comment above a resolve stays with it
        else:
            at = len(kept)
        kept.insert(at, f'"{name}" = "{add[name]}"\n')
        keys = sorted([(i + 1 if i >= at else i, k) for i, k in keys] + [(at, name)])
    result = "".join(lines[:first] + kept + lines[end:])
    got = resolves(result, where)
    if got != expected:  # a bug here, not the user's
        raise ReleaseError(f"{where}: editing [python.resolves] gave {sorted(got)}, not {sorted(expected)}; edit it by hand")
    return result


def compat_settings(text: str, where: str = "pants.toml") -> Settings:
    """The ``[compat-matrix]`` section as ``Settings`` (without the environment's overrides), for the
    harness outside Pants (``compat-matrix up``); ``%(name)s`` is filled from ``[DEFAULT]`` as
    Pants fills it."""
    data = _load(text, where)
    defaults = {str(k): str(v) for k, v in data.get("DEFAULT", {}).items()}
    table = data.get(SCOPE, {})

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"%\((\w+)\)s", lambda m: defaults.get(m.group(1), m.group(0)), value)
        return value

    return Settings.from_options({str(k): fill(v) for k, v in table.items()} if isinstance(table, dict) else {})


__all__ = ("compat_settings", "edit_resolves", "find_links", "indexes", "resolves")
