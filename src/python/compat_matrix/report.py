"""The matrix report: one self-contained HTML page (a grid per suite, cells by backend) and JSON.

Built from the test reports Pants keeps for every test target (JUnit XML under
``dist/test/reports``, cached results included): a matrix target's report carries its cell (the
planned cell as ``compat_core.codec`` wrote it) and backend (``compat_matrix.junit_properties``),
its outcome, duration and, for a failure, the instances' logs the harness attached. Whether a
result ran now or came from a cache is read from its timestamp (a cached report keeps the time it
first ran) or, when given, from Pants' console output, which also tells a local cache from the
remote one and names targets that left no report (a crash or a timeout).

Every target is one entry: a report file and Pants' console line for the same target are matched
by Pants' path-safe form of the address (the report file's name). A cell x backend with several
targets (a suite with several test modules) shows each of them; its state is its worst target's.

Usage (the launcher runs it after every ``./pants test``, ``.ci/run`` with its Pants log)::

    PYTHONPATH=src/python:src/core python3 -m compat_matrix.report [--reports dist/test/reports]
        [--out dist/compat-matrix] [--since EPOCH_SECONDS] [--pants-log FILE] [--pants-exit-code N]

Writes ``report.html``, ``report.json`` and ``report.junit.xml`` (every target's JUnit suites in
one file). The standard library and ``compat_core`` only, so any CPython 3.9+ can run it.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from compat_core.codec import cell_from_json
from compat_core.errors import CompatMatrixError
from compat_core.versions import version_order

# The JUnit properties compat_matrix.junit_properties records (defined here: that module needs pytest).
CELL_PROPERTY = "compat-matrix.cell"
BACKEND_PROPERTY = "compat-matrix.backend"

RAN, CACHED, MEMOIZED, LOCAL_CACHE, REMOTE_CACHE = "ran", "cache", "memoized", "local cache", "remote cache"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
STATES = (FAILED, PASSED, SKIPPED)
"""Worst first: a cell's state is the worst of its targets' states."""
NO_TESTS = "no tests"
"""The verdict of a run with no test target: not a pass."""

NO_REPORT_LOGS = (
    "Pants ran this target but it left no test report (it crashed or timed out before pytest wrote "
    "one); its output is in Pants' console output above its result line."
)


@dataclass(frozen=True)
class InstanceVersion:
    """The version one instance of a cell runs (``InstancePlan.version``; ``branch`` included)."""

    name: str
    role: str
    version: str
    spec: str = ""  # as the cell declared it (``latest``, ``earliest``), when that differs
    runs: str = ""  # the release a branch instance runs, for systems with a branch release


@dataclass(frozen=True)
class TargetResult:
    """One test target's outcome, from its JUnit report and/or Pants' console line."""

    address: str
    status: str  # passed | failed | skipped
    tests: int
    failures: int
    duration_s: float
    source: str  # ran | cache | memoized | local cache | remote cache
    report: str = ""  # its JUnit report's file name ('' when Pants left none)
    suite: str | None = None  # matrix targets only, from here on
    system: str | None = None
    cell: str | None = None
    backend: str | None = None
    instances: tuple[InstanceVersion, ...] = ()  # topology order
    logs: str = ""  # a failure's output: the instances' logs the harness attached
    note: str = ""  # why the cell's data could not be read, when it could not

    @property
    def versions(self) -> tuple[tuple[str, str], ...]:
        """Each role's version(s), in topology order: ``(role, version)`` once per distinct pair."""
        seen: dict[tuple[str, str], None] = {}
        for inst in self.instances:
            seen.setdefault((inst.role, inst.version), None)
        return tuple(seen)

    def to_data(self) -> dict[str, object]:
        return {**asdict(self), "versions": [list(pair) for pair in self.versions]}


@dataclass(frozen=True)
class CellResult:
    """One cell on one backend: every target that ran it (one per test module of the suite)."""

    suite: str
    system: str
    cell: str
    backend: str
    targets: tuple[TargetResult, ...]

    @property
    def status(self) -> str:
        return worst(t.status for t in self.targets)

    @property
    def instances(self) -> tuple[InstanceVersion, ...]:
        return next((t.instances for t in self.targets if t.instances), ())

    @property
    def anchor(self) -> str:
        return f"cell-{self.suite}-{self.cell}-{self.backend}"


