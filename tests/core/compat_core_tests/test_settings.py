"""On/off environment variables are read strictly: a typo is an error, never a silent "on"."""

from __future__ import annotations

import pytest

from compat_core.errors import SettingError
from compat_core.settings import FALSE_VALUES, TRUE_VALUES, flag, parse_flag
from compat_core_tests.expect import expect_error


@pytest.mark.parametrize("value", [*TRUE_VALUES, "TRUE", " Yes ", "On"])
def test_on(value: str) -> None:
    assert parse_flag("X", value) is True


@pytest.mark.parametrize("value", [*FALSE_VALUES, "FALSE", " no "])
def test_off(value: str) -> None:
    assert parse_flag("X", value, default=True) is False


def test_unset_or_empty_is_the_default() -> None:
    assert flag({}, "X") is False
    assert flag({}, "X", default=True) is True
    assert flag({"X": "  "}, "X", default=True) is True


@pytest.mark.parametrize("value", ["ture", "2", "y", "enabled"])
def test_anything_else_is_an_error_naming_the_variable_the_value_and_the_choices(value: str) -> None:
    with expect_error(SettingError, f"X={value!r} is not an on/off value", "1, true, yes, on", "0, false, no, off", "or unset it (off)"):
        flag({"X": value}, "X")
