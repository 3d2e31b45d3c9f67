"""Target generation: what a ``compat_system`` and a ``compat_suite`` expand to.

Thin: every name comes from ``compat_core.names``, every plan from ``compat_core.plan``; this
module only turns them into Pants targets. The pure parts (``system_artifacts``,
``suite_tests``) return plain field dicts so the plugin's tests can check them directly.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from pants.backend.docker.target_types import DockerImageTarget
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import PexBinary, PythonRequirementTarget, PythonTestTarget
from pants.core.goals.test import TestExtraEnvVarsField
from pants.engine.addresses import Address
from pants.engine.internals.native_engine import AddressInput
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import (
    GeneratedTargets,
    GenerateTargetsRequest,
    InvalidTargetException,
    SourcesPaths,
    SourcesPathsRequest,
    Tags,
    Target,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.engine.unions import UnionMembership, UnionRule

from compat_core.cell_plan import SuitePlan
from compat_core.codec import cell_to_json
from compat_core.contract import (
    ARTIFACT_TAG,
    BACKEND_ENV,
    BASE_IMAGE_ENV,
    BRANCH_TAG,
    CELL_ENV,
    DOCKER_TAG,
    MATRIX_TAG,
    PIN_COMMAND,
    RELEASE_LOCKFILE_DIR,
    RELEASE_TAG,
)
from compat_core.errors import CompatMatrixError
from compat_core.images import role_instructions
from compat_core.labels import IMAGE_LABEL_ROLE, IMAGE_LABEL_SYSTEM, IMAGE_LABEL_VERSION
from compat_core.model import BRANCH, Suite, System
from compat_core.names import (
    artifact_version,
    branch_requirements_target,
    cell_target,
    image_info_path,
    image_repository,
    image_target,
    pex_path,
    pex_target,
    requirement_target,
    sources_path,
    sources_target,
)
from compat_core.plan import expand_cells, plan_suite
from compat_core.settings import Settings
from compat_core.upgrade import with_seed
from compat_core.versions import apply_earliest_override
from compat_plugin.sources import CompatBranchRequirementsTarget, CompatBranchSourcesTarget
from compat_plugin.suite_target import (
    CompatSuiteDependenciesField,
    CompatSuiteResolveField,
    CompatSuiteSourcesField,
    CompatSuiteSystemField,
    CompatSuiteTarget,
    CompatSuiteTimeoutField,
    suite_of,
)
from compat_plugin.target_types import CompatSystemTarget, system_of

# --- pure: what a system generates ---------------------------------------------------------------


def system_artifacts(
    system: System, address: Address, base_image: str
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Generated name -> (target alias, fields) of every artifact of ``system``; its images start
    FROM ``base_image`` (the ``base_image`` setting)."""
    own = f"//{address.spec_path}:{address.target_name}"
    generated: dict[str, tuple[str, dict[str, Any]]] = {}
    # Packed: a directory whose wheels are zip files pex keeps in its cache, so versions, the
    # tests' own PEXes and every later build that hold a distribution zip it once, where a zipapp
    # compresses every distribution into one new file per version. The docker backend builds
    # images from either layout.
    pex_common = {"execution_mode": "venv", "include_tools": True, "layout": "packed"}
    for version in system.releases.pinned:
        generated[requirement_target(version)] = (
            "python_requirement",
            {
                "requirements": list(system.releases.requirements_of(version)),
                "resolve": system.releases.resolve_of(version),
                "tags": [RELEASE_TAG],
            },
        )
        generated[pex_target(system, version)] = (
            "pex_binary",
            {
                **pex_common,
                "dependencies": [f"{own}#{requirement_target(version)}", *system.release_dependencies],
                "resolve": system.releases.resolve_of(version),
                "output_path": pex_path(system, version),
                "tags": [ARTIFACT_TAG, RELEASE_TAG],
            },
        )
    versions = list(system.releases.pinned)
    if not system.branch_release:
        versions.insert(0, BRANCH)
        # The branch's requirements PEX, shared by its roles as a release's is: third-party only,
        # what the roles' sources artifacts import (#requirements-branch, inferred through them,
        # compat_plugin.sources), so a source edit leaves it, its venv and its image layer as they
        # are, and no cell depends on a role's sources through it. The role's command is chosen at
        # run time (PEX_MODULE / PEX_SCRIPT), as for a release.
        generated[branch_requirements_target(system)] = (
            "compat_branch_requirements",
            {
                "requirements_of": [f"{own}#{sources_target(system, role.name, BRANCH)}" for role in system.role_specs],
                "tags": [BRANCH_TAG],
            },
        )
        generated[pex_target(system, BRANCH)] = (
            "pex_binary",
            {
                **pex_common,
                "dependencies": [f"{own}#{branch_requirements_target(system)}"],
                "include_sources": False,
                "resolve": system.branch_resolve,
                "output_path": pex_path(system, BRANCH),
                "tags": [ARTIFACT_TAG, BRANCH_TAG, *(role.name for role in system.role_specs)],
            },
        )
        for role in system.role_specs:
            # Per role, its first-party sources: a directory packaged without a process
            # (compat_plugin.sources), put on the PEX's sys.path at run time.
            generated[sources_target(system, role.name, BRANCH)] = (
                "compat_branch_sources",
                {
                    # A console script lives in a distribution (the requirements PEX has it).
                    **({"module": role.command.value} if role.command.kind == "module" else {}),
                    "dependencies": list(role.branch_sources),
                    "resolve": system.branch_resolve,
                    "output_path": sources_path(system, role.name, BRANCH),
                    "tags": [ARTIFACT_TAG, BRANCH_TAG, role.name],
                },
            )
    for role in system.role_specs:
        for version in versions:
            tag = artifact_version(system, version)
            sources = sources_target(system, role.name, version)
            generated[image_target(system, role.name, version)] = (
                "docker_image",
                {
                    "repository": image_repository(system.name, role.name),
                    "image_tags": [tag],
                    "dependencies": [f"{own}#{pex_target(system, version)}"]
                    + ([f"{own}#{sources}"] if sources else []),
                    "instructions": role_instructions(
                        pex_path(system, version), role, sources_path(system, role.name, version)
                    ),
                    # The recipe's `FROM ${BASE_IMAGE}`: from the plugin, so a repo needs no
                    # [docker].build_args nor an environment variable for it.
                    "extra_build_args": [f"{BASE_IMAGE_ENV}={base_image}"],
                    "image_labels": {
                        IMAGE_LABEL_SYSTEM: system.name,
                        IMAGE_LABEL_ROLE: role.name,
                        IMAGE_LABEL_VERSION: tag,
                    },
                    "output_path": image_info_path(system, role.name, version),
                    # `docker`: left out with the docker cells where no engine can be had (./pants).
                    "tags": [ARTIFACT_TAG, DOCKER_TAG, role.name, tag],
                },
            )
    return generated


