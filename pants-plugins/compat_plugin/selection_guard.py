"""The guard against a ``test`` run that selects no test: ``pants --tag=user-code-earlist test ::``
fails, naming the closest known tag, instead of passing having run nothing.

Pants' ``test`` goal asks every registered ``TestRequest`` for its partitions, with the field sets
of the selected test targets it applies to, even when there are none. This request applies to
every test target and never makes a partition (it runs nothing); its partition rule raises when
``--tag`` selected no test target (``--changed-since`` and a shard of the run may rightly select
none), and when a ``--tag`` value names an empty or blank tag (``--tag=``, ``--tag=a,``).

Its field set is deliberately not a member of ``TestFieldSet``: the test goal would give it to
every target it applies to, and hand it to the pytest runner with the target's real field set.
"""

from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.test import (
    TestDebugAdapterRequest,
    TestDebugRequest,
    TestFieldSet,
    TestRequest,
    TestResult,
    TestSubsystem,
)
from pants.core.util_rules.partitions import PartitionerType, Partitions
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import AllTargets, SourcesField, Tags
from pants.engine.unions import UnionRule
from pants.option.global_options import GlobalOptions
from pants.vcs.changed import Changed

from compat_core.errors import CompatMatrixError
from compat_core.selection import blank_items, blank_message, explain
from compat_plugin.subsystem import CompatMatrixSubsystem


@dataclass(frozen=True)
class AnyTestFieldSet(TestFieldSet):
    required_fields = (SourcesField,)

    sources: SourcesField


class SelectionGuardRequest(TestRequest):
    tool_subsystem = CompatMatrixSubsystem  # type: ignore[assignment]  # names the request; never skipped
    field_set_type = AnyTestFieldSet
    partitioner_type = PartitionerType.CUSTOM


@rule(desc="Check that the test selection selects a test")
async def guard_test_selection(
    request: SelectionGuardRequest.PartitionRequest, global_options: GlobalOptions, changed: Changed, test: TestSubsystem
) -> Partitions:
    tag_exprs = list(global_options.tag)
    bad = blank_items(tag_exprs)
    if bad:
        raise CompatMatrixError(blank_message(bad))
    if request.field_sets or not tag_exprs or changed.since or changed.diffspec or test.shard:
        return Partitions()
    all_targets = await Get(AllTargets)
    raise CompatMatrixError(explain(tag_exprs, [t[Tags].value or () for t in all_targets]))


@rule
async def never_run(batch: SelectionGuardRequest.Batch) -> TestResult:
    raise AssertionError("the selection guard makes no partition, so no batch")


@rule
async def never_debug(batch: SelectionGuardRequest.Batch) -> TestDebugRequest:
    raise AssertionError("the selection guard makes no partition, so no batch")


@rule
async def never_debug_adapter(batch: SelectionGuardRequest.Batch) -> TestDebugAdapterRequest:
    raise AssertionError("the selection guard makes no partition, so no batch")


def rules():
    return [
        *collect_rules(),
        UnionRule(TestRequest, SelectionGuardRequest),
        UnionRule(TestRequest.PartitionRequest, SelectionGuardRequest.PartitionRequest),
        UnionRule(TestRequest.Batch, SelectionGuardRequest.Batch),
    ]
