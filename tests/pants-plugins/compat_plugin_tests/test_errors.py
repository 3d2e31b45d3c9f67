"""Every mistake in a declaration fails while Pants reads the BUILD file, naming the value and the fix."""

from __future__ import annotations

import pytest
from pants.engine.addresses import Address
from pants.testutil.rule_runner import RuleRunner

from compat_core.validate_suite import MAX_INSTANCES_PER_ROLE
from compat_plugin.repo import RepoChecked, RepoCheckRequest
from compat_plugin_tests.declarations import BACKCOMPAT_BUILD, SHOP_BUILD, SHOP_RESOLVES, shop_files
from compat_plugin_tests.plugin_runner import build_error, compat_plan, configure, generated, make_rule_runner

WHERE = "tests/backcompat/BUILD"


def suite_build(cells: str = 'compat_cell("server-latest", {"server": "latest"})', **fields: str) -> str:
    """A compat_suite over the shop with ``cells`` and fields given as BUILD source text."""
    args = {
        "name": '"backcompat"',
        "system": '"src/shop:shop"',
        "topology": '{"server": 1, "user-code": 1}',
        "cells": f"[{cells}]",
        **fields,
    }
    body = ",\n    ".join(f"{key}={value}" for key, value in args.items())
    return f"compat_suite(\n    {body},\n)\n"


def error(rule_runner: RuleRunner, suite: str | None = None, resolves=SHOP_RESOLVES, env=None, target=("tests/backcompat", "backcompat")) -> str:
    if suite is not None:
        rule_runner.write_files({"tests/backcompat/BUILD": suite})
    configure(rule_runner, resolves, env)
    return build_error(rule_runner, *target)


def contains(message: str, *fragments: str) -> None:
    missing = [f for f in fragments if f not in message]
    assert not missing, f"message lacks {missing!r}: {message}"


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = make_rule_runner()
    rule_runner.write_files(shop_files())
    configure(rule_runner, SHOP_RESOLVES)
    return rule_runner


def test_the_declarations_are_valid(rule_runner: RuleRunner) -> None:
    assert generated(rule_runner, "tests/backcompat", "backcompat")
    rule_runner.write_files({"tests/backcompat/BUILD": suite_build()})
    assert generated(rule_runner, "tests/backcompat", "backcompat")


# --- suites ------------------------------------------------------------------------------------


def test_a_duplicate_cell(rule_runner: RuleRunner) -> None:
    cells = 'compat_cell("a", {"server": "latest"}), compat_cell("a", {"server": "earliest"})'
    contains(error(rule_runner, suite_build(cells)), WHERE, "field cells", "cell 'a' is declared twice", "unique name")


def test_cells_as_a_dict(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, suite_build().replace('cells=[compat_cell("server-latest", {"server": "latest"})]', 'cells={"a": {"server": "latest"}}')), "not a dict", "compat_cell(name")


def test_empty_backends(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, suite_build(backends="[]")), WHERE, "backends is empty", "process, docker")


def test_an_unknown_backend(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, suite_build(backends='["process", "k8s"]')), "unknown backend 'k8s'", "known backends: process, docker")


def test_a_resolve_that_is_not_declared(rule_runner: RuleRunner) -> None:
    contains(
        error(rule_runner, suite_build(resolve='"shop-tests"')),
        WHERE,
        "resolve='shop-tests' is not a resolve",
        '`shop-tests = "3rdparty/python/shop-tests.lock"` to [python.resolves] in pants.toml',
        "PRODUCT_TEST_RESOLVES",
        "./pants generate-lockfiles --resolve=shop-tests",
        "the resolves are python-default, shop-0.1.0, shop-0.2.0",
    )


def test_sources_matching_nothing(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, suite_build(sources='["it_*.py"]'))
    contains(message, WHERE, "sources='it_*.py' match no file in tests/backcompat/", 'sources=["test_*.py"]')


