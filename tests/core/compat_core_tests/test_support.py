"""Support policies: what `support="last N minor"` and `support="N months"` mean, and what they select."""

from __future__ import annotations

import datetime

import pytest

from compat_core.errors import ReleaseError
from compat_core.support import (
    MINOR,
    MONTHS,
    SupportPolicy,
    minor_series,
    months_before,
    parse_support,
    support_earliest,
)
from compat_core_tests.expect import expect_error

DAY = datetime.date


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("last 2 minor", SupportPolicy(MINOR, 2)),
        ("last 1 minor", SupportPolicy(MINOR, 1)),
        ("  last   3  minor ", SupportPolicy(MINOR, 3)),
        ("12 months", SupportPolicy(MONTHS, 12)),
        ("1 month", SupportPolicy(MONTHS, 1)),
        ("18 month", SupportPolicy(MONTHS, 18)),
    ],
)
def test_parse_support(text: str, policy: SupportPolicy) -> None:
    assert parse_support(text) == policy


def test_a_policy_prints_as_written() -> None:
    assert str(SupportPolicy(MINOR, 2)) == "last 2 minor"
    assert str(SupportPolicy(MONTHS, 12)) == "12 months"
    assert str(SupportPolicy(MONTHS, 1)) == "1 month"


@pytest.mark.parametrize(
    "value",
    ["", "last 0 minor", "last minor", "last 2 minors", "2 minor", "12", "0 months", "twelve months", "last 2 major",
     "-1 months", "1000 months", 12, None],
)
def test_a_value_that_is_no_policy_says_what_is(value: object) -> None:
    with expect_error(ReleaseError, f"BUILD, support={value!r} is not a support policy", '"last N minor"', '"N months"'):
        parse_support(value, "BUILD, support")


@pytest.mark.parametrize(
    ("version", "series"), [("1.13.28", (1, 13)), ("5.15", (5, 15)), ("5", (5, 0)), ("1.4.post1", (1, 4)), ("0.16.0", (0, 16))]
)
def test_minor_series(version: str, series: tuple[int, int]) -> None:
    assert minor_series(version) == series


DAGSTER = ["1.11.15", "1.11.16", "1.12.0", "1.12.21", "1.12.22", "1.13.0", "1.13.27", "1.13.28"]


def test_last_n_minor_is_the_newest_release_of_the_oldest_series() -> None:
    assert support_earliest(SupportPolicy(MINOR, 1), DAGSTER) == "1.13.28"
    assert support_earliest(SupportPolicy(MINOR, 2), DAGSTER) == "1.12.22"
    assert support_earliest(SupportPolicy(MINOR, 3), DAGSTER) == "1.11.16"
    # More series asked for than the index has: all of them.
    assert support_earliest(SupportPolicy(MINOR, 9), DAGSTER) == "1.11.16"


def test_last_n_minor_orders_by_pep_440_not_text() -> None:
    assert support_earliest(SupportPolicy(MINOR, 2), ["5.9.1", "5.15", "5.9", "5.10.2"]) == "5.10.2"
    assert support_earliest(SupportPolicy(MINOR, 2), ["1.4", "1.4.post1", "2.0"]) == "1.4.post1"
    assert support_earliest(SupportPolicy(MINOR, 2), ["1.9.0", "2.0.0", "2.1.0"]) == "2.0.0"  # a new major counts


def test_months_before_keeps_the_day_or_the_months_last() -> None:
    assert months_before(DAY(2026, 11, 30), 12) == DAY(2025, 11, 30)
    assert months_before(DAY(2026, 3, 31), 1) == DAY(2026, 2, 28)
    assert months_before(DAY(2024, 3, 31), 1) == DAY(2024, 2, 29)
    assert months_before(DAY(2026, 1, 15), 1) == DAY(2025, 12, 15)
    assert months_before(DAY(2026, 1, 15), 25) == DAY(2023, 12, 15)


PUBLISHED = {"0.14.2": DAY(2024, 6, 1), "0.15.0": DAY(2025, 1, 10), "0.15.2": DAY(2025, 5, 2), "0.16.0": DAY(2026, 2, 1)}


def test_n_months_is_the_oldest_release_published_since() -> None:
    today = DAY(2026, 5, 2)
    assert support_earliest(SupportPolicy(MONTHS, 12), PUBLISHED, PUBLISHED, today) == "0.15.2"  # on the day counts
    assert support_earliest(SupportPolicy(MONTHS, 16), PUBLISHED, PUBLISHED, today) == "0.15.0"
    assert support_earliest(SupportPolicy(MONTHS, 48), PUBLISHED, PUBLISHED, today) == "0.14.2"


def test_n_months_with_nothing_that_recent_keeps_the_newest() -> None:
    assert support_earliest(SupportPolicy(MONTHS, 1), PUBLISHED, PUBLISHED, DAY(2027, 1, 1)) == "0.16.0"


def test_n_months_needs_dates_and_a_day() -> None:
    with expect_error(ReleaseError, "support '12 months' needs the day each release was published", "0.16.0", "last N minor"):
        support_earliest(SupportPolicy(MONTHS, 12), [*PUBLISHED, "0.16.1"][1:], {}, DAY(2026, 1, 1))
    with expect_error(ReleaseError, "needs the day it is evaluated"):
        support_earliest(SupportPolicy(MONTHS, 12), PUBLISHED, PUBLISHED)


def test_nothing_to_select() -> None:
    with expect_error(ReleaseError, "support 'last 2 minor' selects nothing", "no release"):
        support_earliest(SupportPolicy(MINOR, 2), [])
