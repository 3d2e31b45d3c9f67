"""A Pants ``RuleRunner`` with the compat plugin loaded, and helpers to read what it generates.

Used by every plugin test: the plugin's real rules and target types on Pants' real engine, a
build root written by the test, and the options a repo sets in pants.toml passed as flags.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pants.backend.docker import register as docker_register
from pants.backend.python import register as python_register
from pants.backend.python import target_types_rules as python_target_types_rules
from pants.backend.python.subsystems.setup import PythonSetup
from pants.core import register as core_register
from pants.engine.addresses import Address
from pants.engine.internals.graph import _TargetParametrizations, _TargetParametrizationsRequest
from pants.engine.internals.native_engine import AddressInput
from pants.engine.target import AllUnexpandedTargets, Target
from pants.testutil.rule_runner import GoalRuleResult, QueryRule, RuleRunner

from compat_core.build_objects import BUILD_FILE_OBJECTS
from compat_core.cell_plan import CellPlan
from compat_core.codec import cell_from_json
from compat_core.contract import BACKEND_ENV, CELL_ENV
from compat_plugin import generate, goals, register, repo, subsystem
from compat_plugin.goals import CompatPlan

DEFAULT_RESOLVES = {"python-default": "3rdparty/python/default.lock"}


def make_rule_runner(*extra_rules: Any) -> RuleRunner:
    """The plugin's rules (but packaging, which the e2e suites run for real) and target types, and
    every target type the repo's BUILD files use; ``extra_rules`` add to them."""
    return RuleRunner(
        rules=[
            *extra_rules,
            *generate.rules(),
            *goals.rules(),
            *repo.rules(),
            *subsystem.rules(),
            *PythonSetup.rules(),
            # python_sources / python_test_utils generation (the repo's BUILD files have them).
            *python_target_types_rules.rules(),
            QueryRule(_TargetParametrizations, [_TargetParametrizationsRequest]),
            QueryRule(Address, [AddressInput]),
            QueryRule(AllUnexpandedTargets, []),
            QueryRule(repo.RepoChecked, [repo.RepoCheckRequest]),
        ],
        target_types=[
            *register.target_types(),
            *python_register.target_types(),
            *docker_register.target_types(),
            *core_register.target_types(),
        ],
        objects=dict(BUILD_FILE_OBJECTS),
        aliases=[python_register.build_file_aliases()],
    )


def resolve_options(resolves: Mapping[str, str]) -> list[str]:
    """pants.toml's [python] resolves as flags (a release needs its resolve declared)."""
    return ["--python-enable-resolves", f"--python-resolves={json.dumps({**DEFAULT_RESOLVES, **resolves})}"]


def configure(rule_runner: RuleRunner, resolves: Mapping[str, str], env: Mapping[str, str] | None = None) -> None:
    rule_runner.set_options(resolve_options(resolves), env=dict(env or {}))


def generated(rule_runner: RuleRunner, spec_path: str, name: str) -> dict[str, Target]:
    """Generated name -> target, of the target generator ``spec_path:name``."""
    result = rule_runner.request(
        _TargetParametrizations,
        [_TargetParametrizationsRequest(Address(spec_path, target_name=name), description_of_origin="tests")],
    )
    return {t.address.generated_name or "": t for t in result.parametrizations.values()}


def fields(target: Target) -> dict[str, Any]:
    """A target's field values by alias (tuples as they are stored)."""
    return {field.alias: field.value for field in target.field_values.values()}


def address_of(rule_runner: RuleRunner, spec: str, relative_to: str) -> Address:
    """The address a field's raw address ``spec`` names, as Pants resolves it."""
    address_input = AddressInput.parse(spec, relative_to=relative_to, description_of_origin="tests")
    return rule_runner.request(Address, [address_input])


def env_vars(target: Target) -> tuple[dict[str, str], tuple[str, ...]]:
    """A cell test's extra_env_vars: the values it sets, and the names it passes through."""
    entries = fields(target)["extra_env_vars"] or ()
    values = dict(entry.split("=", 1) for entry in entries if "=" in entry)
    return values, tuple(entry for entry in entries if "=" not in entry)


def cell_env(target: Target) -> tuple[CellPlan, str]:
    """The planned cell and the backend a generated cell test carries in its environment."""
    values, _ = env_vars(target)
    assert {CELL_ENV, BACKEND_ENV} <= set(values), values
    return cell_from_json(values[CELL_ENV]), values[BACKEND_ENV]


def compat_plan(
    rule_runner: RuleRunner,
    resolves: Mapping[str, str],
    *args: str,
    env: Mapping[str, str] | None = None,
) -> GoalRuleResult:
    """``pants compat-plan ARGS`` (the goal rule resets options, so the resolves go with it)."""
    return rule_runner.run_goal_rule(CompatPlan, global_args=resolve_options(resolves), args=list(args), env=dict(env or {}))


def tags(target: Target) -> tuple[str, ...]:
    return tuple(fields(target)["tags"] or ())


def names(targets: Iterable[str]) -> list[str]:
    return sorted(targets)


def build_error(rule_runner: RuleRunner, spec_path: str, name: str) -> str:
    """The message of the one error that generating ``spec_path:name`` raises (fails if none)."""
    from pants.engine.internals.scheduler import ExecutionError

    try:
        generated(rule_runner, spec_path, name)
    except ExecutionError as exc:
        assert len(exc.wrapped_exceptions) == 1, exc.wrapped_exceptions
        return f"{type(exc.wrapped_exceptions[0]).__name__}: {exc.wrapped_exceptions[0]}"
    raise AssertionError(f"generating {spec_path}:{name} raised no error")
