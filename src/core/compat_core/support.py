"""Support policies: which releases a system keeps compatible, as a rule instead of a fixed ``earliest``.

Pure and CPython 3.9-compatible: the plugin checks a ``compat_system``'s ``support`` when it reads
the BUILD file, and ``compat-matrix releases pin`` evaluates it against the package index and
writes the result into the declaration (``earliest``, and ``releases`` without the releases that
fell out). Planning and test runs read only what is written there, never the index: a cell's plan
and cache key do not change because the index did.

A policy is one of:

- ``"last N minor"``: the last N minor release series on the index (``1.13``, ``1.12``, ...);
  ``earliest`` is the newest release of the oldest of them (``last 2 minor`` on an index whose
  newest is 1.13.28 selects the last 1.12.x): users of a series run its newest patch.
- ``"N months"``: every release published within N calendar months of the day the policy is
  evaluated; ``earliest`` is the oldest of them, or the newest release when none is that recent.
  It needs the index's upload times (PyPI's JSON API gives them; a find-links directory does not).
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.version import Version

from compat_core.errors import ReleaseError

MINOR = "minor"
MONTHS = "months"

SUPPORT_EXAMPLES = "e.g. \"last 2 minor\" or \"12 months\""

_MINOR_RE = re.compile(r"last ([1-9][0-9]{0,2}) minor")
_MONTHS_RE = re.compile(r"([1-9][0-9]{0,2}) months?")


@dataclass(frozen=True)
class SupportPolicy:
    """A parsed ``support`` value: ``kind`` (``MINOR`` or ``MONTHS``) and its ``count``."""

    kind: str
    count: int

    def __str__(self) -> str:
        if self.kind == MINOR:
            return f"last {self.count} minor"
        return f"{self.count} month" + ("s" if self.count != 1 else "")


def parse_support(value: object, where: str = "support") -> SupportPolicy:
    """The policy a ``support`` value states; ``ReleaseError`` naming ``where`` otherwise."""
    if isinstance(value, str):
        text = " ".join(value.split())
        minor = _MINOR_RE.fullmatch(text)
        if minor:
            return SupportPolicy(MINOR, int(minor.group(1)))
        months = _MONTHS_RE.fullmatch(text)
        if months:
            return SupportPolicy(MONTHS, int(months.group(1)))
    raise ReleaseError(
        f"{where}={value!r} is not a support policy; write \"last N minor\" (the newest release of each of the "
        f"last N minor series) or \"N months\" (every release published in the last N months), {SUPPORT_EXAMPLES}"
    )


def minor_series(version: str) -> tuple[int, int]:
    """The minor release series of a release: ``(1, 13)`` for ``1.13.28``, ``(5, 0)`` for ``5``."""
    release = Version(version).release
    return (release[0], release[1] if len(release) > 1 else 0)


def months_before(day: datetime.date, months: int) -> datetime.date:
    """The same day ``months`` calendar months earlier (the month's last day where it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


def support_earliest(
    policy: SupportPolicy,
    releases: Iterable[str],
    published: Mapping[str, datetime.date] | None = None,
    today: datetime.date | None = None,
) -> str:
    """The release ``policy`` makes ``earliest``, among ``releases`` (the index's pinnable releases).

    ``published`` maps a release to the day it was published and ``today`` is the day the policy
    is evaluated; both are needed by ``MONTHS`` only.
    """
    candidates = sorted(set(releases), key=Version)
    if not candidates:
        raise ReleaseError(f"support {str(policy)!r} selects nothing: the index has no release to pin")
    if policy.kind == MINOR:
        series = sorted({minor_series(v) for v in candidates})
        oldest = series[-policy.count] if policy.count <= len(series) else series[0]
        return max((v for v in candidates if minor_series(v) == oldest), key=Version)
    if today is None:
        raise ReleaseError(f"support {str(policy)!r} needs the day it is evaluated")
    dates = published or {}
    undated = [v for v in candidates if v not in dates]
    if undated:
        raise ReleaseError(
            f"support {str(policy)!r} needs the day each release was published, and the index does not say it for "
            f"{', '.join(undated[-3:])}{' and others' if len(undated) > 3 else ''} (a find-links directory or an HTML "
            f"page has no upload times; PyPI's JSON API has); use \"last N minor\", or set earliest yourself"
        )
    cutoff = months_before(today, policy.count)
    recent = [v for v in candidates if dates[v] >= cutoff]
    return recent[0] if recent else candidates[-1]


__all__ = (
    "MINOR",
    "MONTHS",
    "SUPPORT_EXAMPLES",
    "SupportPolicy",
    "minor_series",
    "months_before",
    "parse_support",
    "support_earliest",
)
