"""``pants compat-plan``: print the plan of suites, cells and systems, from the targets themselves.

``pants compat-plan tests/python/integration/backcompat:backcompat`` prints every cell of the
suite (instances, versions, artifacts); a generated cell test (``...:backcompat#server-latest-process``)
prints that cell; a ``compat_system`` prints its roles and releases. ``--json`` prints the same
as JSON: a cell's JSON is what its test gets in ``COMPAT_MATRIX_CELL`` and what
``compat-matrix up --cell FILE`` reads.
"""

from __future__ import annotations

import json
from typing import Any

from pants.engine.console import Console
from pants.engine.goal import Goal, GoalSubsystem, Outputting
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule
from pants.engine.target import InvalidTargetException, UnexpandedTargets
from pants.option.option_types import BoolOption

from compat_core.codec import cell_from_json, to_data
from compat_core.errors import CompatMatrixError
from compat_core.plan import render, role_command_line
from compat_core.settings import Settings
from compat_core.versions import apply_earliest_override, sort_releases
from compat_plugin.generate import PlannedSuite, SuitePlanRequest, cell_json_of
from compat_plugin.repo import RepoChecked, RepoCheckRequest
from compat_plugin.suite_target import CompatSuiteTarget
from compat_plugin.target_types import CompatSupportField, CompatSystemTarget, system_of


class CompatPlanSubsystem(Outputting, GoalSubsystem):
    name = "compat-plan"
    help = "Print the plan of compat_suite targets, single cell tests, or compat_system targets."

    json = BoolOption(default=False, help="Print JSON (a cell's is the harness's COMPAT_MATRIX_CELL).")


class CompatPlan(Goal):
    subsystem_cls = CompatPlanSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def compat_plan(
    console: Console, subsystem: CompatPlanSubsystem, targets: UnexpandedTargets, settings: Settings
) -> CompatPlan:
    suites = [t for t in targets if isinstance(t, CompatSuiteTarget)]
    systems = [t for t in targets if isinstance(t, CompatSystemTarget)]
    cells = [(t, value) for t in targets if (value := cell_json_of(t)) is not None]
    # What the plan shows is what a run would refuse: the same repo-wide checks as a cell test's.
    await Get(RepoChecked, RepoCheckRequest())
    planned = await MultiGet(Get(PlannedSuite, SuitePlanRequest(t)) for t in suites)  # type: ignore[arg-type]
    texts: list[str] = []
    data: list[Any] = []
    for suite in planned:
        texts.append(render(suite.plan))
        data.append(to_data(suite.plan))
    for target, value in cells:
        plan = cell_from_json(value, f"{target.address}")
        texts.append(render(plan))
        data.append(to_data(plan))
    for target in systems:
        system = system_of(target)
        try:
            releases = apply_earliest_override(system.releases, system.name, settings.earliest_env)
        except CompatMatrixError as exc:
            raise InvalidTargetException(f"{target.address}: {exc}") from None
        texts.append(_render_system(system, releases, target[CompatSupportField].value or ""))
        system_data = to_data(system)
        system_data["releases"] = to_data(releases)
        system_data["releases"].pop("format", None)
        data.append(system_data)
    if not texts:
        console.print_stderr(
            "compat-plan: no compat_suite, cell test or compat_system among the targets; name one, e.g. "
            "pants compat-plan tests/python/integration/backcompat:backcompat"
        )
        return CompatPlan(exit_code=1)
    with subsystem.output(console) as write_stdout:
        if subsystem.json:
            write_stdout(json.dumps(data[0] if len(data) == 1 else data, indent=2) + "\n")
        else:
            write_stdout("\n\n".join(texts) + "\n")
    return CompatPlan(exit_code=0)


def _render_system(system: Any, releases: Any, support: str) -> str:
    lines = [f"system {system.name}"]
    for role in system.role_specs:
        ports = ",".join(role.ports) or "no port"
        lines.append(f"  role {role.name} ({ports}; ready by {role.readiness.kind}): {role_command_line(role)}")
    branch = f"release {system.branch_release}" if system.branch_release else f"resolve {system.branch_resolve}"
    lines.append(f"  branch: {branch}")
    for version in sort_releases(releases.pinned):
        marks = [m for m, v in (("earliest", releases.earliest), ("latest", releases.latest)) if v == version]
        note = f" ({', '.join(marks)})" if marks else ""
        lines.append(
            f"  release {version}{note}: {' '.join(releases.requirements_of(version))} [resolve {releases.resolve_of(version)}]"
        )
    if support:
        lines.append(f"  support: {support} (earliest and releases as `releases pin` last wrote them)")
    return "\n".join(lines)


def rules():
    return collect_rules()
