"""Plans and systems as JSON: how a generated test target hands its cell to the harness.

Pure and CPython 3.9-compatible. ``cell_to_json`` is what the Pants plugin puts in a cell test's
``COMPAT_MATRIX_CELL``; ``cell_from_json`` is how the harness reads it back. The JSON is the
dataclasses' fields (tuples as lists); reading it checks the shape and rebuilds the frozen model.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from compat_core.cell_plan import CellPlan, InstancePlan, RoleArtifacts, SuitePlan, UpgradePlan, UpgradeStep
from compat_core.errors import SuiteDeclarationError
from compat_core.model import Command, Probe, Releases, RoleSpec, System

FORMAT = 2
"""Bumped when the JSON's shape changes incompatibly."""


# CellPlan fields left out of the JSON when empty: a cell's JSON (and so its test's cache key)
# names only what the cell runs.
_OPTIONAL_CELL_FIELDS = ("upgrade", "artifacts")


def to_data(value: CellPlan | SuitePlan | System) -> dict[str, Any]:
    """A JSON-ready dict of a plan or system (dataclass fields, tuples as lists)."""
    data = dataclasses.asdict(value)
    for cell in data["cells"] if isinstance(value, SuitePlan) else [data] if isinstance(value, CellPlan) else []:
        for key in _OPTIONAL_CELL_FIELDS:
            if key in cell and not cell[key]:
                del cell[key]
    data["format"] = FORMAT
    return data


def cell_to_json(plan: CellPlan) -> str:
    """The compact, stable JSON of a planned cell (sorted keys: the same cell gives the same text)."""
    return json.dumps(to_data(plan), sort_keys=True, separators=(",", ":"))


def cell_from_json(text: str, source: str = "COMPAT_MATRIX_CELL") -> CellPlan:
    """The ``CellPlan`` of ``cell_to_json`` text; ``SuiteDeclarationError`` naming ``source`` otherwise."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SuiteDeclarationError(
            f"{source} is not valid JSON ({exc}); it is set by the compat_suite target, or by "
            f"`./pants compat-plan --json <cell target>`"
        ) from None
    return cell_from_data(data, source)


def cell_from_data(data: Any, source: str = "cell") -> CellPlan:
    try:
        _check_format(data, source)
        return CellPlan(
            suite=str(data["suite"]),
            name=str(data["name"]),
            system=str(data["system"]),
            instances=tuple(_instance(i) for i in data["instances"]),
            roles=tuple(role_from_data(r) for r in data["roles"]),
            system_address=str(data.get("system_address", "")),
            upgrade=None if data.get("upgrade") is None else _upgrade(data["upgrade"]),
            artifacts=tuple(_artifacts(a) for a in data.get("artifacts", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SuiteDeclarationError(
            f"{source} is not a planned cell ({type(exc).__name__}: {exc}); regenerate it with "
            f"`./pants compat-plan --json <cell target>`"
        ) from None


def system_from_data(data: Any, source: str = "system") -> System:
    try:
        _check_format(data, source)
        rel = data["releases"]
        return System(
            name=str(data["name"]),
            role_specs=tuple(role_from_data(r) for r in data["role_specs"]),
            releases=Releases(
                package=str(rel["package"]),
                pinned=tuple(rel["pinned"]),
                earliest=str(rel["earliest"]),
                index=str(rel.get("index", "")),
                requirements=tuple((str(v), tuple(reqs)) for v, reqs in rel.get("requirements", ())),
                resolves=tuple((str(v), str(r)) for v, r in rel.get("resolves", ())),
                branch_release=str(rel.get("branch_release", "")),
            ),
            branch_resolve=str(data.get("branch_resolve", "python-default")),
            branch_release=str(data.get("branch_release", "")),
            release_dependencies=tuple(data.get("release_dependencies", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SuiteDeclarationError(f"{source} is not a system ({type(exc).__name__}: {exc})") from None


def role_from_data(data: Mapping[str, Any]) -> RoleSpec:
    probe = data["readiness"]
    return RoleSpec(
        name=str(data["name"]),
        command=Command(kind=str(data["command"]["kind"]), value=str(data["command"]["value"])),
        readiness=Probe(
            kind=str(probe["kind"]),
            port=str(probe.get("port", "")),
            path=str(probe.get("path", "/")),
            service=str(probe.get("service", "")),
            pattern=str(probe.get("pattern", "")),
            args=tuple(probe.get("args", ())),
            timeout=float(probe.get("timeout", 60.0)),
            interval=float(probe.get("interval", 0.1)),
        ),
        args=tuple(data.get("args", ())),
        ports=tuple(data.get("ports", ())),
        env=_pairs(data.get("env", ())),
        files=_pairs(data.get("files", ())),
        depends_on=tuple(data.get("depends_on", ())),
        requires=tuple(data.get("requires", ())),
        args_if_present=tuple((str(r), tuple(a)) for r, a in data.get("args_if_present", ())),
        log_files=tuple(data.get("log_files", ())),
        cpus=None if data.get("cpus") is None else float(data["cpus"]),
        memory=None if data.get("memory") is None else str(data["memory"]),
        branch_sources=tuple(data.get("branch_sources", ())),
    )


def _instance(data: Mapping[str, Any]) -> InstancePlan:
    return InstancePlan(
        role=str(data["role"]),
        index=int(data["index"]),
        name=str(data["name"]),
        version=str(data["version"]),
        pex=str(data["pex"]),
        image=str(data["image"]),
        image_info=str(data["image_info"]),
        ports=tuple(data["ports"]),
        declared_version=str(data.get("declared_version", "")),
        runs=str(data.get("runs", "")),
        sources=str(data.get("sources", "")),
    )


def _upgrade(data: Mapping[str, Any]) -> UpgradePlan:
    return UpgradePlan(
        name=str(data["name"]),
        seed=int(data["seed"]),
        start=str(data["start"]),
        to=str(data["to"]),
        steps=tuple(
            UpgradeStep(
                number=int(step["number"]),
                kind=str(step["kind"]),
                role=str(step["role"]),
                instances=tuple(str(i) for i in step["instances"]),
                version_from=str(step.get("version_from", "")),
                version_to=str(step.get("version_to", "")),
                fault=str(step.get("fault", "")),
                seconds=float(step.get("seconds", 0.0)),
                restarts=tuple(str(i) for i in step.get("restarts", ())),
            )
            for step in data["steps"]
        ),
    )


def _artifacts(data: Mapping[str, Any]) -> RoleArtifacts:
    return RoleArtifacts(
        role=str(data["role"]),
        version=str(data["version"]),
        pex=str(data["pex"]),
        image=str(data["image"]),
        image_info=str(data["image_info"]),
        runs=str(data.get("runs", "")),
        sources=str(data.get("sources", "")),
    )


def _pairs(items: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in items)


def _check_format(data: Any, source: str) -> None:
    if not isinstance(data, dict):
        raise SuiteDeclarationError(f"{source} must be a JSON object, got {type(data).__name__}")
    if data.get("format", FORMAT) != FORMAT:
        raise SuiteDeclarationError(
            f"{source} has format {data.get('format')!r}, this harness reads format {FORMAT}; "
            f"regenerate it with the same checkout's ./pants"
        )


__all__ = (
    "FORMAT",
    "cell_from_data",
    "cell_from_json",
    "cell_to_json",
    "role_from_data",
    "system_from_data",
    "to_data",
)
