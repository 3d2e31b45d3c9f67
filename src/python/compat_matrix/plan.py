"""The planner: a suite's cells expanded to instances with concrete versions and artifacts.

Pure: no I/O. A plan is plain data that can be printed (``render``), diffed and compared with
golden files before anything starts.

The artifact naming convention lives here and only here (the Pants prelude macro mirrors it):
all artifact targets live in ``docker/BUILD``; paths are relative to the artifact root (the Pants
test sandbox, or ``dist/``):

===================  ==================================  ==================================
artifact             branch                              release X.Y.Z
===================  ==================================  ==================================
PEX target           ``pex-branch-<role>``               ``pex-X.Y.Z`` (one for all roles)
PEX path             ``docker/pex-branch-<role>.pex``    ``docker/pex-X.Y.Z.pex``
image target         ``<role>-branch``                   ``<role>-X.Y.Z``
image tag            ``<system>/<role>:branch``          ``<system>/<role>:X.Y.Z``
docker-info path     ``docker/<role>-branch.docker-info.json``  ``docker/<role>-X.Y.Z.docker-info.json``
===================  ==================================  ==================================
"""

from __future__ import annotations

import dataclasses

from compat_matrix.errors import ReleaseError, SuiteDeclarationError, UnknownCellError
from compat_matrix.model import BRANCH, CellPlan, CellSpec, InstancePlan, Releases, Suite, SuitePlan, System
from compat_matrix.validate import validate_cell, validate_suite, validate_system, validate_topology
from compat_matrix.versions import is_release, resolve_version

ARTIFACT_DIR = "docker"
"""The directory (relative to the repo root and to the artifact root) of every PEX and image target."""


# --- naming convention (mirrored by the Pants macro) -------------------------------------------


def _check_concrete(version: str) -> None:
    # Naming only takes concrete versions: an alias here would name an artifact nobody builds.
    if version != BRANCH and not is_release(version):
        raise ValueError(f"artifact names need 'branch' or a release X.Y.Z, got {version!r}")


def pex_target(role: str, version: str) -> str:
    """The PEX target name in ``docker/BUILD``: ``pex-branch-<role>`` or ``pex-<X.Y.Z>``.

    The branch has one PEX per role (holding only what that role imports, so a change to one
    role's code invalidates only the cells that run it on the branch); a release has one PEX for
    all roles, resolved from the release's lockfile.
    """
    _check_concrete(version)
    return f"pex-{BRANCH}-{role}" if version == BRANCH else f"pex-{version}"


def pex_path(role: str, version: str) -> str:
    """The PEX file a ``role`` at ``version`` runs, relative to the artifact root."""
    return f"{ARTIFACT_DIR}/{pex_target(role, version)}.pex"


def image_target(role: str, version: str) -> str:
    """The ``docker_image`` target name in ``docker/BUILD``: ``<role>-<version>``."""
    _check_concrete(version)
    return f"{role}-{version}"


def image_tag(system: str, role: str, version: str) -> str:
    """The image tag of ``role`` at ``version``: ``<system>/<role>:<version>``."""
    _check_concrete(version)
    return f"{system}/{role}:{version}"


def image_info_path(role: str, version: str) -> str:
    """Where Pants writes the image's docker-info JSON, relative to the artifact root."""
    return f"{ARTIFACT_DIR}/{image_target(role, version)}.docker-info.json"


def instance_name(role: str, index: int) -> str:
    """An instance's name within a cell: ``<role>-<index>``, index from 0."""
    return f"{role}-{index}"


# --- planning ----------------------------------------------------------------------------------


def start_order(roles: tuple[str, ...], system: System) -> tuple[str, ...]:
    """``roles`` ordered so that every role comes after the present roles it ``depends_on``.

    Stable: among roles whose dependencies have started, the one declared first in ``roles``
    (the topology's order) starts first. ``depends_on`` on an absent role is ignored (it only
    orders; ``requires`` is what makes a role mandatory).
    """
    validate_system(system)  # also rules out cycles, so the loop below terminates
    present = set(roles)
    started: list[str] = []
    remaining = list(roles)
    while remaining:
        for role in remaining:
            deps = [d for d in system.roles[role].depends_on if d in present and d != role]
            if all(d in started for d in deps):
                started.append(role)
                remaining.remove(role)
                break
        else:  # pragma: no cover - validate_system rejects cycles
            raise SuiteDeclarationError(f"system {system.name!r}: cannot order roles {remaining}")
    return tuple(started)


