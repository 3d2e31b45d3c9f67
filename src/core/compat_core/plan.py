"""The planner: a suite's cells expanded to instances with concrete versions and artifacts.

Pure and CPython 3.9-compatible. A plan is plain data that can be printed (``render``), diffed,
compared with golden files and handed to a test as JSON (``compat_core.codec``) before anything
starts. Artifact names come from ``compat_core.names``.
"""

from __future__ import annotations

import dataclasses
import itertools
import shlex
from collections.abc import Collection, Sequence

from compat_core.cell_plan import CellPlan, InstancePlan, RoleArtifacts, SuitePlan
from compat_core.contract import PROCESS_BACKEND
from compat_core.errors import ReleaseError, SuiteDeclarationError, UnknownCellError
from compat_core.images import SOURCES_PATH_VARIABLE
from compat_core.model import BRANCH, CellSpec, Releases, RoleSpec, Suite, System
from compat_core.names import (
    artifact_version,
    image_info_path,
    image_ref,
    instance_name,
    pex_path,
    sources_path,
)
from compat_core.upgrade import plan_upgrade, render_upgrade, suite_cells
from compat_core.validate import peer_roles, validate_system
from compat_core.validate_suite import validate_cell, validate_suite, validate_topology
from compat_core.versions import resolve_version, version_order

ALL_BRANCH = "all-branch"
"""The name of the full-matrix cell in which every role runs the branch."""


def start_order(roles: tuple[str, ...], system: System) -> tuple[str, ...]:
    """``roles`` ordered so that every role comes after the present roles it ``depends_on``.

    Stable: among roles whose dependencies have started, the one declared first in ``roles``
    (the topology's order) starts first. ``depends_on`` on an absent role is ignored.
    """
    validate_system(system)  # also rules out cycles, so the loop below terminates
    specs = system.roles
    present = set(roles)
    started: list[str] = []
    remaining = list(roles)
    while remaining:
        for role in remaining:
            deps = [d for d in specs[role].depends_on if d in present and d != role]
            if all(d in started for d in deps):
                started.append(role)
                remaining.remove(role)
                break
        else:  # pragma: no cover - validate_system rejects cycles
            raise SuiteDeclarationError(f"system {system.name!r}: cannot order roles {remaining}")
    return tuple(started)


def start_waves(cell: CellPlan) -> tuple[tuple[InstancePlan, ...], ...]:
    """The cell's instances in waves that start together, in start order.

    An instance is gated by the present roles its role ``depends_on`` and those its templates
    name (``{address[ROLE]}``, ``{peers[ROLE]...}``): it starts in the wave after the last of
    them is ready. Instances that do not gate each other (two workers; a scheduler and an
    ipyparallel controller) start in the same wave, concurrently.
    """
    present = {inst.role for inst in cell.instances}
    role_wave: dict[str, int] = {}
    waves: list[list[InstancePlan]] = []
    for inst in cell.instances:
        if inst.role not in role_wave:
            spec = cell.role(inst.role)
            gates = (set(spec.depends_on) | peer_roles(spec, present)) & present - {inst.role}
            late = sorted(g for g in gates if g not in role_wave)
            if late:
                raise SuiteDeclarationError(
                    f"cell {cell.name!r}: role {inst.role!r} needs {late} ready first, but they start after it; "
                    f"add them to the depends_on of role {inst.role!r}"
                )
            role_wave[inst.role] = 1 + max((role_wave[g] for g in gates), default=-1)
        wave = role_wave[inst.role]
        while len(waves) <= wave:
            waves.append([])
        waves[wave].append(inst)
    return tuple(tuple(wave) for wave in waves)


