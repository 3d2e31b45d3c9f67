"""Version specs and release resolution: what ``branch``, ``earliest``, ``latest`` and a release mean.

Pure and CPython 3.9-compatible; the environment is passed in as a mapping.

A release is written as its package index names it: a PEP 440 final release in its normalized
form (``5.15``, ``2.0``, ``1.13.28``, ``1.4.post1``), kept verbatim in resolve, artifact, image and
cell names (a system pinning ``5.15`` has the resolve ``<system>-5.15``, never ``5.15.0``) and
ordered by PEP 440 (``packaging.version``) wherever releases are compared: ``latest``, sorting,
and the rule that one version is pinned in one spelling (``5.15`` and ``5.15.0`` are the same).
Not pinned: pre-releases and development releases (``latest`` and ``earliest`` name releases users
run; pip skips them too unless asked), epochs (``1!2.0``: a ``!`` cannot be in an image tag or a
target name) and local versions (``1.0+local``: indexes do not serve them, a ``+`` cannot be in a
tag).

``earliest`` is a system's declared default, moved by the environment:

- ``EARLIEST_TESTED_RELEASE_<SYSTEM>`` (the system's name upper-cased, ``-`` and ``.`` as ``_``,
  e.g. ``EARLIEST_TESTED_RELEASE_DAGSTER``) moves it for that system only, and must be one of its
  pinned releases;
- else ``EARLIEST_TESTED_RELEASE`` moves it for every system that pins that release, and leaves
  the other systems' ``earliest`` alone (a repo with several systems runs ``pants test ::`` with
  one value); it must still be a release, pinned by at least one system.

``check_earliest_overrides`` sees every system of the repo: a shared value no system pins, or a
per-system variable naming no system, would otherwise move nothing while the user believes
``earliest`` moved.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence

from packaging.version import InvalidVersion, Version

from compat_core.contract import EARLIEST_ENV, PIN_COMMAND
from compat_core.errors import ReleaseError
from compat_core.model import ALIASES, BRANCH, EARLIEST, Releases

RELEASE_EXAMPLES = "e.g. '5.15', '1.13.28' or '1.4.post1'"
"""How messages show what a release looks like."""

_UNRELEASED = "pin a final release once it is out, or test unreleased code as the branch"


def release_problem(version: object) -> str:
    """Why ``version`` cannot be pinned, as a clause after the value ("is a pre-release ..."), or
    '' when it is a release: a PEP 440 final (or post-) release written in its normalized form."""
    if not isinstance(version, str):
        return "is not a string; write the version in quotes, e.g. \"5.15\""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return f"is not a PEP 440 version; write a release as its package index names it, {RELEASE_EXAMPLES}"
    if parsed.epoch:
        return (
            f"has an epoch ({parsed.epoch}!), which is not supported: a release's version is part of its "
            f"resolve, image tag and target names, where '!' cannot go; pin a release without one"
        )
    if parsed.local is not None:
        return (
            f"has a local version label (+{parsed.local}), which package indexes do not serve and an image "
            f"tag cannot hold; pin the public release {parsed.public!r}"
        )
    if parsed.is_devrelease:
        return f"is a development release (PEP 440 .dev{parsed.dev}); only final releases are pinned: {_UNRELEASED}"
    if parsed.pre is not None:
        kind, number = parsed.pre
        return f"is a pre-release (PEP 440 {kind}{number}); only final releases are pinned: {_UNRELEASED}"
    if str(parsed) != version:
        return (
            f"is not written as its package index names it (PEP 440's normalized form); write {str(parsed)!r}: "
            f"the string is used verbatim in resolve, image and cell names"
        )
    return ""


def is_release(version: object) -> bool:
    """Whether ``version`` is a concrete release: a PEP 440 final or post-release, normalized
    (``5.15``, ``1.2.3``, ``1.4.post1``; not an alias, a pre-release or a dev release)."""
    return not release_problem(version)


def release_key(version: str) -> Version:
    """The PEP 440 order of a release (``5.9 < 5.15 < 5.15.1``; ``1.4 < 1.4.post1 < 1.4.1``)."""
    return Version(version)


def sort_releases(versions: Iterable[str]) -> tuple[str, ...]:
    """``versions`` (releases) oldest first, by PEP 440."""
    return tuple(sorted(versions, key=release_key))


def version_order(version: str) -> tuple[int, Version, str]:
    """A sort key for concrete versions: ``branch`` first, then releases by PEP 440, then any
    other text (e.g. a report's unknown version) by itself."""
    if version == BRANCH:
        return (0, Version("0"), "")
    if is_release(version):
        return (1, Version(version), version)
    return (2, Version("0"), version)


def spelled_as(version: str, pinned: Iterable[str]) -> str:
    """The pinned release that is ``version`` spelled another way (``5.15`` for ``5.15.0``), or ''."""
    try:
        wanted = Version(version)
    except InvalidVersion:
        return ""
    return next((other for other in pinned if other != version and is_release(other) and Version(other) == wanted), "")


def _spelling_hint(version: str, pinned: Iterable[str]) -> str:
    """'' or a clause saying that ``version`` is pinned in another spelling, and which to write."""
    other = spelled_as(version, pinned)
    return (
        f"; it is pinned as {other!r} (the same PEP 440 version): write {other!r}, the spelling its resolve, "
        f"images and tags carry"
        if other
        else ""
    )


def system_earliest_env(system: str) -> str:
    """The variable that moves ``earliest`` for ``system`` alone: ``EARLIEST_TESTED_RELEASE_<SYSTEM>``."""
    return EARLIEST_ENV + "_" + re.sub(r"[^A-Z0-9]", "_", system.upper())


def pin_instructions(system: str, version: str, address: str = "") -> str:
    """How to pin ``version`` of ``system`` (its ``compat_system`` at ``address``, when known): the
    command every message about an unpinned version repeats, and what it does."""
    target = address or f"<address of compat_system(name={system!r})>"
    return (
        f"to pin {system} {version}, run {PIN_COMMAND} {target} {version} (it adds {version!r} to the "
        f"releases of compat_system(name={system!r}), the resolve \"{system}-{version}\" to [python.resolves] "
        f"in pants.toml, and runs ./pants generate-lockfiles --resolve={system}-{version})"
    )


def listed(versions: Iterable[str]) -> str:
    """Versions for a message, oldest first (``0.1.0, 0.2.0, 0.10.0``)."""
    return ", ".join(sorted(versions, key=version_order))


def apply_earliest_override(releases: Releases, system: str, environ: Mapping[str, str]) -> Releases:
    """``releases`` with ``earliest`` moved by the environment (see the module docstring)."""
    own_name = system_earliest_env(system)
    own = environ.get(own_name, "").strip()
    shared = environ.get(EARLIEST_ENV, "").strip()
    if shared and not is_release(shared):
        raise ReleaseError(
            f"{EARLIEST_ENV}={shared!r} is not a release: it {release_problem(shared)}; set it to a pinned "
            f"release, e.g. {sort_releases(releases.pinned)[0]!r} for {system}, or unset it"
        )
    if own:
        if own not in releases.pinned:
            hint = _spelling_hint(own, releases.pinned)
            raise ReleaseError(
                f"{own_name}={own!r} is not a pinned release of {system} (pinned: {listed(releases.pinned)})"
                + (hint or f"; use one of those, or {pin_instructions(system, own)}")
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
    pinned = "; ".join(f"{name} {listed(releases.pinned)}" for name, releases in sorted(systems))
    for name, releases in systems:
        apply_earliest_override(releases, name, environ)
    shared = environ.get(EARLIEST_ENV, "").strip()
    if shared and not any(shared in releases.pinned for _, releases in systems):
        spellings = [(name, spelled_as(shared, releases.pinned)) for name, releases in sorted(systems)]
        other = ", ".join(f"{spelling!r} by {name}" for name, spelling in spellings if spelling)
        raise ReleaseError(
            f"{EARLIEST_ENV}={shared} is pinned by no system, so it would move no system's earliest; "
            + (
                f"it is pinned as {other} (the same PEP 440 version): write it that way"
                if other
                else f"pinned releases: {pinned or '(no system)'}; set it to one of them or unset it"
            )
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
    """Resolve a version spec to a concrete version: ``branch`` or a pinned release.

    With ``releases=None`` (a cell whose versions are already concrete) only ``branch`` and
    releases are accepted and pinning is not checked. Anything else raises ``ReleaseError``
    saying how to pin.
    """
    if not isinstance(spec, str):
        raise ReleaseError(
            f"version {spec!r} is not a string; write 'branch', 'earliest', 'latest' or a release in quotes, e.g. \"5.15\""
        )
    if spec == BRANCH:
        return BRANCH
    if spec in ALIASES:
        if releases is None:
            raise ReleaseError(f"version alias {spec!r} needs the system's releases to resolve")
        return releases.earliest if spec == EARLIEST else releases.latest
    name = system or (releases.package if releases else "the system")
    problem = release_problem(spec)
    if problem:
        raise ReleaseError(f"version {spec!r} is not 'branch', 'earliest', 'latest' or a release: it {problem}")
    if releases is not None and spec not in releases.pinned:
        hint = _spelling_hint(spec, releases.pinned)
        raise ReleaseError(
            f"version {spec!r} is not a pinned release of {name} (pinned: {listed(releases.pinned)})"
            + (hint or f"; {pin_instructions(name, spec)}")
        )
    return spec


__all__ = (
    "RELEASE_EXAMPLES",
    "apply_earliest_override",
    "check_earliest_overrides",
    "is_release",
    "listed",
    "pin_instructions",
    "release_key",
    "release_problem",
    "resolve_version",
    "sort_releases",
    "spelled_as",
    "system_earliest_env",
    "version_order",
)
