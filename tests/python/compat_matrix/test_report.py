"""The matrix report: from Pants' JUnit reports (and its console lines) to a grid, JSON and JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from compat_matrix import report
from compat_matrix.junit_properties import BACKEND_PROPERTY, CELL_PROPERTY

pytest_plugins = ["pytester"]

CELL: dict[str, object] = {
    "suite": "backcompat",
    "system": "conveyor",
    "cell": "user-code-earliest",
    "topology": [["server", 1], ["user-code", 1]],
    "versions": [["user-code", "0.1.0"]],
}


def junit(*, failures: int = 0, skipped: int = 0, tests: int = 2, when: str = "2026-11-29T10:00:00+00:00",
          cell: dict[str, object] | None = CELL, backend: str = "docker", out: str = "") -> str:
    props = (
        f'<properties><property name="{CELL_PROPERTY}" value="{json.dumps(cell).replace(chr(34), "&quot;")}" />'
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


@pytest.mark.parametrize(
    "name, address",
    [
        ("tests.python.x.test_a.py.cell-docker.xml", "tests/python/x/test_a.py:cell-docker"),
        ("tests.python.compat_matrix.test_versions.py.tests.xml", "tests/python/compat_matrix/test_versions.py:tests"),
    ],
)
def test_report_file_names_map_back_to_addresses(name: str, address: str) -> None:
    assert report.address_from_report_name(name) == address


def test_property_names_are_the_ones_the_plugin_records() -> None:
    assert (report.CELL_PROPERTY, report.BACKEND_PROPERTY) == (CELL_PROPERTY, BACKEND_PROPERTY)


def test_a_matrix_target_carries_its_cell_and_every_roles_version(tmp_path: Path) -> None:
    path = tmp_path / "tests.python.i.b.test_b.py.user-code-earliest-docker.xml"
    path.write_text(junit())
    result, _ = report.read_report(path)
    assert (result.suite, result.system, result.cell, result.backend) == (
        "backcompat", "conveyor", "user-code-earliest", "docker"
    )
    assert result.versions == (("server", "branch"), ("user-code", "0.1.0"))
    assert (result.status, result.tests, result.duration_s) == ("passed", 2, 3.25)


def test_older_than_the_run_means_from_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "a.py.x.xml"
    path.write_text(junit(when="2026-11-29T10:00:00+00:00"))
    ten = datetime.fromisoformat("2026-11-29T10:00:00+00:00").timestamp()
    assert report.read_report(path, since=ten + 60)[0].source == report.CACHED
    assert report.read_report(path, since=ten - 60)[0].source == report.RAN


def test_pants_console_tells_local_from_remote_cache() -> None:
    console = report.read_console(
        "✓ a/b.py:c succeeded in 1.2s (cached remotely).\n"
        "✓ a/d.py:e succeeded in 0.5s (cached locally).\n"
        "✕ a/f.py:g failed in 3.0s.\n"
        "some other line\n"
    )
    assert console == {
        "a/b.py:c": ("passed", report.REMOTE_CACHE),
        "a/d.py:e": ("passed", report.LOCAL_CACHE),
        "a/f.py:g": ("failed", report.RAN),
    }


def test_a_failure_keeps_the_instances_logs(tmp_path: Path) -> None:
    path = tmp_path / "a.py.x.xml"
    path.write_text(junit(failures=1, out="=== server-0 ===\nserver listening on 127.0.0.1:1234"))
    result, _ = report.read_report(path)
    assert result.status == "failed"
    assert "server listening on 127.0.0.1:1234" in result.logs and "assert 1 == 2" in result.logs


def test_a_target_that_left_no_report_is_still_listed(tmp_path: Path) -> None:
    results, _ = report.collect(tmp_path, pants_log="✕ a/b.py:timed-out failed in 900.0s.\n")
    assert [(r.address, r.status) for r in results] == [("a/b.py:timed-out", "failed")]


def test_written_files_grid_json_and_merged_junit(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "t.b.test_b.py.user-code-earliest-docker.xml").write_text(junit())
    (reports / "t.b.test_b.py.user-code-earliest-process.xml").write_text(junit(backend="process", failures=1, out="boom"))
    (reports / "t.u.test_u.py.tests.xml").write_text(junit(cell=None))
    out = tmp_path / "out"
    report.write_report(reports, out)

    page = (out / "report.html").read_text()
    assert "<script" not in page and "http" not in page.replace("charset", ""), "the page must work offline"
    assert page.count("data-cell='user-code-earliest'") == 2
    assert "data-state='failed'" in page and "boom" in page
    data = json.loads((out / "report.json").read_text())
    assert data["summary"] == {"passed": 2, "failed": 1, "skipped": 0, "targets": 3, "matrix_cells": 2}
    merged = ET.parse(out / "report.junit.xml").getroot()
    assert len(merged.findall("testsuite")) == 3


def test_the_plugin_records_the_cell_in_the_junit_report(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest("from compat_matrix.junit_properties import compat_matrix_junit_properties  # noqa: F401")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    monkeypatch.setenv("COMPAT_MATRIX_CELL", json.dumps(CELL))
    monkeypatch.setenv("COMPAT_MATRIX_BACKEND", "process")
    xml = pytester.path / "t.test_one.py.user-code-earliest-process.xml"
    pytester.runpytest("-p", "no:cacheprovider", f"--junitxml={xml}").assert_outcomes(passed=1)
    result, _ = report.read_report(xml)
    assert (result.cell, result.backend, result.versions) == (
        "user-code-earliest", "process", (("server", "branch"), ("user-code", "0.1.0"))
    )


def test_the_report_says_how_it_went_and_pants_where_it_came_from(tmp_path: Path) -> None:
    # Regression: with Pants' console line, a target whose tests were all skipped showed as passed.
    path = tmp_path / "a.py.x.xml"
    path.write_text(junit(skipped=2, tests=2))
    console = report.read_console("✓ a.py:x succeeded in 0.1s (cached remotely).\n")
    result, _ = report.read_report(path, console=console)
    assert (result.status, result.source) == ("skipped", report.REMOTE_CACHE)
