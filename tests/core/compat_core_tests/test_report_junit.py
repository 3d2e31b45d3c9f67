"""The matrix report's reading (compat_core.report_junit): addresses and report names, one report,
Pants' console lines, every target once."""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path

import pytest

from compat_core import report_junit, report_model, report_render
from compat_core.codec import cell_to_json
from compat_core_tests.report_examples import (
    CELLS,
    DISTRIBUTED,
    REAL_ADDRESS,
    REAL_LINE,
    REAL_REPORT,
    USER_CODE_EARLIEST,
    junit,
    planned,
    report_name,
)

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
    assert {(i.name, i.role, i.version, i.declared_version) for i in result.instances} == {
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
