"""The planner: start order, cells expanded to instances and artifacts, the full matrix, rendering."""

from __future__ import annotations

import dataclasses

import pytest

from compat_core.cell_plan import InstancePlan
from compat_core.declare import compat_cell, log_probe
from compat_core.errors import SuiteDeclarationError, UnknownCellError
from compat_core.model import CellSpec
from compat_core.plan import (
    ALL_BRANCH,
    expand_cells,
    full_matrix_cell_name,
    full_matrix_cells,
    instance_command_line,
    plan_cell,
    plan_suite,
    render,
    role_command_line,
    start_order,
    start_waves,
)
from compat_core.versions import apply_earliest_override
from compat_core_tests.examples import BACKCOMPAT_CELLS, cluster, role, suite, system_with
from compat_core_tests.expect import expect_error

DISTRIBUTED = {"scheduler": 1, "worker": 2, "user-code": 1, "server": 1}


# --- start order -------------------------------------------------------------------------------


def test_start_order_follows_depends_on() -> None:
    system = cluster()
    assert start_order(("server", "user-code", "worker", "scheduler"), system) == ("scheduler", "worker", "user-code", "server")
    assert start_order(("scheduler", "worker", "user-code", "server"), system) == ("scheduler", "worker", "user-code", "server")


def test_depends_on_an_absent_role_is_ignored() -> None:
    # user-code depends on the scheduler and workers only when they run.
    assert start_order(("server", "user-code"), cluster()) == ("user-code", "server")
    assert start_order(("user-code",), cluster()) == ("user-code",)


def test_start_order_is_stable_among_independent_roles() -> None:
    a, b, c = role("a"), role("b"), role("c", depends_on=["b"])
    system = system_with(a, b, c)
    assert start_order(("c", "a", "b"), system) == ("a", "b", "c")
    assert start_order(("b", "a", "c"), system) == ("b", "a", "c")
    assert start_order(("c", "b", "a"), system) == ("b", "c", "a")


def test_start_order_rejects_a_cycle() -> None:
    a, b = role("a", depends_on=["b"]), role("b", depends_on=["a"])
    with expect_error(SuiteDeclarationError, "cycle"):
        start_order(("a", "b"), system_with(a, b))


# --- one cell ----------------------------------------------------------------------------------


def test_plan_cell_expands_instances_in_start_order() -> None:
    system = cluster("conveyor")
    s = suite("distributed", DISTRIBUTED, [compat_cell("workers-earliest", {"scheduler": "earliest", "worker": "earliest"})], "conveyor")
    plan = plan_cell(s, "workers-earliest", system)
    assert (plan.suite, plan.name, plan.system) == ("distributed", "workers-earliest", "conveyor")
    assert [(i.name, i.role, i.index, i.version, i.declared_version) for i in plan.instances] == [
        ("scheduler-0", "scheduler", 0, "0.1.0", "earliest"),
        ("worker-0", "worker", 0, "0.1.0", "earliest"),
        ("worker-1", "worker", 1, "0.1.0", "earliest"),
        ("user-code-0", "user-code", 0, "branch", "branch"),
        ("server-0", "server", 0, "branch", "branch"),
    ]
    assert plan.instances[1] == InstancePlan(
        role="worker",
        index=0,
        name="worker-0",
        version="0.1.0",
        pex="compat/conveyor/pex-0.1.0.pex",
        image="compat-matrix/conveyor/worker:0.1.0",
        image_info="compat/conveyor/worker-0.1.0.docker-info.json",
        ports=("dask",),
        declared_version="earliest",
        runs="",
    )
    server = plan.instances[-1]
    assert server.sources == "compat/conveyor/src-branch-server"
    assert (server.pex, server.image, server.image_info) == (
        "compat/conveyor/pex-branch.pex",
        "compat-matrix/conveyor/server:branch",
        "compat/conveyor/server-branch.docker-info.json",
    )
    # The roles the cell runs, in the system's declaration order.
    assert [r.name for r in plan.roles] == ["scheduler", "worker", "user-code", "server"]
    assert plan.role("worker") == system.roles["worker"]
    assert plan.role_map() == {r.name: r for r in plan.roles}


def test_a_cell_carries_only_the_roles_it_runs() -> None:
    plan = plan_cell(suite(), "server-latest", cluster())
    assert [r.name for r in plan.roles] == ["user-code", "server"]
    with expect_error(SuiteDeclarationError, "cell 'server-latest' runs no role 'worker'", "its roles: user-code, server"):
        plan.role("worker")


@pytest.mark.parametrize("spec, version", [("latest", "0.2.0"), ("earliest", "0.1.0"), ("0.2.0", "0.2.0"), ("branch", "branch")])
def test_aliases_resolve_per_system(spec: str, version: str) -> None:
    plan = plan_cell(suite(cells=[compat_cell("c", {"server": spec})]), "c", cluster())
    assert plan.instances[-1].version == version
    assert plan.instances[-1].declared_version == spec


