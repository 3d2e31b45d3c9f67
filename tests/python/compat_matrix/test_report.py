"""The matrix report: from Pants' JUnit reports (and its console lines) to a grid, JSON and JUnit.

The cells are planned by compat_core and encoded by its codec, as the plugin does; report files
are named as Pants names them and console lines are copied from real `./pants test` runs.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from compat_core import report_junit, report_model, report_render
from compat_core.cell_plan import CellPlan
from compat_core.codec import cell_to_json
from compat_core.declare import compat_cell, compat_role, grpc_health_probe, http_probe, tcp_probe
from compat_core.model import Suite, System, Topology
from compat_core.names import cell_target
from compat_core.parse import parse_releases
from compat_core.plan import expand_cells, plan_suite
from compat_matrix import report
from compat_matrix.junit_properties import BACKEND_PROPERTY, CELL_PROPERTY

pytest_plugins = ["pytester"]

# conveyor's server, user-code and worker roles as src/python/conveyor/BUILD declares them (enough
# to plan its suites), and its backcompat suite as tests/python/integration/backcompat/BUILD does.
CONVEYOR = System(
    name="conveyor",
    role_specs=(
        compat_role("scheduler", module="conveyor.cli:main", ports=["dask"], readiness=tcp_probe("dask"),
                    branch_sources=["src/python/conveyor/cluster"]),
        compat_role("worker", module="conveyor.cli:main", ports=["dask"], readiness=tcp_probe("dask"),
                    depends_on=["scheduler"], requires=["scheduler"], branch_sources=["src/python/conveyor/cluster"]),
        compat_role("user-code", module="conveyor.cli:main", ports=["grpc"], readiness=grpc_health_probe("grpc"),
                    branch_sources=["src/python/conveyor/code_server"]),
        compat_role("server", module="conveyor.cli:main", ports=["http"], readiness=http_probe("http", "/health"),
                    depends_on=["user-code"], requires=["user-code"], branch_sources=["src/python/conveyor/server"]),
    ),
    releases=parse_releases("conveyor", ["0.1.0", "0.2.0"], "0.1.0"),
)
BACKCOMPAT = Suite(
    name="backcompat",
    topology=Topology((("server", 1), ("user-code", 1))),
    cells=(
        compat_cell("server-latest", {"server": "latest"}),
        compat_cell("server-earliest", {"server": "earliest"}),
        compat_cell("user-code-latest", {"user-code": "latest"}),
        compat_cell("user-code-earliest", {"user-code": "earliest"}),
    ),
    system="conveyor",
    backends=("process", "docker"),
    full_matrix=True,
)
DISTRIBUTED = Suite(
    name="distributed",
    topology=Topology((("scheduler", 1), ("worker", 2), ("user-code", 1), ("server", 1))),
    cells=(compat_cell("all-branch"), compat_cell("workers-earliest", {"worker": "earliest"})),
    system="conveyor",
    backends=("process", "docker"),
)


def planned(suite: Suite, full: bool = False) -> dict[str, CellPlan]:
    return {c.name: c for c in plan_suite(expand_cells(suite, CONVEYOR.releases, full), CONVEYOR).cells}


CELLS = planned(BACKCOMPAT)
USER_CODE_EARLIEST = CELLS["user-code-earliest"]

# Pants 2.17's report file name (Address.path_safe_spec) of a generated target, as `./pants
# --tag=backcompat --tag=user-code-earliest --tag=process test ::` wrote it, and the line it printed.
REAL_REPORT = "tests.python.integration.backcompat@user-code-earliest-process.xml"
REAL_ADDRESS = "tests/python/integration/backcompat#user-code-earliest-process"
REAL_LINE = "✓ tests/python/integration/backcompat#user-code-earliest-process succeeded in 36.01s."


def junit(*, failures: int = 0, skipped: int = 0, tests: int = 2, when: str = "2026-11-29T10:00:00+00:00",
          cell: CellPlan | None = USER_CODE_EARLIEST, backend: str = "docker", out: str = "") -> str:
    """A JUnit report as pytest writes it with compat_matrix.junit_properties (the codec's cell JSON)."""
    props = (
        f'<properties><property name="{CELL_PROPERTY}" value="{html.escape(cell_to_json(cell))}" />'
        f'<property name="{BACKEND_PROPERTY}" value="{backend}" /></properties>'
        if cell
        else ""
    )
    failure = (
        f'<testcase classname="t" name="test_b"><failure message="assert 1 == 2">trace</failure>'
        f"<system-out>{out}</system-out></testcase>"
        if failures
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" '
        f'errors="0" failures="{failures}" skipped="{skipped}" tests="{tests}" time="3.25" timestamp="{when}">'
        f'{props}<testcase classname="t" name="test_a" time="1.0" />{failure}</testsuite></testsuites>'
    )


def report_name(cell: str, backend: str, module: str = "", directory: str = "tests.python.integration.backcompat") -> str:
    """The report file name Pants gives a generated cell test (the plugin names it with cell_target)."""
    return f"{directory}@{cell_target(cell, backend, module)}.xml"


# --- addresses -----------------------------------------------------------------------------------

# (address as Pants prints it, its report's name): each pair computed by Pants 2.17's own Address.
ADDRESSES = [
    (REAL_ADDRESS, REAL_REPORT.removesuffix(".xml")),
    ("tests/python/x:s#a-process-test_b", "tests.python.x.s@a-process-test_b"),
    ("tests/python/compat_matrix/test_report.py:tests", "tests.python.compat_matrix.test_report.py.tests"),
    ("tests/python/compat_matrix/test_report.py", "tests.python.compat_matrix.test_report.py"),
    ("tests/pants-plugins:py39", "tests.pants-plugins.py39"),
    ("a/b/sub/test_x.py:../t", "a.b.sub.test_x.py@t"),
    ("a/b@resolve=x", "a.b@@resolve=x"),
    ("//:s#a-process", "s@a-process"),  # Pants: ".s@a-process"; the leading dot is dropped on both sides
]


@pytest.mark.parametrize("address, key", ADDRESSES)
def test_an_address_maps_to_its_report_name(address: str, key: str) -> None:
    assert report_junit.report_key(address) == key


@pytest.mark.parametrize(
    "name, address",
    [
        ("tests.python.x.test_a.py.cell-docker.xml", "tests/python/x/test_a.py:cell-docker"),
        ("tests.python.compat_matrix.test_versions.py.tests.xml", "tests/python/compat_matrix/test_versions.py:tests"),
        ("a.b.sub.test_x.py@t.xml", "a/b/sub/test_x.py:../t"),
        ("tests.pants-plugins.py39.xml", "tests/pants-plugins:py39"),
    ],
)
def test_report_file_names_map_back_to_addresses(name: str, address: str) -> None:
    assert report_junit.address_from_report_name(name) == address


def test_a_generated_targets_directory_is_found_under_the_root(tmp_path: Path) -> None:
    (tmp_path / "tests/python/integration/backcompat").mkdir(parents=True)
    (tmp_path / "tests/python/integration/dagster_backcompat").mkdir(parents=True)
    assert report_junit.address_from_report_name(REAL_REPORT, tmp_path) == REAL_ADDRESS
    name = "tests.python.integration.dagster_backcompat.dagster-backcompat@all-branch-docker.xml"
    assert report_junit.address_from_report_name(name, tmp_path) == (
        "tests/python/integration/dagster_backcompat:dagster-backcompat#all-branch-docker"
    )


def test_property_names_are_the_ones_the_plugin_records() -> None:
    assert (report_junit.CELL_PROPERTY, report_junit.BACKEND_PROPERTY) == (CELL_PROPERTY, BACKEND_PROPERTY)


# --- one target ----------------------------------------------------------------------------------


def test_a_matrix_target_carries_its_cell_and_every_instances_version(tmp_path: Path) -> None:
    # Regression: the report read keys (`versions`, `topology`) the codec's cell JSON does not
    # have, and showed no version at all.
    path = tmp_path / REAL_REPORT
    path.write_text(junit(backend="process"))
    result, _ = report_junit.read_report(path)
    assert sorted(result.versions) == [("server", "branch"), ("user-code", "0.1.0")]
    assert (result.suite, result.system, result.cell, result.backend) == (
        "backcompat", "conveyor", "user-code-earliest", "process"
    )
    assert {(i.name, i.role, i.version, i.spec) for i in result.instances} == {
        ("server-0", "server", "branch", ""), ("user-code-0", "user-code", "0.1.0", "earliest")
    }
    assert (result.status, result.tests, result.duration_s) == ("passed", 2, 3.25)


def test_every_worker_instance_shows_its_version(tmp_path: Path) -> None:
    path = tmp_path / report_name("workers-earliest", "docker", directory="tests.python.integration.distributed")
    path.write_text(junit(cell=planned(DISTRIBUTED)["workers-earliest"]))
    result, _ = report_junit.read_report(path)
    assert [(i.name, i.version) for i in result.instances if i.role == "worker"] == [
        ("worker-0", "0.1.0"), ("worker-1", "0.1.0")
    ]
    page = report_render.to_html([result], "now")
    assert "worker-0=0.1.0 (earliest)" in page and "worker-1=0.1.0 (earliest)" in page and "server-0=branch" in page


def test_a_cell_the_codec_cannot_read_still_counts_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / REAL_REPORT
    old = {"suite": "backcompat", "system": "conveyor", "cell": "user-code-earliest", "versions": [["user-code", "0.1.0"]]}
    path.write_text(junit().replace(html.escape(cell_to_json(USER_CODE_EARLIEST)), html.escape(json.dumps(old))))
    result, _ = report_junit.read_report(path)
    assert (result.suite, result.cell, result.instances) == ("backcompat", "user-code-earliest", ())
    assert "is not a planned cell" in result.note


def test_older_than_the_run_means_from_a_cache(tmp_path: Path) -> None:
    path = tmp_path / REAL_REPORT
    path.write_text(junit(when="2026-11-29T10:00:00+00:00"))
    ten = datetime.fromisoformat("2026-11-29T10:00:00+00:00").timestamp()
    assert report_junit.read_report(path, since=ten + 60)[0].source == report_model.CACHED
    assert report_junit.read_report(path, since=ten - 60)[0].source == report_model.RAN


def test_pants_console_tells_local_from_remote_cache() -> None:
    console = report_junit.read_console(
        REAL_LINE + "\n"
        "✓ tests/python/compat_matrix/test_report.py:tests succeeded in 1.20s (cached remotely).\n"
        "✓ tests/python/compat_matrix/test_index.py:tests succeeded in 0.50s (cached locally).\n"
        "✓ tests/python/compat_matrix/test_cli.py:tests succeeded in 0.50s (memoized).\n"
        "\x1b[31m✕\x1b[0m tests/python/integration/backcompat#server-latest-docker failed in 3.00s.\n"
        "✕ tests/python/launcher/test_launcher.py:tests failed in 7.16s.\n"
        "some other line\n"
    )
    assert console == {
        REAL_ADDRESS: ("passed", report_model.RAN),
        "tests/python/compat_matrix/test_report.py:tests": ("passed", report_model.REMOTE_CACHE),
        "tests/python/compat_matrix/test_index.py:tests": ("passed", report_model.LOCAL_CACHE),
        "tests/python/compat_matrix/test_cli.py:tests": ("passed", report_model.MEMOIZED),
        "tests/python/integration/backcompat#server-latest-docker": ("failed", report_model.RAN),
        "tests/python/launcher/test_launcher.py:tests": ("failed", report_model.RAN),
    }


def test_a_failure_keeps_the_instances_logs(tmp_path: Path) -> None:
    path = tmp_path / REAL_REPORT
    path.write_text(junit(failures=1, out="=== server-0 ===\nserver listening on 127.0.0.1:1234"))
    result, _ = report_junit.read_report(path)
    assert result.status == "failed"
    assert "server listening on 127.0.0.1:1234" in result.logs and "assert 1 == 2" in result.logs


def test_the_report_says_how_it_went_and_pants_where_it_came_from(tmp_path: Path) -> None:
    # Regression: with Pants' console line, a target whose tests were all skipped showed as passed.
    path = tmp_path / REAL_REPORT
    path.write_text(junit(skipped=2, tests=2))
    results, _ = report_junit.collect(tmp_path, pants_log=REAL_LINE.replace("36.01s.", "36.01s (cached remotely)."))
    assert [(r.status, r.source) for r in results] == [("skipped", report_model.REMOTE_CACHE)]


def test_pants_saying_failed_wins_over_a_passing_report(tmp_path: Path) -> None:
    (tmp_path / REAL_REPORT).write_text(junit())
    results, _ = report_junit.collect(tmp_path, pants_log=REAL_LINE.replace("✓", "✕").replace("succeeded", "failed"))
    assert [r.status for r in results] == ["failed"]


# --- every target once ---------------------------------------------------------------------------


def test_a_target_is_counted_once_with_its_report_and_console_line(tmp_path: Path) -> None:
    # Regression: the report file's name form and Pants' address did not match, so CI mode added
    # every console line again as a target without a report (72 targets, 2 failed -> 107 and 3).
    (tmp_path / REAL_REPORT).write_text(junit(backend="process"))
    failing = report_name("server-latest", "docker")
    (tmp_path / failing).write_text(junit(cell=CELLS["server-latest"], failures=1))
    log = (
        REAL_LINE + "\n"
        "✕ tests/python/integration/backcompat#server-latest-docker failed in 3.00s.\n"
    )
    results, _ = report_junit.collect(tmp_path, pants_log=log)
    assert sorted((r.address, r.status) for r in results) == [
        ("tests/python/integration/backcompat#server-latest-docker", "failed"), (REAL_ADDRESS, "passed")
    ]
    assert sorted((r.address, r.status, r.report) for r in results) == [
        ("tests/python/integration/backcompat#server-latest-docker", "failed", failing),
        (REAL_ADDRESS, "passed", REAL_REPORT),
    ]
    data = json.loads(report_render.to_json(results, "now", 1))
    assert data["summary"] == {
        "passed": 1, "failed": 1, "skipped": 0, "no_result": 0, "targets": 2, "matrix_targets": 2, "matrix_cells": 2
    }


def test_a_target_that_left_no_report_is_a_failed_entry(tmp_path: Path) -> None:
    (tmp_path / REAL_REPORT).write_text(junit(backend="process"))
    log = REAL_LINE + "\n✕ tests/python/integration/backcompat#server-latest-docker failed in 900.00s.\n"
    results, _ = report_junit.collect(tmp_path, pants_log=log)
    missing = [r for r in results if not r.report]
    assert [(r.address, r.status) for r in missing] == [("tests/python/integration/backcompat#server-latest-docker", "failed")]
    assert "left no test report" in missing[0].logs
    said = report_model.verdict(results, 1)
    assert (said.state, said.reason) == ("failed", "1 of 2 test targets failed; Pants exited 1")


# --- every target of a cell ----------------------------------------------------------------------


def two_module_run(reports: Path) -> None:
    """A suite with two test modules: two targets per cell x backend; one of one cell fails."""
    reports.mkdir(exist_ok=True)
    for cell in ("user-code-earliest", "server-latest"):
        for module in ("test_a.py", "test_b.py"):
            fails = cell == "server-latest" and module == "test_b.py"
            (reports / report_name(cell, "process", module)).write_text(
                junit(cell=CELLS[cell], backend="process", failures=int(fails), out="=== server-0 ===\nboom in test_b" if fails else "")
            )


def test_the_worst_target_of_a_cell_decides_and_each_target_shows(tmp_path: Path) -> None:
    # Regression: the grid drew only the first target of a cell: with test_b failing, the cell
    # said PASSED and test_b's logs were nowhere.
    two_module_run(tmp_path)
    results, _ = report_junit.collect(tmp_path)
    page = report_render.to_html(results, "now")
    assert "data-cell='server-latest' data-backend='process' data-state='failed'" in page
    assert "boom in test_b" in page
    cell = re.search(r"<td class='cell [a-z]+' id='cell-backcompat-server-latest-process'.*?</td>", page, re.S)
    assert cell, page
    assert "data-state='failed'" in cell.group(0)
    targets = re.findall(r"<li class='target (\w+)' data-target='([^']+)'", cell.group(0))
    assert targets == [
        ("passed", "tests/python/integration/backcompat#server-latest-process-test_a"),
        ("failed", "tests/python/integration/backcompat#server-latest-process-test_b"),
    ]
    assert "boom in test_b" in cell.group(0)
    (cell_data,) = (c for c in json.loads(report_render.to_json(results, "now"))["cells"] if c["cell"] == "server-latest")
    assert cell_data["status"] == "failed" and len(cell_data["targets"]) == 2


@pytest.mark.parametrize(
    "states, expected",
    [(("passed", "failed"), "failed"), (("skipped", "passed"), "passed"), (("skipped",), "skipped"), (("failed", "skipped"), "failed")],
)
def test_a_cells_state_is_its_worst_targets(states: tuple[str, ...], expected: str) -> None:
    assert report_model.worst(states) == expected


# --- the compatibility grid ----------------------------------------------------------------------


def full_matrix_run(reports: Path, failing: tuple[tuple[str, str], ...] = ()) -> dict[str, CellPlan]:
    cells = planned(BACKCOMPAT, full=True)
    reports.mkdir(exist_ok=True)
    for name, cell in cells.items():
        for backend in ("process", "docker"):
            (reports / report_name(name, backend)).write_text(
                junit(cell=cell, backend=backend, failures=int((name, backend) in failing))
            )
    return cells


def test_the_full_matrix_draws_the_version_pairs(tmp_path: Path) -> None:
    cells = full_matrix_run(tmp_path, failing=(("server-0.1.0-user-code-0.2.0", "docker"),))
    assert len(cells) == 9, sorted(cells)
    results, _ = report_junit.collect(tmp_path)
    grid = report_model.compat_grid([c for c in report_model.cells_of(results) if c.suite == "backcompat"])
    assert grid is not None
    assert {grid.down, grid.across} == {"server", "user-code"}
    assert grid.rows == grid.columns == ("branch", "0.1.0", "0.2.0")
    assert all(len(found) == 2 for found in grid.pairs.values()) and len(grid.pairs) == 9
    server, user_code = ("0.1.0", "0.2.0") if grid.down == "server" else ("0.2.0", "0.1.0")
    assert {(c.backend, c.status) for c in grid.pairs[(server, user_code)]} == {("process", "passed"), ("docker", "failed")}

    page = report_render.to_html(results, "now")
    badges = re.findall(r"<a class='badge (\w+)' href='#([^']+)' data-pair='([^']+)' data-backend='(\w+)'", page)
    assert len(badges) == 18
    assert ("failed", "cell-backcompat-server-0.1.0-user-code-0.2.0-docker", f"{server} {user_code}", "docker") in badges
    assert all(f"id='{anchor}'" in page for _, anchor, _, _ in badges)


def test_grid_versions_are_in_pep_440_order() -> None:
    # Regression: versions sorted by their digits put 1.4.post1 after 1.4.1 (PEP 440: before it).
    versions = ["1.4.1", "5.15", "branch", "1.4.post1", "1.4", "5.9"]
    instances = tuple(report_model.InstanceVersion(f"server-{n}", "server", v) for n, v in enumerate(versions))
    assert report_model.role_versions(instances) == {"server": "branch+1.4+1.4.post1+1.4.1+5.9+5.15"}


def test_a_suite_varying_one_role_has_no_grid(tmp_path: Path) -> None:
    for name, cell in planned(DISTRIBUTED).items():
        (tmp_path / report_name(name, "process", directory="tests.python.integration.distributed")).write_text(junit(cell=cell))
    results, _ = report_junit.collect(tmp_path)
    assert report_model.compat_grid(report_model.cells_of(results)) is None
    assert "class='compat'" not in report_render.to_html(results, "now")


# --- the verdict ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statuses, exit_code, expected",
    [
        (("passed", "skipped"), 0, "passed"),
        (("passed", "failed"), 1, "failed"),
        (("passed",), 130, "failed"),  # interrupted, or a target Pants ran left no report
        (("passed",), None, "passed"),
        ((), 0, "no tests"),
    ],
)
def test_the_verdict_agrees_with_the_targets_and_pants(statuses: tuple[str, ...], exit_code: int | None, expected: str) -> None:
    results = [report_model.TargetResult(f"a/t{n}.py:tests", s, 1, int(s == "failed"), 0.1, report_model.RAN) for n, s in enumerate(statuses)]
    assert report_model.verdict(results, exit_code).state == expected
    data = json.loads(report_render.to_json(results, "now", exit_code))
    assert data["verdict"] == expected and data["pants_exit_code"] == exit_code
    assert f"data-verdict='{expected}'" in report_render.to_html(results, "now", exit_code)


