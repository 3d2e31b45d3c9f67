"""The upgrade planner: a declared upgrade path expanded, with its seed, into numbered steps.

Pure and CPython 3.9-compatible. Like CockroachDB's mixed-version framework, the path is plain
data made before anything starts: ``plan_upgrade`` draws with ``random.Random(seed)`` the order in
which a role's instances are replaced and where each fault lands (which instance, after which
step), so the same declaration and seed give the same steps on every machine and Python (the plugin
plans on CPython 3.9, the harness reads the plan on 3.11; ``Random`` with an integer seed, and
``shuffle`` and ``choice``, draw the same there). ``render_upgrade`` prints it step by step
(``./pants compat-plan``), and the steps travel in the cell's JSON, so a test runs exactly what
was printed.

Drawn, in this order: for each role of ``order`` then of ``rollback``, the order of its
instances (``shuffle``); then for each fault in declaration order, the step it follows
(``choice`` among the steps of its ``after`` role, or among all steps) and its instance
(``choice`` among its role's instances).
"""

from __future__ import annotations

import random

from compat_core.cell_plan import InstancePlan, RoleArtifacts, UpgradePlan, UpgradeStep
from compat_core.contract import SEED_ENV
from compat_core.model import FAULT, ROLLBACK, UPGRADE, CellSpec, Releases, Suite, System, UpgradeSpec
from compat_core.names import artifact_version, image_info_path, image_ref, pex_path, sources_path
from compat_core.versions import resolve_version

# Faults after which ``restart_after`` roles must be started again: the faulted instance stopped
# or lost its peers (a paused one keeps its connections).
_STOPPING_FAULTS = ("kill", "restart", "partition")


def upgrade_cell(upgrade: UpgradeSpec, suite: Suite) -> CellSpec:
    """The cell an upgrade path runs in: named after the path, every role on ``start``."""
    return CellSpec(name=upgrade.name, versions=tuple((role, upgrade.start) for role in suite.topology.roles()))


def suite_cells(suite: Suite) -> tuple[CellSpec, ...]:
    """The suite's declared cells, then its upgrade path's cell (if it has one)."""
    return suite.cells + ((upgrade_cell(suite.upgrade, suite),) if suite.upgrade is not None else ())


def with_seed(suite: Suite, seed: int | None) -> Suite:
    """``suite`` with its upgrade path planned from ``seed`` instead of the declared one (None: unchanged)."""
    if seed is None or suite.upgrade is None:
        return suite
    from dataclasses import replace

    return replace(suite, upgrade=replace(suite.upgrade, seed=seed))