def plan_cell(suite: Suite, cell: CellSpec | str, system: System, releases: Releases | None = None) -> CellPlan:
    """Expand one cell of ``suite`` into instances in start order, with concrete versions.

    ``releases`` defaults to the system's own (aliases resolve against them).
    """
    spec = _find_cell(suite, cell) if isinstance(cell, str) else cell
    releases = releases if releases is not None else system.releases
    validate_system(system)
    validate_topology(suite, system)
    validate_cell(suite, spec, system, releases)
    counts = dict(suite.topology.counts)
    specs = system.roles
    instances: list[InstancePlan] = []
    for role in start_order(suite.topology.roles(), system):
        declared = spec.version_of(role)
        try:
            version = resolve_version(declared, releases, system.name)
        except ReleaseError as e:
            raise ReleaseError(f"suite {suite.name!r}, cell {spec.name!r}, role {role!r}: {e}") from None
        runs = artifact_version(system, version)
        for index in range(counts[role]):
            instances.append(
                InstancePlan(
                    role=role,
                    index=index,
                    name=instance_name(role, index),
                    version=version,
                    pex=pex_path(system, version),
                    image=image_ref(system, role, version),
                    image_info=image_info_path(system, role, version),
                    ports=specs[role].ports,
                    declared_version=declared,
                    runs=runs if runs != version else "",
                    sources=sources_path(system, role, version),
                )
            )
    present = set(suite.topology.roles())
    plan = CellPlan(
        suite=suite.name,
        name=spec.name,
        instances=tuple(instances),
        system=system.name,
        roles=tuple(role for role in system.role_specs if role.name in present),
    )
    if suite.upgrade is not None and spec.name == suite.upgrade.name:
        path, artifacts = plan_upgrade(suite.upgrade, plan.instances, system, releases)
        plan = dataclasses.replace(plan, upgrade=path, artifacts=artifacts)
    return plan


def plan_suite(suite: Suite, system: System, releases: Releases | None = None) -> SuitePlan:
    """Validate ``suite`` and plan every one of its cells, in declaration order (its upgrade path's last)."""
    releases = releases if releases is not None else system.releases
    validate_suite(suite, system, releases)
    return SuitePlan(
        suite=suite.name,
        cells=tuple(plan_cell(suite, cell, system, releases) for cell in suite_cells(suite)),
        system=system.name,
    )


def _find_cell(suite: Suite, name: str) -> CellSpec:
    for cell in suite_cells(suite):
        if cell.name == name:
            return cell
    known = ", ".join(c.name for c in suite_cells(suite))
    raise UnknownCellError(f"suite {suite.name!r} has no cell {name!r}; its cells are: {known}")


# --- the full matrix ---------------------------------------------------------------------------


def full_matrix_cell_name(versions: Sequence[tuple[str, str]]) -> str:
    """``<role>-<version>`` for each role not on branch, joined by '-'; ``all-branch`` if none."""
    parts = [f"{role}-{version}" for role, version in versions if version != BRANCH]
    return "-".join(parts) if parts else ALL_BRANCH


def full_matrix_cells(suite: Suite, releases: Releases) -> tuple[CellSpec, ...]:
    """Every combination of versions over the suite's roles (branch first, releases ascending)."""
    choices = (BRANCH,) + tuple(sorted(releases.pinned, key=version_order))
    roles = suite.topology.roles()
    cells: list[CellSpec] = []
    for combination in itertools.product(choices, repeat=len(roles)):
        assigned = tuple((role, version) for role, version in zip(roles, combination) if version != BRANCH)
        cells.append(CellSpec(name=full_matrix_cell_name(assigned), versions=assigned))
    return tuple(cells)


def expand_cells(suite: Suite, releases: Releases, full_matrix: bool) -> Suite:
    """``suite`` with the every-version cells appended when it opted in (``full_matrix``) and the
    ``full_matrix`` setting (``compat_core.settings``) is on.

    A generated cell is left out when a declared cell has its name or runs the same versions.
    """
    if not (suite.full_matrix and full_matrix):
        return suite
    names = {cell.name for cell in suite_cells(suite)}
    assignments = {_concrete(cell, suite, releases) for cell in suite.cells}
    extra: list[CellSpec] = []
    for cell in full_matrix_cells(suite, releases):
        concrete = _concrete(cell, suite, releases)
        if cell.name in names or concrete in assignments:
            continue
        names.add(cell.name)
        assignments.add(concrete)
        extra.append(cell)
    return dataclasses.replace(suite, cells=suite.cells + tuple(extra))


def _concrete(cell: CellSpec, suite: Suite, releases: Releases) -> tuple[tuple[str, str], ...]:
    return tuple((role, resolve_version(cell.version_of(role), releases)) for role in suite.topology.roles())


# --- command lines -----------------------------------------------------------------------------

DIST_DIR = "dist"
"""Where ``./pants package`` puts the artifacts (Pants' default ``pants_distdir``): the artifact
root of a command line printed for a user."""


