"""The guard in the test goal: a `--tag` selection with no test fails, naming the closest tag."""

from __future__ import annotations

import pytest
from pants.core.util_rules.partitions import Partitions
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from compat_plugin import selection_guard
from compat_plugin.selection_guard import SelectionGuardRequest
from compat_plugin_tests.plugin_runner import make_rule_runner

MATRIX_BUILD = """
python_test(name="user-code-earliest-process", source="t.py", tags=["user-code-earliest", "backcompat", "conveyor", "process", "matrix"])
python_test(name="server-latest-docker", source="t.py", tags=["server-latest", "backcompat", "conveyor", "docker", "matrix"])
"""


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = make_rule_runner(
        *selection_guard.rules(), QueryRule(Partitions, [SelectionGuardRequest.PartitionRequest])
    )
    rule_runner.write_files({"t/BUILD": MATRIX_BUILD, "t/t.py": ""})
    return rule_runner


def partitions(rule_runner: RuleRunner, *flags: str, selected: bool = False) -> Partitions:
    rule_runner.set_options(list(flags))
    field_sets = ("a field set",) if selected else ()
    return rule_runner.request(Partitions, [SelectionGuardRequest.PartitionRequest(field_sets)])  # type: ignore[arg-type]


def error(rule_runner: RuleRunner, *flags: str, selected: bool = False) -> str:
    with pytest.raises(ExecutionError) as raised:
        partitions(rule_runner, *flags, selected=selected)
    (wrapped,) = raised.value.wrapped_exceptions
    return str(wrapped)


def test_a_tag_that_selects_no_test_fails_with_the_closest_cell(rule_runner: RuleRunner) -> None:
    # Regression: `--tag=user-code-earlist test ::` exited 0 having run nothing.
    said = error(rule_runner, "--tag=user-code-earlist")
    assert "--tag=user-code-earlist selects no test target" in said
    assert "Did you mean user-code-earliest?" in said
    assert "Known cells: server-latest, user-code-earliest" in said


@pytest.mark.parametrize("flag", ["--tag=", "--tag=,", "--tag=backcompat,", "--tag= ", "--tag=-"])
def test_an_empty_or_blank_tag_is_refused(rule_runner: RuleRunner, flag: str) -> None:
    # Regression: `./pants --tag=, test ::` ran nothing and exited 0; refused with tests selected too.
    for extra in ((), ("--changed-since=HEAD",)):
        said = error(rule_runner, flag, *extra, selected=True)
        assert "names an empty or blank tag" in said
        assert "Name a tag in every comma-separated item (e.g. --tag=backcompat" in said


@pytest.mark.parametrize(
    "flags, selected",
    [
        (["--tag=user-code-earliest"], True),  # a selection with a test runs
        ([], False),  # no --tag: Pants' own "no targets" warning
        (["--tag=user-code-earlist", "--changed-since=HEAD"], False),  # a change may rightly select none
        (["--tag=user-code-earlist", "--test-shard=1/2"], False),  # so may a shard of the run
    ],
)
def test_what_passes_the_guard(rule_runner: RuleRunner, flags: list[str], selected: bool) -> None:
    assert list(partitions(rule_runner, *flags, selected=selected)) == []
