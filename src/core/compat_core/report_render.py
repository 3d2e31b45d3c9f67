"""The matrix report drawn: one self-contained HTML page (a grid per suite, cells by backend) and JSON.

Pure: it draws the results ``report_junit`` read, with the verdict of ``report_model``.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict

from compat_core.report_model import (
    FAILED,
    CellResult,
    CompatGrid,
    InstanceVersion,
    TargetResult,
    backend_order,
    cells_of,
    compat_grid,
    summary,
    verdict,
)


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
.no-tests>.state,.no-result>.state,.no-result>.tstate,.badge.no-result{background:#9a6700}
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
        f"{counts['skipped']} skipped, {counts['no_result']} without a result of this run; {counts['matrix_targets']} of them in {counts['matrix_cells']} matrix cells "
        f"(cell x backend); generated {e(generated_at)}</div>",
    ]
    for suite in sorted({c.suite for c in cells}):
        rows = [c for c in cells if c.suite == suite]
        backends = sorted({c.backend for c in rows}, key=backend_order)
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
                f"<tr class='{_cls(r.status)}' data-target='{e(r.address)}' data-state='{e(r.status)}'><td>{e(r.address)}</td>"
                f"<td class='{_cls(r.status)}'><span class='state'>{e(r.status.upper())}</span></td><td>{r.tests}</td>"
                f"<td>{r.duration_s:.2f} s</td><td>{e(r.source)}{f' ({e(r.note)})' if r.note else ''}</td></tr>"
            )
            if r.status == FAILED and r.logs:
                parts.append(f"<tr><td colspan='5'><pre>{e(r.logs)}</pre></td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _cls(state: str) -> str:
    """A state as a CSS class (``no result`` -> ``no-result``)."""
    return html.escape(state.replace(" ", "-"))


def _versions_text(instances: tuple[InstanceVersion, ...]) -> str:
    """``server-0=branch user-code-0=0.1.0 (earliest)``: every instance's version."""
    words = []
    for inst in instances:
        notes = ", ".join(n for n in (inst.declared_version, f"runs {inst.runs}" if inst.runs else "") if n)
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
                f"<a class='badge {_cls(c.status)}' href='#{e(c.anchor)}' data-pair='{e(row)} {e(column)}' "
                f"data-backend='{e(c.backend)}' data-state='{e(c.status)}' title='{e(c.cell)} on {e(c.backend)}'>"
                f"{e(c.backend)} {e(c.status.upper())}</a>"
                for c in sorted(found, key=lambda c: (backend_order(c.backend), c.cell))
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
            f"<li class='target {_cls(t.status)}' data-target='{e(t.address)}' data-state='{e(t.status)}'>"
            f"<span class='tstate'>{e(t.status.upper())}</span> <code>{e(t.address)}</code>"
            f"<div class='facts'>{t.duration_s:.2f} s · {e(t.source)} · {t.tests} tests</div>"
            f"{f'<div class=facts>{e(t.note)}</div>' if t.note else ''}{logs}</li>"
        )
    return (
        f"<td class='cell {_cls(c.status)}' id='{e(c.anchor)}' data-cell='{e(c.cell)}' data-backend='{e(c.backend)}' "
        f"data-state='{e(c.status)}'><span class='state'>{e(c.status.upper())}</span>"
        f" <span class='facts'>{len(c.targets)} target{'s' if len(c.targets) != 1 else ''}</span>"
        f"<ul class='targets'>{''.join(items)}</ul></td>"
    )
