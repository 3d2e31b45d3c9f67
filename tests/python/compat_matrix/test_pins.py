"""What `releases check` reports and what `releases pin` changes, from pins and an index (pure)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from compat_core.errors import ReleaseError
from compat_core.model import Releases
from compat_core.parse import parse_releases
from compat_core.support import MINOR, MONTHS, SupportPolicy
from compat_matrix.index import IndexFile, OfferedReleases, offered_releases
from compat_matrix.pins import (
    PinPlan,
    ReleaseReport,
    compare_releases,
    exit_code,
    plan_pin,
    render_report,
    report_data,
)

PIN = "./pants run src/python/compat_matrix:cli -- releases pin"

# Dagster's shape: three distributions a release installs at its version; the newest pinned
# release plays branch (so `latest` is the one before it).
DAGSTER = parse_releases("dagster", ["1.11.16", "1.13.27", "1.13.28"], "1.11.16", branch_release="1.13.28")


def dagster_index(*versions: str, webserver_lacks: tuple[str, ...] = (), yanked: tuple[str, ...] = ()) -> OfferedReleases:
    def files(project: str, skip: tuple[str, ...] = ()) -> list[IndexFile]:
        return [IndexFile(f"{project}-{v}.tar.gz", yanked=v in yanked) for v in versions if v not in skip]

    return offered_releases(
        {"dagster": files("dagster"), "dagster-webserver": files("dagster_webserver", webserver_lacks), "dagster-graphql": files("dagster_graphql")},
        "dagster",
    )


ALL = ("1.11.15", "1.11.16", "1.12.0", "1.12.22", "1.13.0", "1.13.27", "1.13.28")


def check(releases: Releases, offered: OfferedReleases, **kwargs: Any) -> ReleaseReport:
    return compare_releases(releases, offered, system="dagster", address="examples/dagster:dagster", index="idx", **kwargs)


# --- releases check ------------------------------------------------------------------------------


def test_the_branch_release_counts_as_pinned() -> None:
    # The newest pin plays branch; it is not newer than the pins (it is one).
    report = check(DAGSTER, dagster_index(*ALL))
    assert report.newer == () and report.behind == 0 and exit_code(report) == 0
    assert report.latest == "1.13.27" and report.branch_release == "1.13.28"
    text = render_report(report)
    assert "pinned:   1.11.16 (earliest), 1.13.27 (latest), 1.13.28 (branch)" in text
    assert "newer:    none" in text and text.endswith("up to date")


def test_a_release_a_distribution_lacks_is_not_newer() -> None:
    report = check(DAGSTER, dagster_index(*ALL, "1.13.29", webserver_lacks=("1.13.29",)))
    assert report.newer == () and report.not_pinnable == (("1.13.29", ("dagster-webserver",)),)
    assert "cannot be pinned: 1.13.29 lacks dagster-webserver" in render_report(report)
    assert exit_code(report) == 0


def test_newer_releases_give_the_one_command() -> None:
    report = check(DAGSTER, dagster_index(*ALL, "1.13.29", "1.14.0", "1.14.1rc1", "1.14.2", yanked=("1.14.2",)))
    assert report.newer == ("1.13.29", "1.14.0") and report.behind == 2
    assert report.command() == f"{PIN} examples/dagster:dagster 1.14.0"
    text = render_report(report)
    assert "newer:    1.13.29, 1.14.0 (2 releases behind)" in text
    assert f"to pin the newest: {PIN} examples/dagster:dagster 1.14.0" in text
    assert (exit_code(report), exit_code(report, max_behind=1), exit_code(report, max_behind=2)) == (1, 1, 0)


def test_the_default_report_is_short_and_all_lists_everything() -> None:
    versions = [f"1.{minor}.{patch}" for minor in range(10, 14) for patch in range(30)] + ["1.13.28rc1"]
    report = check(DAGSTER, dagster_index(*versions))
    short = render_report(report)
    assert len(short.splitlines()) == 5 and len(short) < 600, short
    assert "1.12.5" not in short
    assert "(120 pinnable releases on the index, 70 unpinned between the pins, 1 file ignored" in short
    full = render_report(report, full=True)
    assert "1.12.5" in full and "dagster-1.13.28rc1.tar.gz (pre-release)" in full


def test_a_pinned_release_missing_from_the_index_is_an_error() -> None:
    report = check(DAGSTER, dagster_index("1.11.16", "1.13.28"))
    assert report.missing == ("1.13.27",) and exit_code(report) == 2
    assert "MISSING from the index: 1.13.27" in render_report(report)


def test_support_drift_is_reported_with_its_command() -> None:
    report = check(DAGSTER, dagster_index(*ALL), support=SupportPolicy(MINOR, 2))
    assert report.support_earliest == "1.12.22" and not report.support_current
    assert report.command() == f"{PIN} examples/dagster:dagster"
    text = render_report(report)
    assert "support:  last 2 minor now selects earliest 1.12.22 (pinned: 1.11.16)" in text
    assert f"to apply the support policy: {PIN} examples/dagster:dagster" in text
    assert exit_code(report) == 0  # drift is reported; the exit status counts newer releases
    current = check(DAGSTER, dagster_index(*ALL), support=SupportPolicy(MINOR, 3))
    assert "support:  last 3 minor selects earliest 1.11.16, as pinned" in render_report(current)


def test_a_policy_the_index_cannot_answer_is_reported() -> None:
    report = check(DAGSTER, dagster_index(*ALL), support=SupportPolicy(MONTHS, 12), today=datetime.date(2026, 1, 1))
    assert "needs the day each release was published" in report.support_problem
    assert "support:  12 months: support '12 months' needs" in render_report(report)


def test_report_data() -> None:
    data = report_data(check(DAGSTER, dagster_index(*ALL, "1.13.30"), support=SupportPolicy(MINOR, 2)))
    assert data["newer"] == ["1.13.30"] and data["behind"] == 1
    assert data["support"] == {"policy": "last 2 minor", "earliest": "1.12.22", "current": False, "problem": None}
    assert data["command"] == f"{PIN} examples/dagster:dagster 1.13.30"
    assert data["pinned"] == ["1.11.16", "1.13.27", "1.13.28"] and data["branch_release"] == "1.13.28"


# --- releases pin --------------------------------------------------------------------------------

CONVEYOR = parse_releases("conveyor", ["0.1.0", "0.2.0"], "0.1.0")


def conveyor_index(*versions: str) -> OfferedReleases:
    return offered_releases({"conveyor": [IndexFile(f"conveyor-{v}-py3-none-any.whl") for v in versions]}, "conveyor")


def pin(releases: Releases, offered: OfferedReleases, *versions: str, **kwargs: Any) -> PinPlan:
    return plan_pin(releases.package, releases, offered, "idx", versions, **kwargs)


def test_pin_a_newer_release() -> None:
    plan = pin(CONVEYOR, conveyor_index("0.1.0", "0.2.0", "0.3.0"), "0.3.0")
    assert (plan.releases, plan.earliest, plan.added, plan.dropped) == (("0.1.0", "0.2.0", "0.3.0"), "0.1.0", ("0.3.0",), ())
    assert plan.branch_release == "" and plan.notes == ()


def test_pinning_what_is_pinned_changes_nothing() -> None:
    plan = pin(CONVEYOR, conveyor_index("0.1.0", "0.2.0"), "0.2.0", earliest="0.1.0")
    assert (plan.releases, plan.earliest, plan.added, plan.dropped) == (("0.1.0", "0.2.0"), "0.1.0", (), ())
    # The pinned spelling wins, even where the index has gone.
    assert pin(CONVEYOR, conveyor_index(), "0.2.0").added == ()


def test_move_earliest_drops_what_falls_out() -> None:
    plan = pin(CONVEYOR, conveyor_index("0.1.0", "0.2.0", "0.3.0"), "0.3.0", earliest="0.2.0")
    assert (plan.releases, plan.earliest, plan.added, plan.dropped) == (("0.2.0", "0.3.0"), "0.2.0", ("0.3.0",), ("0.1.0",))
    assert "earliest moves from 0.1.0 to 0.2.0" in plan.notes


def test_move_earliest_back_pins_it_and_drops_nothing() -> None:
    plan = pin(CONVEYOR, conveyor_index("0.0.9", "0.1.0", "0.2.0"), earliest="0.0.9")
    assert (plan.releases, plan.added, plan.dropped) == (("0.0.9", "0.1.0", "0.2.0"), ("0.0.9",), ())


def test_a_release_older_than_the_new_earliest_is_refused() -> None:
    with pytest.raises(ReleaseError, match="0.1.5 of conveyor would be older than earliest 0.2.0"):
        pin(CONVEYOR, conveyor_index("0.1.0", "0.1.5", "0.2.0"), "0.1.5", earliest="0.2.0")


def test_pin_as_the_index_spells_it() -> None:
    releases = parse_releases("qt", ["5.14"], "5.14")
    offered = offered_releases({"qt": [IndexFile("qt-5.14.tar.gz"), IndexFile("qt-5.15.tar.gz")]}, "qt")
    plan = plan_pin("qt", releases, offered, "idx", ["5.15.0"])
    assert plan.added == ("5.15",) and plan.releases == ("5.14", "5.15")
    assert plan.notes == ("5.15.0 is pinned as 5.15, as idx spells it",)


@pytest.mark.parametrize(
    ("version", "fragments"),
    [
        ("0.9.0", ["idx has no release 0.9.0 of conveyor (its newest: 0.1.0, 0.2.0, 0.3.0)", "--index"]),
        ("0.4.0", ["conveyor 0.4.0 is yanked on idx"]),
        ("0.3.0rc1", ["release '0.3.0rc1' cannot be pinned: it is a pre-release"]),
        ("latest", ["release 'latest' cannot be pinned: it is not a PEP 440 version"]),
        ("1.0.0+local", ["has a local version label"]),
    ],
)
def test_a_release_the_index_does_not_have_is_refused(version: str, fragments: list[str]) -> None:
    offered = offered_releases(
        {"conveyor": [IndexFile(f"conveyor-{v}.tar.gz", yanked=v == "0.4.0") for v in ("0.1.0", "0.2.0", "0.3.0", "0.3.0rc1", "0.4.0")]},
        "conveyor",
    )
    with pytest.raises(ReleaseError) as info:
        pin(CONVEYOR, offered, version)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_release_a_distribution_lacks_is_refused() -> None:
    with pytest.raises(ReleaseError) as info:
        pin(DAGSTER, dagster_index(*ALL, "1.13.29", webserver_lacks=("1.13.29",)), "1.13.29")
    assert "dagster 1.13.29 cannot be pinned: idx has no dagster-webserver 1.13.29" in str(info.value)
    assert "e.g. 1.13.0, 1.13.27, 1.13.28" in str(info.value)


def test_a_newer_pin_moves_a_branch_release_that_was_the_newest() -> None:
    plan = pin(DAGSTER, dagster_index(*ALL, "1.13.30", "1.13.31"), "1.13.30", "1.13.31")
    assert plan.branch_release == "1.13.31" and plan.releases[-3:] == ("1.13.28", "1.13.30", "1.13.31")
    assert "branch_release moves to 1.13.31, the newest pin, as 1.13.28 was; latest is then 1.13.30" in plan.notes
    # An older pin leaves it alone, and so does a system whose branch release is not its newest.
    assert pin(DAGSTER, dagster_index(*ALL), "1.12.22").branch_release == "1.13.28"
    middle = parse_releases("dagster", ["1.11.16", "1.13.27", "1.13.28"], "1.11.16", branch_release="1.13.27")
    assert pin(middle, dagster_index(*ALL, "1.13.30"), "1.13.30").branch_release == "1.13.27"


def test_the_support_policy_sets_earliest() -> None:
    plan = pin(DAGSTER, dagster_index(*ALL), support=SupportPolicy(MINOR, 2))
    assert (plan.releases, plan.earliest, plan.added, plan.dropped) == (
        ("1.12.22", "1.13.27", "1.13.28"),
        "1.12.22",
        ("1.12.22",),
        ("1.11.16",),
    )
    assert plan.notes[0] == "support 'last 2 minor' selects earliest 1.12.22 (the newest release of 1.12)"
    # Applied again: nothing more changes.
    again = parse_releases("dagster", list(plan.releases), plan.earliest, branch_release=plan.branch_release)
    assert pin(again, dagster_index(*ALL), support=SupportPolicy(MINOR, 2)).added == ()


def test_a_months_policy_uses_the_publication_days() -> None:
    offered = offered_releases(
        {
            "conveyor": [
                IndexFile("conveyor-0.1.0.tar.gz", uploaded="2025-01-10T00:00:00Z"),
                IndexFile("conveyor-0.2.0.tar.gz", uploaded="2025-08-01T00:00:00Z"),
                IndexFile("conveyor-0.3.0.tar.gz", uploaded="2026-02-01T00:00:00Z"),
            ]
        },
        "conveyor",
    )
    plan = pin(CONVEYOR, offered, support=SupportPolicy(MONTHS, 12), today=datetime.date(2026, 6, 1))
    assert (plan.earliest, plan.dropped, plan.releases) == ("0.2.0", ("0.1.0",), ("0.2.0",))
    assert "the oldest release of the last 12 months" in plan.notes[0]


def test_a_policy_and_earliest_together_are_refused() -> None:
    with pytest.raises(ReleaseError, match="declares support='last 2 minor', which decides earliest; drop --earliest"):
        pin(DAGSTER, dagster_index(*ALL), earliest="1.13.27", support=SupportPolicy(MINOR, 2))


def test_the_branch_release_never_falls_out() -> None:
    middle = parse_releases("dagster", ["1.11.16", "1.13.27", "1.13.28"], "1.11.16", branch_release="1.13.27")
    with pytest.raises(ReleaseError, match="branch_release 1.13.27 of dagster is older than the new earliest 1.13.28"):
        pin(middle, dagster_index(*ALL), earliest="1.13.28")
