"""What a compat_suite generates: one python_test per cell x backend (x module), carrying its cell."""

from __future__ import annotations

import dataclasses

import pytest
from pants.backend.python.target_types import PexBinary, PythonTestTarget
from pants.engine.addresses import Address
from pants.engine.target import Target
from pants.testutil.rule_runner import RuleRunner

from compat_core.contract import BACKEND_ENV, CELL_ENV, FULL_MATRIX_ENV
from compat_core.names import pex_target, sources_target
from compat_core.plan import expand_cells, plan_suite
from compat_plugin.sources import CompatBranchSourcesTarget
from compat_plugin.suite_target import suite_of
from compat_plugin.target_types import system_of
from compat_plugin_tests.declarations import (
    BACKCOMPAT_BUILD,
    DAGSTER_BUILD,
    DAGSTER_RESOLVES,
    SHOP_RESOLVES,
    shop_files,
)
from compat_plugin_tests.plugin_runner import (
    address_of,
    cell_env,
    configure,
    env_vars,
    fields,
    generated,
    make_rule_runner,
    resolve_options,
    tags,
)

RESOLVES = {**SHOP_RESOLVES, **DAGSTER_RESOLVES}
CELLS = ("server-latest", "server-earliest", "user-code-earliest")


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = make_rule_runner()
    rule_runner.write_files({**shop_files(), "third_party/dagster/BUILD": DAGSTER_BUILD, "third_party/dagster/test_dagster.py": ""})
    configure(rule_runner, RESOLVES)
    return rule_runner


def suite_tests(rule_runner: RuleRunner) -> dict[str, Target]:
    return generated(rule_runner, "tests/backcompat", "backcompat")


def runtime_targets(rule_runner: RuleRunner, test: Target) -> dict[str, Target]:
    """Generated name -> target of each of a cell test's runtime package dependencies."""
    out = {}
    for spec in fields(test)["runtime_package_dependencies"]:
        address = address_of(rule_runner, spec, test.address.spec_path)
        out[address.generated_name or ""] = rule_runner.get_target(address)
    return out


def test_one_test_per_cell_and_backend(rule_runner: RuleRunner) -> None:
    tests = suite_tests(rule_runner)
    assert sorted(tests) == sorted(f"{cell}-{backend}" for cell in CELLS for backend in ("process", "docker"))
    assert all(isinstance(t, PythonTestTarget) for t in tests.values())
    for name, test in tests.items():
        cell, backend = name.rsplit("-", 1)
        assert tags(test) == (cell, "backcompat", "shop", backend, "matrix", "slow")
        assert fields(test)["source"] == "test_shop.py"
        assert fields(test)["timeout"] == 120
        assert fields(test)["dependencies"] == (":conftest",)


def test_each_cell_carries_its_plan_and_backend(rule_runner: RuleRunner) -> None:
    suite_target = rule_runner.get_target(Address("tests/backcompat", target_name="backcompat"))
    system = system_of(rule_runner.get_target(Address("src/shop", target_name="shop")))
    expected = plan_suite(dataclasses.replace(suite_of(suite_target), system="shop"), system)
    for name, test in suite_tests(rule_runner).items():
        plan, backend = cell_env(test)
        assert name == f"{plan.name}-{backend}"
        # The core's plan, plus the system's address (for the harness's "build it with" hints).
        assert plan == dataclasses.replace(expected.cell(plan.name), system_address="src/shop:shop")
    server_latest, _ = cell_env(suite_tests(rule_runner)["server-latest-process"])
    assert [(i.name, i.version, i.declared_version) for i in server_latest.instances] == [("user-code-0", "branch", "branch"), ("server-0", "0.2.0", "latest")]


@pytest.mark.parametrize("backend", ["process", "docker"])
def test_runtime_dependencies_are_exactly_the_cells_pexes(rule_runner: RuleRunner, backend: str) -> None:
    # Both backends run the cell's PEXes; the docker backend builds its images from them
    # (compat_core.images), so a docker cell's cache key is what went into its images.
    system = system_of(rule_runner.get_target(Address("src/shop", target_name="shop")))
    for cell in CELLS:
        test = suite_tests(rule_runner)[f"{cell}-{backend}"]
        plan, _ = cell_env(test)
        runtime = runtime_targets(rule_runner, test)
        assert set(runtime) == {pex_target(system, i.version) for i in plan.instances} | {
            sources_target(system, i.role, i.version) for i in plan.instances if i.version == "branch"
        }
        assert all(isinstance(t, CompatBranchSourcesTarget if n.startswith("src-") else PexBinary) for n, t in runtime.items())
        assert all(t.address.spec_path == "src/shop" for t in runtime.values())
    runtime = runtime_targets(rule_runner, suite_tests(rule_runner)[f"server-earliest-{backend}"])
    assert set(runtime) == {"pex-branch", "src-branch-user-code", "pex-0.1.0"}