def plan_upgrade(
    upgrade: UpgradeSpec, instances: tuple[InstancePlan, ...], system: System, releases: Releases
) -> tuple[UpgradePlan, tuple[RoleArtifacts, ...]]:
    """The steps of ``upgrade`` for a cell started as ``instances``, and the artifacts they switch to.

    Validation is ``compat_core.validate.validate_upgrade`` (``plan_suite`` runs it first).
    """
    rng = random.Random(upgrade.seed)
    start = resolve_version(upgrade.start, releases, system.name)
    to = resolve_version(upgrade.to, releases, system.name)
    by_role: dict[str, list[str]] = {}
    current: dict[str, str] = {}
    for inst in instances:
        by_role.setdefault(inst.role, []).append(inst.name)
        current[inst.name] = inst.version
    restart_after = dict(upgrade.restart_after)

    def restarts(role: str) -> tuple[str, ...]:
        return tuple(name for other in restart_after.get(role, ()) for name in by_role.get(other, ()))

    # Replacements first, numbered later (faults are inserted between them).
    moves: list[UpgradeStep] = []
    phases = [(UPGRADE, role, to) for role in upgrade.order]
    phases += [(ROLLBACK, role, resolve_version(spec, releases, system.name)) for role, spec in upgrade.rollback]
    for kind, role, version in phases:
        names = list(by_role.get(role, ()))
        rng.shuffle(names)
        groups = [[name] for name in names] if upgrade.one_at_a_time else [names]
        for group in groups:
            moves.append(
                UpgradeStep(
                    number=0,
                    kind=kind,
                    role=role,
                    instances=tuple(group),
                    version_from=current[group[0]],
                    version_to=version,
                    restarts=restarts(role),
                )
            )
            for name in group:
                current[name] = version

    # Each fault follows one replacement: drawn among its ``after`` role's, or among all.
    following: dict[int, list[tuple[str, str, float]]] = {}
    for fault in upgrade.faults:
        anchors = [i for i, move in enumerate(moves) if not fault.after or move.role == fault.after]
        anchor = rng.choice(anchors)
        following.setdefault(anchor, []).append((fault.kind, rng.choice(by_role[fault.role]), fault.seconds))

    steps: list[UpgradeStep] = []
    versions = {inst.name: inst.version for inst in instances}
    role_of = {inst.name: inst.role for inst in instances}
    for index, move in enumerate(moves):
        steps.append(_numbered(move, len(steps) + 1))
        for name in move.instances:
            versions[name] = move.version_to
        for kind, name, seconds in following.get(index, ()):
            role = role_of[name]
            steps.append(
                UpgradeStep(
                    number=len(steps) + 1,
                    kind=FAULT,
                    role=role,
                    instances=(name,),
                    version_from=versions[name],
                    version_to=versions[name],
                    fault=kind,
                    seconds=seconds if kind != "restart" else 0.0,
                    restarts=restarts(role) if kind in _STOPPING_FAULTS else (),
                )
            )
    plan = UpgradePlan(name=upgrade.name, seed=upgrade.seed, start=start, to=to, steps=tuple(steps))
    return plan, visited_artifacts(plan, instances, system)


def visited_artifacts(
    plan: UpgradePlan, instances: tuple[InstancePlan, ...], system: System
) -> tuple[RoleArtifacts, ...]:
    """The (role, version) artifacts the steps switch instances to that the cell does not start with."""
    started = {(inst.role, inst.version) for inst in instances}
    seen: list[tuple[str, str]] = []
    for step in plan.steps:
        pair = (step.role, step.version_to)
        if step.kind != FAULT and pair not in started and pair not in seen:
            seen.append(pair)
    out = []
    for role, version in seen:
        runs = artifact_version(system, version)
        out.append(
            RoleArtifacts(
                role=role,
                version=version,
                pex=pex_path(system, version),
                image=image_ref(system, role, version),
                image_info=image_info_path(system, role, version),
                runs=runs if runs != version else "",
                sources=sources_path(system, role, version),
            )
        )
    return tuple(out)


def _numbered(step: UpgradeStep, number: int) -> UpgradeStep:
    from dataclasses import replace

    return replace(step, number=number)


def final_versions(plan: UpgradePlan, instances: tuple[InstancePlan, ...]) -> dict[str, str]:
    """Instance name -> the version it runs after the last step."""
    versions = {inst.name: inst.version for inst in instances}
    for step in plan.steps:
        if step.kind != FAULT:
            for name in step.instances:
                versions[name] = step.version_to
    return versions


def render_upgrade(plan: UpgradePlan, instances: tuple[InstancePlan, ...]) -> str:
    """The path step by step, with the seed that made it (stable, for golden files)."""
    lines = [
        f"upgrade path {plan.name}: {plan.start} -> {plan.to}, seed {plan.seed} "
        f"({SEED_ENV}=N plans another; the same seed, the same steps)"
    ]
    lines.append("  start: " + ", ".join(f"{inst.name} {inst.version}" for inst in instances))
    width = len(str(len(plan.steps)))
    for step in plan.steps:
        lines.append(f"  step {str(step.number).rjust(width)}: {step.describe()}")
    end = final_versions(plan, instances)
    lines.append("  end:   " + ", ".join(f"{name} {version}" for name, version in end.items()))
    return "\n".join(lines)


__all__ = (
    "final_versions",
    "plan_upgrade",
    "render_upgrade",
    "suite_cells",
    "upgrade_cell",
    "visited_artifacts",
    "with_seed",
)
