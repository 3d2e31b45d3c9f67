"""The matrix report in a real browser: headless Chromium renders it, and every cell's state shows.

Chromium is Debian's package (./pants and .ci/run install it; elsewhere install it yourself).
The page itself has no script: a copy of it gets one that measures, in the rendered page, each
cell's state badge (displayed, visible, non-empty box inside the page) and writes what it found
into the DOM, which Chromium then prints.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from compat_matrix import report

MEASURE = """
<script>
const found = [...document.querySelectorAll('[data-cell]')].map(td => {
  const badge = td.querySelector('.state');
  const box = badge.getBoundingClientRect();
  const style = getComputedStyle(badge);
  return {cell: td.dataset.cell, backend: td.dataset.backend, text: badge.innerText,
          visible: box.width > 0 && box.height > 0 && style.visibility === 'visible'
                   && style.display !== 'none' && box.right <= document.documentElement.scrollWidth
                   && box.bottom <= document.documentElement.scrollHeight,
          color: style.backgroundColor};
});
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify(found);
document.body.appendChild(out);
</script>
"""


def grid() -> list[report.TargetResult]:
    results = []
    for suite, cells in (("backcompat", ("server-latest", "user-code-earliest")), ("distributed", ("all-branch",))):
        for cell in cells:
            for backend, status in (("process", "passed"), ("docker", "failed" if cell == "server-latest" else "passed")):
                results.append(
                    report.TargetResult(
                        address=f"t/{suite}/test_x.py:{cell}-{backend}", status=status, tests=5,
                        failures=int(status == "failed"), duration_s=2.5, source=report.RAN, suite=suite,
                        system="conveyor", cell=cell, backend=backend,
                        versions=(("server", "0.2.0" if cell == "server-latest" else "branch"), ("user-code", "branch")),
                        logs="=== server-0 ===\n" + "a long log line\n" * 200 if status == "failed" else "",
                    )
                )
    results.append(report.TargetResult("t/unit/test_u.py:tests", "skipped", 3, 0, 0.1, report.CACHED))
    return results


def render_in_chromium(page: Path, tmp_path: Path) -> str:
    chromium = shutil.which("chromium")
    assert chromium, "no chromium on PATH: ./pants installs Debian's chromium for `test` (or apt-get install chromium)"
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,800", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_every_cells_state_is_visible_in_chromium(tmp_path: Path) -> None:
    results = grid()
    page = report.to_html(results, "2026-11-29T00:00:00+00:00")
    measured_page = tmp_path / "report.html"
    measured_page.write_text(page.replace("</body>", MEASURE + "</body>"))

    dom = render_in_chromium(measured_page, tmp_path)

    match = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    found = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    expected = {(r.cell, r.backend, r.status.upper()) for r in results if r.cell}
    assert {(f["cell"], f["backend"], f["text"]) for f in found} == expected
    assert all(f["visible"] for f in found), [f for f in found if not f["visible"]]
    # Failed cells look different from passed ones.
    colors = {f["text"]: f["color"] for f in found}
    assert colors["FAILED"] != colors["PASSED"]
