"""The planner: start order, instances, concrete versions, artifact naming and the rendered plan.

Golden files in ``golden/`` hold the rendered plans; ``UPDATE_GOLDEN=1`` rewrites them (then
review the diff like any other change).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from compat_matrix.declaration import parse_build_text
from compat_matrix.errors import ReleaseError, SuiteDeclarationError, UnknownCellError
from compat_matrix.model import CellSpec, Probe, Releases, RoleSpec, Suite, System, Topology
from compat_matrix.plan import (
    cell_artifacts,
    image_info_path,
    image_tag,
    image_target,
    instance_name,
    pex_path,
    pex_target,
    plan_cell,
    plan_suite,
    plan_to_json,
    render,
    start_order,
)
from compat_matrix.systems.conveyor import SYSTEM

GOLDEN = Path(__file__).parent / "golden"
RELEASES = Releases(package="conveyor", pinned=("0.1.0", "0.2.0"), earliest="0.1.0")

BACKCOMPAT_BUILD = """
compat_suite(
    name="backcompat",
    system="conveyor",
    topology={"server": 1, "user-code": 1},
    cells={
        "server-latest": {"server": "latest"},
        "server-earliest": {"server": "earliest"},
        "user-code-latest": {"user-code": "latest"},
        "user-code-earliest": {"user-code": "earliest"},
    },
    full_matrix=True,
    backends=["process", "docker"],
    sources=["test_*.py"],
)
"""

# Declared in an order that is not the start order, to show the planner derives it.
DISTRIBUTED_BUILD = """
compat_suite(
    name="distributed",
    system="conveyor",
    topology={"server": 1, "user-code": 1, "worker": 2, "scheduler": 1},
    cells={
        "all-branch": {},
        "workers-earliest": {"worker": "earliest"},
    },
)
"""


def backcompat() -> Suite:
    (suite,) = parse_build_text(BACKCOMPAT_BUILD)
    return suite


def distributed() -> Suite:
    (suite,) = parse_build_text(DISTRIBUTED_BUILD)
    return suite


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert path.is_file(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(), f"{name} differs from the golden file; UPDATE_GOLDEN=1 rewrites it"


# --- naming convention ---------------------------------------------------------------------------


def test_branch_artifacts_are_per_role() -> None:
    assert pex_target("server", "branch") == "pex-branch-server"
    assert pex_path("server", "branch") == "docker/pex-branch-server.pex"
    assert pex_path("user-code", "branch") == "docker/pex-branch-user-code.pex"
    assert image_target("worker", "branch") == "worker-branch"
    assert image_tag("conveyor", "worker", "branch") == "conveyor/worker:branch"
    assert image_info_path("worker", "branch") == "docker/worker-branch.docker-info.json"


def test_release_pex_is_shared_by_all_roles() -> None:
    assert pex_target("server", "0.1.0") == pex_target("worker", "0.1.0") == "pex-0.1.0"
    assert pex_path("worker", "0.1.0") == "docker/pex-0.1.0.pex"
    assert image_target("worker", "0.1.0") == "worker-0.1.0"
    assert image_tag("conveyor", "user-code", "0.2.0") == "conveyor/user-code:0.2.0"
    assert image_info_path("user-code", "0.2.0") == "docker/user-code-0.2.0.docker-info.json"


@pytest.mark.parametrize("version", ["latest", "earliest", "0.1", ""])
def test_naming_needs_a_concrete_version(version: str) -> None:
    for name in (pex_path, image_info_path, pex_target, image_target):
        with pytest.raises(ValueError, match=repr(version)):
            name("server", version)
    with pytest.raises(ValueError, match=repr(version)):
        image_tag("conveyor", "server", version)


def test_instance_names() -> None:
    assert instance_name("worker", 0) == "worker-0"
    assert instance_name("user-code", 1) == "user-code-1"


# --- start order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "declared",
    [
        ("server", "user-code", "worker", "scheduler"),
        ("scheduler", "worker", "user-code", "server"),
        ("worker", "server", "scheduler", "user-code"),
    ],
)
def test_conveyor_starts_scheduler_workers_user_code_server(declared: tuple[str, ...]) -> None:
    assert start_order(declared, SYSTEM) == ("scheduler", "worker", "user-code", "server")


def test_depends_on_absent_roles_only_orders() -> None:
    assert start_order(("server", "user-code"), SYSTEM) == ("user-code", "server")
    assert start_order(("server", "user-code", "scheduler"), SYSTEM) == ("scheduler", "user-code", "server")


def toy_role(name: str, depends_on: tuple[str, ...] = ()) -> RoleSpec:
    return RoleSpec(name, (name,), ("p",), Probe("tcp", "p"), depends_on=depends_on)


def test_independent_roles_keep_the_topology_order() -> None:
    toy = System("toy", "toy", {r.name: r for r in (toy_role("a"), toy_role("b"), toy_role("c", ("a",)))})
    assert start_order(("b", "a", "c"), toy) == ("b", "a", "c")
    assert start_order(("c", "b", "a"), toy) == ("b", "a", "c")
    assert start_order(("a", "c", "b"), toy) == ("a", "c", "b")


def test_cyclic_catalog_is_rejected() -> None:
    toy = System("toy", "toy", {"a": toy_role("a", ("b",)), "b": toy_role("b", ("a",))})
    with pytest.raises(SuiteDeclarationError, match="cycle"):
        start_order(("a", "b"), toy)


# --- planning ------------------------------------------------------------------------------------


def test_plan_cell_instances_in_start_order_with_concrete_versions() -> None:
    plan = plan_cell(distributed(), "workers-earliest", SYSTEM, RELEASES)
    assert plan.suite == "distributed" and plan.cell == "workers-earliest" and plan.system == "conveyor"
    assert [(i.name, i.role, i.index, i.version, i.spec) for i in plan.instances] == [
        ("scheduler-0", "scheduler", 0, "branch", "branch"),
        ("worker-0", "worker", 0, "0.1.0", "earliest"),
        ("worker-1", "worker", 1, "0.1.0", "earliest"),
        ("user-code-0", "user-code", 0, "branch", "branch"),
        ("server-0", "server", 0, "branch", "branch"),
    ]
    worker = plan.instances[1]
    assert worker.pex == "docker/pex-0.1.0.pex"
    assert worker.image == "conveyor/worker:0.1.0"
    assert worker.image_info == "docker/worker-0.1.0.docker-info.json"
    assert worker.ports == ("dask",)
    assert plan.instances[-1].ports == ("http",)


def test_plan_cell_follows_the_earliest_override() -> None:
    releases = Releases("conveyor", ("0.1.0", "0.2.0"), earliest="0.2.0")
    plan = plan_cell(backcompat(), "server-earliest", SYSTEM, releases)
    assert {i.role: i.version for i in plan.instances} == {"user-code": "branch", "server": "0.2.0"}


def test_plan_cell_from_a_cell_spec_without_releases() -> None:
    # As under Pants: COMPAT_MATRIX_CELL carries concrete versions and releases.py may be absent.
    suite = Suite("backcompat", Topology.of({"server": 1, "user-code": 1}), ())
    plan = plan_cell(suite, CellSpec("user-code-earliest", (("user-code", "0.1.0"),)), SYSTEM, None)
    assert [(i.name, i.version) for i in plan.instances] == [("user-code-0", "0.1.0"), ("server-0", "branch")]


def test_plan_cell_alias_without_releases_fails() -> None:
    with pytest.raises(ReleaseError) as e:
        plan_cell(backcompat(), "server-latest", SYSTEM, None)
    assert "suite 'backcompat', cell 'server-latest', role 'server'" in str(e.value)
    assert "alias 'latest' needs the releases file" in str(e.value)


def test_plan_cell_validates() -> None:
    with pytest.raises(SuiteDeclarationError, match="'0.3.0' is not a pinned release"):
        plan_cell(backcompat(), CellSpec("x", (("server", "0.3.0"),)), SYSTEM, RELEASES)
    with pytest.raises(SuiteDeclarationError, match="requires role 'scheduler'"):
        plan_cell(Suite("s", Topology.of({"worker": 1}), ()), CellSpec("c"), SYSTEM, RELEASES)


def test_plan_cell_unknown_name() -> None:
    with pytest.raises(UnknownCellError) as e:
        plan_cell(backcompat(), "server-newest", SYSTEM, RELEASES)
    assert "'server-newest'" in str(e.value)
    assert "server-latest, server-earliest, user-code-latest, user-code-earliest" in str(e.value)


def test_plan_suite_plans_every_cell_in_declaration_order() -> None:
    plan = plan_suite(backcompat(), SYSTEM, RELEASES)
    assert plan.suite == "backcompat" and plan.system == "conveyor"
    assert [c.cell for c in plan.cells] == ["server-latest", "server-earliest", "user-code-latest", "user-code-earliest"]
    assert plan.cell("user-code-earliest") == plan_cell(backcompat(), "user-code-earliest", SYSTEM, RELEASES)
    with pytest.raises(UnknownCellError, match="'nope'"):
        plan.cell("nope")


def test_plan_suite_validates_first() -> None:
    (suite,) = parse_build_text('compat_suite(name="s", topology={"server": 1, "user-code": 1}, cells={})')
    with pytest.raises(SuiteDeclarationError, match="has no cells"):
        plan_suite(suite, SYSTEM, RELEASES)


def test_cell_artifacts_per_backend() -> None:
    plan = plan_cell(distributed(), "workers-earliest", SYSTEM, RELEASES)
    assert cell_artifacts(plan, "process") == (
        "docker/pex-0.1.0.pex",
        "docker/pex-branch-scheduler.pex",
        "docker/pex-branch-server.pex",
        "docker/pex-branch-user-code.pex",
    )
    assert cell_artifacts(plan, "docker") == (
        "docker/scheduler-branch.docker-info.json",
        "docker/server-branch.docker-info.json",
        "docker/user-code-branch.docker-info.json",
        "docker/worker-0.1.0.docker-info.json",
    )
    with pytest.raises(ValueError, match="'k8s'"):
        cell_artifacts(plan, "k8s")


def test_plan_is_json_serializable() -> None:
    data = plan_to_json(plan_suite(backcompat(), SYSTEM, RELEASES))
    text = json.dumps(data)
    assert json.loads(text)["cells"][0]["instances"][1]["pex"] == "docker/pex-0.2.0.pex"


def test_plan_is_deterministic() -> None:
    assert render(plan_suite(distributed(), SYSTEM, RELEASES)) == render(plan_suite(distributed(), SYSTEM, RELEASES))


# --- golden --------------------------------------------------------------------------------------


def test_golden_backcompat_plan() -> None:
    check_golden("backcompat.plan.txt", render(plan_suite(backcompat(), SYSTEM, RELEASES)) + "\n")


def test_golden_distributed_plan() -> None:
    check_golden("distributed.plan.txt", render(plan_suite(distributed(), SYSTEM, RELEASES)) + "\n")


def test_render_one_cell_is_its_section_of_the_suite() -> None:
    suite_text = render(plan_suite(backcompat(), SYSTEM, RELEASES))
    cell_text = render(plan_cell(backcompat(), "user-code-earliest", SYSTEM, RELEASES))
    assert cell_text in suite_text
    assert cell_text.splitlines()[0] == "cell user-code-earliest  [suite backcompat]"
    assert "0.1.0 (earliest)" in cell_text