@pytest.mark.parametrize("name, kind", [("process", "a backend"), ("docker", "a backend"), ("matrix", "the matrix tag"), ("backcompat", "its suite"), ("shop", "its system")])
def test_a_cell_named_like_a_tag_of_other_targets(rule_runner: RuleRunner, name: str, kind: str) -> None:
    message = error(rule_runner, suite_build(f'compat_cell("{name}", {{"server": "latest"}})'))
    contains(message, WHERE, f"cell name {name!r} is also a tag of other targets", f"--tag={name}", "rename it")


@pytest.mark.parametrize("name", ["docker", "process", "matrix", "shop"])
def test_a_suite_named_like_a_tag_of_other_targets(rule_runner: RuleRunner, name: str) -> None:
    message = error(rule_runner, suite_build(name=f'"{name}"'), target=("tests/backcompat", name))
    contains(message, f"suite name {name!r} is also a tag", "rename it")


@pytest.mark.parametrize("name", ["not", "Server-Latest", "café"])
def test_a_cell_name_that_cannot_be_a_tag(rule_runner: RuleRunner, name: str) -> None:
    contains(error(rule_runner, suite_build(f'compat_cell("{name}")')), f"invalid cell name {name!r}", "lowercase ASCII")


@pytest.mark.parametrize("version", ["0.1", "1", "None", '["0.1.0"]'])
def test_a_version_that_is_not_a_string(rule_runner: RuleRunner, version: str) -> None:
    message = error(rule_runner, suite_build(f'compat_cell("c", {{"server": {version}}})'))
    contains(message, "Failed to parse ./tests/backcompat/BUILD", "compat_cell('c')", "role 'server' has the version", 'in quotes, e.g. "0.1.0"')


def test_a_version_not_pinned(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, suite_build('compat_cell("c", {"server": "0.3.0"})'))
    contains(
        message,
        WHERE,
        "cell 'c', role 'server'",
        "'0.3.0' is not a pinned release of shop (pinned: 0.1.0, 0.2.0)",
        "releases pin <address of compat_system(name='shop')> 0.3.0",
        "adds '0.3.0' to the releases of compat_system(name='shop')",
        '"shop-0.3.0" to [python.resolves]',
        "./pants generate-lockfiles --resolve=shop-0.3.0",
    )


def test_a_malformed_version(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, suite_build('compat_cell("c", {"server": "01.2.3"})')), "'01.2.3' is not 'branch', 'earliest', 'latest' or a release: it", "write '1.2.3'")
    contains(error(rule_runner, suite_build('compat_cell("c", {"server": "0.2.0rc1"})')), "'0.2.0rc1' is not", "is a pre-release (PEP 440 rc1)")


def test_a_version_spelled_unlike_its_pin(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, suite_build('compat_cell("c", {"server": "0.2"})'))
    contains(message, WHERE, "version '0.2' is not a pinned release of shop", "it is pinned as '0.2.0'", "write '0.2.0'")


def test_a_cell_naming_a_role_the_topology_does_not_run(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, suite_build('compat_cell("c", {"server": "latest"})', topology='{"user-code": 1}'))
    contains(message, "names role 'server', which the suite's topology does not run", "add 'server' to the topology")


def test_a_topology_missing_a_required_role(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, suite_build(topology='{"server": 1}')), "has role 'server', which requires role 'user-code'")


def test_a_topology_count_that_is_not_a_count(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, suite_build(topology='{"server": 0, "user-code": 1}')), "field topology", "role 'server' the count 0", "integer >= 1")


def test_an_unknown_system_address(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, suite_build(system='"src/nope:nope"'))
    contains(message, "src/nope:nope", "`system` field of tests/backcompat:backcompat")


def test_an_unknown_system_name_in_a_known_directory(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, suite_build(system='"src/shop:shoppe"')), "shoppe", "`system` field of tests/backcompat:backcompat")


