"""Artifact naming: the one place that says what every generated target and file is called.

Pure and CPython 3.9-compatible. The Pants plugin names the targets it generates with these
functions and the planner records the resulting paths in each cell, so the harness finds exactly
what the build produced. Every name carries the system, so two systems never collide:

=====================  ==========================================  ===================================
artifact               branch                                      release V (e.g. ``5.15``)
=====================  ==========================================  ===================================
PEX target             ``<system>#pex-branch`` (all roles)         ``<system>#pex-V`` (all roles)
requirements target    ``<system>#requirements-branch``            (none: a release's is its own)
PEX path               ``compat/<system>/pex-branch.pex``          ``compat/<system>/pex-V.pex``
sources target         ``<system>#src-branch-<role>``              (none: a release's PEX has all)
sources path           ``compat/<system>/src-branch-<role>/``      (none)
image target           ``<system>#<role>-branch``                  ``<system>#<role>-V``
image reference        ``compat-matrix/<system>/<role>:branch``    ``compat-matrix/<system>/<role>:V``
docker-info path       ``compat/<system>/<role>-branch.docker-info.json`` (likewise for V)
requirement target     (none)                                      ``<system>#release-V``
resolve                ``python-default`` (or the system's)        ``<system>-V`` (or the release's)
=====================  ==========================================  ===================================

A release's version ``V`` is used verbatim, as the system pins it (``compat_core.versions``): a
system pinning ``5.15`` has ``#pex-5.15``, ``:5.15`` and the resolve ``<system>-5.15``. A release
is a normalized PEP 440 final or post-release, so ``V`` holds only ``[0-9a-z.]``, which every one
of these names (a Docker tag allows ``[A-Za-z0-9_.-]``) takes as it is.

A system whose ``branch_release`` is set has no branch artifacts: ``branch`` runs that release's.

The branch is one requirements PEX, shared by its roles as a release's PEX is (the third-party
requirements its roles' code imports), and per role a sources directory (put on the PEX's
``sys.path`` at run time) of only that role's first-party code. A source edit rebuilds the small
sources artifact and its thin image layer; the requirements PEX, its venv and its image layer stay
as they were, and every branch role's image is built on that one layer.
"""

from __future__ import annotations

from compat_core.cell_plan import CellPlan
from compat_core.contract import ARTIFACT_ROOT_DIR
from compat_core.model import BRANCH, System
from compat_core.versions import is_release

IMAGE_NAMESPACE = "compat-matrix"
"""The first part of every image repository: ``compat-matrix/<system>/<role>``."""


def _check_concrete(version: str) -> None:
    # Naming only takes concrete versions: an alias here would name an artifact nobody builds.
    if version != BRANCH and not is_release(version):
        raise ValueError(f"artifact names need 'branch' or a release (e.g. '5.15' or '1.4.post1'), got {version!r}")


def artifact_version(system: System, version: str) -> str:
    """The version whose artifacts ``version`` runs: ``branch_release`` for a branch played by a release."""
    _check_concrete(version)
    if version == BRANCH and system.branch_release:
        return system.branch_release
    return version


def pex_target(system: System, version: str) -> str:
    """The generated name of the PEX every role at ``version`` runs: one per version.

    The branch's holds only third-party requirements (each role's code is its sources artifact), so
    a change to one role's code reruns only the cells that run that role on the branch. One PEX,
    not one per role: the roles' images share its venv layer, as a hand-written Dockerfile per
    version would, and a cold run builds one requirements PEX and venv instead of one per role.
    """
    version = artifact_version(system, version)
    return f"pex-{version}"


def branch_requirements_target(system: System) -> str:
    """The generated name of the branch's third-party requirements (what ``#pex-branch`` holds).

    The PEX depends on it, not on the roles' sources: a source edit must not make every cell that
    runs any role on the branch a dependent of the edited file (``pants --changed-dependents``).
    """
    return f"requirements-{BRANCH}"


def sources_target(system: System, role: str, version: str) -> str:
    """The generated name of the first-party sources of ``role`` at ``version`` ('' for a release)."""
    version = artifact_version(system, version)
    return f"src-{BRANCH}-{role}" if version == BRANCH else ""


def image_target(system: System, role: str, version: str) -> str:
    """The generated name of the image of ``role`` at ``version``: ``<role>-<version>``."""
    return f"{role}-{artifact_version(system, version)}"


def requirement_target(version: str) -> str:
    """The generated name of release ``version``'s requirements: ``release-<version>``."""
    _check_concrete(version)
    return f"release-{version}"


def artifact_dir(system_name: str) -> str:
    """Where a system's artifacts land, relative to the artifact root: ``compat/<system>``."""
    return f"{ARTIFACT_ROOT_DIR}/{system_name}"


def pex_path(system: System, version: str) -> str:
    """The PEX file every role at ``version`` runs, relative to the artifact root."""
    return f"{artifact_dir(system.name)}/{pex_target(system, version)}.pex"


def sources_path(system: System, role: str, version: str) -> str:
    """The sources directory a ``role`` at ``version`` runs, relative to the artifact root ('' for a release)."""
    target = sources_target(system, role, version)
    return f"{artifact_dir(system.name)}/{target}" if target else ""


def artifact_address(plan: CellPlan, path: str) -> str:
    """The generated target behind an artifact path of ``plan`` (``compat/<system>/<name>[.<ext>]``)."""
    name = path.rsplit("/", 1)[-1]
    for suffix in (".docker-info.json", ".pex"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return f"{plan.system_address or plan.system}#{name}"


def image_repository(system_name: str, role: str) -> str:
    """The image repository of a role: ``compat-matrix/<system>/<role>``."""
    return f"{IMAGE_NAMESPACE}/{system_name}/{role}"


def image_ref(system: System, role: str, version: str) -> str:
    """The image reference of ``role`` at ``version`` (repository and tag)."""
    return f"{image_repository(system.name, role)}:{artifact_version(system, version)}"


def image_info_path(system: System, role: str, version: str) -> str:
    """Where Pants writes the image's docker-info JSON, relative to the artifact root."""
    return f"{artifact_dir(system.name)}/{image_target(system, role, version)}.docker-info.json"


def release_resolve(system_name: str, version: str) -> str:
    """The default resolve of a release: ``<system>-<version>``, e.g. ``dagster-1.13.28`` or ``qt-5.15``
    (a ``[python.resolves]`` entry)."""
    _check_concrete(version)
    return f"{system_name}-{version}"


def instance_name(role: str, index: int) -> str:
    """An instance's name within a cell: ``<role>-<index>``, index from 0."""
    return f"{role}-{index}"


def cell_target(cell: str, backend: str, module: str = "") -> str:
    """The generated name of a cell's test: ``<cell>-<backend>``, plus ``-<module stem>`` when the
    suite has several test modules."""
    base = f"{cell}-{backend}"
    if not module:
        return base
    stem = module.rsplit("/", 1)[-1]
    stem = stem[: -len(".py")] if stem.endswith(".py") else stem
    return f"{base}-{stem}"


__all__ = (
    "IMAGE_NAMESPACE",
    "artifact_address",
    "artifact_dir",
    "artifact_version",
    "branch_requirements_target",
    "cell_target",
    "image_info_path",
    "image_ref",
    "image_repository",
    "image_target",
    "instance_name",
    "pex_path",
    "pex_target",
    "release_resolve",
    "requirement_target",
    "sources_path",
    "sources_target",
)