def test_plan_with_moved_releases() -> None:
    system = cluster()
    moved = apply_earliest_override(system.releases, system.name, {"EARLIEST_TESTED_RELEASE": "0.2.0"})
    s = suite(cells=BACKCOMPAT_CELLS)
    assert plan_cell(s, "server-earliest", system).instances[-1].version == "0.1.0"
    assert plan_cell(s, "server-earliest", system, moved).instances[-1].version == "0.2.0"


def test_plan_cell_names_suite_cell_and_role_of_an_unpinned_version() -> None:
    s = suite(cells=[compat_cell("c", {"server": "0.3.0"})])
    with expect_error(SuiteDeclarationError, "suite 'backcompat', cell 'c', role 'server'", "generate-lockfiles --resolve=cluster-0.3.0"):
        plan_cell(s, "c", cluster())


def test_plan_cell_of_an_unknown_cell() -> None:
    with expect_error(UnknownCellError, "suite 'backcompat' has no cell 'nope'", "server-latest, server-earliest"):
        plan_cell(suite(cells=BACKCOMPAT_CELLS), "nope", cluster())


def test_plan_cell_checks_the_topology() -> None:
    with expect_error(SuiteDeclarationError, "requires role 'scheduler'"):
        plan_cell(suite(topology={"worker": 1}, cells=[compat_cell("c")]), "c", cluster())


# --- a system whose branch is a release --------------------------------------------------------


def test_a_release_playing_branch() -> None:
    system = cluster("dagster", branch_release="0.2.0")
    s = suite(cells=[compat_cell("all-branch"), compat_cell("server-earliest", {"server": "earliest"})], system="dagster")
    plan = plan_suite(s, system)
    user_code = plan.cell("all-branch").instances[0]
    assert (user_code.version, user_code.runs, user_code.pex, user_code.image) == (
        "branch",
        "0.2.0",
        "compat/dagster/pex-0.2.0.pex",
        "compat-matrix/dagster/user-code:0.2.0",
    )
    server = plan.cell("server-earliest").instances[1]
    assert (server.version, server.runs, server.pex) == ("0.1.0", "", "compat/dagster/pex-0.1.0.pex")
    assert "branch (0.2.0)" in render(plan.cell("all-branch"))


# --- suites ------------------------------------------------------------------------------------


def test_plan_suite_plans_every_cell_in_order() -> None:
    plan = plan_suite(suite(cells=BACKCOMPAT_CELLS), cluster())
    assert [c.name for c in plan.cells] == ["server-latest", "server-earliest", "user-code-latest", "user-code-earliest"]
    assert (plan.suite, plan.system) == ("backcompat", "cluster")
    assert [(i.name, i.version) for i in plan.cell("user-code-earliest").instances] == [("user-code-0", "0.1.0"), ("server-0", "branch")]
    with expect_error(UnknownCellError, "suite 'backcompat' has no cell 'x'"):
        plan.cell("x")


def test_plan_suite_validates_the_suite() -> None:
    with expect_error(SuiteDeclarationError, "cell 'a' is declared twice"):
        plan_suite(suite(cells=[compat_cell("a"), compat_cell("a")]), cluster())
    with expect_error(SuiteDeclarationError, "backends is empty"):
        plan_suite(suite(backends=[]), cluster())


# --- the full matrix ---------------------------------------------------------------------------


def test_full_matrix_cell_names() -> None:
    assert full_matrix_cell_name(()) == ALL_BRANCH == "all-branch"
    assert full_matrix_cell_name((("server", "branch"),)) == "all-branch"
    assert full_matrix_cell_name((("server", "0.1.0"), ("user-code", "branch"))) == "server-0.1.0"
    assert full_matrix_cell_name((("server", "0.1.0"), ("user-code", "0.2.0"))) == "server-0.1.0-user-code-0.2.0"


def test_full_matrix_cells_are_every_combination() -> None:
    s = suite("distributed", DISTRIBUTED)
    cells = full_matrix_cells(s, cluster().releases)
    assert len(cells) == 3**4
    assert len({c.name for c in cells}) == len(cells)
    assert cells[0] == CellSpec("all-branch", ())
    assert cells[1] == CellSpec("server-0.1.0", (("server", "0.1.0"),))
    assert cells[-1].name == "scheduler-0.2.0-worker-0.2.0-user-code-0.2.0-server-0.2.0"


def test_full_matrix_cells_name_releases_as_pinned_in_pep_440_order() -> None:
    s = suite(topology={"server": 1}, cells=[compat_cell("c")])
    qt = cluster("qt", pinned=("5.15", "5.9", "1.4.post1"), earliest="5.9")
    assert [c.name for c in full_matrix_cells(s, qt.releases)] == ["all-branch", "server-1.4.post1", "server-5.9", "server-5.15"]