def test_a_system_that_is_not_a_compat_system(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"src/shop/BUILD": SHOP_BUILD + 'python_sources(name="adapters")\n', "src/shop/adapters.py": ""})
    message = error(rule_runner, suite_build(system='"src/shop:adapters"'))
    contains(message, WHERE, "system='src/shop:adapters' is a python_sources target, not a compat_system", "src/python/conveyor:conveyor")


# --- systems -----------------------------------------------------------------------------------


def system_error(rule_runner: RuleRunner, build: str, resolves=SHOP_RESOLVES, env=None) -> str:
    rule_runner.write_files({"src/shop/BUILD": build})
    return error(rule_runner, resolves=resolves, env=env, target=("src/shop", "shop"))


def test_a_release_whose_resolve_is_not_declared(rule_runner: RuleRunner) -> None:
    message = system_error(rule_runner, SHOP_BUILD, resolves={"shop-0.1.0": "a.lock"})
    contains(
        message,
        "src/shop/BUILD, target src/shop:shop",
        "release 0.2.0 of shop is not pinned: there is no resolve 'shop-0.2.0' in [python.resolves] of pants.toml",
        "run ./pants run src/python/compat_matrix:cli -- releases pin src/shop:shop 0.2.0",
        '"shop-0.2.0" = "3rdparty/python/releases/shop-0.2.0.lock"',
        "./pants generate-lockfiles --resolve=shop-0.2.0",
    )
    # The suites over it fail too, rather than plan a cell whose artifacts cannot be built.
    contains(error(rule_runner, resolves={"shop-0.1.0": "a.lock"}), "no resolve 'shop-0.2.0'")


def test_a_support_value_that_is_no_policy(rule_runner: RuleRunner) -> None:
    build = SHOP_BUILD.replace('earliest="0.1.0",', 'earliest="0.1.0",\n    support="last two minor",')
    contains(
        system_error(rule_runner, build),
        "src/shop/BUILD, target src/shop:shop, field support='last two minor' is not a support policy",
        '"last N minor"',
        '"N months"',
    )


def test_a_branch_resolve_that_is_not_declared(rule_runner: RuleRunner) -> None:
    build = SHOP_BUILD.replace('earliest="0.1.0",', 'earliest="0.1.0",\n    branch_resolve="shop-branch",')
    contains(system_error(rule_runner, build), "the branch of shop has no resolve: there is no resolve 'shop-branch'")


@pytest.mark.parametrize(
    "releases, fragment",
    [
        ('["0.1.0", "01.2.0"]', "release '01.2.0' is not written as its package index names it (PEP 440's normalized form); write '1.2.0'"),
        ('["0.1.0", 0.2]', "release 0.2 is not a string"),
        ('["0.1.0", "0.1.0"]', "listed twice"),
        ('["0.1.0", "0.1"]', "releases '0.1.0' and '0.1' are the same PEP 440 version; pin it once"),
        ('["0.1.0", "0.2.0rc1"]', "release '0.2.0rc1' is a pre-release (PEP 440 rc1); only final releases are pinned"),
        ('["0.1.0", "0.2.0.dev1"]', "release '0.2.0.dev1' is a development release"),
        ('["0.1.0", "1!0.2.0"]', "release '1!0.2.0' has an epoch (1!), which is not supported"),
        ('["0.1.0", "0.2.0+shop.1"]', "release '0.2.0+shop.1' has a local version label"),
    ],
)
def test_malformed_releases(rule_runner: RuleRunner, releases: str, fragment: str) -> None:
    contains(system_error(rule_runner, SHOP_BUILD.replace('releases=["0.1.0", "0.2.0"]', f"releases={releases}")), "src/shop", fragment)


def test_earliest_not_pinned(rule_runner: RuleRunner) -> None:
    contains(system_error(rule_runner, SHOP_BUILD.replace('earliest="0.1.0"', 'earliest="0.0.9"')), "earliest='0.0.9' is not a pinned release", "0.1.0, 0.2.0")


