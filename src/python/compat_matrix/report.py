"""The matrix report: one self-contained HTML page (a grid per suite, cells by backend) and JSON.

Built from the test reports Pants keeps for every test target (JUnit XML under
``dist/test/reports``, cached results included): a matrix target's report carries its cell and
backend (``compat_matrix.junit_properties``), its outcome, duration and, for a failure, the
instances' logs the harness attached. Whether a result ran now or came from a cache is read from
its timestamp (a cached report keeps the time it first ran) or, when given, from Pants' console
output, which also tells a local cache from the remote one.

Usage (the launcher runs it after every ``./pants test``, ``.ci/run`` with its Pants log)::

    python3 -m compat_matrix.report [--reports dist/test/reports] [--out dist/compat-matrix]
                                    [--since EPOCH_SECONDS] [--pants-log FILE]

Writes ``report.html``, ``report.json`` and ``report.junit.xml`` (every target's JUnit suites in
one file). Standard library only, so any CPython 3.9+ can run it.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

# The JUnit properties compat_matrix.junit_properties records (defined here: this module is stdlib-only).
CELL_PROPERTY = "compat-matrix.cell"
BACKEND_PROPERTY = "compat-matrix.backend"

RAN, CACHED, LOCAL_CACHE, REMOTE_CACHE = "ran", "cache", "local cache", "remote cache"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class TargetResult:
    """One test target's outcome, from its JUnit report (and Pants' console line, if any)."""

    address: str
    status: str  # passed | failed | skipped
    tests: int
    failures: int
    duration_s: float
    source: str  # ran | cache | local cache | remote cache
    suite: str | None = None  # matrix targets only, from here on
    system: str | None = None
    cell: str | None = None
    backend: str | None = None
    versions: tuple[tuple[str, str], ...] = ()  # every role's version, topology order
    logs: str = ""  # a failure's output: the instances' logs the harness attached


# --- reading ---------------------------------------------------------------------------------


def address_from_report_name(name: str) -> str:
    """Pants' report file name back to the target address.

    ``tests.python.x.test_a.py.cell-docker.xml`` -> ``tests/python/x/test_a.py:cell-docker``;
    ``tests.python.x.test_a.py.tests.xml`` -> ``tests/python/x/test_a.py:tests``.
    """
    stem = name.removesuffix(".xml")
    path, sep, target = stem.rpartition(".py.")
    if not sep:
        return stem
    return path.replace(".", "/") + ".py:" + target


def read_console(text: str) -> dict[str, tuple[str, str]]:
    """Pants' test summary lines -> {address: (status, source)}."""
    results = {}
    for line in text.splitlines():
        m = re.match(r"^([✓✕]) (\S+) (succeeded|failed)\b(.*)$", line.strip())
        if not m:
            continue
        rest = m.group(4)
        source = REMOTE_CACHE if "cached remotely" in rest else LOCAL_CACHE if "cached locally" in rest else RAN
        results[m.group(2)] = (PASSED if m.group(3) == "succeeded" else FAILED, source)
    return results