def test_written_files_grid_json_and_merged_junit(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / report_name("user-code-earliest", "docker")).write_text(junit())
    (reports / REAL_REPORT).write_text(junit(backend="process", failures=1, out="boom"))
    (reports / "tests.python.u.test_u.py.tests.xml").write_text(junit(cell=None))
    out = tmp_path / "out"
    report.write_report(reports, out, pants_exit_code=1)

    page = (out / "report.html").read_text()
    assert "<script" not in page and "http" not in page.replace("charset", ""), "the page must work offline"
    assert page.count("data-cell='user-code-earliest'") == 2
    assert "data-state='failed'" in page and "boom" in page
    assert "user-code-0=0.1.0 (earliest)" in page
    data = json.loads((out / "report.json").read_text())
    assert data["summary"] == {
        "passed": 2, "failed": 1, "skipped": 0, "no_result": 0, "targets": 3, "matrix_targets": 2, "matrix_cells": 2
    }
    assert data["verdict"] == "failed"
    assert all(t["versions"] for t in data["targets"] if t["cell"])
    merged = ET.parse(out / "report.junit.xml").getroot()
    assert len(merged.findall("testsuite")) == 3


def test_the_plugin_records_the_cell_in_the_junit_report(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest("from compat_matrix.junit_properties import compat_matrix_junit_properties  # noqa: F401")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    monkeypatch.setenv("COMPAT_MATRIX_CELL", cell_to_json(USER_CODE_EARLIEST))
    monkeypatch.setenv("COMPAT_MATRIX_BACKEND", "process")
    xml = pytester.path / REAL_REPORT
    pytester.runpytest("-p", "no:cacheprovider", f"--junitxml={xml}").assert_outcomes(passed=1)
    result, _ = report_junit.read_report(xml)
    assert (result.cell, result.backend, sorted(result.versions)) == (
        "user-code-earliest", "process", [("server", "branch"), ("user-code", "0.1.0")]
    )