@pytest.mark.parametrize("name", ["docker", "process", "matrix", "Shop"])
def test_a_system_named_like_a_tag_or_badly(rule_runner: RuleRunner, name: str) -> None:
    build = SHOP_BUILD.replace('name="shop"', f'name="{name}"')
    rule_runner.write_files({"src/shop/BUILD": build})
    configure(rule_runner, {f"{name}-0.1.0": "a", f"{name}-0.2.0": "b"})
    contains(build_error(rule_runner, "src/shop", name), repr(name))


def test_a_template_naming_an_unknown_port(rule_runner: RuleRunner) -> None:
    message = system_error(rule_runner, SHOP_BUILD.replace('"--port", "{port[http]}"', '"--port", "{port[https]}"'))
    contains(message, "role 'server'", "uses {port[https]}, but the role's ports are ('http',)")


def test_a_role_declaration_mistake(rule_runner: RuleRunner) -> None:
    message = system_error(rule_runner, SHOP_BUILD.replace('script="shop-server",', 'script="shop-server", module="shop.server",'))
    contains(message, "Failed to parse ./src/shop/BUILD", "compat_role('server')", "exactly one of")


def test_a_renamed_role_argument_names_the_new_one(rule_runner: RuleRunner) -> None:
    message = system_error(rule_runner, SHOP_BUILD.replace("branch_sources=", "branch=", 1))
    contains(message, "Failed to parse ./src/shop/BUILD", "no argument branch=", "write branch_sources=[...]")


# --- the environment ---------------------------------------------------------------------------


def test_a_bad_earliest_tested_release(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, env={"EARLIEST_TESTED_RELEASE": "latest"}), WHERE, "EARLIEST_TESTED_RELEASE='latest' is not a release: it")
    message = error(rule_runner, env={"EARLIEST_TESTED_RELEASE_SHOP": "0.3.0"})
    contains(message, "EARLIEST_TESTED_RELEASE_SHOP='0.3.0' is not a pinned release of shop", "generate-lockfiles --resolve=shop-0.3.0")


def test_a_bad_full_matrix_flag(rule_runner: RuleRunner) -> None:
    contains(error(rule_runner, env={"COMPAT_MATRIX_FULL": "ture"}), "COMPAT_MATRIX_FULL='ture' is not an on/off value")
    # Also for a suite that did not opt in: a typo never passes silently.
    rule_runner.write_files({"tests/backcompat/BUILD": BACKCOMPAT_BUILD.replace("full_matrix=True", "full_matrix=False")})
    contains(error(rule_runner, env={"COMPAT_MATRIX_FULL": "ture"}), "COMPAT_MATRIX_FULL='ture'")


# --- at parse time -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["shop", "slow", "matrix"])
def test_a_cell_named_like_its_system_or_tags_fails_at_parse_time(rule_runner: RuleRunner, name: str) -> None:
    # The suite target itself fails, before any cell is planned: its system's name is the target
    # name of its address, its tags are in the same BUILD file.
    rule_runner.write_files({"tests/backcompat/BUILD": suite_build(f'compat_cell("{name}", {{"server": "latest"}})', tags='["slow"]')})
    configure(rule_runner, SHOP_RESOLVES)
    with pytest.raises(Exception) as info:
        rule_runner.get_target(Address("tests/backcompat", target_name="backcompat"))
    contains(str(info.value), WHERE, f"cell name {name!r} is also a tag of other targets", "rename it")


def test_a_topology_count_above_the_cap(rule_runner: RuleRunner) -> None:
    message = error(rule_runner, suite_build(topology='{"server": 10000, "user-code": 1}'))
    contains(message, WHERE, "field topology", "role 'server' 10000 instances", f"the cap is {MAX_INSTANCES_PER_ROLE} per role")


# --- across the repo -----------------------------------------------------------------------------

OTHER_SUITE = """compat_suite(
    name="other",
    system="src/shop:shop",
    topology={"server": 1, "user-code": 1},
    cells=[compat_cell(CELL, {"server": "latest"})],
    backends=["process"],
)
"""