def read_report(
    path: Path, since: float | None = None, console: dict[str, tuple[str, str]] | None = None
) -> tuple[TargetResult, ET.Element]:
    """One JUnit report file -> the target's result, and its root element (for the merged file)."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    duration = sum(float(s.get("time", 0.0)) for s in suites)
    address = address_from_report_name(path.name)
    status = FAILED if failures else SKIPPED if tests and skipped == tests else PASSED
    # The report says how the target went; Pants' console line, when given, where the result came from.
    source = RAN
    if console and address in console:
        source = console[address][1]
    elif since is not None:
        stamps = [t for t in (_timestamp(s) for s in suites) if t is not None]
        if stamps and min(stamps) < since:
            source = CACHED
    properties = {
        p.get("name", ""): p.get("value", "") for s in suites for p in s.iter("property")
    }
    logs = "\n".join(
        (case.findtext("system-out") or "") + _failure_text(case)
        for s in suites
        for case in s.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    )
    matrix: dict[str, object] = {}
    if CELL_PROPERTY in properties:
        matrix = _cell_fields(properties[CELL_PROPERTY], properties.get(BACKEND_PROPERTY, ""))
    result = TargetResult(
        address=address,
        status=status,
        tests=tests,
        failures=failures,
        duration_s=round(duration, 2),
        source=source,
        logs=logs.strip(),
        **matrix,  # type: ignore[arg-type]
    )
    return result, root


def _timestamp(suite: ET.Element) -> float | None:
    text = suite.get("timestamp")
    if not text:
        return None
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)  # noqa: UP017 (any python3 runs this, 3.9 included)
    return stamp.timestamp()


def _failure_text(case: ET.Element) -> str:
    node = case.find("failure")
    if node is None:
        node = case.find("error")
    return "" if node is None else "\n" + (node.get("message") or "") + "\n" + (node.text or "")


def _cell_fields(cell_json: str, backend: str) -> dict[str, object]:
    """The cell's data as COMPAT_MATRIX_CELL gives it: every role's version, branch included."""
    cell = json.loads(cell_json)
    off_branch = {role: version for role, version in cell.get("versions", [])}
    return {
        "suite": cell.get("suite"),
        "system": cell.get("system"),
        "cell": cell.get("cell"),
        "backend": backend or None,
        "versions": tuple((role, off_branch.get(role, "branch")) for role, _count in cell.get("topology", [])),
    }


def collect(
    reports_dir: Path, since: float | None = None, pants_log: str | None = None
) -> tuple[list[TargetResult], list[ET.Element]]:
    console = read_console(pants_log) if pants_log else None
    results, roots = [], []
    for path in sorted(reports_dir.glob("*.xml")):
        result, root = read_report(path, since, console)
        results.append(result)
        roots.append(root)
    if console:
        # A target Pants ran whose report is missing (it crashed or timed out before writing one).
        seen = {r.address for r in results}
        for address, (status, source) in sorted(console.items()):
            if address not in seen:
                results.append(TargetResult(address, status, 0, 1 if status == FAILED else 0, 0.0, source))
    return results, roots


# --- rendering (pure) ------------------------------------------------------------------------


def to_json(results: list[TargetResult], generated_at: str) -> str:
    matrix = [r for r in results if r.cell]
    summary = {status: sum(1 for r in results if r.status == status) for status in (PASSED, FAILED, SKIPPED)}
    return json.dumps(
        {
            "generated_at": generated_at,
            "summary": {**summary, "targets": len(results), "matrix_cells": len(matrix)},
            "targets": [asdict(r) for r in results],
        },
        indent=2,
    )


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#57606a;margin-bottom:16px}
table{border-collapse:collapse;margin-bottom:8px}
th,td{border:1px solid #d0d7de;padding:6px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa}
.cell{min-width:220px}
.state{display:inline-block;font-weight:700;padding:1px 8px;border-radius:10px;color:#fff}
.passed .state{background:#1a7f37}.failed .state{background:#cf222e}.skipped .state{background:#6e7781}
.missing{color:#8c959f}
.versions{font-family:ui-monospace,monospace;font-size:12px;margin-top:4px}
.facts{color:#57606a;font-size:12px}
pre{max-height:360px;overflow:auto;background:#f6f8fa;padding:8px;font-size:12px;white-space:pre-wrap}
"""


