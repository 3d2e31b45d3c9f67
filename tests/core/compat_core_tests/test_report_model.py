"""The matrix report's model and drawing (compat_core.report_model, report_render): a cell's targets,
the compatibility grid, the verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from compat_core import report_junit, report_model, report_render
from compat_core.cell_plan import CellPlan
from compat_core_tests.report_examples import BACKCOMPAT, CELLS, DISTRIBUTED, junit, planned, report_name

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