def worst(states: Iterable[str]) -> str:
    found = set(states)
    return next((s for s in STATES if s in found), SKIPPED)


# --- addresses -------------------------------------------------------------------------------


def report_key(address: str) -> str:
    """Pants' path-safe form of a target address: the name (without ``.xml``) of its test report.

    ``tests/python/x#cell-process`` -> ``tests.python.x@cell-process``, ``a/b:s#c`` -> ``a.b.s@c``,
    ``a/b/test_x.py:tests`` -> ``a.b.test_x.py.tests``, ``a/b/sub/test_x.py:../tests`` ->
    ``a.b.sub.test_x.py@tests``. The leading ``.`` Pants gives root-level addresses is dropped.
    """
    m = re.fullmatch(r"(?://)?([^:#@]*)(?::([^#@]*))?(?:#([^@]*))?(@.*)?", address)
    if not m:
        return address
    path, target, generated, parameters = m.groups()
    key = path.replace("/", ".")
    if target:
        parents = 0
        while target.startswith("../"):
            parents, target = parents + 1, target[3:]
        key += ("@" * parents or ".") + target
    if generated:
        key += "@" + generated.replace("/", ".")
    if parameters:
        key += "@" + parameters.replace("/", ".")
    return key.lstrip(".")


def address_from_report_name(name: str, root: Path | None = None) -> str:
    """A report file's name back to the target's address, for a report with no console line.

    The path-safe form loses ``/`` vs ``.`` and ``:`` vs ``.``: a generated target's directory is
    the longest prefix that is a directory under ``root``, when given.
    ``tests.python.x.test_a.py.tests.xml`` -> ``tests/python/x/test_a.py:tests``;
    ``tests.python.x@cell-docker.xml`` -> ``tests/python/x#cell-docker``.
    """
    stem = name.removesuffix(".xml")
    file_target = re.fullmatch(r"(.+?\.py)(?:\.([^@]+)|(@+)(.+))?", stem)
    if file_target:
        path, target, parents, parent_target = file_target.groups()
        path = path.replace(".", "/")[: -len("/py")] + ".py"
        if parents:
            return f"{path}:{'../' * len(parents)}{parent_target}"
        return f"{path}:{target}" if target else path
    base, _, generated = stem.partition("@")
    parts = base.split(".")
    split = len(parts)
    if root is not None:
        split = next((n for n in range(len(parts), 0, -1) if (root / "/".join(parts[:n])).is_dir()), len(parts))
    elif not generated and len(parts) > 1:
        split = len(parts) - 1
    path, target = "/".join(parts[:split]), ".".join(parts[split:])
    return path + (f":{target}" if target else "") + (f"#{generated}" if generated else "")


# --- reading ---------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def read_console(text: str) -> dict[str, tuple[str, str]]:
    """Pants' test summary lines -> {address: (status, source)}."""
    results = {}
    for line in _ANSI.sub("", text).splitlines():
        m = re.match(r"^([✓✕]) (\S+) (succeeded|failed)\b(.*)$", line.strip())
        if not m:
            continue
        rest = m.group(4)
        source = (
            REMOTE_CACHE if "cached remotely" in rest
            else LOCAL_CACHE if "cached locally" in rest
            else MEMOIZED if "memoized" in rest
            else RAN
        )
        results[m.group(2)] = (PASSED if m.group(3) == "succeeded" else FAILED, source)
    return results