def repo_error(rule_runner: RuleRunner, env: dict | None = None) -> str:
    """The message of the repo-wide check (what a cell test and compat-plan run first)."""
    from pants.engine.internals.scheduler import ExecutionError

    configure(rule_runner, SHOP_RESOLVES, env)
    try:
        rule_runner.request(RepoChecked, [RepoCheckRequest()])
    except ExecutionError as exc:
        return str(exc.wrapped_exceptions[0])
    raise AssertionError("the repo-wide check raised no error")


def with_other_suite(rule_runner: RuleRunner, cell: str) -> None:
    rule_runner.write_files(
        {
            "tests/other/BUILD": OTHER_SUITE.replace("CELL", f'"{cell}"'),
            "tests/other/test_other.py": "def test_it():\n    pass\n",
            "tests/report/BUILD": 'python_tests(name="tests", tags=["browser"])\n',
            "tests/report/test_report.py": "",
        }
    )


def test_the_repo_check_passes_on_valid_declarations(rule_runner: RuleRunner) -> None:
    # A cell's name may repeat across suites: --tag=server-latest selects that cell in each.
    with_other_suite(rule_runner, "server-latest")
    configure(rule_runner, SHOP_RESOLVES)
    rule_runner.request(RepoChecked, [RepoCheckRequest()])


@pytest.mark.parametrize(
    "cell, what",
    [
        ("backcompat", "the suite tests/backcompat:backcompat"),
        ("server", "a role of the system src/shop:shop"),
        ("browser", "a tag of tests/report:tests"),
    ],
)
def test_a_cell_named_like_another_suite_or_tag_fails_before_any_test(rule_runner: RuleRunner, cell: str, what: str) -> None:
    # Regression: a cell `backcompat` in another suite was accepted and joined --tag=backcompat.
    with_other_suite(rule_runner, cell)
    message = repo_error(rule_runner)
    contains(message, "tests/other:other", f"cell {cell!r} is named like {what}", f"--tag={cell} would select both", "rename the cell in tests/other/BUILD")
    # compat-plan refuses it too, and every cell test runs the check before its process starts
    # (compat_plugin.runner).
    with pytest.raises(Exception) as info:
        compat_plan(rule_runner, SHOP_RESOLVES, "tests/other:other")
    contains(str(info.value), f"cell {cell!r} is named like {what}")


def test_an_earliest_override_pinned_by_no_system(rule_runner: RuleRunner) -> None:
    # Regression: EARLIEST_TESTED_RELEASE=9.9.9 was ignored without a word.
    message = repo_error(rule_runner, {"EARLIEST_TESTED_RELEASE": "9.9.9"})
    contains(message, "EARLIEST_TESTED_RELEASE=9.9.9 is pinned by no system", "pinned releases: shop 0.1.0, 0.2.0", "set it to one of them or unset it")
    with pytest.raises(Exception) as info:
        compat_plan(rule_runner, SHOP_RESOLVES, "src/shop:shop", env={"EARLIEST_TESTED_RELEASE": "9.9.9"})
    contains(str(info.value), "EARLIEST_TESTED_RELEASE=9.9.9 is pinned by no system")


def test_an_earliest_override_spelled_unlike_the_pin(rule_runner: RuleRunner) -> None:
    message = repo_error(rule_runner, {"EARLIEST_TESTED_RELEASE": "0.2"})
    contains(message, "EARLIEST_TESTED_RELEASE=0.2 is pinned by no system", "it is pinned as '0.2.0' by shop")


def test_an_earliest_override_naming_no_system(rule_runner: RuleRunner) -> None:
    message = repo_error(rule_runner, {"EARLIEST_TESTED_RELEASE_SHOPPE": "0.2.0"})
    contains(message, "EARLIEST_TESTED_RELEASE_SHOPPE=0.2.0 names no system", "EARLIEST_TESTED_RELEASE_SHOP (shop)", "rename it")
