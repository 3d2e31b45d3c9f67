"""Which of Pants' test reports belong to the latest test run, and which results it took from a cache.

Pants keeps ``dist/test/reports`` between runs and, at the end of a ``test`` run, writes every
report of that run at once (one per test target it ran or took from a cache). So the latest run's
reports are the files written together with the newest one (one after the other, without a gap); a file written long before is an
earlier run's, stale for this one. ``since`` (when the test run started) makes it exact: a run
interrupted before it wrote anything then leaves no report of its own, instead of the last run's.

Within the run, a result whose test suite started before the run is a cached one (a cached report
keeps the time it first ran). Without ``since``, the previous run's write is the bound: a suite
that started before it was certainly not run now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WRITE_GAP_S = 0.5
"""Reports written less than this apart, back from the newest, are one run's: Pants writes a run's
reports in one go (one after the other, milliseconds apart), and no second run starts, tests and
writes that fast."""


@dataclass(frozen=True)
class Run:
    """The reports of the latest test run."""

    names: frozenset[str]  # report file names this run wrote
    written_at: float | None  # when it wrote them (epoch seconds); None: no report at all
    started_by: float | None  # a suite that started before this is a cached result; None: unknown

    def of_this_run(self, name: str) -> bool:
        return name in self.names


def latest_run(written: Mapping[str, float], since: float | None = None) -> Run:
    """``written``: report file name -> when it was written (its mtime); ``since``: when the test
    run started, if known (reports written before it are an earlier run's)."""
    candidates = {name: at for name, at in written.items() if since is None or at >= since}
    if not candidates:
        return Run(frozenset(), None, since)
    newest = max(candidates.values())
    this_run: set[str] = set()
    last = newest
    for name, at in sorted(candidates.items(), key=lambda item: -item[1]):
        if last - at > WRITE_GAP_S:
            break
        this_run.add(name)
        last = at
    names = frozenset(this_run)
    if since is None:
        earlier = [at for name, at in written.items() if name not in names]
        since = max(earlier) if earlier else None
    return Run(names, newest, since)
