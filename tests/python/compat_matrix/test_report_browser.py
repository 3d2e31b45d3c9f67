"""The matrix report in a real browser: headless Chromium renders it, and every cell's state shows.

Chromium is Debian's package (./pants and .ci/run install it; elsewhere install it yourself).
The page itself has no script: a copy of it gets one that measures, in the rendered page, each
cell's state badge (displayed, visible, non-empty box inside the page) and writes what it found
into the DOM, which Chromium then prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from compat_core import report_model, report_render

MEASURE = """
<script>
function measure(el, badge) {
  const box = badge.getBoundingClientRect();
  const style = getComputedStyle(badge);
  return {cell: el.dataset.cell, pair: el.dataset.pair, backend: el.dataset.backend, text: badge.innerText,
          visible: box.width > 0 && box.height > 0 && style.visibility === 'visible'
                   && style.display !== 'none' && box.right <= document.documentElement.scrollWidth
                   && box.bottom <= document.documentElement.scrollHeight,
          color: style.backgroundColor};
}
const found = {
  cells: [...document.querySelectorAll('[data-cell]')].map(td => measure(td, td.querySelector('.state'))),
  targets: [...document.querySelectorAll('[data-target]')].map(li => ({
    ...measure(li, li.querySelector('.tstate, .state')), target: li.dataset.target})),
  pairs: [...document.querySelectorAll('[data-pair]')].map(a => measure(a, a)),
};
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify(found);
document.body.appendChild(out);
</script>
"""


def grid() -> list[report_model.TargetResult]:
    """Two suites; backcompat varies two roles (so it has a compatibility grid) and runs two test
    modules, of which one fails in one cell on docker."""
    results = []
    versions = {"server-latest": ("0.2.0", "branch"), "user-code-earliest": ("branch", "0.1.0"), "all-branch": ("branch", "branch")}
    for suite, cells, modules in (
        ("backcompat", ("server-latest", "user-code-earliest"), ("test_a", "test_b")),
        ("distributed", ("all-branch",), ("",)),
    ):
        for cell in cells:
            server, user_code = versions[cell]
            instances = (report_model.InstanceVersion("user-code-0", "user-code", user_code),
                         report_model.InstanceVersion("server-0", "server", server))
            for backend in ("process", "docker"):
                for module in modules:
                    status = "failed" if (cell, backend, module) == ("server-latest", "docker", "test_b") else "passed"
                    results.append(
                        report_model.TargetResult(
                            address=f"t/{suite}#{cell}-{backend}" + (f"-{module}" if module else ""), status=status,
                            tests=5, failures=int(status == "failed"), duration_s=2.5, source=report_model.RAN, suite=suite,
                            system="conveyor", cell=cell, backend=backend, instances=instances,
                            logs="=== server-0 ===\n" + "a long log line\n" * 200 if status == "failed" else "",
                        )
                    )
    results.append(report_model.TargetResult("t/unit/test_u.py:tests", "skipped", 3, 0, 0.1, report_model.CACHED))
    return results


def render_in_chromium(page: Path, tmp_path: Path) -> str:
    chromium = shutil.which("chromium")
    assert chromium, "no chromium on PATH: ./pants installs Debian's chromium for `test` (or apt-get install chromium)"
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,800", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
        # Its crash reporter's settings go under $HOME/.config, and with no HOME (as in Pants'
        # sandbox) under /tmp/.config, which then outlived the run.
        env={**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_every_cells_state_is_visible_in_chromium(tmp_path: Path) -> None:
    results = grid()
    page = report_render.to_html(results, "2026-11-29T00:00:00+00:00")
    measured_page = tmp_path / "report.html"
    measured_page.write_text(page.replace("</body>", MEASURE + "</body>"))

    dom = render_in_chromium(measured_page, tmp_path)

    match = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    found = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    cells = report_model.cells_of(results)
    # Every cell x backend shows its worst target's state: server-latest on docker is FAILED.
    assert {(f["cell"], f["backend"], f["text"]) for f in found["cells"]} == {
        (c.cell, c.backend, c.status.upper()) for c in cells
    }
    assert ("server-latest", "docker", "FAILED") in {(f["cell"], f["backend"], f["text"]) for f in found["cells"]}
    # Every target shows its own state, and the compatibility grid a badge per pair and backend.
    assert sorted((f["target"], f["text"]) for f in found["targets"]) == sorted((r.address, r.status.upper()) for r in results)
    assert sorted((f["pair"], f["backend"], f["text"]) for f in found["pairs"]) == sorted(
        (f"{dict((i.role, i.version) for i in c.instances)['user-code']} {dict((i.role, i.version) for i in c.instances)['server']}",
         c.backend, f"{c.backend} {c.status.upper()}")
        for c in cells if c.suite == "backcompat"
    )
    measured = found["cells"] + found["targets"] + found["pairs"]
    assert all(f["visible"] for f in measured), [f for f in measured if not f["visible"]]
    # Failed looks different from passed, in the grid, the cells and the targets alike.
    for kind in ("cells", "targets", "pairs"):
        colors = {f["text"].split()[-1]: f["color"] for f in found[kind]}
        assert colors["FAILED"] != colors["PASSED"], (kind, colors)