def to_html(results: list[TargetResult], generated_at: str) -> str:
    """The report page: self-contained (inline CSS, no script, no external resource)."""
    e = html.escape
    matrix = [r for r in results if r.cell and r.suite]
    others = [r for r in results if not (r.cell and r.suite)]
    failed = sum(1 for r in results if r.status == FAILED)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>compat-matrix report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>compat-matrix report</h1>",
        f"<div class='meta'>{len(results)} test targets, {len(matrix)} matrix cells, {failed} failed; "
        f"generated {e(generated_at)}</div>",
    ]
    for suite in sorted({r.suite for r in matrix if r.suite}):
        rows = [r for r in matrix if r.suite == suite]
        backends = sorted({r.backend or "?" for r in rows}, key=lambda b: (b != "process", b))
        system = rows[0].system or "?"
        parts.append(f"<h2>suite {e(suite)} <span class='facts'>(system {e(system)})</span></h2>")
        parts.append("<table><tr><th>cell</th>" + "".join(f"<th>{e(b)}</th>" for b in backends) + "</tr>")
        for cell in sorted({r.cell for r in rows if r.cell}):
            parts.append(f"<tr><th>{e(cell)}</th>")
            for backend in backends:
                hit = [r for r in rows if r.cell == cell and (r.backend or "?") == backend]
                parts.append(_cell_html(hit[0]) if hit else "<td class='cell missing'>not run</td>")
            parts.append("</tr>")
        parts.append("</table>")
    if others:
        parts.append("<h2>other test targets</h2><table><tr><th>target</th><th>state</th><th>tests</th>"
                     "<th>duration</th><th>source</th></tr>")
        for r in others:
            parts.append(
                f"<tr class='{e(r.status)}' data-target='{e(r.address)}'><td>{e(r.address)}</td>"
                f"<td><span class='state'>{e(r.status.upper())}</span></td><td>{r.tests}</td>"
                f"<td>{r.duration_s:.2f} s</td><td>{e(r.source)}</td></tr>"
            )
            if r.status == FAILED and r.logs:
                parts.append(f"<tr><td colspan='5'><pre>{e(r.logs)}</pre></td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _cell_html(r: TargetResult) -> str:
    e = html.escape
    versions = " ".join(f"{role}={version}" for role, version in r.versions)
    logs = (
        f"<details open><summary>instances' logs</summary><pre>{e(r.logs)}</pre></details>"
        if r.status == FAILED and r.logs
        else ""
    )
    return (
        f"<td class='cell {e(r.status)}' data-cell='{e(r.cell or '')}' data-backend='{e(r.backend or '')}' "
        f"data-state='{e(r.status)}'><span class='state'>{e(r.status.upper())}</span>"
        f"<div class='versions'>{e(versions)}</div>"
        f"<div class='facts'>{r.duration_s:.2f} s · {e(r.source)} · {r.tests} tests</div>{logs}</td>"
    )


def merged_junit(roots: list[ET.Element]) -> bytes:
    merged = ET.Element("testsuites", name="compat-matrix")
    for root in roots:
        merged.extend([root] if root.tag == "testsuite" else list(root.iter("testsuite")))
    return ET.tostring(merged, encoding="utf-8", xml_declaration=True)


# --- edge ------------------------------------------------------------------------------------


def write_report(
    reports_dir: Path, out_dir: Path, since: float | None = None, pants_log: str | None = None
) -> list[TargetResult]:
    results, roots = collect(reports_dir, since, pants_log)
    generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")  # noqa: UP017
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(to_html(results, generated_at), encoding="utf-8")
    (out_dir / "report.json").write_text(to_json(results, generated_at), encoding="utf-8")
    (out_dir / "report.junit.xml").write_bytes(merged_junit(roots))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compat-matrix report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=Path("dist/test/reports"), help="Pants' JUnit reports")
    parser.add_argument("--out", type=Path, default=Path("dist/compat-matrix"))
    parser.add_argument("--since", type=float, help="when the test run started (epoch s): older reports are cached")
    parser.add_argument("--pants-log", type=Path, help="Pants' console output of the run (tells local from remote cache)")
    args = parser.parse_args(argv)
    if not args.reports.is_dir() and not args.pants_log:  # with Pants' log, its lines alone make a report
        print(f"compat-matrix report: no test reports in {args.reports}; run ./pants test first "
              "([test].report = true in pants.toml writes them)", file=sys.stderr)
        return 1
    log = args.pants_log.read_text(encoding="utf-8", errors="replace") if args.pants_log else None
    results = write_report(args.reports, args.out, args.since, log)
    cells = sum(1 for r in results if r.cell)
    print(f"compat-matrix report: {args.out / 'report.html'} ({len(results)} targets, {cells} matrix cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