def role_args(spec: RoleSpec, present: Collection[str]) -> tuple[str, ...]:
    """The role's argument templates where the roles ``present`` run: ``args``, then the
    ``args_if_present`` of those roles (as every backend renders them)."""
    return spec.args + tuple(arg for role, extra in spec.args_if_present if role in present for arg in extra)


def role_command_line(spec: RoleSpec, present: Collection[str] = ()) -> str:
    """The role's command and arguments as a shell line that runs in an environment where its
    version is installed (``Command.argv``); the ``{...}`` templates are left for the reader."""
    return " ".join(shlex.quote(word) for word in spec.command.argv() + role_args(spec, present))


def instance_command_line(spec: RoleSpec, inst: InstancePlan, present: Collection[str], root: str = DIST_DIR) -> str:
    """The shell line the process backend runs for ``inst``, with its artifacts under ``root``:
    the role's environment, the PEX variable that picks its command, a branch role's sources on
    the PEX's ``sys.path``, then ``python3 <pex> <args>``. The backend fills in the ``{...}``
    templates (ports, addresses, directories) and writes the role's ``files`` first."""
    env = list(spec.env) + [(spec.command.pex_variable, spec.command.value)]
    if inst.sources:
        env.append((SOURCES_PATH_VARIABLE, f"{root}/{inst.sources}"))
    words = [f"{name}={shlex.quote(value)}" for name, value in env]
    words += ["python3", shlex.quote(f"{root}/{inst.pex}"), *(shlex.quote(arg) for arg in role_args(spec, present))]
    return " ".join(words)


# --- rendering ---------------------------------------------------------------------------------

_COLUMNS = ("instance", "role", "version", "pex (+ sources)", "image", "ports")


def render(plan: SuitePlan | CellPlan) -> str:
    """A readable text form of a plan: a header and a table per cell, then a cell's upgrade path
    step by step (stable, for golden files)."""
    if isinstance(plan, CellPlan):
        return _render_cell(plan)
    header = f"suite {plan.suite} (system {plan.system}): {len(plan.cells)} cell(s)"
    return "\n\n".join([header] + [_render_cell(cell) for cell in plan.cells])


def _artifacts_of(inst: InstancePlan | RoleArtifacts) -> str:
    """The PEX, and a branch role's sources directory beside it: ``<pex> + <sources dir>/``."""
    return f"{inst.pex} + {inst.sources.rsplit('/', 1)[-1]}/" if inst.sources else inst.pex


def _render_cell(cell: CellPlan) -> str:
    rows = [_COLUMNS]
    for inst in cell.instances:
        version = inst.version
        notes = [n for n in (inst.declared_version if inst.declared_version not in ("", inst.version) else "", inst.runs) if n]
        if notes:
            version = f"{version} ({', '.join(notes)})"
        rows.append((inst.name, inst.role, version, _artifacts_of(inst), inst.image, ",".join(inst.ports) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [f"cell {cell.name}  [suite {cell.suite}, system {cell.system}]"]
    for n, row in enumerate(rows):
        lines.append("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    waves = start_waves(cell)
    if len(waves) < len(cell.instances):
        lines.append("  starts together: " + " | ".join(", ".join(i.name for i in wave) for wave in waves))
    for art in cell.artifacts:
        version = f"{art.version} ({art.runs})" if art.runs else art.version
        lines.append(f"  on the upgrade path: {art.role} {version}: {_artifacts_of(art)}, {art.image}")
    present = {inst.role for inst in cell.instances}
    specs = {spec.name: spec for spec in cell.roles}
    if all(inst.role in specs for inst in cell.instances):
        lines.append(f"  run by hand (after ./pants package; fill in the {{...}} fields as the {PROCESS_BACKEND} backend does):")
        lines += [f"    {inst.name}: {instance_command_line(specs[inst.role], inst, present)}" for inst in cell.instances]
    if cell.upgrade is not None:
        lines.append(render_upgrade(cell.upgrade, cell.instances))
    return "\n".join(lines)


__all__ = (
    "ALL_BRANCH",
    "DIST_DIR",
    "expand_cells",
    "full_matrix_cell_name",
    "full_matrix_cells",
    "instance_command_line",
    "plan_cell",
    "plan_suite",
    "render",
    "role_args",
    "role_command_line",
    "start_order",
    "start_waves",
)
