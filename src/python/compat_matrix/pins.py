"""A system's pinned releases against its package index: what is newer (``releases check``) and
what a pin changes (``releases pin``).

Pure: the declaration's releases, what the index offers (``compat_matrix.index.OfferedReleases``)
and the day in; a report or a plan out. The edges (``compat_matrix.release_commands``) read the
BUILD file and the index, write the edits and run Pants.

The rules a pin follows:

- a release is pinned as the index spells it (``5.15``, not ``5.15.0``), only when it is a final,
  unyanked release that every distribution a release installs at its version has (dagster 1.13.29
  without a dagster-webserver 1.13.29 cannot be pinned);
- ``earliest`` comes from the system's ``support`` policy where it declares one
  (``compat_core.support``), else from ``--earliest``, else it stays;
- when ``earliest`` moves to a newer release, the releases older than it fall out: they leave
  ``releases``, with their resolves and lockfiles. A ``branch_release`` never falls out;
- where the system's ``branch_release`` is its newest pin, it stays the newest: a newer pin
  becomes the ``branch_release``, and the release it replaces is then ``latest``;
- pinning what is pinned changes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from compat_core.contract import PIN_COMMAND
from compat_core.errors import ReleaseError
from compat_core.model import Releases
from compat_core.support import SupportPolicy, minor_series, support_earliest
from compat_core.versions import listed, release_problem, sort_releases
from compat_matrix.index import OfferedReleases


def _newest(versions: Sequence[str]) -> str:
    return max(versions, key=Version)


# --- releases check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseReport:
    """A system's pins compared with its index.

    ``newer``: pinnable releases newer than every pinned one (the branch release included), ascending;
    ``behind`` is how many. ``not_pinnable``: newer releases of the package that some distribution
    lacks (release -> those distributions). ``unpinned``: pinnable releases between the oldest and
    newest pins that are not pinned. ``missing``: pinned releases the index has no file of (their
    resolves cannot be built). ``support_earliest``: what the declared ``support`` selects today
    ('' without a policy).
    """

    system: str
    address: str
    package: str
    index: str
    pinned: tuple[str, ...]
    earliest: str
    latest: str
    branch_release: str
    newer: tuple[str, ...]
    not_pinnable: tuple[tuple[str, tuple[str, ...]], ...]
    unpinned: tuple[str, ...]
    missing: tuple[str, ...]
    offered: tuple[str, ...]
    ignored: tuple[str, ...]
    support: str = ""
    support_earliest: str = ""
    support_problem: str = ""

    @property
    def behind(self) -> int:
        return len(self.newer)

    @property
    def support_current(self) -> bool:
        return not self.support or self.support_earliest == self.earliest

    def command(self) -> str:
        """The one command that brings the pins up to date ('' when they are)."""
        if self.newer:
            return f"{PIN_COMMAND} {self.address} {self.newer[-1]}"
        if not self.support_current and self.support_earliest:
            return f"{PIN_COMMAND} {self.address}"
        return ""


def compare_releases(
    releases: Releases,
    offered: OfferedReleases,
    *,
    system: str,
    address: str,
    index: str,
    support: SupportPolicy | None = None,
    today: datetime.date | None = None,
) -> ReleaseReport:
    """Compare the pinned ``releases`` of ``system`` (at ``address``) with what ``index`` offers."""
    pinned = sort_releases(releases.pinned)
    newest = Version(_newest(pinned))
    oldest = Version(pinned[0])
    pinned_keys = {Version(v) for v in pinned}
    chosen, problem = "", ""
    if support is not None:
        try:
            chosen = support_earliest(support, offered.pinnable, dict(offered.published), today)
        except ReleaseError as exc:
            problem = str(exc)
    return ReleaseReport(
        system=system,
        address=address,
        package=offered.package,
        index=index,
        pinned=pinned,
        earliest=releases.earliest,
        latest=releases.latest,
        branch_release=releases.branch_release,
        newer=tuple(v for v in offered.pinnable if Version(v) > newest),
        not_pinnable=tuple((v, lack) for v, lack in offered.lacking if Version(v) > newest),
        unpinned=tuple(v for v in offered.pinnable if oldest < Version(v) < newest and Version(v) not in pinned_keys),
        missing=tuple(v for v in pinned if not offered.has(v)),
        offered=offered.pinnable,
        ignored=offered.ignored,
        support=str(support) if support is not None else "",
        support_earliest=chosen,
        support_problem=problem,
    )


def _pinned_line(report: ReleaseReport) -> str:
    def marks(version: str) -> str:
        names = [n for n, v in (("earliest", report.earliest), ("latest", report.latest), ("branch", report.branch_release)) if v == version]
        return f" ({', '.join(names)})" if names else ""

    return ", ".join(f"{v}{marks(v)}" for v in report.pinned)


def render_report(report: ReleaseReport, full: bool = False) -> str:
    """The report as ``releases check`` prints it: short, or with every release when ``full``."""
    lines = [f"{report.system} ({report.address}), {report.package} on {report.index}"]
    lines.append(f"  pinned:   {_pinned_line(report)}")
    if report.newer:
        plural = "s" if report.behind > 1 else ""
        lines.append(f"  newer:    {', '.join(report.newer)} ({report.behind} release{plural} behind)")
    else:
        lines.append("  newer:    none")
    if report.not_pinnable:
        lacks = "; ".join(f"{v} lacks {', '.join(p)}" for v, p in report.not_pinnable)
        lines.append(f"  cannot be pinned: {lacks}")
    if report.missing:
        lines.append(
            f"  MISSING from the index: {', '.join(report.missing)} (pinned; their resolves need them): "
            f"put their files back in the index, or drop them (--earliest)"
        )
    if report.support:
        if report.support_problem:
            lines.append(f"  support:  {report.support}: {report.support_problem}")
        elif report.support_current:
            lines.append(f"  support:  {report.support} selects earliest {report.support_earliest}, as pinned")
        else:
            lines.append(
                f"  support:  {report.support} now selects earliest {report.support_earliest} "
                f"(pinned: {report.earliest})"
            )
    if full:
        lines.append(f"  on the index: {', '.join(report.offered) or 'no final releases'}")
        if report.unpinned:
            lines.append(f"  not pinned (between the oldest and newest pins): {', '.join(report.unpinned)}")
        if report.ignored:
            lines.append(f"  ignored:  {', '.join(report.ignored)}")
    else:
        ignored = len(report.ignored)
        lines.append(
            f"  ({len(report.offered)} pinnable releases on the index, {len(report.unpinned)} unpinned between the pins, "
            f"{ignored} file{'' if ignored == 1 else 's'} ignored as pre-releases or yanked: --all lists them)"
        )
    command = report.command()
    if command:
        lines.append(f"  {'to pin the newest' if report.newer else 'to apply the support policy'}: {command}")
    elif not report.missing:
        lines.append("  up to date")
    return "\n".join(lines)


def report_data(report: ReleaseReport) -> dict[str, Any]:
    """The report as ``releases check --json`` prints it."""
    return {
        "system": report.system,
        "address": report.address,
        "package": report.package,
        "index": report.index,
        "pinned": list(report.pinned),
        "earliest": report.earliest,
        "latest": report.latest,
        "branch_release": report.branch_release or None,
        "newer": list(report.newer),
        "behind": report.behind,
        "not_pinnable": {v: list(p) for v, p in report.not_pinnable},
        "unpinned": list(report.unpinned),
        "missing": list(report.missing),
        "support": (
            {"policy": report.support, "earliest": report.support_earliest or None, "current": report.support_current,
             "problem": report.support_problem or None}
            if report.support
            else None
        ),
        "command": report.command() or None,
    }


def exit_code(report: ReleaseReport, max_behind: int = 0) -> int:
    """2 when a pinned release is missing from the index, 1 when more than ``max_behind`` newer
    releases exist, else 0."""
    if report.missing:
        return 2
    return 1 if report.behind > max_behind else 0


# --- releases pin --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PinPlan:
    """What a pin changes: the new ``releases`` (oldest first), ``earliest`` and ``branch_release``,
    the releases ``added`` and ``dropped``, and ``notes`` saying why."""

    system: str
    releases: tuple[str, ...]
    earliest: str
    branch_release: str
    added: tuple[str, ...]
    dropped: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())


def _index_spelling(version: str, offered: OfferedReleases, index: str, what: str) -> str:
    problem = release_problem(version)
    if problem:
        raise ReleaseError(f"{what} {version!r} cannot be pinned: it {problem}")
    spelled = offered.spelled(version)
    package = offered.package
    if not spelled:
        newest = ", ".join(offered.pinnable[-3:]) or "none"
        if offered.has(version):
            raise ReleaseError(
                f"{package} {version} is yanked on {index}: pin another release (its newest: {newest})"
            )
        raise ReleaseError(
            f"{index} has no release {version} of {package} (its newest: {newest}); check the version, or pass "
            f"--index PATH_OR_URL where it is published"
        )
    lacking = offered.lacks(spelled)
    if lacking:
        raise ReleaseError(
            f"{package} {spelled} cannot be pinned: {index} has no {', '.join(lacking)} {spelled}, which a release "
            f"installs at its version (release_requirements); pin a release they all have, e.g. "
            f"{', '.join(offered.pinnable[-3:]) or 'none'}"
        )
    return spelled


def plan_pin(
    system: str,
    releases: Releases,
    offered: OfferedReleases,
    index: str,
    versions: Sequence[str] = (),
    earliest: str = "",
    support: SupportPolicy | None = None,
    today: datetime.date | None = None,
) -> PinPlan:
    """What pinning ``versions`` of ``system`` (and moving ``earliest``, or applying ``support``) changes."""
    notes: list[str] = []
    pinned = {Version(v): v for v in releases.pinned}

    def as_pinned(version: str, what: str) -> str:
        try:
            key = Version(version)
        except ValueError:
            key = None
        if key is not None and key in pinned:
            return pinned[key]
        spelled = _index_spelling(version, offered, index, what)
        if spelled != version:
            notes.append(f"{version} is pinned as {spelled}, as {index} spells it")
        return spelled

    wanted = [as_pinned(v, "release") for v in versions]
    if support is not None:
        if earliest:
            raise ReleaseError(
                f"system {system!r} declares support={str(support)!r}, which decides earliest; drop --earliest, or "
                f"change support in its BUILD file"
            )
        chosen = support_earliest(support, offered.pinnable, dict(offered.published), today)
        why = (
            f"the newest release of {'.'.join(map(str, minor_series(chosen)))}"
            if support.kind == "minor"
            else f"the oldest release of the last {support.count} months"
        )
        notes.append(f"support {str(support)!r} selects earliest {chosen} ({why})")
        new_earliest = as_pinned(chosen, "earliest")
    elif earliest:
        new_earliest = as_pinned(earliest, "earliest")
    else:
        new_earliest = releases.earliest
    new = {Version(v): v for v in (*releases.pinned, *wanted, new_earliest)}
    dropped: list[str] = []
    if Version(new_earliest) > Version(releases.earliest):
        dropped = [v for k, v in sorted(new.items()) if k < Version(new_earliest)]
        too_old = [v for v in wanted if v in dropped]
        if too_old:
            raise ReleaseError(
                f"{listed(too_old)} of {system} would be older than earliest {new_earliest}, so it would fall out at "
                f"once; pin releases from {new_earliest} on"
            )
        if releases.branch_release and releases.branch_release in dropped:
            raise ReleaseError(
                f"branch_release {releases.branch_release} of {system} is older than the new earliest {new_earliest} and would "
                f"fall out; pin a newer release and make it branch_release first"
            )
        for v in dropped:
            del new[Version(v)]
    result = tuple(v for _, v in sorted(new.items()))
    branch = releases.branch_release
    if branch and branch == _newest(releases.pinned) and _newest(result) != branch:
        branch = _newest(result)
        latest = _newest([v for v in result if v != branch])
        notes.append(f"branch_release moves to {branch}, the newest pin, as {releases.branch_release} was; latest is then {latest}")
    if new_earliest != releases.earliest:
        notes.append(f"earliest moves from {releases.earliest} to {new_earliest}")
    return PinPlan(
        system=system,
        releases=result,
        earliest=new_earliest,
        branch_release=branch,
        added=tuple(v for v in result if Version(v) not in pinned),
        dropped=tuple(dropped),
        notes=tuple(notes),
    )


__all__ = ("PinPlan", "ReleaseReport", "compare_releases", "exit_code", "plan_pin", "render_report", "report_data")
