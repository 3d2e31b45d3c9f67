"""Version specs and release resolution: what ``branch``, ``earliest``, ``latest`` and ``X.Y.Z`` mean.

Pure and CPython 3.9-compatible; the environment is passed in as a mapping.

``earliest`` is a system's declared default, moved by the environment:

- ``EARLIEST_TESTED_RELEASE_<SYSTEM>`` (the system's name upper-cased, ``-`` and ``.`` as ``_``,
  e.g. ``EARLIEST_TESTED_RELEASE_DAGSTER``) moves it for that system only, and must be one of its
  pinned releases;
- else ``EARLIEST_TESTED_RELEASE`` moves it for every system that pins that release, and leaves
  the other systems' ``earliest`` alone (a repo with several systems runs ``pants test ::`` with
  one value); it must still be a release ``X.Y.Z``, pinned by at least one system.

``check_earliest_overrides`` sees every system of the repo: a shared value no system pins, or a
per-system variable naming no system, would otherwise move nothing while the user believes
``earliest`` moved.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from compat_core.contract import EARLIEST_ENV
from compat_core.errors import ReleaseError
from compat_core.model import ALIASES, BRANCH, EARLIEST, Releases

# Exactly X.Y.Z: artifact names and resolves use the string verbatim, so "0.1", "01.2.3" or
# "v0.1.0" would name artifacts that do not exist. packaging would accept them; this is stricter.
_RELEASE_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


def is_release(version: object) -> bool:
    """Whether ``version`` is a concrete release string ``X.Y.Z`` (no aliases, no pre-releases)."""
    return isinstance(version, str) and bool(_RELEASE_RE.fullmatch(version))


def system_earliest_env(system: str) -> str:
    """The variable that moves ``earliest`` for ``system`` alone: ``EARLIEST_TESTED_RELEASE_<SYSTEM>``."""
    return EARLIEST_ENV + "_" + re.sub(r"[^A-Z0-9]", "_", system.upper())


def pin_instructions(system: str, version: str) -> str:
    """How to pin ``version`` of ``system``: the steps every message about an unpinned version repeats."""
    return (
        f"to pin {system} {version}: add {version!r} to the releases of compat_system(name={system!r}), "
        f"add a resolve \"{system}-{version}\" to [python.resolves] in pants.toml, and run "
        f"./pants generate-lockfiles --resolve={system}-{version}"
    )


def apply_earliest_override(releases: Releases, system: str, environ: Mapping[str, str]) -> Releases:
    """``releases`` with ``earliest`` moved by the environment (see the module docstring)."""
    own_name = system_earliest_env(system)
    own = environ.get(own_name, "").strip()
    shared = environ.get(EARLIEST_ENV, "").strip()
    if shared and not is_release(shared):
        raise ReleaseError(
            f"{EARLIEST_ENV}={shared!r} is not a release X.Y.Z; set it to a pinned release, e.g. "
            f"{releases.pinned[0]!r} for {system}, or unset it"
        )
    if own:
        if own not in releases.pinned:
            raise ReleaseError(
                f"{own_name}={own!r} is not a pinned release of {system} (pinned: {', '.join(releases.pinned)}); "
                f"use one of those, or {pin_instructions(system, own)}"
            )
        chosen = own
    elif shared and shared in releases.pinned:
        chosen = shared
    else:
        return releases
    return dataclasses.replace(releases, earliest=chosen)


def check_earliest_overrides(systems: Sequence[tuple[str, Releases]], environ: Mapping[str, str]) -> None:
    """Raise unless every ``earliest`` override in ``environ`` moves ``earliest`` of some system.

    ``systems``: (name, releases) of every system in the repo.
    """
    pinned = "; ".join(f"{name} {', '.join(releases.pinned)}" for name, releases in sorted(systems))
    for name, releases in systems:
        apply_earliest_override(releases, name, environ)
    shared = environ.get(EARLIEST_ENV, "").strip()
    if shared and not any(shared in releases.pinned for _, releases in systems):
        raise ReleaseError(
            f"{EARLIEST_ENV}={shared} is pinned by no system, so it would move no system's earliest; pinned "
            f"releases: {pinned or '(no system)'}; set it to one of them or unset it"
        )
    own = {system_earliest_env(name): name for name, _ in systems}
    for variable in sorted(environ):
        if variable.startswith(EARLIEST_ENV + "_") and environ[variable].strip() and variable not in own:
            known = ", ".join(f"{var} ({name})" for var, name in sorted(own.items())) or "(no system)"
            raise ReleaseError(
                f"{variable}={environ[variable].strip()} names no system, so it would move nothing; the systems' "
                f"variables: {known}; rename it to one of them or unset it"
            )


def resolve_version(spec: object, releases: Releases | None, system: str = "") -> str:
    """Resolve a version spec to a concrete version: ``branch`` or a pinned ``X.Y.Z``.

    With ``releases=None`` (a cell whose versions are already concrete) only ``branch`` and
    ``X.Y.Z`` are accepted and pinning is not checked. Anything else raises ``ReleaseError``
    saying how to pin.
    """
    if not isinstance(spec, str):
        raise ReleaseError(f"version {spec!r} is not a string; write 'branch', 'earliest', 'latest' or \"X.Y.Z\"")
    if spec == BRANCH:
        return BRANCH
    if spec in ALIASES:
        if releases is None:
            raise ReleaseError(f"version alias {spec!r} needs the system's releases to resolve")
        return releases.earliest if spec == EARLIEST else releases.latest
    name = system or (releases.package if releases else "the system")
    if not is_release(spec):
        raise ReleaseError(
            f"version {spec!r} is not 'branch', 'earliest', 'latest' or a release X.Y.Z "
            f"(digits without leading zeros, e.g. '0.1.0')"
        )
    if releases is not None and spec not in releases.pinned:
        raise ReleaseError(
            f"version {spec!r} is not a pinned release of {name} (pinned: {', '.join(releases.pinned)}); "
            f"{pin_instructions(name, spec)}"
        )
    return spec


__all__ = (
    "apply_earliest_override",
    "check_earliest_overrides",
    "is_release",
    "pin_instructions",
    "resolve_version",
    "system_earliest_env",
)
