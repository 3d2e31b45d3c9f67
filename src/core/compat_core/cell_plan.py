"""A planned cell as plain data: its instances in start order with their versions and artifacts,
the roles it runs, and any upgrade path expanded to steps (made by ``compat_core.plan``).

Pure and CPython 3.9-compatible, frozen and hashable like ``compat_core.model``; a cell's test
reads it back from JSON (``compat_core.codec``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from compat_core.errors import ArtifactError, SuiteDeclarationError, UnknownCellError
from compat_core.model import FAULT, RoleSpec


@dataclass(frozen=True)
class InstancePlan:
    """One process of a planned cell: which role, which concrete version, which artifacts.

    Artifact paths are relative to the artifact root (the Pants test sandbox, or ``dist/``).
    """

    role: str
    index: int
    name: str  # e.g. "worker-1"; unique within a cell
    version: str  # "branch" or a concrete pinned release such as "5.15"
    pex: str
    image: str  # image reference, e.g. "compat-matrix/conveyor/server:branch"
    image_info: str  # docker-info.json path
    ports: tuple[str, ...]
    declared_version: str = ""  # the version as the cell declared it, e.g. "latest" (for display)
    runs: str = ""  # the release a "branch" instance runs, for systems with a branch_release
    sources: str = ""  # the branch role's first-party sources directory ('' for a release: all in ``pex``)


@dataclass(frozen=True)
class RoleArtifacts:
    """The artifacts of one role at one concrete version (paths relative to the artifact root)."""

    role: str
    version: str
    pex: str
    image: str
    image_info: str
    runs: str = ""  # the release a "branch" runs, for systems with a branch_release
    sources: str = ""  # the branch role's first-party sources directory ('' for a release)


@dataclass(frozen=True)
class UpgradeStep:
    """One step of a planned upgrade path (see ``STEP_KINDS``), numbered from 1.

    ``instances`` are replaced (``upgrade`` / ``rollback``: from ``version_from`` to
    ``version_to``) or faulted (``fault``: ``fault`` for ``seconds``, then recovered), one after
    another; then the instances in ``restarts`` are started again (``UpgradeSpec.restart_after``).
    """

    number: int
    kind: str
    role: str
    instances: tuple[str, ...]
    version_from: str = ""
    version_to: str = ""
    fault: str = ""
    seconds: float = 0.0
    restarts: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line saying what the step does, e.g. ``upgrade worker-1 0.1.0 -> branch``."""
        who = ", ".join(self.instances)
        if self.kind == FAULT:
            undo = {"kill": "start it again", "pause": "resume it", "partition": "reconnect it", "restart": ""}
            text = f"fault: {self.fault} {who} ({self.version_from})"
            if self.fault != "restart":
                text += f" for {self.seconds:g}s, then {undo.get(self.fault, 'recover')}"
        else:
            text = f"{self.kind} {who} {self.version_from} -> {self.version_to}"
        if self.restarts:
            text += f"; then restart {', '.join(self.restarts)}"
        return text


@dataclass(frozen=True)
class UpgradePlan:
    """An upgrade path expanded with its seed: the steps a cell's test runs, in order."""

    name: str
    seed: int
    start: str  # concrete
    to: str  # concrete
    steps: tuple[UpgradeStep, ...]


@dataclass(frozen=True)
class CellPlan:
    """A cell expanded to instances in start order, with the specs of the roles it runs.

    ``upgrade``: the cell's planned upgrade path, if it runs one; ``artifacts``: the other
    (role, version) artifacts the path switches instances to (its test depends on them too).
    """

    suite: str
    name: str
    instances: tuple[InstancePlan, ...]
    system: str = ""
    roles: tuple[RoleSpec, ...] = ()
    system_address: str = ""  # the compat_system target, for "build it with" hints
    upgrade: UpgradePlan | None = None
    artifacts: tuple[RoleArtifacts, ...] = ()

    def instance_at(self, name: str, version: str) -> InstancePlan:
        """Instance ``name`` as it runs at concrete ``version``: same role, index, name and ports,
        that version's artifacts. Only versions the cell starts or its upgrade path visits (the
        artifacts its test has) are known."""
        current = None
        for inst in self.instances:
            if inst.name == name:
                current = inst
        if current is None:
            known = ", ".join(i.name for i in self.instances)
            raise UnknownCellError(f"cell {self.name!r} has no instance {name!r}; its instances are: {known}")
        if current.version == version:
            return current
        for other in self.instances:
            if other.role == current.role and other.version == version:
                return _at(current, other)
        for art in self.artifacts:
            if art.role == current.role and art.version == version:
                return _at(current, art)
        have = sorted({i.version for i in self.instances if i.role == current.role} | {
            a.version for a in self.artifacts if a.role == current.role
        })
        raise ArtifactError(
            f"cell {self.name!r}: no artifact of role {current.role!r} at version {version!r} (it has "
            f"{', '.join(have)}); a version an instance switches to must be on the cell's upgrade path "
            f"(compat_upgrade(...) in the suite's BUILD), so that its test depends on that artifact"
        )

    def role(self, name: str) -> RoleSpec:
        for spec in self.roles:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.roles)
        raise SuiteDeclarationError(f"cell {self.name!r} runs no role {name!r}; its roles: {known}")

    def role_map(self) -> dict[str, RoleSpec]:
        return {spec.name: spec for spec in self.roles}


def _at(inst: InstancePlan, other: InstancePlan | RoleArtifacts) -> InstancePlan:
    """``inst`` running ``other``'s version and artifacts."""
    return dataclasses.replace(
        inst,
        version=other.version,
        pex=other.pex,
        image=other.image,
        image_info=other.image_info,
        declared_version=other.version,
        runs=other.runs,
        sources=other.sources,
    )


@dataclass(frozen=True)
class SuitePlan:
    """Every cell of a suite, planned."""

    suite: str
    cells: tuple[CellPlan, ...]
    system: str = ""

    def cell(self, name: str) -> CellPlan:
        for cell in self.cells:
            if cell.name == name:
                return cell
        known = ", ".join(c.name for c in self.cells)
        raise UnknownCellError(f"suite {self.suite!r} has no cell {name!r}; its cells are: {known}")


__all__ = ("CellPlan", "InstancePlan", "RoleArtifacts", "SuitePlan", "UpgradePlan", "UpgradeStep")