def read_report(
    path: Path,
    since: float | None = None,
    console: tuple[str, str, str] | None = None,
    root: Path | None = None,
) -> tuple[TargetResult, ET.Element]:
    """One JUnit report file -> the target's result, and its root element (for the merged file).

    ``console``: Pants' line for the same target, ``(address, status, source)``.
    """
    root_element = ET.parse(path).getroot()
    suites = [root_element] if root_element.tag == "testsuite" else list(root_element.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    duration = sum(float(s.get("time", 0.0)) for s in suites)
    status = FAILED if failures else SKIPPED if tests and skipped == tests else PASSED
    # The report says how the target went and Pants where the result came from; when Pants says it
    # failed (a crash after the tests, a timeout), it failed.
    address, source = address_from_report_name(path.name, root), RAN
    if console is not None:
        address, console_status, source = console
        if console_status == FAILED:
            status = FAILED
    elif since is not None:
        stamps = [t for t in (_timestamp(s) for s in suites) if t is not None]
        if stamps and min(stamps) < since:
            source = CACHED
    properties = {p.get("name", ""): p.get("value", "") for s in suites for p in s.iter("property")}
    logs = "\n".join(
        (case.findtext("system-out") or "") + _failure_text(case)
        for s in suites
        for case in s.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    )
    matrix: dict[str, object] = {}
    if CELL_PROPERTY in properties:
        matrix = _cell_fields(properties[CELL_PROPERTY], properties.get(BACKEND_PROPERTY, ""), path)
    result = TargetResult(
        address=address,
        status=status,
        tests=tests,
        failures=failures,
        duration_s=round(duration, 2),
        source=source,
        report=path.name,
        logs=logs.strip(),
        **matrix,  # type: ignore[arg-type]
    )
    return result, root_element


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


def _cell_fields(cell_json: str, backend: str, path: Path) -> dict[str, object]:
    """The cell a matrix target ran, read by the codec that wrote it: every instance's version.

    A cell the codec cannot read (a report left by another checkout's format) still counts, by the
    names it carries, with a note saying why its versions are missing.
    """
    try:
        plan = cell_from_json(cell_json, source=f"the {CELL_PROPERTY} property of {path.name}")
    except CompatMatrixError as exc:
        try:
            raw = json.loads(cell_json)
        except ValueError:
            raw = {}
        names = raw if isinstance(raw, dict) else {}
        return {
            "suite": str(names.get("suite", "?")),
            "system": str(names.get("system", "?")),
            "cell": str(names.get("name", names.get("cell", path.name))),
            "backend": backend or None,
            "note": str(exc),
        }
    return {
        "suite": plan.suite,
        "system": plan.system,
        "cell": plan.name,
        "backend": backend or None,
        "instances": tuple(
            InstanceVersion(
                name=inst.name,
                role=inst.role,
                version=inst.version,
                spec=inst.declared_version if inst.declared_version not in ("", inst.version) else "",
                runs=inst.runs,
            )
            for inst in plan.instances
        ),
    }


def collect(
    reports_dir: Path, since: float | None = None, pants_log: str | None = None, root: Path | None = None
) -> tuple[list[TargetResult], list[ET.Element]]:
    """Every target once: each report file, with Pants' console line for it when given, then the
    targets Pants printed a result for that left no report."""
    console = {report_key(a): (a, status, source) for a, (status, source) in read_console(pants_log or "").items()}
    results, roots = [], []
    for path in sorted(reports_dir.glob("*.xml")) if reports_dir.is_dir() else []:
        result, element = read_report(path, since, console.pop(path.name.removesuffix(".xml").lstrip("."), None), root)
        results.append(result)
        roots.append(element)
    for address, status, source in sorted(console.values()):
        results.append(
            TargetResult(address, status, 0, int(status == FAILED), 0.0, source,
                         logs=NO_REPORT_LOGS if status == FAILED else "")
        )
    return results, roots


def cells_of(results: list[TargetResult]) -> list[CellResult]:
    """The matrix targets grouped by suite, cell and backend (suites, then cells, in name order)."""
    groups: dict[tuple[str, str, str], list[TargetResult]] = {}
    for r in results:
        if r.suite and r.cell:
            groups.setdefault((r.suite, r.cell, r.backend or "?"), []).append(r)
    return [
        CellResult(suite, targets[0].system or "?", cell, backend, tuple(sorted(targets, key=lambda t: t.address)))
        for (suite, cell, backend), targets in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], _backend_order(kv[0][2])))
    ]


def _backend_order(backend: str) -> tuple[bool, str]:
    return (backend != "process", backend)


# --- the compatibility grid (pure) -----------------------------------------------------------