FULL = True


def test_full_matrix_needs_the_suite_to_opt_in_and_the_flag() -> None:
    releases = cluster().releases
    opted_in, opted_out = suite(cells=BACKCOMPAT_CELLS, full_matrix=True), suite(cells=BACKCOMPAT_CELLS)
    assert expand_cells(opted_in, releases, False) is opted_in
    assert expand_cells(opted_out, releases, FULL) is opted_out


def test_full_matrix_adds_every_combination_not_already_declared() -> None:
    releases = cluster().releases
    full = expand_cells(suite(cells=BACKCOMPAT_CELLS, full_matrix=True), releases, FULL)
    # Declared first, as declared; then the 3x3 combinations, less the four the declared cells run.
    assert [c.name for c in full.cells] == [
        "server-latest",
        "server-earliest",
        "user-code-latest",
        "user-code-earliest",
        "all-branch",
        "server-0.1.0-user-code-0.1.0",
        "server-0.1.0-user-code-0.2.0",
        "server-0.2.0-user-code-0.1.0",
        "server-0.2.0-user-code-0.2.0",
    ]
    plan = plan_suite(full, cluster(), releases)
    assignments = [tuple(i.version for i in cell.instances) for cell in plan.cells]
    assert len(set(assignments)) == len(assignments) == 9
    assert dataclasses.replace(full, cells=()) == dataclasses.replace(suite(cells=BACKCOMPAT_CELLS, full_matrix=True), cells=())


def test_full_matrix_dedup_uses_the_moved_earliest() -> None:
    system = cluster()
    moved = apply_earliest_override(system.releases, system.name, {"EARLIEST_TESTED_RELEASE": "0.2.0"})
    cells = [compat_cell("server-earliest", {"server": "earliest"})]
    full = expand_cells(suite(cells=cells, full_matrix=True), moved, FULL)
    names = [c.name for c in full.cells]
    assert "server-0.2.0" not in names  # what server-earliest runs now
    assert "server-0.1.0" in names


def test_full_matrix_skips_a_generated_name_a_declared_cell_has() -> None:
    # A declared "all-branch" that runs something else keeps its name; the generated one is dropped.
    cells = [compat_cell("all-branch", {"server": "latest"})]
    full = expand_cells(suite(cells=cells, full_matrix=True), cluster().releases, FULL)
    names = [c.name for c in full.cells]
    assert names.count("all-branch") == 1
    assert "server-0.2.0" not in names  # the declared all-branch runs it
    assert len(names) == 8
    plan_suite(full, cluster())  # and the result is a valid suite


# --- rendering ---------------------------------------------------------------------------------


def test_render_a_suite() -> None:
    plan = plan_suite(suite(cells=BACKCOMPAT_CELLS[:2], system="conveyor"), cluster("conveyor"))
    assert render(plan) == "\n".join(
        [
            "suite backcompat (system conveyor): 2 cell(s)",
            "",
            "cell server-latest  [suite backcompat, system conveyor]",
            "  instance     role       version         pex (+ sources)                                         image                                    ports",
            "  -----------  ---------  --------------  ------------------------------------------------------  ---------------------------------------  -----",
            "  user-code-0  user-code  branch          compat/conveyor/pex-branch.pex + src-branch-user-code/  compat-matrix/conveyor/user-code:branch  grpc",
            "  server-0     server     0.2.0 (latest)  compat/conveyor/pex-0.2.0.pex                           compat-matrix/conveyor/server:0.2.0      http",
            "  run by hand (after ./pants package; fill in the {...} fields as the process backend does):",
            "    user-code-0: PEX_MODULE=cluster.cli:main PEX_EXTRA_SYS_PATH=dist/compat/conveyor/src-branch-user-code "
            "python3 dist/compat/conveyor/pex-branch.pex code-server --port '{port[grpc]}'",
            "    server-0: PEX_MODULE=cluster.cli:main python3 dist/compat/conveyor/pex-0.2.0.pex server --port '{port[http]}' "
            "--code-server '{address[user-code]}' --db '{data_dir}/db'",
            "",
            "cell server-earliest  [suite backcompat, system conveyor]",
            "  instance     role       version           pex (+ sources)                                         image                                    ports",
            "  -----------  ---------  ----------------  ------------------------------------------------------  ---------------------------------------  -----",
            "  user-code-0  user-code  branch            compat/conveyor/pex-branch.pex + src-branch-user-code/  compat-matrix/conveyor/user-code:branch  grpc",
            "  server-0     server     0.1.0 (earliest)  compat/conveyor/pex-0.1.0.pex                           compat-matrix/conveyor/server:0.1.0      http",
            "  run by hand (after ./pants package; fill in the {...} fields as the process backend does):",
            "    user-code-0: PEX_MODULE=cluster.cli:main PEX_EXTRA_SYS_PATH=dist/compat/conveyor/src-branch-user-code "
            "python3 dist/compat/conveyor/pex-branch.pex code-server --port '{port[grpc]}'",
            "    server-0: PEX_MODULE=cluster.cli:main python3 dist/compat/conveyor/pex-0.1.0.pex server --port '{port[http]}' "
            "--code-server '{address[user-code]}' --db '{data_dir}/db'",
        ]
    )


