"""The test selection guard's words (compat_core.selection): blank tags, and the closest known tag."""

from __future__ import annotations

import pytest

from compat_core.selection import blank_items, blank_message, explain

MATRIX = [
    ("user-code-earliest", "backcompat", "conveyor", "process", "matrix"),
    ("server-latest", "backcompat", "conveyor", "docker", "matrix"),
    ("unit",),
]


@pytest.mark.parametrize("exprs", [[""], [","], ["backcompat,"], [" "], ["-"], ["a", ""]])
def test_an_empty_or_blank_item_is_found(exprs: list[str]) -> None:
    assert blank_items(exprs)
    message = blank_message(blank_items(exprs))
    assert "names an empty or blank tag" in message
    assert "Name a tag in every comma-separated item (e.g. --tag=backcompat" in message


@pytest.mark.parametrize("exprs", [["backcompat"], ["-docker", "a,b"], ["+x"]])
def test_named_tags_are_not_blank(exprs: list[str]) -> None:
    assert blank_items(exprs) == []


def test_an_unknown_tag_names_the_closest_cell() -> None:
    said = explain(["user-code-earlist"], MATRIX)
    assert "--tag=user-code-earlist selects no test target" in said
    assert "Did you mean user-code-earliest?" in said
    assert "Known cells: server-latest, user-code-earliest" in said
    assert "Suites: backcompat; backends: docker, process" in said


def test_known_tags_that_select_nothing_together_get_no_guess() -> None:
    said = explain(["unit", "docker"], MATRIX)
    assert "No target has" not in said
    assert "--tag=unit --tag=docker selects no test target" in said
