"""``pants compat-plan``: the plan of a suite, one cell test, or a system, as text or JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pants.engine.addresses import Address
from pants.testutil.rule_runner import RuleRunner

from compat_core.codec import cell_from_data, cell_to_json
from compat_core.plan import plan_suite, render
from compat_plugin.suite_target import suite_of
from compat_plugin.target_types import system_of
from compat_plugin_tests.declarations import (
    DAGSTER_BUILD,
    DAGSTER_RESOLVES,
    SHOP_BUILD,
    SHOP_RESOLVES,
    shop_files,
)
from compat_plugin_tests.plugin_runner import cell_env, compat_plan, generated, make_rule_runner

RESOLVES = {**SHOP_RESOLVES, **DAGSTER_RESOLVES}


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = make_rule_runner()
    rule_runner.write_files({**shop_files(), "third_party/dagster/BUILD": DAGSTER_BUILD, "third_party/dagster/test_dagster.py": ""})
    return rule_runner


def test_a_suite(rule_runner: RuleRunner) -> None:
    result = compat_plan(rule_runner, RESOLVES, "tests/backcompat:backcompat")
    assert result.exit_code == 0, result.stderr
    suite = suite_of(rule_runner.get_target(Address("tests/backcompat", target_name="backcompat")))
    system = system_of(rule_runner.get_target(Address("src/shop", target_name="shop")))
    assert result.stdout == render(plan_suite(dataclasses.replace(suite, system="shop"), system)) + "\n"
    assert result.stdout.startswith("suite backcompat (system shop): 3 cell(s)\n")
    assert "  server-0     server     0.2.0 (latest)  compat/shop/pex-0.2.0.pex" in result.stdout


def test_a_suite_as_json_is_what_the_cell_tests_carry(rule_runner: RuleRunner) -> None:
    result = compat_plan(rule_runner, RESOLVES, "--json", "tests/backcompat:backcompat")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["suite"], data["system"]) == ("backcompat", "shop")
    tests = generated(rule_runner, "tests/backcompat", "backcompat")
    for cell in data["cells"]:
        plan = cell_from_data(cell)
        assert cell_to_json(plan) == cell_to_json(cell_env(tests[f"{plan.name}-process"])[0])


def test_one_cell_test(rule_runner: RuleRunner) -> None:
    result = compat_plan(rule_runner, RESOLVES, "tests/backcompat:backcompat#server-earliest-docker")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "cell server-earliest  [suite backcompat, system shop]"
    assert "0.1.0 (earliest)" in result.stdout
    as_json = compat_plan(rule_runner, RESOLVES, "--json", "tests/backcompat:backcompat#server-earliest-docker")
    assert json.loads(as_json.stdout)["name"] == "server-earliest"
    assert cell_from_data(json.loads(as_json.stdout)) == cell_env(generated(rule_runner, "tests/backcompat", "backcompat")["server-earliest-docker"])[0]


def test_a_system(rule_runner: RuleRunner) -> None:
    result = compat_plan(rule_runner, RESOLVES, "src/shop:shop")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "system shop\n"
        "  role user-code (grpc; ready by grpc-health): python -c 'import sys, shop.cli; sys.exit(shop.cli.main())' "
        "code-server --port '{port[grpc]}'\n"
        "  role server (http; ready by http): shop-server --port '{port[http]}' --code '{address[user-code]}'\n"
        "  branch: resolve python-default\n"
        "  release 0.1.0 (earliest): shop==0.1.0 [resolve shop-0.1.0]\n"
        "  release 0.2.0 (latest): shop==0.2.0 [resolve shop-0.2.0]\n"
    )
    dagster = compat_plan(rule_runner, RESOLVES, "third_party/dagster:dagster")
    assert "  branch: release 1.9.0\n" in dagster.stdout
    # The release that plays branch is never `latest` (the newest other one is).
    assert "  release 1.9.0: dagster==1.9.0 dagster-webserver==1.9.0 [resolve dagster-new]\n" in dagster.stdout
    assert "  release 1.8.0 (earliest, latest): dagster==1.8.0" in dagster.stdout


def test_a_system_with_a_support_policy(rule_runner: RuleRunner) -> None:
    # The policy is shown; earliest and releases are what the declaration says (planning never
    # asks the index: `releases pin` applies the policy and writes its result there).
    rule_runner.write_files({"src/shop/BUILD": SHOP_BUILD.replace('earliest="0.1.0",', 'earliest="0.1.0",\n    support="last 2 minor",')})
    result = compat_plan(rule_runner, RESOLVES, "src/shop:shop")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-3:] == [
        "  release 0.1.0 (earliest): shop==0.1.0 [resolve shop-0.1.0]",
        "  release 0.2.0 (latest): shop==0.2.0 [resolve shop-0.2.0]",
        "  support: last 2 minor (earliest and releases as `releases pin` last wrote them)",
    ]


def test_releases_as_pypi_names_them(rule_runner: RuleRunner) -> None:
    # Two-part and post releases, declared in no order: listed, and `latest` chosen, by PEP 440;
    # names carry each version as written.
    build = SHOP_BUILD.replace('releases=["0.1.0", "0.2.0"]', 'releases=["5.15", "1.4.post1", "5.9"]').replace('earliest="0.1.0"', 'earliest="5.9"')
    rule_runner.write_files({"src/shop/BUILD": build})
    resolves = {**DAGSTER_RESOLVES, **{f"shop-{v}": f"locks/shop-{v}.lock" for v in ("5.15", "1.4.post1", "5.9")}}
    system = compat_plan(rule_runner, resolves, "src/shop:shop")
    assert system.exit_code == 0, system.stderr
    assert system.stdout.splitlines()[-3:] == [
        "  release 1.4.post1: shop==1.4.post1 [resolve shop-1.4.post1]",
        "  release 5.9 (earliest): shop==5.9 [resolve shop-5.9]",
        "  release 5.15 (latest): shop==5.15 [resolve shop-5.15]",
    ]
    suite = compat_plan(rule_runner, resolves, "tests/backcompat:backcompat")
    assert suite.exit_code == 0, suite.stderr
    assert "  server-0     server     5.15 (latest)  compat/shop/pex-5.15.pex" in suite.stdout
    assert "compat-matrix/shop/server:5.9 " in suite.stdout
    assert "5.15.0" not in suite.stdout and "5.9.0" not in suite.stdout


def test_a_system_as_json(rule_runner: RuleRunner) -> None:
    data = json.loads(compat_plan(rule_runner, RESOLVES, "--json", "src/shop:shop").stdout)
    assert data["name"] == "shop"
    assert data["releases"]["earliest"] == "0.1.0"
    assert [r["name"] for r in data["role_specs"]] == ["user-code", "server"]


def test_earliest_tested_release_moves_the_plan(rule_runner: RuleRunner) -> None:
    env = {"EARLIEST_TESTED_RELEASE": "0.2.0"}
    suite = compat_plan(rule_runner, RESOLVES, "tests/backcompat:backcompat", env=env).stdout
    assert "0.1.0" not in suite
    assert "0.2.0 (earliest)" in suite
    system = compat_plan(rule_runner, RESOLVES, "src/shop:shop", env=env).stdout
    assert "  release 0.2.0 (earliest, latest):" in system
    other = compat_plan(rule_runner, RESOLVES, "src/shop:shop", env={"EARLIEST_TESTED_RELEASE_DAGSTER": "1.9.0"}).stdout
    assert "  release 0.1.0 (earliest):" in other


def test_the_full_matrix(rule_runner: RuleRunner) -> None:
    result = compat_plan(rule_runner, RESOLVES, "tests/backcompat:backcompat", env={"COMPAT_MATRIX_FULL": "1"})
    assert result.stdout.startswith("suite backcompat (system shop): 9 cell(s)\n")
    assert "cell server-0.2.0-user-code-0.1.0  [suite backcompat, system shop]" in result.stdout


def test_several_targets(rule_runner: RuleRunner) -> None:
    result = compat_plan(rule_runner, RESOLVES, "tests/backcompat:backcompat", "third_party/dagster:dagster-backcompat", "src/shop:shop")
    assert result.exit_code == 0, result.stderr
    headers = [line for line in result.stdout.splitlines() if line.startswith(("suite ", "system "))]
    assert headers == ["suite backcompat (system shop): 3 cell(s)", "suite dagster-backcompat (system dagster): 1 cell(s)", "system shop"]
    data = json.loads(compat_plan(rule_runner, RESOLVES, "--json", "tests/backcompat:backcompat", "src/shop:shop").stdout)
    assert isinstance(data, list) and len(data) == 2


def test_nothing_to_plan(rule_runner: RuleRunner) -> None:
    result = compat_plan(rule_runner, RESOLVES, "tests/backcompat:conftest")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no compat_suite, cell test or compat_system among the targets" in result.stderr
    assert "pants compat-plan tests/python/integration/backcompat:backcompat" in result.stderr


def test_a_bad_setting_fails_the_goal(rule_runner: RuleRunner) -> None:
    from pants.engine.internals.scheduler import ExecutionError

    with pytest.raises(ExecutionError, match="EARLIEST_TESTED_RELEASE_SHOP='0.9.0' is not a pinned release of shop"):
        compat_plan(rule_runner, RESOLVES, "src/shop:shop", env={"EARLIEST_TESTED_RELEASE_SHOP": "0.9.0"})