def test_render_a_role_without_ports() -> None:
    worker = role("worker", ports=[], readiness=log_probe("ready"))
    plan = plan_cell(suite(topology={"worker": 1}, cells=[compat_cell("c")], system="sys"), "c", system_with(worker))
    row = next(line for line in render(plan).splitlines() if line.startswith("  worker-0 "))
    assert row.split()[-1] == "-"


def test_command_lines_run_what_the_harness_runs() -> None:
    # Regression: a module role's command printed as `python -m pkg.mod:main`, which no Python runs.
    # An instance's line is the process backend's: the PEX, the variable picking the command, a
    # branch role's sources on sys.path, the role's env and args (args_if_present where that role runs).
    web = role(
        "web",
        module=None,
        script="web-server",
        args=["--port", "{port[http]}"],
        env={"WEB_HOME": "{shared_dir}/home dir"},
        args_if_present={"db": ["--db", "{address[db]}"]},
        depends_on=["db"],
    )
    db = role("db", module="db.cli:main", args=["serve", "--data", "{data_dir}"])
    system = system_with(web, db, name="shop", pinned=("5.9", "5.15"))
    plan = plan_cell(suite(topology={"db": 1, "web": 1}, cells=[compat_cell("web-latest", {"web": "latest"})], system="shop"), "web-latest", system)
    specs = {spec.name: spec for spec in plan.roles}
    db_0, web_0 = plan.instances
    present = {"db", "web"}
    assert instance_command_line(specs["db"], db_0, present) == (
        "PEX_MODULE=db.cli:main PEX_EXTRA_SYS_PATH=dist/compat/shop/src-branch-db python3 dist/compat/shop/pex-branch.pex "
        "serve --data '{data_dir}'"
    )
    assert instance_command_line(specs["web"], web_0, present) == (
        "WEB_HOME='{shared_dir}/home dir' PEX_SCRIPT=web-server python3 dist/compat/shop/pex-5.15.pex "
        "--port '{port[http]}' --db '{address[db]}'"
    )
    assert instance_command_line(specs["web"], web_0, {"web"}, root="out dir").endswith("python3 'out dir/compat/shop/pex-5.15.pex' --port '{port[http]}'")
    assert f"    web-0: {instance_command_line(specs['web'], web_0, present)}" in render(plan).splitlines()
    # In an environment where the version is installed (a venv of its PEX): the entry point called.
    assert role_command_line(specs["db"]) == "python -c 'import sys, db.cli; sys.exit(db.cli.main())' serve --data '{data_dir}'"
    assert role_command_line(specs["web"], {"db"}) == "web-server --port '{port[http]}' --db '{address[db]}'"


def test_instances_that_do_not_gate_each_other_start_in_one_wave() -> None:
    system = cluster("conveyor")
    s = suite("distributed", DISTRIBUTED, [compat_cell("workers-earliest", {"scheduler": "earliest", "worker": "earliest"})], "conveyor")
    plan = plan_cell(s, "workers-earliest", system)
    waves = [[i.name for i in wave] for wave in start_waves(plan)]
    # Workers wait on the scheduler, not on each other; user code on the workers, the server on it.
    assert waves[:2] == [["scheduler-0"], ["worker-0", "worker-1"]]
    assert [name for wave in waves for name in wave] == [i.name for i in plan.instances]
    assert "starts together: scheduler-0 | worker-0, worker-1 |" in render(plan)


def test_a_role_whose_template_names_a_later_role_is_an_error() -> None:
    system = cluster("conveyor")
    s = suite("distributed", DISTRIBUTED, [compat_cell("workers-earliest", {"scheduler": "earliest", "worker": "earliest"})], "conveyor")
    plan = plan_cell(s, "workers-earliest", system)
    # The scheduler (first) names the server's address: it cannot start before it.
    scheduler = dataclasses.replace(plan.role("scheduler"), args=("--api", "{address[server]}"))
    broken = dataclasses.replace(plan, roles=tuple(scheduler if r.name == "scheduler" else r for r in plan.roles))
    with pytest.raises(SuiteDeclarationError, match=r"role 'scheduler' needs \['server'\] ready first.*depends_on"):
        start_waves(broken)
