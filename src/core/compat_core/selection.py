"""The test selection guard's words: a ``--tag`` value that names an empty tag, and why a ``--tag``
selection selects no test (the closest known tag to each unknown one).

``pants --tag=user-code-earlist test ::`` would otherwise pass having run nothing. Pure: the
plugin's guard (``compat_plugin.selection_guard``) gives it the ``--tag`` values and the known targets' tags.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from compat_core.contract import BACKENDS, MATRIX_TAG


def blank_items(tag_exprs: Sequence[str]) -> list[str]:
    """The ``--tag`` values that are empty or have an empty or blank comma-separated item."""
    return [expr for expr in tag_exprs if any(not item.strip().lstrip("+-").strip() for item in expr.split(","))]


def blank_message(bad: Sequence[str]) -> str:
    """Why a blank ``--tag`` is refused, and what to write instead."""
    shown = " ".join(f"--tag={expr!r}" if expr.strip() != expr or not expr else f"--tag={expr}" for expr in bad)
    return (
        f"{shown} names an empty or blank tag, which no target has: the selection is not what it says "
        f"(`--tag=` alone selects nothing, and the goal passes having run nothing). Name a tag in every "
        f"comma-separated item (e.g. --tag=backcompat, --tag=server-latest,user-code-latest, --tag=-docker), "
        f"or leave --tag out to select every target."
    )


def explain(tag_exprs: Sequence[str], target_tags: Iterable[Sequence[str]]) -> str:
    """Why a selection has no test: the selection, a closest known tag per unknown one, and the
    matrix's cells, suites and backends (a matrix target's tags are cell, suite, backend, ``matrix``)."""
    tags_of = [tuple(str(t) for t in tags) for tags in target_tags]
    known = {tag for tags in tags_of for tag in tags}
    matrix = [tags for tags in tags_of if MATRIX_TAG in tags]
    lines = [f"{' '.join('--tag=' + t for t in tag_exprs)} selects no test target."]
    for expr in tag_exprs:
        for tag in expr.split(","):
            tag = tag.strip().lstrip("+-")
            if tag and tag not in known:
                close = difflib.get_close_matches(tag, sorted(known), n=1, cutoff=0.6)
                hint = f" Did you mean {close[0]}?" if close else ""
                lines.append(f"  No target has the tag {tag!r}.{hint}")
    cells = sorted({tags[0] for tags in matrix if tags})
    suites = sorted({tags[1] for tags in matrix if len(tags) > 1})
    backends = sorted(known & set(BACKENDS))
    lines.append(f"  Known cells: {', '.join(cells) or '(none)'}")
    lines.append(f"  Suites: {', '.join(suites) or '(none)'}; backends: {', '.join(backends) or '(none)'}")
    lines.append("  Repeated --tag flags must all match (AND); a comma list matches any (OR); -x excludes x.")
    return "\n".join(lines)
