"""Unit tests of upgrade paths in the pure core: declaration, validation, planning, JSON.

Self-contained (a small system declared here with the BUILD-file vocabulary); the planner's golden
tests on the real conveyor declarations are in test_upgrade_plan.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from compat_core.codec import cell_from_json, cell_to_json, to_data
from compat_core.declare import compat_cell, compat_fault, compat_role, compat_upgrade, tcp_probe
from compat_core.errors import ArtifactError, SuiteDeclarationError
from compat_core.model import Suite, System, Topology, UpgradeSpec
from compat_core.parse import parse_releases
from compat_core.plan import plan_suite
from compat_core.upgrade import final_versions, suite_cells

SYSTEM = System(
    name="shop",
    role_specs=(
        compat_role("db", module="shop:db", ports=["p"], readiness=tcp_probe("p"), branch_sources=["src/db"]),
        compat_role(
            "api",
            module="shop:api",
            ports=["p"],
            readiness=tcp_probe("p"),
            depends_on=["db"],
            requires=["db"],
            args=["--db", "{address[db]}"],
            branch_sources=["src/api"],
        ),
    ),
    releases=parse_releases("shop", ["1.0.0", "1.1.0", "1.2.0"], "1.0.0"),
)


def suite(upgrade: UpgradeSpec | None, backends: tuple[str, ...] = ("process", "docker"), **kw: Any) -> Suite:
    return Suite(
        name="up",
        topology=Topology.of({"db": 1, "api": 3}),
        cells=kw.pop("cells", ()),
        system="shop",
        backends=backends,
        upgrade=upgrade,
    )


def path(**kw: Any) -> UpgradeSpec:
    fields: dict[str, Any] = dict(order=["api", "db"])
    fields.update(kw)
    return compat_upgrade("path", **fields)


def planned(upgrade: UpgradeSpec, **kw: Any) -> Any:
    (cell,) = (c for c in plan_suite(suite(upgrade, **kw), SYSTEM).cells if c.upgrade is not None)
    return cell


def test_one_instance_at_a_time_in_a_seeded_order() -> None:
    cell = planned(path(seed=3))
    steps = cell.upgrade.steps
    assert [s.role for s in steps] == ["api", "api", "api", "db"]
    assert sorted(s.instances[0] for s in steps[:3]) == ["api-0", "api-1", "api-2"]
    assert all(s.version_from == "1.0.0" and s.version_to == "branch" for s in steps)
    orders = {tuple(s.instances[0] for s in planned(path(seed=n)).upgrade.steps[:3]) for n in range(20)}
    assert len(orders) > 1  # the seed draws the order


def test_all_of_a_role_at_once() -> None:
    steps = planned(path(one_at_a_time=False)).upgrade.steps
    assert [(s.role, len(s.instances)) for s in steps] == [("api", 3), ("db", 1)]


def test_rollback_and_start_and_to_aliases() -> None:
    cell = planned(path(start="1.1.0", to="latest", order=["api"], rollback={"api": "earliest"}))
    steps = cell.upgrade.steps
    assert [(s.kind, s.version_from, s.version_to) for s in steps] == [("upgrade", "1.1.0", "1.2.0")] * 3 + [
        ("rollback", "1.2.0", "1.0.0")
    ] * 3
    assert final_versions(cell.upgrade, cell.instances) == {"db-0": "1.1.0", "api-0": "1.0.0", "api-1": "1.0.0", "api-2": "1.0.0"}
    # The artifacts of every version visited: its test depends on them.
    assert sorted({i.pex for i in cell.instances} | {a.pex for a in cell.artifacts}) == [
        "compat/shop/pex-1.0.0.pex",
        "compat/shop/pex-1.1.0.pex",
        "compat/shop/pex-1.2.0.pex",
    ]


def test_faults_land_after_a_step_of_their_after_role() -> None:
    for seed in range(10):
        steps = planned(path(seed=seed, faults=[compat_fault("kill", role="api", after="db")])).upgrade.steps
        kinds = [s.kind for s in steps]
        assert kinds == ["upgrade"] * 4 + ["fault"]  # db is upgraded last
        fault = steps[-1]
        assert fault.fault == "kill" and fault.role == "api" and fault.version_from == "branch"
    anywhere = {
        tuple(s.kind for s in planned(path(seed=n, faults=[compat_fault("pause", role="db")])).upgrade.steps)
        for n in range(30)
    }
    assert len(anywhere) > 1


def test_restart_after_follows_replacements_and_stopping_faults() -> None:
    upgrade = path(
        order=["db"],
        restart_after={"db": ["api"]},
        faults=[compat_fault("restart", role="db"), compat_fault("pause", role="db")],
    )
    steps = planned(upgrade).upgrade.steps
    by_kind = {(s.kind, s.fault): s.restarts for s in steps}
    assert by_kind[("upgrade", "")] == ("api-0", "api-1", "api-2")
    assert by_kind[("fault", "restart")] == ("api-0", "api-1", "api-2")
    assert by_kind[("fault", "pause")] == ()  # a paused db keeps its connections


def test_describe() -> None:
    steps = planned(path(order=["db"], restart_after={"db": ["api"]}, faults=[compat_fault("partition", role="db", seconds=1.5)]), backends=("docker",)).upgrade.steps
    assert steps[0].describe() == "upgrade db-0 1.0.0 -> branch; then restart api-0, api-1, api-2"
    assert steps[1].describe() == "fault: partition db-0 (branch) for 1.5s, then reconnect it; then restart api-0, api-1, api-2"


def test_the_path_runs_in_its_own_cell_after_the_declared_ones() -> None:
    s = suite(path(), cells=(compat_cell("all-branch"),))
    assert [c.name for c in suite_cells(s)] == ["all-branch", "path"]
    plan = plan_suite(s, SYSTEM)
    assert [c.name for c in plan.cells] == ["all-branch", "path"]
    assert plan.cells[0].upgrade is None and plan.cells[0].artifacts == ()
    assert {i.version for i in plan.cells[1].instances} == {"1.0.0"}


def test_json_round_trip_and_unchanged_json_without_a_path() -> None:
    plan = plan_suite(suite(path(faults=[compat_fault("kill", role="api")]), cells=(compat_cell("all-branch"),)), SYSTEM)
    plain, upgraded = plan.cells
    assert cell_from_json(cell_to_json(upgraded)) == upgraded
    assert cell_from_json(cell_to_json(plain)) == plain
    # A cell without a path has no new keys: its JSON, and so its test's cache key, did not change.
    assert "upgrade" not in to_data(plain) and "artifacts" not in to_data(plain)
    assert "upgrade" not in to_data(plan)["cells"][0]


def test_instance_at() -> None:
    cell = planned(path(order=["api"]))
    at = cell.instance_at("api-1", "branch")
    assert (at.name, at.role, at.index, at.version, at.pex) == ("api-1", "api", 1, "branch", "compat/shop/pex-branch.pex")
    assert at.sources == "compat/shop/src-branch-api"
    assert cell.instance_at("api-1", "1.0.0") == cell.instances[2]
    with pytest.raises(ArtifactError, match="no artifact of role 'db' at version 'branch'.*upgrade path"):
        cell.instance_at("db-0", "branch")  # the path does not upgrade db


@pytest.mark.parametrize(
    "upgrade, backends, message",
    [
        (path(order=["cache"]), None, "order names role 'cache', which the suite's topology does not run"),
        (path(order=["api", "api"]), None, "order names role 'api' twice"),
        (path(start="branch"), None, "start='branch' and to='branch' are the same version"),
        (path(to="9.9.9"), None, "to: version '9.9.9' is not a pinned release of shop"),
        (path(rollback={"api": "branch"}), None, "rollback moves 'api' to 'branch', the version it was upgraded to"),
        (path(order=["db"], rollback={"api": "latest"}), None, "rollback names role 'api', which order does not upgrade"),
        (path(faults=[compat_fault("kill", role="api", after="web")]), None, "after='web'"),
        (path(faults=[compat_fault("partition", role="api")]), None, "a partition fault needs the docker backend"),
        (path(restart_after={"db": ["db"]}), None, "restart_after\\['db'\\] names 'db' itself"),
        (replace(path(), name="Path"), None, "invalid cell name 'Path'"),
        (replace(path(), name="up"), None, "cell name 'up' is also a tag"),
    ],
)
def test_validation(upgrade: UpgradeSpec, backends: tuple[str, ...] | None, message: str) -> None:
    with pytest.raises(SuiteDeclarationError, match=message):
        plan_suite(suite(upgrade, **({"backends": backends} if backends else {})), SYSTEM)


def test_the_path_cannot_take_a_cell_s_name() -> None:
    with pytest.raises(SuiteDeclarationError, match="the upgrade path 'path' is named like a cell"):
        plan_suite(suite(path(), cells=(compat_cell("path"),)), SYSTEM)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(order=[]), "order is empty"),
        (dict(order="api"), "order='api' must be a list of strings"),
        (dict(order=["api"], seed=-1), "seed=-1 must be a whole number >= 0"),
        (dict(order=["api"], seed=True), "seed=True"),
        (dict(order=["api"], faults=compat_fault("kill", role="api")), "must be a list of compat_fault"),
        (dict(order=["api"], rollback=["api"]), "rollback=\\['api'\\] must be a dict"),
        (dict(order=["api"], to=1), "to=1 must be a version string"),
    ],
)
def test_declaration_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteDeclarationError, match=message):
        compat_upgrade("path", **kwargs)


def test_fault_declaration_errors() -> None:
    with pytest.raises(SuiteDeclarationError, match="kind='explode' is not one of kill, pause, partition, restart"):
        compat_fault("explode", role="api")
    with pytest.raises(SuiteDeclarationError, match="seconds=0"):
        compat_fault("pause", role="api", seconds=0)
    with pytest.raises(SuiteDeclarationError, match="give the role"):
        compat_fault("pause", role="")
