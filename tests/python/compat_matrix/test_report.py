"""The matrix report's harness side: the report CLI writes its files, and the harness's pytest
plugin records the cell in the JUnit report the core reads (the core's own tests are in
tests/core/compat_core_tests/test_report_*.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from compat_core import report_junit
from compat_core.codec import cell_to_json
from compat_core_tests.report_examples import REAL_REPORT, USER_CODE_EARLIEST, junit, report_name
from compat_matrix import report
from compat_matrix.junit_properties import BACKEND_PROPERTY, CELL_PROPERTY

pytest_plugins = ["pytester"]


def test_property_names_are_the_ones_the_plugin_records() -> None:
    assert (report_junit.CELL_PROPERTY, report_junit.BACKEND_PROPERTY) == (CELL_PROPERTY, BACKEND_PROPERTY)


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