DOCKER_ENV = {
    "BASE_IMAGE": "python:3.11-slim-bookworm",
    "COMPAT_MATRIX_DOCKER_MEMORY": "1g",
    "COMPAT_MATRIX_DOCKER_PIDS": "1024",
    "COMPAT_MATRIX_DOCKER_ISOLATE_HOST": "true",
}


def test_docker_cells_carry_the_docker_settings_and_nothing_passes_through(rule_runner: RuleRunner) -> None:
    for name, test in suite_tests(rule_runner).items():
        values, passed = env_vars(test)
        settings = {k: v for k, v in values.items() if k not in (CELL_ENV, BACKEND_ENV)}
        assert (settings, passed) == ((DOCKER_ENV if name.endswith("-docker") else {}), ()), name


def test_the_docker_settings_come_from_the_options_then_the_environment(rule_runner: RuleRunner) -> None:
    rule_runner.set_options(
        [*resolve_options(RESOLVES), "--compat-matrix-base-image=compat-matrix/base:bookworm", "--compat-matrix-docker-pids=64"],
        env={"COMPAT_MATRIX_DOCKER_PIDS": "128", "COMPAT_MATRIX_DOCKER_CPUS": "web=0.5"},
    )
    values, _ = env_vars(suite_tests(rule_runner)["server-latest-docker"])
    assert values["BASE_IMAGE"] == "compat-matrix/base:bookworm"
    assert (values["COMPAT_MATRIX_DOCKER_PIDS"], values["COMPAT_MATRIX_DOCKER_CPUS"]) == ("128", "web=0.5")


def test_cell_tests_run_in_the_suites_resolve(rule_runner: RuleRunner) -> None:
    # None given: the default resolve (the field left unset, so [python].default_resolve applies).
    assert {fields(test)["resolve"] for test in suite_tests(rule_runner).values()} == {None}
    configure(rule_runner, {**RESOLVES, "shop-tests": "locks/shop-tests.lock"})
    rule_runner.write_files(
        {"tests/backcompat/BUILD": BACKCOMPAT_BUILD.replace('name="backcompat",', 'name="backcompat",\n    resolve="shop-tests",')}
    )
    tests = suite_tests(rule_runner)
    assert tests and {fields(test)["resolve"] for test in tests.values()} == {"shop-tests"}


def test_one_test_per_module_when_a_suite_has_several(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"tests/backcompat/test_more.py": ""})
    tests = suite_tests(rule_runner)
    assert len(tests) == len(CELLS) * 2 * 2
    more, shop = tests["server-latest-docker-test_more"], tests["server-latest-docker-test_shop"]
    assert fields(more)["source"] == "test_more.py"
    assert fields(shop)["source"] == "test_shop.py"
    assert tags(more) == tags(shop) == ("server-latest", "backcompat", "shop", "docker", "matrix", "slow")
    assert cell_env(more) == cell_env(shop)


def test_a_release_playing_branch(rule_runner: RuleRunner) -> None:
    tests = generated(rule_runner, "third_party/dagster", "dagster-backcompat")
    assert sorted(tests) == ["webserver-earliest-process"]
    test = tests["webserver-earliest-process"]
    plan, backend = cell_env(test)
    assert [(i.name, i.version, i.runs, i.pex) for i in plan.instances] == [
        ("webserver-0", "1.8.0", "", "compat/dagster/pex-1.8.0.pex"),
        ("user-code-0", "branch", "1.9.0", "compat/dagster/pex-1.9.0.pex"),
    ]
    assert set(runtime_targets(rule_runner, test)) == {"pex-1.8.0", "pex-1.9.0"}
    assert tags(test) == ("webserver-earliest", "dagster-backcompat", "dagster", "process", "matrix")


# --- the environment ---------------------------------------------------------------------------


def versions(rule_runner: RuleRunner, test: str) -> dict[str, str]:
    plan, _ = cell_env(suite_tests(rule_runner)[test])
    return {i.role: i.version for i in plan.instances}


