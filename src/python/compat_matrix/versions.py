"""Releases and version resolution: which released versions exist, and what a version spec means.

The pinned releases live in ONE committed file, ``3rdparty/python/releases/releases.py``: a
function ``releases()`` that returns a literal dict (a plain ``RELEASES = {...}`` is read too).
The Pants prelude execs that file; the harness only ever reads the literal with
``ast.literal_eval`` so that reading it can never run code.

Everything here is pure except ``load_releases`` (which reads the file) and ``find_repo_root``
(which looks at the file system); the environment is passed in as a mapping.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from compat_matrix.errors import ReleaseError
from compat_matrix.model import ALIASES, BRANCH, EARLIEST, Releases

RELEASES_FILE = "3rdparty/python/releases/releases.py"
"""Where the pinned releases live, relative to the repo root."""

EARLIEST_ENV = "EARLIEST_TESTED_RELEASE"
"""Environment variable that overrides ``earliest`` from the releases file."""

# Exactly X.Y.Z: the artifact naming (pex-X.Y.Z.pex, conveyor/role:X.Y.Z) and the resolve names
# (conveyor-X.Y.Z) use the string verbatim, so "0.1" or "v0.1.0" would name artifacts that do not
# exist. packaging would accept them; this is deliberately stricter.
_RELEASE_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


def is_release(version: str) -> bool:
    """Whether ``version`` is a concrete release string ``X.Y.Z`` (no aliases, no pre-releases)."""
    return bool(_RELEASE_RE.match(version))


def pin_instructions(version: str, package: str = "conveyor") -> str:
    """How to pin ``version``: the three steps every message about an unpinned version repeats."""
    return (
        f"to pin {package} {version}: add its wheel to the release index "
        f"(3rdparty/python/releases/wheels), add {version!r} to 'pinned' in {RELEASES_FILE}, "
        f"and add a resolve + lockfile: ./pants generate-lockfiles --resolve={package}-{version}"
    )


def parse_releases(
    text: str, source: str = RELEASES_FILE, environ: Mapping[str, str] | None = None
) -> Releases:
    """Parse the releases file's text (``def releases(): return {...}``) and apply the env override.

    ``source`` only names the file in error messages. ``environ`` (e.g. ``os.environ``) may set
    ``EARLIEST_TESTED_RELEASE``; None means no override.
    """
    raw = _literal_releases(text, source)
    package = _field(raw, "package", str, source)
    pinned_raw = _field(raw, "pinned", (list, tuple), source)
    earliest = _field(raw, "earliest", str, source)
    index = raw.get("index", "")
    if not isinstance(index, str):
        raise ReleaseError(f"{source}: 'index' must be a string path or URL, got {index!r}")
    if not pinned_raw:
        raise ReleaseError(
            f"{source}: 'pinned' is empty; pin at least one release. " + pin_instructions("X.Y.Z", package)
        )
    pinned = []
    for version in pinned_raw:
        if not isinstance(version, str) or not is_release(version):
            raise ReleaseError(
                f"{source}: pinned release {version!r} is not a version string X.Y.Z; "
                f"write it as e.g. \"0.1.0\""
            )
        if version in pinned:
            raise ReleaseError(f"{source}: pinned release {version!r} is listed twice; remove one")
        pinned.append(version)
    if earliest not in pinned:
        raise ReleaseError(
            f"{source}: 'earliest' is {earliest!r}, which is not pinned (pinned: {', '.join(pinned)}); "
            f"set 'earliest' to a pinned release, or {pin_instructions(earliest, package)}"
        )
    # Keep the file's order out of the model: releases are always ascending.
    releases = Releases(
        package=package, pinned=tuple(sorted(pinned, key=Version)), earliest=earliest, index=index
    )
    return apply_earliest_override(releases, environ or {})


def apply_earliest_override(releases: Releases, environ: Mapping[str, str]) -> Releases:
    """Return ``releases`` with ``earliest`` taken from ``EARLIEST_TESTED_RELEASE`` when it is set.

    The override must be a pinned release: a cell on ``earliest`` needs that release's artifacts.
    """
    override = environ.get(EARLIEST_ENV, "").strip()
    if not override:
        return releases
    if override not in releases.pinned:
        raise ReleaseError(
            f"{EARLIEST_ENV}={override!r} is not a pinned release of {releases.package} "
            f"(pinned: {', '.join(releases.pinned)}); use one of those, or "
            f"{pin_instructions(override, releases.package)}"
        )
    return Releases(
        package=releases.package, pinned=releases.pinned, earliest=override, index=releases.index
    )


def load_releases(path: Path, environ: Mapping[str, str] | None = None) -> Releases:
    """Read and parse the releases file at ``path`` (see ``parse_releases``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ReleaseError(
            f"cannot read the releases file {path}: {e.strerror or e}; it should be {RELEASES_FILE} "
            f"in the repo root (run from inside the repo, or pass its path)"
        ) from None
    return parse_releases(text, str(path), environ)


def resolve_version(spec: str, releases: Releases | None) -> str:
    """Resolve a version spec to a concrete version: ``branch`` or a pinned ``X.Y.Z``.

    ``branch`` stays ``branch``; ``earliest`` / ``latest`` become pinned releases; ``X.Y.Z``
    must be pinned. With ``releases=None`` (e.g. in a Pants sandbox, where the macro has already
    resolved every alias) only ``branch`` and ``X.Y.Z`` are accepted and pinning is not checked.
    Anything else raises ``ReleaseError`` saying how to pin.
    """
    if not isinstance(spec, str):
        raise ReleaseError(f"version {spec!r} is not a string; use 'branch', 'earliest', 'latest' or X.Y.Z")
    if spec == BRANCH:
        return BRANCH
    if spec in ALIASES:
        if releases is None:
            raise ReleaseError(
                f"version alias {spec!r} needs the releases file to resolve ({RELEASES_FILE}); "
                f"run from inside the repo, or use a concrete version X.Y.Z"
            )
        return releases.earliest if spec == EARLIEST else releases.latest
    if not is_release(spec):
        hint = ""
        try:
            # A valid but non-X.Y.Z version ("0.1", "v0.1.0", "0.2.0rc1"): point at the X.Y.Z form.
            release = Version(spec).release
            hint = f" (write releases as X.Y.Z, e.g. {'.'.join(map(str, (release + (0, 0))[:3]))!r})"
        except InvalidVersion:
            pass
        raise ReleaseError(
            f"version {spec!r} is not 'branch', 'earliest', 'latest' or a pinned release X.Y.Z{hint}; "
            f"pin a release with: " + pin_instructions("X.Y.Z", releases.package if releases else "conveyor")
        )
    if releases is not None and spec not in releases.pinned:
        raise ReleaseError(
            f"version {spec!r} is not a pinned release of {releases.package} "
            f"(pinned: {', '.join(releases.pinned)}); {pin_instructions(spec, releases.package)}"
        )
    return spec


def find_repo_root(*starts: Path) -> Path:
    """The nearest directory at or above one of ``starts`` that holds ``pants.toml``."""
    for start in starts:
        start = start.resolve()
        for candidate in (start, *start.parents):
            if (candidate / "pants.toml").is_file():
                return candidate
    tried = ", ".join(str(s) for s in starts)
    raise ReleaseError(
        f"no pants.toml found at or above {tried}; run from inside the repo, or pass the releases "
        f"file / index explicitly"
    )


def _literal_releases(text: str, source: str) -> Mapping[str, Any]:
    # Two literal forms: the prelude's `def releases(): return {...}` (Pants exports a prelude's
    # functions to BUILD files) and a plain `RELEASES = {...}`. Either way only the literal is read.
    try:
        module = ast.parse(text, filename=source)
    except SyntaxError as e:
        raise ReleaseError(f"{source}:{e.lineno}: not valid Python ({e.msg}); {_SHAPE}") from None
    for node in module.body:
        value_node: ast.expr | None = None
        if isinstance(node, ast.FunctionDef) and node.name == "releases":
            body = [
                stmt
                for stmt in node.body
                if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))  # docstring
            ]
            if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
                raise ReleaseError(f"{source}:{node.lineno}: releases() must only return a literal dict; {_SHAPE}")
            value_node = body[0].value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "RELEASES"
        ):
            value_node = node.value
        if value_node is None:
            continue
        try:
            value = ast.literal_eval(value_node)
        except ValueError:
            raise ReleaseError(
                f"{source}:{node.lineno}: the releases must be a literal dict (strings and lists only, "
                f"no names or calls) so that they can be read without running the file"
            ) from None
        if not isinstance(value, dict):
            raise ReleaseError(f"{source}:{node.lineno}: the releases must be a dict, got {type(value).__name__}")
        return value
    raise ReleaseError(f"{source}: no releases() function returning the releases; {_SHAPE}")


_SHAPE = (
    'the file must define def releases(): return {"package": ..., "pinned": [...], "earliest": ..., '
    '"index": ...} (a literal)'
)


def _field(raw: Mapping[str, Any], key: str, kind: Any, source: str) -> Any:
    if key not in raw:
        raise ReleaseError(f"{source}: the releases have no {key!r} key; add it")
    value = raw[key]
    if not isinstance(value, kind):
        raise ReleaseError(f"{source}: the releases' {key!r} has the wrong type: {value!r}")
    return value


__all__ = (
    "EARLIEST_ENV",
    "RELEASES_FILE",
    "apply_earliest_override",
    "find_repo_root",
    "is_release",
    "load_releases",
    "parse_releases",
    "pin_instructions",
    "resolve_version",
)
