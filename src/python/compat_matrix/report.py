"""The matrix report outside Pants: ``python -m compat_matrix.report`` over a directory of JUnit reports.

``./pants compat-report ::`` is the way to get the report of a test run (it knows which targets
were selected and which reports are the latest run's). This CLI draws the same report from any
directory of Pants' JUnit reports (a CI system's saved artifacts, say); reading and drawing are the
pure core's (``compat_core.report_junit``, ``report_render``)::

    PYTHONPATH=src/python:src/core python3 -m compat_matrix.report [--reports dist/test/reports]
        [--out dist/compat-matrix] [--since EPOCH_SECONDS] [--pants-log FILE] [--pants-exit-code N]

It exits 1 unless the verdict is passed, as the goal does.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from compat_core.report_junit import collect, merged_junit
from compat_core.report_model import TargetResult, verdict
from compat_core.report_render import to_html, to_json


def write_report(
    reports_dir: Path,
    out_dir: Path,
    since: float | None = None,
    pants_log: str | None = None,
    pants_exit_code: int | None = None,
    root: Path | None = None,
) -> list[TargetResult]:
    results, roots = collect(reports_dir, since, pants_log, root)
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")  # noqa: UP017
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(to_html(results, generated_at, pants_exit_code), encoding="utf-8")
    (out_dir / "report.json").write_text(to_json(results, generated_at, pants_exit_code), encoding="utf-8")
    (out_dir / "report.junit.xml").write_bytes(merged_junit(roots, results, pants_exit_code))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compat-matrix report", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=Path("dist/test/reports"), help="Pants' JUnit reports")
    parser.add_argument("--out", type=Path, default=Path("dist/compat-matrix"))
    parser.add_argument("--since", type=float, help="when the test run started (epoch s): older reports are cached")
    parser.add_argument("--pants-log", type=Path, help="Pants' console output of the run (tells local from remote cache)")
    parser.add_argument("--pants-exit-code", type=int, help="Pants' exit code: the verdict is failed unless it is 0")
    parser.add_argument("--root", type=Path, default=Path("."), help="the build root (addresses from report names)")
    args = parser.parse_args(argv)
    if not args.reports.is_dir() and not args.pants_log and args.pants_exit_code is None:
        print(f"compat-matrix report: no test reports in {args.reports}; run ./pants test first "
              "([test].report = true in pants.toml writes them)", file=sys.stderr)
        return 1
    log = args.pants_log.read_text(encoding="utf-8", errors="replace") if args.pants_log else None
    results = write_report(args.reports, args.out, args.since, log, args.pants_exit_code, args.root)
    said = verdict(results, args.pants_exit_code)
    print(f"compat-matrix report: {args.out / 'report.html'}: {said.state.upper()}, {said.reason}")
    return 0 if said.ok else 1


if __name__ == "__main__":
    sys.exit(main())
