"""Runs a cell's planned upgrade path against its deployment, step by step, checking after each.

The steps are the plan's (``compat_core.upgrade``), made before anything started and carried in
the cell's JSON: the runner prints them, then performs each one on the deployment (``replace``
for upgrades and rollbacks; ``kill`` / ``pause`` / ``disconnect`` / ``restart`` for faults, held
for the step's seconds and then undone), starts again the instances the step names in
``restarts``, and calls the test's ``check``. The first failure raises ``UpgradeStepFailed``
naming the step (number, what it did) and the seed that replays the path.

Usage in a suite's test::

    def test_rolling_upgrade(deployment, cell):
        run_upgrade(deployment, cell, check=lambda step: ...)
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from compat_core.cell_plan import CellPlan, UpgradePlan, UpgradeStep
from compat_core.contract import SEED_ENV
from compat_core.errors import CompatMatrixError, SuiteDeclarationError
from compat_core.model import FAULT
from compat_core.upgrade import render_upgrade
from compat_matrix.backends.base import Deployment

Check = Callable[["UpgradeStep | None"], None]
"""Called after every step with the step (and with None before the first one, on the start)."""


class UpgradeStepFailed(CompatMatrixError):
    """A step of an upgrade path, or the check after it, failed (names the step and the seed)."""

    def __init__(self, plan: UpgradePlan, step: UpgradeStep | None, cause: BaseException) -> None:
        where = (
            f"step {step.number}/{len(plan.steps)} ({step.describe()})"
            if step is not None
            else f"the start, before step 1/{len(plan.steps)}"
        )
        super().__init__(
            f"upgrade path {plan.name!r} failed at {where}: {type(cause).__name__}: {cause}\n"
            f"(the plan came from seed {plan.seed}: {SEED_ENV}={plan.seed} plans the same steps again)"
        )
        self.plan = plan
        self.step = step
        self.cause = cause


def run_upgrade(
    deployment: Deployment,
    cell: CellPlan,
    check: Check,
    log: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Print ``cell``'s upgrade path, then perform and check each step (see the module docstring).

    ``stop``, when set by another thread, ends the run after the current step (it is what holds a
    fault, so a fault's hold ends early too).
    """
    plan = cell.upgrade
    if plan is None:
        raise SuiteDeclarationError(
            f"cell {cell.name!r} of suite {cell.suite!r} has no upgrade path; declare one with "
            f"upgrade=compat_upgrade(...) in the suite's compat_suite"
        )
    stop = stop or threading.Event()
    log(render_upgrade(plan, cell.instances))
    _checked(plan, None, check)
    for step in plan.steps:
        if stop.is_set():
            log(f"stopped before step {step.number}/{len(plan.steps)}")
            return
        log(f"step {step.number}/{len(plan.steps)}: {step.describe()}")
        try:
            perform(deployment, step, stop)
        except Exception as exc:
            raise UpgradeStepFailed(plan, step, exc) from exc
        _checked(plan, step, check)
        log(f"step {step.number}/{len(plan.steps)}: checked")


def perform(deployment: Deployment, step: UpgradeStep, stop: threading.Event | None = None) -> None:
    """Do one step to ``deployment`` (without the check)."""
    hold = stop or threading.Event()
    if step.kind == FAULT:
        for name in step.instances:
            _fault(deployment, step, name, hold)
    else:
        for name in step.instances:
            deployment.replace(name, step.version_to)
    for name in step.restarts:
        deployment.restart(name)


def _fault(deployment: Deployment, step: UpgradeStep, name: str, hold: threading.Event) -> None:
    # The hold is the fault's duration (what the step says), not a wait for a condition.
    if step.fault == "kill":
        deployment.kill(name)
        hold.wait(step.seconds)
        deployment.restart(name)
    elif step.fault == "pause":
        deployment.pause(name)
        try:
            hold.wait(step.seconds)
        finally:
            deployment.resume(name)
    elif step.fault == "partition":
        deployment.disconnect(name)
        try:
            hold.wait(step.seconds)
        finally:
            deployment.reconnect(name)
    elif step.fault == "restart":
        deployment.restart(name)
    else:
        raise SuiteDeclarationError(f"step {step.number}: unknown fault {step.fault!r}")


def _checked(plan: UpgradePlan, step: UpgradeStep | None, check: Check) -> None:
    try:
        check(step)
    except Exception as exc:
        raise UpgradeStepFailed(plan, step, exc) from exc


__all__ = ("Check", "UpgradeStepFailed", "perform", "run_upgrade")
