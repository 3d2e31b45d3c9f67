"""The cell JSON a generated test gets, and systems as data: round trips and malformed input."""

from __future__ import annotations

import dataclasses
import json

import pytest

from compat_core.codec import (
    FORMAT,
    cell_from_data,
    cell_from_json,
    cell_to_json,
    role_from_data,
    system_from_data,
    to_data,
)
from compat_core.declare import command_probe, compat_cell, compat_role, log_probe
from compat_core.errors import SuiteDeclarationError
from compat_core.plan import expand_cells, plan_cell, plan_suite
from compat_core_tests.examples import BACKCOMPAT_CELLS, cluster, suite, system_with
from compat_core_tests.expect import expect_error

DISTRIBUTED = {"scheduler": 1, "worker": 2, "user-code": 1, "server": 1}


def every_cell_plan():
    """Every cell of the two reference-shaped suites, the full matrix and a branch_release system."""
    system = cluster()
    backcompat = expand_cells(suite(cells=BACKCOMPAT_CELLS, full_matrix=True), system.releases, True)
    distributed = suite("distributed", DISTRIBUTED, [compat_cell("all-branch"), compat_cell("workers-earliest", {"scheduler": "earliest", "worker": "earliest"})])
    dagster = cluster("dagster", branch_release="0.2.0")
    yield from plan_suite(backcompat, system).cells
    yield from plan_suite(distributed, system).cells
    yield from plan_suite(suite(cells=BACKCOMPAT_CELLS, system="dagster"), dagster).cells


def rich_system():
    """A role using every field, so the round trip covers each."""
    role = compat_role(
        "engine",
        script="ipengine",
        args=["--file", "{shared_dir}/ctl.json"],
        env={"A": "{host}", "B": "x"},
        files={"{data_dir}/cfg.json": '{{"a": 1}}'},
        log_files=["{data_dir}/engine.log"],
        readiness=command_probe(["pkg.check", "{shared_dir}"], timeout=5, interval=0.5),
        args_if_present={"engine": ["--peer", "{peers[engine][0].name}"]},
        cpus=0.5,
        memory="256m",
        branch_sources=["src/engine"],
    )
    quiet = compat_role("quiet", module="pkg.quiet", readiness=log_probe("^ready$"), branch_sources=["src/q"])
    return system_with(role, quiet, name="ipy", pinned=("0.1.0", "0.2.0"))


def test_every_planned_cell_round_trips() -> None:
    cells = list(every_cell_plan())
    assert len(cells) == 9 + 2 + 4
    for plan in cells:
        text = cell_to_json(plan)
        assert cell_from_json(text) == plan
        assert cell_to_json(cell_from_json(text)) == text


def test_a_cell_with_every_role_field_round_trips() -> None:
    system = rich_system()
    s = suite("ipy", {"engine": 2, "quiet": 1}, [compat_cell("engine-latest", {"engine": "latest"})], "ipy", ("process",))
    plan = plan_cell(s, "engine-latest", system)
    back = cell_from_json(cell_to_json(plan))
    assert back == plan
    assert back.role("engine").readiness.args == ("pkg.check", "{shared_dir}")
    assert back.role("engine").cpus == 0.5
    assert back.role("quiet").cpus is None and back.role("quiet").memory is None


def test_the_system_address_round_trips_and_defaults_to_empty() -> None:
    plan = dataclasses.replace(next(iter(every_cell_plan())), system_address="src/python/conveyor:conveyor")
    assert cell_from_json(cell_to_json(plan)).system_address == "src/python/conveyor:conveyor"
    data = json.loads(cell_to_json(plan))
    del data["system_address"]  # a cell planned before the field existed
    assert cell_from_data(data).system_address == ""


def test_cell_json_is_compact_stable_and_versioned() -> None:
    plan = next(iter(every_cell_plan()))
    text = cell_to_json(plan)
    assert " " not in text.replace("compat-matrix", "")  # no spaces from separators
    data = json.loads(text)
    assert data["format"] == FORMAT
    assert list(data) == sorted(data)
    assert cell_to_json(plan) == text


@pytest.mark.parametrize("system", [cluster(), cluster("dagster", branch_release="0.2.0"), rich_system()])
def test_systems_round_trip(system) -> None:
    data = json.loads(json.dumps(to_data(system)))
    assert system_from_data(data) == system


def test_role_from_data_fills_defaults() -> None:
    role = role_from_data({"name": "r", "command": {"kind": "module", "value": "m"}, "readiness": {"kind": "tcp", "port": "p"}})
    assert role.readiness.timeout == 60.0 and role.readiness.interval == 0.1 and role.readiness.path == "/"
    assert role.args == () and role.cpus is None and role.branch_sources == ()


def test_not_json() -> None:
    with expect_error(SuiteDeclarationError, "COMPAT_MATRIX_CELL is not valid JSON", "./pants compat-plan --json"):
        cell_from_json("{nope")
    with expect_error(SuiteDeclarationError, "cell.json is not valid JSON"):
        cell_from_json("", "cell.json")


@pytest.mark.parametrize("data", [[], "x", 1, None])
def test_not_an_object(data: object) -> None:
    with expect_error(SuiteDeclarationError, "must be a JSON object"):
        cell_from_json(json.dumps(data))


def test_another_format() -> None:
    data = json.loads(cell_to_json(next(iter(every_cell_plan()))))
    data["format"] = FORMAT + 1
    with expect_error(SuiteDeclarationError, f"has format {FORMAT + 1}", f"reads format {FORMAT}", "regenerate"):
        cell_from_data(data)


@pytest.mark.parametrize("drop", ["suite", "name", "system", "instances", "roles"])
def test_a_missing_field(drop: str) -> None:
    data = json.loads(cell_to_json(next(iter(every_cell_plan()))))
    del data[drop]
    with expect_error(SuiteDeclarationError, "is not a planned cell", f"KeyError: '{drop}'", "compat-plan --json"):
        cell_from_data(data)


def test_a_malformed_instance() -> None:
    data = json.loads(cell_to_json(next(iter(every_cell_plan()))))
    data["instances"][0]["index"] = "first"
    with expect_error(SuiteDeclarationError, "is not a planned cell (ValueError"):
        cell_from_data(data, "COMPAT_MATRIX_CELL")
    data["instances"] = 5
    with expect_error(SuiteDeclarationError, "TypeError"):
        cell_from_data(data)


def test_a_malformed_system() -> None:
    data = to_data(cluster())
    del data["releases"]["pinned"]
    with expect_error(SuiteDeclarationError, "systems.json is not a system", "KeyError: 'pinned'"):
        system_from_data(data, "systems.json")
    with expect_error(SuiteDeclarationError, "must be a JSON object"):
        system_from_data([], "systems.json")
