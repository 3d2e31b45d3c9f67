"""The launcher's test selection guard: does a `--tag` selection match a test, and if not, why.

`./pants --tag=user-code-earlist test ::` would otherwise exit 0 having run nothing.

    python3 selection.py check TAG_EXPR...                            exit 1: an empty or blank tag
    pants --tag=matrix peek :: | python3 selection.py TAG_EXPR...     explain an empty selection
    python3 selection.py key                                          the matrix's cache key
    python3 selection.py match PEEK_JSON TAG_EXPR...                  exit 0: selects a matrix test

`check` refuses a `--tag` value with an empty or blank item (`--tag=`, `--tag=,`, `--tag=a,`,
`--tag=-`): Pants reads it as a tag no target has, and `test` then ran nothing and passed.
`explain` reads `pants peek` JSON of the matrix targets (their tags: cell, suite, backend,
`matrix`); the arguments are the `--tag` values. `match` applies Pants' tag semantics (a comma
list matches any of its items, `-x` matches targets without x, repeated flags must all match) to
a saved peek: the launcher keeps one per `key` (a digest of every file's path, the BUILD files, the
plugin and core code, pants.toml and the environment that changes the plan), so a `--tag` run whose
matrix did not change costs no Pants query before the real one.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

PLAN_ENV_PREFIXES = ("EARLIEST_TESTED_RELEASE", "COMPAT_MATRIX_FULL", "COMPAT_MATRIX_SEED")
"""Environment variables that change which cells (and so which tags) a plan has."""


def blank_items(tag_exprs: list[str]) -> list[str]:
    """The ``--tag`` values that are empty or have an empty or blank comma-separated item."""
    return [expr for expr in tag_exprs if any(not item.strip().lstrip("+-").strip() for item in expr.split(","))]


def blank_message(bad: list[str]) -> str:
    """Why a blank ``--tag`` is refused, and what to write instead."""
    shown = " ".join(f"--tag={expr!r}" if expr.strip() != expr or not expr else f"--tag={expr}" for expr in bad)
    return (
        f"compat-matrix: {shown} names an empty or blank tag, which no target has: the selection is not what it "
        f"says (`--tag=` alone selects nothing, and the goal passes having run nothing). Name a tag in every "
        f"comma-separated item (e.g. --tag=backcompat, --tag=server-latest,user-code-latest, --tag=-docker), or "
        f"leave --tag out to select every target."
    )


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


def matches(tag_exprs: list[str], tags: set[str]) -> bool:
    """Pants' `--tag` filter: every expression matches; within one, any comma-separated item."""
    for expr in tag_exprs:
        items = [item for item in expr.split(",") if item]
        if items and not any(
            (item[1:] not in tags) if item.startswith("-") else (item.removeprefix("+") in tags) for item in items
        ):
            return False
    return True


def key(root: Path) -> str:
    """A digest of what decides the matrix's targets and tags (see the module docstring)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    digest = hashlib.sha256()
    for path in sorted(listed):
        digest.update(path.encode() + b"\0")
        name = path.rsplit("/", 1)[-1]
        decides = name.startswith("BUILD") or name == "pants.toml" or path.startswith(("pants-plugins/", "src/core/"))
        if decides and (root / path).is_file():
            digest.update((root / path).read_bytes() + b"\0")
    for name in sorted(os.environ):
        if name.startswith(PLAN_ENV_PREFIXES):
            digest.update(f"{name}={os.environ[name]}\0".encode())
    return digest.hexdigest()[:24]


def _matrix(text: str) -> list[dict[str, object]]:
    targets = json.loads(text) if text.strip() else []
    return [t for t in targets if "matrix" in (t.get("tags") or ())]


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["key"]:
        print(key(Path.cwd()))
        return 0
    if args[:1] == ["check"]:
        bad = blank_items(args[1:])
        if bad:
            print(blank_message(bad), file=sys.stderr)
            return 1
        return 0
    if args[:1] == ["match"]:
        targets = _matrix(Path(args[1]).read_text())
        return 0 if any(matches(args[2:], {str(t) for t in target.get("tags") or ()}) for target in targets) else 1
    print(explain(args, _matrix(sys.stdin.read())), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