def suite_tests(
    suite: Suite,
    plan: SuitePlan,
    system: System,
    system_address: Address,
    modules: tuple[str, ...],
    tags: tuple[str, ...],
    timeout: int,
    settings: Settings,
) -> dict[str, dict[str, Any]]:
    """Generated name -> python_test fields of every cell x backend (x module) of a planned suite;
    a cell test's environment carries its cell, its backend and what ``settings`` it needs."""
    own = f"//{system_address.spec_path}:{system_address.target_name}"
    tests: dict[str, dict[str, Any]] = {}
    for cell in plan.cells:
        cell_json = cell_to_json(cell)
        for backend in suite.backends:
            # Both backends run the cell's PEXes (and branch sources): the docker backend builds its images from them
            # (compat_core.images), so a docker cell's cache key is what went into its images.
            # An upgrade path's cell also runs every (role, version) its steps switch to.
            visited = [(inst.role, inst.version) for inst in cell.instances]
            visited += [(art.role, art.version) for art in cell.artifacts]
            artifacts = sorted(
                {f"{own}#{pex_target(system, version)}" for _, version in visited}
                | {f"{own}#{sources_target(system, role, version)}" for role, version in visited if sources_target(system, role, version)}
            )
            for module in modules:
                name = cell_target(cell.name, backend, module if len(modules) > 1 else "")
                tests[name] = {
                    "source": module,
                    "runtime_package_dependencies": artifacts,
                    "extra_env_vars": [f"{CELL_ENV}={cell_json}", f"{BACKEND_ENV}={backend}"]
                    + [f"{name}={value}" for name, value in settings.cell_env(backend).items()],
                    # `docker`: left out where no engine can be had (./pants).
                    "tags": _unique([cell.name, suite.name, plan.system, backend, MATRIX_TAG, *tags]),
                    "timeout": timeout,
                }
    return tests


