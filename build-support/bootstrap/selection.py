"""Explains a test selection that matched no test: the tags asked for, the closest known ones.

`./pants --tag=user-code-earlist test ::` would otherwise exit 0 having run nothing. The launcher
runs this when Pants lists no test target for the selection; stdin is `pants peek` JSON of the
matrix targets (their tags: cell, suite, backend, `matrix`), the arguments are the `--tag` values.

Usage: pants --tag=matrix peek :: | python3 selection.py TAG_EXPR...
"""

from __future__ import annotations

import difflib
import json
import sys


def explain(tag_exprs: list[str], targets: list[dict[str, object]]) -> str:
    """One message naming the selection, a closest known tag per unknown one, and the known tags."""
    known: set[str] = set()
    for target in targets:
        known.update(str(tag) for tag in target.get("tags") or ())
    lines = [f"compat-matrix: {' '.join('--tag=' + t for t in tag_exprs)} selects no test target."]
    for expr in tag_exprs:
        for tag in expr.split(","):
            tag = tag.removeprefix("-").removeprefix("+")
            if tag and tag not in known:
                close = difflib.get_close_matches(tag, sorted(known), n=1, cutoff=0.6)
                hint = f" Did you mean {close[0]}?" if close else ""
                lines.append(f"  No target has the tag {tag!r}.{hint}")
    backends = sorted(known & {"process", "docker"})
    suites = sorted({str(t["tags"][1]) for t in targets if isinstance(t.get("tags"), list) and len(t["tags"]) > 1})
    cells = sorted({str(t["tags"][0]) for t in targets if isinstance(t.get("tags"), list) and t["tags"]})
    lines.append(f"  Known cells: {', '.join(cells) or '(none)'}")
    lines.append(f"  Suites: {', '.join(suites) or '(none)'}; backends: {', '.join(backends) or '(none)'}")
    lines.append("  Repeated --tag flags must all match (AND); a comma list matches any (OR); -x excludes x.")
    return "\n".join(lines)


def main() -> int:
    text = sys.stdin.read().strip()
    targets = json.loads(text) if text else []
    print(explain(sys.argv[1:], [t for t in targets if "matrix" in (t.get("tags") or ())]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