def plan_cell(
    suite: Suite, cell: CellSpec | str, system: System, releases: Releases | None = None
) -> CellPlan:
    """Expand one cell of ``suite`` into instances in start order, with concrete versions.

    ``cell`` is a ``CellSpec`` or the name of one of the suite's cells. With ``releases=None``
    (versions already concrete, as in ``COMPAT_MATRIX_CELL``) aliases are rejected and pinning is
    not checked.
    """
    if isinstance(cell, str):
        spec = _find_cell(suite, cell)
    else:
        spec = cell
    validate_system(system)
    validate_topology(suite, system)
    validate_cell(suite, spec, system, releases)
    counts = dict(suite.topology.counts)
    instances: list[InstancePlan] = []
    for role in start_order(suite.topology.roles(), system):
        declared = spec.version_of(role)
        try:
            version = resolve_version(declared, releases)
        except ReleaseError as e:  # only an alias without releases gets past validate_cell
            raise ReleaseError(f"suite {suite.name!r}, cell {spec.name!r}, role {role!r}: {e}") from None
        for index in range(counts[role]):
            instances.append(
                InstancePlan(
                    role=role,
                    index=index,
                    name=instance_name(role, index),
                    version=version,
                    pex=pex_path(role, version),
                    image=image_tag(system.name, role, version),
                    image_info=image_info_path(role, version),
                    ports=system.roles[role].ports,
                    spec=declared,
                )
            )
    return CellPlan(suite=suite.name, cell=spec.name, instances=tuple(instances), system=system.name)


def plan_suite(suite: Suite, system: System, releases: Releases | None = None) -> SuitePlan:
    """Validate ``suite`` and plan every one of its cells, in declaration order."""
    validate_suite(suite, system, releases)
    return SuitePlan(
        suite=suite.name,
        cells=tuple(plan_cell(suite, cell, system, releases) for cell in suite.cells),
        system=system.name,
    )


def cell_artifacts(plan: CellPlan, backend: str) -> tuple[str, ...]:
    """The artifact paths a cell needs on ``backend``: PEXes (process) or docker-info files (docker).

    Sorted and without duplicates (workers share one PEX); the macro's
    ``runtime_package_dependencies`` are the targets behind exactly these paths.
    """
    if backend == "process":
        return tuple(sorted({inst.pex for inst in plan.instances}))
    if backend == "docker":
        return tuple(sorted({inst.image_info for inst in plan.instances}))
    raise ValueError(f"unknown backend {backend!r}; known backends: process, docker")


def _find_cell(suite: Suite, name: str) -> CellSpec:
    for cell in suite.cells:
        if cell.name == name:
            return cell
    known = ", ".join(c.name for c in suite.cells)
    raise UnknownCellError(f"suite {suite.name!r} has no cell {name!r}; its cells are: {known}")


# --- rendering ---------------------------------------------------------------------------------

_COLUMNS = ("instance", "role", "version", "pex", "image", "ports")


def render(plan: SuitePlan | CellPlan) -> str:
    """A readable text form of a plan: a header and a table per cell (stable, for golden files)."""
    if isinstance(plan, CellPlan):
        return _render_cell(plan)
    header = f"suite {plan.suite} (system {plan.system}): {len(plan.cells)} cell(s)"
    return "\n\n".join([header] + [_render_cell(cell) for cell in plan.cells])


def _render_cell(cell: CellPlan) -> str:
    rows = [_COLUMNS]
    for inst in cell.instances:
        version = inst.version if inst.spec in ("", inst.version) else f"{inst.version} ({inst.spec})"
        rows.append((inst.name, inst.role, version, inst.pex, inst.image, ",".join(inst.ports)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [f"cell {cell.cell}  [suite {cell.suite}]"]
    for n, row in enumerate(rows):
        lines.append("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def plan_to_json(plan: SuitePlan | CellPlan) -> dict[str, object]:
    """A JSON-ready dict of a plan (dataclass fields, tuples as lists)."""
    return dataclasses.asdict(plan)


__all__ = (
    "ARTIFACT_DIR",
    "cell_artifacts",
    "image_info_path",
    "image_tag",
    "image_target",
    "instance_name",
    "pex_path",
    "pex_target",
    "plan_cell",
    "plan_suite",
    "plan_to_json",
    "render",
    "start_order",
)