def cell_json_of(target: Target) -> str | None:
    """The planned cell a cell test ``suite_tests`` generated carries in its environment, as JSON
    (None for any other target)."""
    if not target.has_field(TestExtraEnvVarsField):
        return None
    prefix = CELL_ENV + "="
    return next((v[len(prefix) :] for v in target[TestExtraEnvVarsField].value or () if v.startswith(prefix)), None)


def _unique(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


# --- rules ---------------------------------------------------------------------------------------


class GenerateCompatSystemRequest(GenerateTargetsRequest):
    generate_from = CompatSystemTarget


_TARGET_TYPES = {
    "pex_binary": PexBinary,
    "docker_image": DockerImageTarget,
    "python_requirement": PythonRequirementTarget,
    "compat_branch_sources": CompatBranchSourcesTarget,
    "compat_branch_requirements": CompatBranchRequirementsTarget,
}


@rule(desc="Generate a compat_system's artifacts")
async def generate_compat_system(
    request: GenerateCompatSystemRequest, union_membership: UnionMembership, python_setup: PythonSetup, settings: Settings
) -> GeneratedTargets:
    generator = request.generator
    system = system_of(generator)
    where = f"{generator.address.spec_path}/BUILD, target {generator.address}"
    known = python_setup.resolves
    wanted = [system.branch_resolve] if not system.branch_release else []
    wanted += [system.releases.resolve_of(v) for v in system.releases.pinned]
    for resolve in wanted:
        if resolve not in known:
            version = next((v for v in system.releases.pinned if system.releases.resolve_of(v) == resolve), "")
            entry = f"`\"{resolve}\" = \"{RELEASE_LOCKFILE_DIR}/{resolve}.lock\"`"
            raise InvalidTargetException(
                f"{where}: release {version} of {system.name} is not pinned: there is no resolve {resolve!r} in "
                f"[python.resolves] of pants.toml; run {PIN_COMMAND} {generator.address} {version}, which adds "
                f"{entry} and runs ./pants generate-lockfiles --resolve={resolve}"
                if version
                else f"{where}: the branch of {system.name} has no resolve: there is no resolve {resolve!r} in "
                f"[python.resolves] of pants.toml; add {entry} and run ./pants generate-lockfiles --resolve={resolve}"
            )
    generated = []
    for name, (alias, fields) in system_artifacts(system, generator.address, settings.base_image).items():
        generated.append(_TARGET_TYPES[alias](fields, generator.address.create_generated(name), union_membership))
    return GeneratedTargets(generator, generated)


class GenerateCompatSuiteRequest(GenerateTargetsRequest):
    generate_from = CompatSuiteTarget


@dataclass(frozen=True)
class SuitePlanRequest:
    """Plan the suite declared by a ``compat_suite`` target (with the settings' overrides)."""

    suite: CompatSuiteTarget


@dataclass(frozen=True)
class PlannedSuite:
    suite: Suite
    system: System
    system_address: Address
    plan: SuitePlan


@rule(desc="Plan a compat_suite")
async def plan_compat_suite(request: SuitePlanRequest, settings: Settings) -> PlannedSuite:
    target = request.suite
    suite = suite_of(target)
    where = f"{target.address.spec_path}/BUILD, target {target.address}"
    spec = target[CompatSuiteSystemField].value
    system_input = AddressInput.parse(
        spec, relative_to=target.address.spec_path, description_of_origin=f"the `system` field of {target.address}"
    )
    system_address = await Get(Address, AddressInput, system_input)
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(system_address, description_of_origin=f"the `system` field of {target.address}"),
    )
    if not isinstance(wrapped.target, CompatSystemTarget):
        raise InvalidTargetException(
            f"{where}: system={spec!r} is a {wrapped.target.alias} target, not a compat_system; name the "
            f"product's compat_system target, e.g. src/python/conveyor:conveyor"
        )
    system = system_of(wrapped.target)
    try:
        releases = apply_earliest_override(system.releases, system.name, settings.earliest_env)
        named = with_seed(dataclasses.replace(suite, system=system.name), settings.seed)
        plan = plan_suite(expand_cells(named, releases, settings.full_matrix), system, releases)
    except CompatMatrixError as exc:
        raise InvalidTargetException(f"{where}: {exc}") from None
    own = f"{system_address.spec_path}:{system_address.target_name}"
    plan = dataclasses.replace(plan, cells=tuple(dataclasses.replace(c, system_address=own) for c in plan.cells))
    return PlannedSuite(suite=named, system=system, system_address=system_address, plan=plan)