def role_versions(instances: tuple[InstanceVersion, ...]) -> dict[str, str]:
    """Role -> the version its instances run (``a+b`` when they differ), in topology order."""
    by_role: dict[str, list[str]] = {}
    for inst in instances:
        versions = by_role.setdefault(inst.role, [])
        if inst.version not in versions:
            versions.append(inst.version)
    return {role: "+".join(sorted(versions, key=version_order)) for role, versions in by_role.items()}


@dataclass(frozen=True)
class CompatGrid:
    """A suite whose cells vary exactly two roles: ``down``'s versions by ``across``'s."""

    down: str
    across: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    pairs: dict[tuple[str, str], tuple[CellResult, ...]]


def compat_grid(cells: list[CellResult]) -> CompatGrid | None:
    """The grid of a suite's cells when exactly two roles vary across them (read from the cells'
    instances, topology order: the first varying role goes down), else None."""
    versions = {(c.cell, c.backend): role_versions(c.instances) for c in cells if c.instances}
    if not versions:
        return None
    roles: list[str] = []
    for assigned in versions.values():
        roles += [role for role in assigned if role not in roles]
    varying = [role for role in roles if len({v.get(role, "") for v in versions.values()}) > 1]
    if len(varying) != 2:
        return None
    down, across = varying
    pairs: dict[tuple[str, str], list[CellResult]] = {}
    for c in cells:
        if (c.cell, c.backend) in versions:
            assigned = versions[(c.cell, c.backend)]
            pairs.setdefault((assigned.get(down, ""), assigned.get(across, "")), []).append(c)
    return CompatGrid(
        down=down,
        across=across,
        rows=tuple(sorted({d for d, _ in pairs}, key=version_order)),
        columns=tuple(sorted({a for _, a in pairs}, key=version_order)),
        pairs={pair: tuple(found) for pair, found in pairs.items()},
    )


# --- the verdict (pure) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    state: str  # passed | failed | no tests
    reason: str


def verdict(results: list[TargetResult], pants_exit_code: int | None = None) -> Verdict:
    """Failed when a target failed or Pants did not exit 0; no tests when nothing ran."""
    failed = [r for r in results if r.status == FAILED]
    exited = f"; Pants exited {pants_exit_code}" if pants_exit_code is not None else ""
    if failed:
        return Verdict(FAILED, f"{len(failed)} of {len(results)} test targets failed{exited}")
    if pants_exit_code and not results:
        return Verdict(FAILED, f"Pants exited {pants_exit_code} before any test reported (interrupted, or the build "
                               f"failed): see Pants' output")
    if pants_exit_code:
        return Verdict(
            FAILED,
            f"Pants exited {pants_exit_code} (interrupted, or a target left no test report, or the build failed); "
            f"none of the {len(results)} test reports shows a failure: see Pants' output",
        )
    if not results:
        return Verdict(NO_TESTS, "no test target reported a result")
    return Verdict(PASSED, f"all {len(results)} test targets passed or were skipped{exited}")


def summary(results: list[TargetResult], cells: list[CellResult]) -> dict[str, int]:
    counts = {status: sum(1 for r in results if r.status == status) for status in (PASSED, FAILED, SKIPPED)}
    return {
        **counts,
        "targets": len(results),
        "matrix_targets": sum(len(c.targets) for c in cells),
        "matrix_cells": len(cells),
    }


# --- rendering (pure) ------------------------------------------------------------------------


