"""`.ci/run`'s own logic, with stand-ins for the machine steps and for Pants.

Regression: a CI run that tested nothing (every target filtered away) passed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher.fakes import ci_checkout as checkout
from launcher.fakes import ci_run


def test_a_run_of_zero_tests_fails(tmp_path: Path) -> None:
    out = ci_run(checkout(tmp_path, "No targets were matched.\n"))
    assert out.returncode == 1
    assert "zero test targets ran" in out.stdout


def test_a_run_with_tests_passes_and_writes_the_report(tmp_path: Path) -> None:
    root = checkout(tmp_path, "✓ a/b.py:tests succeeded in 1.0s (cached remotely).\n✓ a/c.py:tests succeeded in 2.0s.\n")
    out = ci_run(root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "=== test: 2 test targets, 1 of them from a cache" in out.stdout
    assert (root / "dist/compat-matrix/report.html").exists()


def test_a_failed_lint_beside_the_tests_fails_the_run_after_the_report(tmp_path: Path) -> None:
    root = checkout(tmp_path, "✓ a/b.py:tests succeeded in 1.0s.\n", lint_exit_code=3)
    out = ci_run(root)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "=== lint and type-check: FAILED (exit 3)" in out.stdout
    assert "lint output" in out.stdout
    assert (root / "dist/compat-matrix/report.html").exists()
    assert "=== test: 1 test targets" not in out.stdout


def test_the_runs_pants_sandboxes_go_with_it(tmp_path: Path) -> None:
    root = checkout(tmp_path, "✓ a/b.py:tests succeeded in 1.0s.\n")
    (root / "pants").write_text(
        '#!/bin/sh\necho "$PANTS_LOCAL_EXECUTION_ROOT_DIR" >> sandbox-roots; [ -z "$PANTS_LOCAL_EXECUTION_ROOT_DIR" ] || touch "$PANTS_LOCAL_EXECUTION_ROOT_DIR/x"; '
        'stat -c %a "$PANTS_LOCAL_EXECUTION_ROOT_DIR" | sort -u > sandbox-modes\n'
        + (root / "pants").read_text().removeprefix("#!/bin/sh\n")
    )
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = ci_run(root, TMPDIR=str(tmp))
    assert out.returncode == 0, out.stdout + out.stderr
    roots = set((root / "sandbox-roots").read_text().split())
    assert len(roots) == 1 and next(iter(roots)).startswith(f"{tmp}/compat-matrix-ci."), roots
    # Searchable by others, as Pants' own: the docker backend mounts branch sources from sandboxes.
    assert (root / "sandbox-modes").read_text().split() == ["755"]
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("shard", ["2/2", "1", "a/b", "0/0"])
def test_a_bad_shard_is_an_error_before_anything_runs(tmp_path: Path, shard: str) -> None:
    out = ci_run(checkout(tmp_path, ""), COMPAT_MATRIX_SHARD=shard)
    assert out.returncode == 2
    assert f"COMPAT_MATRIX_SHARD={shard} is not k/N" in out.stderr
    assert "=== bootstrap" not in out.stdout


PASSED_REPORT = (
    '<testsuites><testsuite name="pytest" tests="2" failures="0" errors="0" skipped="0" time="1.5">'
    '<testcase classname="x" name="test_a" /><testcase classname="x" name="test_b" /></testsuite></testsuites>'
)


def test_a_failed_run_is_reported_once_per_target_and_failed(tmp_path: Path) -> None:
    # Regression: the report counted a target once from its report file and once more from Pants'
    # line (72 targets, 2 failed -> 107 and 3). A target that left no report is a failed entry.
    root = checkout(
        tmp_path,
        "✓ tests/python/integration/backcompat#user-code-earliest-process succeeded in 36.01s.\n"
        "✕ tests/python/integration/backcompat#server-latest-docker failed in 900.00s.\n",
        exit_code=1,
        reports={"tests.python.integration.backcompat@user-code-earliest-process.xml": PASSED_REPORT},
    )
    out = ci_run(root)
    assert out.returncode == 1, out.stdout + out.stderr
    data = json.loads((root / "dist/compat-matrix/report.json").read_text())
    assert sorted((t["address"], t["status"]) for t in data["targets"]) == [
        ("tests/python/integration/backcompat#server-latest-docker", "failed"),
        ("tests/python/integration/backcompat#user-code-earliest-process", "passed"),
    ]
    assert (data["verdict"], data["summary"]["targets"], data["summary"]["failed"]) == ("failed", 2, 1)