@rule(desc="Generate a compat_suite's cell tests")
async def generate_compat_suite(
    request: GenerateCompatSuiteRequest, union_membership: UnionMembership, python_setup: PythonSetup, settings: Settings
) -> GeneratedTargets:
    generator = request.generator
    planned = await Get(PlannedSuite, SuitePlanRequest(generator))  # type: ignore[arg-type]
    paths = await Get(SourcesPaths, SourcesPathsRequest(generator[CompatSuiteSourcesField]))
    where = f"{generator.address.spec_path}/BUILD, target {generator.address}"
    resolve = generator[CompatSuiteResolveField].value
    if resolve is not None and resolve not in python_setup.resolves:
        raise InvalidTargetException(
            f"{where}: resolve={resolve!r} is not a resolve: add `{resolve} = \"3rdparty/python/{resolve}.lock\"` to "
            f"[python.resolves] in pants.toml (and the harness to it: PRODUCT_TEST_RESOLVES in "
            f"3rdparty/python/test_resolves.py), then run ./pants generate-lockfiles --resolve={resolve}; "
            f"the resolves are {', '.join(sorted(python_setup.resolves))}"
        )
    if not paths.files:
        globs = ", ".join(generator[CompatSuiteSourcesField].value or ())
        raise InvalidTargetException(
            f"{where}: sources={globs!r} match no file in {generator.address.spec_path}/; name the suite's test "
            f"modules (e.g. sources=[\"test_*.py\"])"
        )
    modules = tuple(sorted(os.path.relpath(f, generator.address.spec_path) for f in paths.files))
    tags = tuple(generator[Tags].value or ())
    dependencies = list(request.template.get(CompatSuiteDependenciesField.alias, ()))
    generated = []
    for name, fields in suite_tests(
        planned.suite, planned.plan, planned.system, planned.system_address, modules, tags, generator[CompatSuiteTimeoutField].value,
        settings,
    ).items():
        fields = {**fields, "dependencies": dependencies, **({"resolve": resolve} if resolve is not None else {})}
        generated.append(PythonTestTarget(fields, generator.address.create_generated(name), union_membership))
    return GeneratedTargets(generator, generated)


def rules() -> tuple[Any, ...]:
    return (
        *collect_rules(),
        UnionRule(GenerateTargetsRequest, GenerateCompatSystemRequest),
        UnionRule(GenerateTargetsRequest, GenerateCompatSuiteRequest),
    )


__all__ = ("PlannedSuite", "SuitePlanRequest", "cell_json_of", "rules", "suite_tests", "system_artifacts")
