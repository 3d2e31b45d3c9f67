"""Where things are outside Pants: the repo root, and a plan written by ``pants compat-plan --json``.

The only place the harness looks at the checkout (``--compat-from-source``, ``dist/``); under
Pants a cell comes from ``COMPAT_MATRIX_CELL`` and its artifacts from the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path

from compat_core.cell_plan import CellPlan
from compat_core.codec import cell_from_data
from compat_core.errors import CompatMatrixError, UnknownCellError

PLAN_COMMAND = "./pants compat-plan --json <suite or cell target> > plan.json"


def find_repo_root(*starts: Path) -> Path:
    """The nearest directory at or above one of ``starts`` that holds ``pants.toml``."""
    for start in starts:
        start = start.resolve()
        for candidate in (start, *start.parents):
            if (candidate / "pants.toml").is_file():
                return candidate
    tried = ", ".join(str(s) for s in starts)
    raise CompatMatrixError(f"no pants.toml found at or above {tried}; run from inside the repo")


def cells_from_plan_file(path: Path) -> tuple[CellPlan, ...]:
    """The cells of a ``pants compat-plan --json`` file: one cell, a suite's plan, or a list of both."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompatMatrixError(f"cannot read the plan {path}: {exc}; write it with `{PLAN_COMMAND}`") from None
    items = data if isinstance(data, list) else [data]
    cells: list[CellPlan] = []
    for item in items:
        if isinstance(item, dict) and "cells" in item:
            cells.extend(cell_from_data(c, f"{path}") for c in item["cells"])
        elif isinstance(item, dict) and "instances" in item:
            cells.append(cell_from_data(item, f"{path}"))
    if not cells:
        raise CompatMatrixError(f"{path} holds no planned cell; write it with `{PLAN_COMMAND}`")
    return tuple(cells)


def pick_cell(cells: tuple[CellPlan, ...], name: str | None, source: str) -> CellPlan:
    """The cell called ``name`` (or the only one when ``name`` is None)."""
    if name is None:
        if len(cells) == 1:
            return cells[0]
        raise CompatMatrixError(
            f"{source} plans {len(cells)} cells ({', '.join(c.name for c in cells)}); name one"
        )
    for cell in cells:
        if cell.name == name:
            return cell
    raise UnknownCellError(f"{source} has no cell {name!r}; its cells are: {', '.join(c.name for c in cells)}")


__all__ = ("PLAN_COMMAND", "cells_from_plan_file", "find_repo_root", "pick_cell")
