"""Which test reports are the latest run's (compat_core.report_runs): never an earlier run's as this one's."""

from __future__ import annotations

from compat_core.report_runs import WRITE_GAP_S, latest_run


def test_the_reports_written_last_together_are_the_run() -> None:
    # An earlier run wrote a and b; the latest (another selection) rewrote b and wrote c.
    run = latest_run({"a.xml": 1000.0, "b.xml": 5000.0, "c.xml": 5000.4})
    assert run.names == {"b.xml", "c.xml"}
    assert not run.of_this_run("a.xml")
    assert run.written_at == 5000.4
    # a's write bounds the latest run's start: a suite that started before it was not run now.
    assert run.started_by == 1000.0


def test_since_leaves_out_everything_written_before_the_run() -> None:
    # An interrupted run writes nothing: the last run's reports are not this one's.
    run = latest_run({"a.xml": 1000.0, "b.xml": 1000.2}, since=2000.0)
    assert run.names == frozenset() and run.written_at is None
    run = latest_run({"a.xml": 1000.0, "b.xml": 2100.0}, since=2000.0)
    assert run.names == {"b.xml"} and run.started_by == 2000.0


def test_two_runs_after_since_keep_only_the_last() -> None:
    run = latest_run({"a.xml": 2100.0, "b.xml": 2100.0 + 2 * WRITE_GAP_S}, since=2000.0)
    assert run.names == {"b.xml"}


def test_a_long_write_is_one_run() -> None:
    # Many reports written one after the other: no gap between two of them, however long the whole.
    written = {f"{n}.xml": 3000.0 + n * WRITE_GAP_S / 2 for n in range(10)}
    assert latest_run({**written, "old.xml": 3000.0 - 2 * WRITE_GAP_S}).names == set(written)


def test_no_report_at_all() -> None:
    run = latest_run({})
    assert (run.names, run.written_at, run.started_by) == (frozenset(), None, None)
