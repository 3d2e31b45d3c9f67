"""``pants compat-report ::``: the matrix report of the selected test targets, from their JUnit reports.

Run after ``pants test`` (whatever its exit code) with the same specs, tags and shard. It reads the report
file Pants wrote for each selected test target (``[test].report = true``), keeps only the latest
test run's (``compat_core.report_runs``), writes report.html, report.json and report.junit.xml to
``[compat-matrix].report_dir``, prints the verdict, and exits non-zero when a selected target failed
or has no result of the latest run, or nothing is selected. Reading and drawing are the pure core's
(``compat_core.report_*``); this rule only finds the files and writes the result.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from pants.base.build_root import BuildRoot
from pants.core.goals.test import TestFieldSet, TestSubsystem
from pants.core.util_rules.distdir import DistDir
from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, collect_rules, goal_rule
from pants.engine.target import (
    NoApplicableTargetsBehavior,
    TargetRootsToFieldSets,
    TargetRootsToFieldSetsRequest,
    parse_shard_spec,
)
from pants.option.option_types import FloatOption, StrOption

from compat_core.report_junit import merged_junit, read_console, read_report
from compat_core.report_model import FAILED, NO_RESULT, PASSED, STALE, TargetResult, verdict
from compat_core.report_render import to_html, to_json
from compat_core.report_runs import Run, latest_run
from compat_core.settings import Settings


class CompatReportSubsystem(GoalSubsystem):
    name = "compat-report"
    help = (
        "Write the matrix report (HTML, JSON, merged JUnit) of the selected test targets from the latest "
        "`test` run's reports, print the verdict, and fail when a selected target failed or has no result."
    )

    since = FloatOption(
        default=None,
        help=(
            "When the test run started (epoch seconds, e.g. `date +%s` before `pants test`): reports written "
            "before it are an earlier run's. Without it, the reports written last, together, are the run's."
        ),
    )
    pants_log = StrOption(
        default=None,
        help="Pants' console output of the test run: tells a local cache hit from a remote one.",
    )


class CompatReport(Goal):
    subsystem_cls = CompatReportSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


def _written(reports_dir: Path) -> dict[str, float]:
    return {path.name: path.stat().st_mtime for path in reports_dir.glob("*.xml")} if reports_dir.is_dir() else {}


def _at(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")  # noqa: UP017 (CPython 3.9)


def results_of(
    addresses: list[str], report_names: list[str], reports_dir: Path, run: Run, written: dict[str, float], log: str
) -> tuple[list[TargetResult], list]:
    """Each selected target's result: its report of the latest run, else no result (saying why)."""
    console = read_console(log)
    results, roots = [], []
    for address, name in zip(addresses, report_names):
        line = console.get(address)
        if run.of_this_run(name):
            result, root = read_report(
                reports_dir / name, run.started_by, (address, *line) if line else None, address=address
            )
            results.append(result)
            roots.append(root)
            continue
        if name in written:
            why, source = f"its last report is an earlier test run's (written {_at(written[name])})", STALE
        else:
            why, source = "no test report: run `pants test` on it first", STALE
        if line and line[0] == FAILED:
            why = "Pants says it failed, and it left no test report (it crashed or timed out)"
        results.append(TargetResult(address, NO_RESULT, 0, 0, 0.0, source, note=why))
    return results, roots


@goal_rule
async def compat_report(
    console: Console,
    subsystem: CompatReportSubsystem,
    settings: Settings,
    test: TestSubsystem,
    distdir: DistDir,
    build_root: BuildRoot,
    workspace: Workspace,
) -> CompatReport:
    if not test.report:
        console.print_stderr("compat-report: needs Pants' test reports: set `[test] report = true` in pants.toml.")
        return CompatReport(exit_code=1)
    # The test targets `test` runs for the same specs, tags and [test].shard.
    shard, num_shards = parse_shard_spec(test.shard, "the [test].shard option")
    selected = await Get(
        TargetRootsToFieldSets,
        TargetRootsToFieldSetsRequest(
            TestFieldSet,
            goal_description=f"The `{CompatReportSubsystem.name}` goal",
            no_applicable_targets_behavior=NoApplicableTargetsBehavior.ignore,
            shard=shard,
            num_shards=num_shards,
        ),
    )
    tests = sorted(selected.targets, key=lambda t: t.address.spec)
    reports_dir = Path(build_root.path, test.report_dir(distdir))
    written = _written(reports_dir)
    run = latest_run(written, subsystem.since)
    log = ""
    if subsystem.pants_log:
        log = Path(subsystem.pants_log).read_text(encoding="utf-8", errors="replace")
    results, roots = results_of(
        [t.address.spec for t in tests], [f"{t.address.path_safe_spec}.xml" for t in tests], reports_dir, run, written, log
    )
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")  # noqa: UP017 (CPython 3.9)
    out_dir = settings.report_dir
    digest = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("report.html", to_html(results, generated_at).encode()),
                FileContent("report.json", to_json(results, generated_at).encode()),
                FileContent("report.junit.xml", merged_junit(roots, results)),
            ]
        ),
    )
    workspace.write_digest(digest, path_prefix=str(out_dir))
    said = verdict(results)
    for r in results:
        if r.status not in (PASSED, "skipped"):
            console.print_stderr(f"  {r.status.upper()}: {r.address}" + (f" ({r.note})" if r.note else ""))
    run_said = f"test reports of the run written {_at(run.written_at)}" if tests else "no test target selected"
    console.print_stderr(
        f"compat-matrix report: {os.path.join(str(out_dir), 'report.html')}: {said.state.upper()}, {said.reason} "
        f"({run_said})"
    )
    return CompatReport(exit_code=0 if said.ok else 1)


def rules():
    return collect_rules()
