"""Golden tests of the upgrade planner on the real declarations: the conveyor system
(src/python/conveyor/BUILD) and the upgrade suite (tests/python/integration/upgrade/BUILD).

The BUILD files are read as Python with the plugin's BUILD-file objects (compat_upgrade,
compat_fault, compat_role, the probes) and stand-ins that record compat_system / compat_suite,
then turned into the model with the same parse functions the plugin's fields call. So an edit to
the suite's declaration shows here, and a plan that changes without a declaration change is a bug
(seeded draws that moved). Self-contained on purpose: no helper module of this directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compat_core.build_objects import BUILD_FILE_OBJECTS
from compat_core.cell_plan import CellPlan
from compat_core.codec import cell_from_json, cell_to_json
from compat_core.contract import SEED_ENV
from compat_core.errors import SettingError
from compat_core.model import Suite, System
from compat_core.names import pex_target
from compat_core.parse import parse_cells, parse_releases, parse_roles, parse_topology, parse_upgrade
from compat_core.plan import plan_suite, render
from compat_core.settings import Settings
from compat_core.upgrade import render_upgrade, with_seed

SYSTEM_BUILD = "src/python/conveyor/BUILD"
SUITE_BUILD = "tests/python/integration/upgrade/BUILD"

# The plan the suite's declared seed gives. Regenerate after an intended change with
# `./pants compat-plan tests/python/integration/upgrade:upgrade` (the same text).
GOLDEN_DECLARED = """\
upgrade path rolling: 0.1.0 -> branch, seed 1 (COMPAT_MATRIX_SEED=N plans another; the same seed, the same steps)
  start: scheduler-0 0.1.0, worker-0 0.1.0, worker-1 0.1.0, user-code-0 0.1.0, server-0 0.1.0
  step 1: upgrade worker-1 0.1.0 -> branch
  step 2: fault: kill worker-1 (branch) for 2s, then start it again
  step 3: upgrade worker-0 0.1.0 -> branch
  step 4: upgrade scheduler-0 0.1.0 -> branch; then restart worker-0, worker-1
  step 5: upgrade user-code-0 0.1.0 -> branch
  step 6: upgrade server-0 0.1.0 -> branch
  step 7: fault: pause scheduler-0 (branch) for 2s, then resume it
  step 8: rollback server-0 branch -> 0.2.0
  end:   scheduler-0 branch, worker-0 branch, worker-1 branch, user-code-0 branch, server-0 0.2.0"""

# COMPAT_MATRIX_SEED=5: the other worker first, the kill after both workers, the pause after the rollback.
GOLDEN_SEED_5 = """\
upgrade path rolling: 0.1.0 -> branch, seed 5 (COMPAT_MATRIX_SEED=N plans another; the same seed, the same steps)
  start: scheduler-0 0.1.0, worker-0 0.1.0, worker-1 0.1.0, user-code-0 0.1.0, server-0 0.1.0
  step 1: upgrade worker-0 0.1.0 -> branch
  step 2: upgrade worker-1 0.1.0 -> branch
  step 3: fault: kill worker-0 (branch) for 2s, then start it again
  step 4: upgrade scheduler-0 0.1.0 -> branch; then restart worker-0, worker-1
  step 5: upgrade user-code-0 0.1.0 -> branch
  step 6: upgrade server-0 0.1.0 -> branch
  step 7: rollback server-0 branch -> 0.2.0
  step 8: fault: pause scheduler-0 (branch) for 2s, then resume it
  end:   scheduler-0 branch, worker-0 branch, worker-1 branch, user-code-0 branch, server-0 0.2.0"""


def _repo_file(relative: str) -> Path:
    # Under Pants the files targets put the BUILD files at their repo paths in the sandbox (cwd);
    # outside it, walk up from this file to the repo root.
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{relative}: not in the sandbox or above {__file__} (a files target dependency?)")


class _Namespace(dict):  # type: ignore[type-arg]
    """BUILD-file globals: the compat vocabulary, recorders for the two target types, and a
    do-nothing callable for every other target type or object the file uses."""

    def __missing__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def _declared(relative: str, alias: str) -> dict[str, Any]:
    found: dict[str, dict[str, Any]] = {}
    namespace = _Namespace(BUILD_FILE_OBJECTS)
    namespace[alias] = lambda **fields: found.setdefault(fields["name"], fields)
    path = _repo_file(relative)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), {}, namespace)
    assert len(found) == 1, f"{relative}: expected one {alias}, found {sorted(found)}"
    return next(iter(found.values()))


def conveyor() -> System:
    fields = _declared(SYSTEM_BUILD, "compat_system")
    name = fields["name"]
    return System(
        name=name,
        role_specs=parse_roles(fields["roles"], SYSTEM_BUILD),
        releases=parse_releases(name, fields["releases"], fields["earliest"], where=SYSTEM_BUILD),
    )


def upgrade_suite(seed: int | None = None) -> Suite:
    fields = _declared(SUITE_BUILD, "compat_suite")
    suite = Suite(
        name=fields["name"],
        topology=parse_topology(fields["topology"], SUITE_BUILD),
        cells=parse_cells(fields.get("cells", []), SUITE_BUILD),
        system="conveyor",
        backends=tuple(fields["backends"]),
        upgrade=parse_upgrade(fields.get("upgrade"), SUITE_BUILD),
    )
    return with_seed(suite, seed)


def rolling(seed: int | None = None) -> CellPlan:
    plan = plan_suite(upgrade_suite(seed), conveyor())
    (cell,) = (c for c in plan.cells if c.upgrade is not None)
    return cell


def _text(cell: CellPlan) -> str:
    assert cell.upgrade is not None
    return render_upgrade(cell.upgrade, cell.instances)


def test_the_declared_seed_gives_the_golden_plan() -> None:
    assert _text(rolling()) == GOLDEN_DECLARED


def test_another_seed_gives_its_own_golden_plan() -> None:
    assert _text(rolling(5)) == GOLDEN_SEED_5


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    assert rolling(5) == rolling(5)
    assert rolling() == rolling(1)  # the declared seed is 1
    first, other = rolling(1).upgrade, rolling(5).upgrade
    assert first is not None and other is not None
    assert first.steps != other.steps


def test_the_path_is_the_issue_s_path() -> None:
    cell = rolling()
    assert cell.upgrade is not None
    steps = cell.upgrade.steps
    assert {inst.version for inst in cell.instances} == {"0.1.0"}  # everything starts on earliest
    moves = [(s.kind, s.instances, s.version_to) for s in steps if s.kind != "fault"]
    roles = [s.role for s in steps if s.kind == "upgrade"]
    assert roles == ["worker", "worker", "scheduler", "user-code", "server"]  # workers one by one, first
    assert all(len(instances) == 1 for _, instances, _ in moves)  # one instance at a time
    assert moves[-1] == ("rollback", ("server-0",), "0.2.0")  # then the server rolls back to latest
    assert any(s.kind == "fault" for s in steps)
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))


def test_the_suite_plan_prints_every_step() -> None:
    text = render(plan_suite(upgrade_suite(), conveyor()))
    assert GOLDEN_DECLARED in text
    for line in GOLDEN_DECLARED.splitlines()[2:-1]:
        assert line.strip().startswith("step ")


def test_the_cell_json_carries_the_steps_and_every_visited_artifact() -> None:
    cell = rolling()
    assert cell_from_json(cell_to_json(cell)) == cell
    system = conveyor()
    visited = {pex_target(system, i.version) for i in cell.instances}
    visited |= {pex_target(system, a.version) for a in cell.artifacts}
    assert visited == {
        "pex-0.1.0",
        "pex-0.2.0",
        "pex-branch",
    }
    # Every version a step switches to has its artifact in the cell.
    assert cell.upgrade is not None
    for step in cell.upgrade.steps:
        for name in step.instances:
            assert cell.instance_at(name, step.version_to).version == step.version_to


def test_the_seed_override_is_read_strictly() -> None:
    assert Settings.from_env({}).seed is None
    assert Settings.from_env({SEED_ENV: " "}).seed is None
    assert Settings.from_env({SEED_ENV: "5"}).seed == 5
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(SettingError, match=SEED_ENV):
            Settings.from_env({SEED_ENV: bad})
    cell = rolling(Settings.from_env({SEED_ENV: "5"}).seed)
    assert cell.upgrade is not None and cell.upgrade.seed == 5