def to_json(results: list[TargetResult], generated_at: str, pants_exit_code: int | None = None) -> str:
    cells = cells_of(results)
    said = verdict(results, pants_exit_code)
    return json.dumps(
        {
            "generated_at": generated_at,
            "verdict": said.state,
            "reason": said.reason,
            "pants_exit_code": pants_exit_code,
            "summary": summary(results, cells),
            "cells": [
                {
                    "suite": c.suite,
                    "system": c.system,
                    "cell": c.cell,
                    "backend": c.backend,
                    "status": c.status,
                    "instances": [asdict(i) for i in c.instances],
                    "targets": [t.address for t in c.targets],
                }
                for c in cells
            ],
            "targets": [r.to_data() for r in results],
        },
        indent=2,
    )


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:#57606a;margin-bottom:16px}
.verdict{font-size:16px;margin:8px 0}
table{border-collapse:collapse;margin-bottom:8px}
th,td{border:1px solid #d0d7de;padding:6px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa}
.cell{min-width:220px}
.state,.tstate,.badge{display:inline-block;font-weight:700;padding:1px 8px;border-radius:10px;color:#fff;background:#6e7781}
.badge{text-decoration:none;margin:2px 4px 2px 0;font-size:12px}
.passed>.state,.passed>.tstate,.badge.passed{background:#1a7f37}
.failed>.state,.failed>.tstate,.badge.failed{background:#cf222e}
.skipped>.state,.skipped>.tstate,.badge.skipped{background:#6e7781}
.no-tests>.state{background:#9a6700}
.missing{color:#8c959f}
.targets{list-style:none;margin:6px 0 0;padding:0}
.targets li{margin:4px 0}.tstate{font-size:11px;padding:0 6px}
code{font-size:12px}
.versions{font-family:ui-monospace,monospace;font-size:12px;margin-top:4px;font-weight:400}
.facts{color:#57606a;font-size:12px;font-weight:400}
pre{max-height:360px;overflow:auto;background:#f6f8fa;padding:8px;font-size:12px;white-space:pre-wrap}
"""


def to_html(results: list[TargetResult], generated_at: str, pants_exit_code: int | None = None) -> str:
    """The report page: self-contained (inline CSS, no script, no external resource)."""
    e = html.escape
    cells = cells_of(results)
    others = [r for r in results if not (r.cell and r.suite)]
    counts = summary(results, cells)
    said = verdict(results, pants_exit_code)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>compat-matrix report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>compat-matrix report</h1>",
        f"<div class='verdict {e(said.state.replace(' ', '-'))}' data-verdict='{e(said.state)}'>"
        f"<span class='state'>{e(said.state.upper())}</span> {e(said.reason)}</div>",
        f"<div class='meta'>{counts['targets']} test targets: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped; {counts['matrix_targets']} of them in {counts['matrix_cells']} matrix cells "
        f"(cell x backend); generated {e(generated_at)}</div>",
    ]
    for suite in sorted({c.suite for c in cells}):
        rows = [c for c in cells if c.suite == suite]
        backends = sorted({c.backend for c in rows}, key=_backend_order)
        parts.append(f"<h2 id='suite-{e(suite)}'>suite {e(suite)} <span class='facts'>(system {e(rows[0].system)})</span></h2>")
        grid = compat_grid(rows)
        if grid is not None:
            parts.append(_grid_html(suite, grid))
        parts.append("<table><tr><th>cell</th>" + "".join(f"<th>{e(b)}</th>" for b in backends) + "</tr>")
        for cell in sorted({c.cell for c in rows}):
            of_cell = [c for c in rows if c.cell == cell]
            parts.append(f"<tr><th>{e(cell)}<div class='versions'>{e(_versions_text(of_cell[0].instances))}</div></th>")
            for backend in backends:
                hit = [c for c in of_cell if c.backend == backend]
                parts.append(_cell_html(hit[0]) if hit else "<td class='cell missing'>not run</td>")
            parts.append("</tr>")
        parts.append("</table>")
    if others:
        parts.append("<h2>other test targets</h2><table><tr><th>target</th><th>state</th><th>tests</th>"
                     "<th>duration</th><th>source</th></tr>")
        for r in others:
            parts.append(
                f"<tr class='{e(r.status)}' data-target='{e(r.address)}' data-state='{e(r.status)}'><td>{e(r.address)}</td>"
                f"<td class='{e(r.status)}'><span class='state'>{e(r.status.upper())}</span></td><td>{r.tests}</td>"
                f"<td>{r.duration_s:.2f} s</td><td>{e(r.source)}</td></tr>"
            )
            if r.status == FAILED and r.logs:
                parts.append(f"<tr><td colspan='5'><pre>{e(r.logs)}</pre></td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _versions_text(instances: tuple[InstanceVersion, ...]) -> str:
    """``server-0=branch user-code-0=0.1.0 (earliest)``: every instance's version."""
    words = []
    for inst in instances:
        notes = ", ".join(n for n in (inst.spec, f"runs {inst.runs}" if inst.runs else "") if n)
        words.append(f"{inst.name}={inst.version}" + (f" ({notes})" if notes else ""))
    return "  ".join(words)


def _grid_html(suite: str, grid: CompatGrid) -> str:
    e = html.escape
    parts = [
        f"<h3>compatibility: {e(grid.down)} (down) x {e(grid.across)} (across)</h3>",
        f"<table class='compat' data-suite='{e(suite)}'><tr><th>{e(grid.down)} \\ {e(grid.across)}</th>",
        *(f"<th>{e(column)}</th>" for column in grid.columns),
        "</tr>",
    ]
    for row in grid.rows:
        parts.append(f"<tr><th>{e(row)}</th>")
        for column in grid.columns:
            found = grid.pairs.get((row, column), ())
            if not found:
                parts.append("<td class='missing'>not run</td>")
                continue
            badges = "".join(
                f"<a class='badge {e(c.status)}' href='#{e(c.anchor)}' data-pair='{e(row)} {e(column)}' "
                f"data-backend='{e(c.backend)}' data-state='{e(c.status)}' title='{e(c.cell)} on {e(c.backend)}'>"
                f"{e(c.backend)} {e(c.status.upper())}</a>"
                for c in sorted(found, key=lambda c: (_backend_order(c.backend), c.cell))
            )
            parts.append(f"<td class='pair'>{badges}</td>")
        parts.append("</tr>")
    parts.append("</table>")
    return "".join(parts)


def _cell_html(c: CellResult) -> str:
    e = html.escape
    items = []
    for t in c.targets:
        logs = (
            f"<details open><summary>logs of {e(t.address)}</summary><pre>{e(t.logs)}</pre></details>"
            if t.status == FAILED and t.logs
            else ""
        )
        items.append(
            f"<li class='target {e(t.status)}' data-target='{e(t.address)}' data-state='{e(t.status)}'>"
            f"<span class='tstate'>{e(t.status.upper())}</span> <code>{e(t.address)}</code>"
            f"<div class='facts'>{t.duration_s:.2f} s · {e(t.source)} · {t.tests} tests</div>"
            f"{f'<div class=facts>{e(t.note)}</div>' if t.note else ''}{logs}</li>"
        )
    return (
        f"<td class='cell {e(c.status)}' id='{e(c.anchor)}' data-cell='{e(c.cell)}' data-backend='{e(c.backend)}' "
        f"data-state='{e(c.status)}'><span class='state'>{e(c.status.upper())}</span>"
        f" <span class='facts'>{len(c.targets)} target{'s' if len(c.targets) != 1 else ''}</span>"
        f"<ul class='targets'>{''.join(items)}</ul></td>"
    )


def merged_junit(roots: list[ET.Element], results: list[TargetResult], pants_exit_code: int | None = None) -> bytes:
    """Every target's JUnit suites in one file, and a failed suite for each failure no report holds:
    a target that left no report, and a run Pants failed while no report shows a failure (a CI
    system reading only this file must see red where the report does)."""
    merged = ET.Element("testsuites", name="compat-matrix")
    for root in roots:
        merged.extend([root] if root.tag == "testsuite" else list(root.iter("testsuite")))
    missing = [(r.address, r.logs or NO_REPORT_LOGS) for r in results if r.status == FAILED and not r.report]
    said = verdict(results, pants_exit_code)
    if said.state == FAILED and not any(r.status == FAILED for r in results):
        missing.append(("pants", said.reason))
    for name, message in missing:
        suite = ET.SubElement(merged, "testsuite", name=name, tests="1", failures="1", errors="0", skipped="0")
        case = ET.SubElement(suite, "testcase", classname=name, name="compat-matrix verdict")
        ET.SubElement(case, "failure", message=message).text = message
    return ET.tostring(merged, encoding="utf-8", xml_declaration=True)


# --- edge ------------------------------------------------------------------------------------


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
    parser = argparse.ArgumentParser(prog="compat-matrix report", description=__doc__.split("\n\n")[0])
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