@pytest.mark.parametrize("variable", ["EARLIEST_TESTED_RELEASE", "EARLIEST_TESTED_RELEASE_SHOP"])
def test_earliest_tested_release_switches_a_cells_version(rule_runner: RuleRunner, variable: str) -> None:
    assert versions(rule_runner, "server-earliest-process") == {"user-code": "branch", "server": "0.1.0"}
    configure(rule_runner, RESOLVES, {variable: "0.2.0"})
    assert versions(rule_runner, "server-earliest-process") == {"user-code": "branch", "server": "0.2.0"}
    assert versions(rule_runner, "user-code-earliest-docker") == {"user-code": "0.2.0", "server": "branch"}
    test = suite_tests(rule_runner)["server-earliest-docker"]
    assert set(runtime_targets(rule_runner, test)) == {"pex-branch", "src-branch-user-code", "pex-0.2.0"}
    assert cell_env(test)[0].instances[1].declared_version == "earliest"


def test_earliest_is_scoped_per_system(rule_runner: RuleRunner) -> None:
    def dagster_webserver() -> str:
        plan, _ = cell_env(generated(rule_runner, "third_party/dagster", "dagster-backcompat")["webserver-earliest-process"])
        return plan.instances[0].version

    # A release only dagster pins moves dagster's earliest and leaves shop's alone.
    configure(rule_runner, RESOLVES, {"EARLIEST_TESTED_RELEASE": "1.9.0"})
    assert dagster_webserver() == "1.9.0"
    assert versions(rule_runner, "server-earliest-process")["server"] == "0.1.0"
    # A system's own variable moves that system only, and wins over the shared one.
    configure(rule_runner, RESOLVES, {"EARLIEST_TESTED_RELEASE_SHOP": "0.2.0", "EARLIEST_TESTED_RELEASE": "1.9.0"})
    assert versions(rule_runner, "server-earliest-process")["server"] == "0.2.0"
    assert dagster_webserver() == "1.9.0"
    configure(rule_runner, RESOLVES, {"EARLIEST_TESTED_RELEASE_SHOP": "0.2.0"})
    assert dagster_webserver() == "1.8.0"


FULL_CELLS = {
    *CELLS,
    "all-branch",
    "user-code-0.2.0",
    "server-0.1.0-user-code-0.1.0",
    "server-0.1.0-user-code-0.2.0",
    "server-0.2.0-user-code-0.1.0",
    "server-0.2.0-user-code-0.2.0",
}


def cells(rule_runner: RuleRunner) -> set[str]:
    return {cell_env(t)[0].name for t in suite_tests(rule_runner).values()}


def test_full_matrix_adds_every_version_pair(rule_runner: RuleRunner) -> None:
    configure(rule_runner, RESOLVES, {FULL_MATRIX_ENV: "1"})
    tests = suite_tests(rule_runner)
    assert cells(rule_runner) == FULL_CELLS
    assert len(tests) == len(FULL_CELLS) * 2
    test = tests["server-0.1.0-user-code-0.2.0-process"]
    assert tags(test)[:5] == ("server-0.1.0-user-code-0.2.0", "backcompat", "shop", "process", "matrix")
    assert set(runtime_targets(rule_runner, test)) == {"pex-0.1.0", "pex-0.2.0"}
    # The same cells the core expands to: one model.
    suite = suite_of(rule_runner.get_target(Address("tests/backcompat", target_name="backcompat")))
    system = system_of(rule_runner.get_target(Address("src/shop", target_name="shop")))
    assert {c.name for c in expand_cells(suite, system.releases, True).cells} == FULL_CELLS


def test_full_matrix_off_or_not_opted_in(rule_runner: RuleRunner) -> None:
    configure(rule_runner, RESOLVES, {FULL_MATRIX_ENV: "false"})
    assert cells(rule_runner) == set(CELLS)
    rule_runner.write_files({"tests/backcompat/BUILD": BACKCOMPAT_BUILD.replace("full_matrix=True", "full_matrix=False")})
    configure(rule_runner, RESOLVES, {FULL_MATRIX_ENV: "1"})
    assert cells(rule_runner) == set(CELLS)


def test_full_matrix_with_moved_earliest_still_dedups(rule_runner: RuleRunner) -> None:
    configure(rule_runner, RESOLVES, {FULL_MATRIX_ENV: "1", "EARLIEST_TESTED_RELEASE": "0.2.0"})
    # server-earliest now runs 0.2.0 like server-latest; user-code-earliest runs user-code 0.2.0.
    assert cells(rule_runner) == (FULL_CELLS - {"user-code-0.2.0"}) | {"server-0.1.0", "user-code-0.1.0"}
