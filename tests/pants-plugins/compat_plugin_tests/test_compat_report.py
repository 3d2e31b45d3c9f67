"""``pants compat-report``: the selected test targets' results of the latest test run, and the verdict."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from pants.backend.python.goals.pytest_runner import PythonTestFieldSet
from pants.core.goals.test import TestFieldSet
from pants.engine.unions import UnionRule
from pants.testutil.rule_runner import GoalRuleResult, RuleRunner

from compat_plugin import report_goal
from compat_plugin.report_goal import CompatReport
from compat_plugin_tests.plugin_runner import make_rule_runner

A, B = "suite/a_test.py:tests", "suite/b_test.py:tests"
A_REPORT, B_REPORT = "suite.a_test.py.tests.xml", "suite.b_test.py.tests.xml"


def junit(failures: int = 0, started: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started or time.time()))
    failure = '<testcase classname="t" name="test_b"><failure message="no">trace</failure></testcase>' if failures else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="{failures}" '
        f'skipped="0" tests="2" time="1.5" timestamp="{stamp}"><testcase classname="t" name="test_a" />{failure}'
        f"</testsuite></testsuites>"
    )


@pytest.fixture
def rule_runner() -> RuleRunner:
    rule_runner = make_rule_runner(*report_goal.rules(), UnionRule(TestFieldSet, PythonTestFieldSet))
    rule_runner.write_files(
        {"suite/BUILD": "python_tests(name='tests')", "suite/a_test.py": "", "suite/b_test.py": "", "suite/lib.py": ""}
    )
    return rule_runner


def write_report(rule_runner: RuleRunner, name: str, text: str, written: float) -> None:
    path = Path(rule_runner.build_root, "dist/test/reports", name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (written, written))


def compat_report(rule_runner: RuleRunner, *args: str) -> GoalRuleResult:
    return rule_runner.run_goal_rule(CompatReport, global_args=["--test-report"], args=[*args, "suite::"])


def written(rule_runner: RuleRunner) -> dict:
    return json.loads(Path(rule_runner.build_root, "dist/compat-matrix/report.json").read_text())


def test_every_selected_test_passed_in_the_latest_run(rule_runner: RuleRunner) -> None:
    now = time.time()
    write_report(rule_runner, A_REPORT, junit(), now)
    write_report(rule_runner, B_REPORT, junit(), now + 0.3)
    result = compat_report(rule_runner)
    assert result.exit_code == 0, result.stderr
    assert "dist/compat-matrix/report.html: PASSED, all 2 test targets passed" in result.stderr
    data = written(rule_runner)
    assert [(t["address"], t["status"], t["source"]) for t in data["targets"]] == [(A, "passed", "ran"), (B, "passed", "ran")]
    assert "data-verdict='passed'" in Path(rule_runner.build_root, "dist/compat-matrix/report.html").read_text()


def test_a_failed_test_fails_the_report(rule_runner: RuleRunner) -> None:
    now = time.time()
    write_report(rule_runner, A_REPORT, junit(failures=1), now)
    write_report(rule_runner, B_REPORT, junit(), now)
    result = compat_report(rule_runner)
    assert result.exit_code == 1
    assert f"FAILED: {A}" in result.stderr
    assert "FAILED, 1 of 2 test targets failed" in result.stderr


def test_an_earlier_runs_report_is_no_result_of_this_one(rule_runner: RuleRunner) -> None:
    # Pants keeps dist/test/reports: b's report is from a run an hour before the latest (which ran a only).
    now = time.time()
    write_report(rule_runner, A_REPORT, junit(), now)
    write_report(rule_runner, B_REPORT, junit(started=now - 3600), now - 3500)
    result = compat_report(rule_runner)
    assert result.exit_code == 1
    assert f"NO RESULT: {B} (its last report is an earlier test run's" in result.stderr
    statuses = {t["address"]: (t["status"], t["source"]) for t in written(rule_runner)["targets"]}
    assert statuses == {A: ("passed", "ran"), B: ("no result", "stale")}


def test_since_makes_an_interrupted_run_no_result(rule_runner: RuleRunner) -> None:
    now = time.time()
    write_report(rule_runner, A_REPORT, junit(), now - 100)
    write_report(rule_runner, B_REPORT, junit(), now - 100)
    result = compat_report(rule_runner, f"--compat-report-since={now - 10}")
    assert result.exit_code == 1
    assert "2 of 2 have no result of this run" in result.stderr


def test_a_cached_result_of_this_run_is_a_result(rule_runner: RuleRunner) -> None:
    now = time.time()
    write_report(rule_runner, A_REPORT, junit(started=now - 3600), now)
    write_report(rule_runner, B_REPORT, junit(started=now - 5), now)
    result = compat_report(rule_runner, f"--compat-report-since={now - 10}")
    assert result.exit_code == 0, result.stderr
    sources = {t["address"]: t["source"] for t in written(rule_runner)["targets"]}
    assert sources == {A: "cache", B: "ran"}


def test_a_missing_report_is_no_result(rule_runner: RuleRunner) -> None:
    write_report(rule_runner, A_REPORT, junit(), time.time())
    result = compat_report(rule_runner)
    assert result.exit_code == 1
    assert f"NO RESULT: {B} (no test report: run `pants test` on it first)" in result.stderr


def test_nothing_selected_is_no_tests(rule_runner: RuleRunner) -> None:
    result = rule_runner.run_goal_rule(CompatReport, global_args=["--test-report"], args=["suite/lib.py"])
    assert result.exit_code == 1
    assert "NO TESTS" in result.stderr and "no test target selected" in result.stderr


def test_without_test_reports_it_says_how_to_get_them(rule_runner: RuleRunner) -> None:
    result = rule_runner.run_goal_rule(CompatReport, args=["suite::"])
    assert result.exit_code == 1
    assert "set `[test] report = true`" in result.stderr


def test_the_report_location_is_the_subsystems(rule_runner: RuleRunner) -> None:
    write_report(rule_runner, A_REPORT, junit(), time.time())
    write_report(rule_runner, B_REPORT, junit(), time.time())
    result = rule_runner.run_goal_rule(
        CompatReport, global_args=["--test-report", "--compat-matrix-report-dir=dist/elsewhere"], args=["suite::"]
    )
    assert result.exit_code == 0, result.stderr
    assert Path(rule_runner.build_root, "dist/elsewhere/report.html").is_file()
