"""Artifact naming: every name carries the system, so no two artifacts (of one or two systems) collide."""

from __future__ import annotations

import itertools
import re

import pytest

from compat_core.cell_plan import CellPlan
from compat_core.model import System
from compat_core.names import (
    IMAGE_NAMESPACE,
    artifact_address,
    artifact_dir,
    artifact_version,
    cell_target,
    image_info_path,
    image_ref,
    image_repository,
    image_target,
    instance_name,
    pex_path,
    pex_target,
    release_resolve,
    requirement_target,
    sources_path,
    sources_target,
)
from compat_core_tests.examples import cluster, role, system_with


def test_branch_names() -> None:
    system = cluster("conveyor")
    # One requirements PEX for every role on the branch, as for a release.
    assert pex_target(system, "branch") == "pex-branch"
    assert pex_path(system, "branch") == "compat/conveyor/pex-branch.pex"
    assert image_target(system, "server", "branch") == "server-branch"
    assert image_ref(system, "server", "branch") == "compat-matrix/conveyor/server:branch"
    assert image_info_path(system, "server", "branch") == "compat/conveyor/server-branch.docker-info.json"
    # A branch role's first-party code is an artifact of its own, beside its requirements PEX.
    assert sources_target(system, "server", "branch") == "src-branch-server"
    assert sources_path(system, "server", "branch") == "compat/conveyor/src-branch-server"


def test_release_names() -> None:
    system = cluster("conveyor")
    # One PEX per release holds every role.
    assert pex_target(system, "0.1.0") == "pex-0.1.0"
    # Its PEX holds the release's own code too: no sources artifact.
    assert sources_target(system, "server", "0.1.0") == sources_path(system, "server", "0.1.0") == ""
    assert pex_path(system, "0.1.0") == "compat/conveyor/pex-0.1.0.pex"
    assert image_target(system, "worker", "0.1.0") == "worker-0.1.0"
    assert image_ref(system, "worker", "0.1.0") == "compat-matrix/conveyor/worker:0.1.0"
    assert image_info_path(system, "worker", "0.1.0") == "compat/conveyor/worker-0.1.0.docker-info.json"
    assert requirement_target("0.1.0") == "release-0.1.0"
    assert release_resolve("conveyor", "0.1.0") == "conveyor-0.1.0"


def test_small_names() -> None:
    assert artifact_dir("conveyor") == "compat/conveyor"
    assert image_repository("conveyor", "user-code") == f"{IMAGE_NAMESPACE}/conveyor/user-code"
    assert instance_name("worker", 1) == "worker-1"
    assert cell_target("server-latest", "process") == "server-latest-process"
    assert cell_target("server-latest", "docker", "test_jobs.py") == "server-latest-docker-test_jobs"
    assert cell_target("server-latest", "docker", "sub/test_jobs.py") == "server-latest-docker-test_jobs"


def test_a_release_playing_branch_names_that_release() -> None:
    system = cluster("dagster", branch_release="0.2.0")
    assert artifact_version(system, "branch") == "0.2.0"
    assert artifact_version(system, "0.1.0") == "0.1.0"
    assert pex_target(system, "branch") == "pex-0.2.0"
    assert pex_path(system, "branch") == "compat/dagster/pex-0.2.0.pex"
    assert image_target(system, "server", "branch") == "server-0.2.0"
    assert image_ref(system, "server", "branch") == "compat-matrix/dagster/server:0.2.0"
    assert image_info_path(system, "server", "branch") == "compat/dagster/server-0.2.0.docker-info.json"


def test_release_names_carry_the_version_as_pinned() -> None:
    # Two-part and post releases as PyPI names them: never padded to X.Y.Z.
    system = cluster("qt", pinned=("5.15", "6.2", "1.4.post1"), earliest="5.15")
    assert pex_target(system, "5.15") == "pex-5.15"
    assert pex_path(system, "5.15") == "compat/qt/pex-5.15.pex"
    assert image_target(system, "server", "6.2") == "server-6.2"
    assert image_ref(system, "server", "5.15") == "compat-matrix/qt/server:5.15"
    assert image_ref(system, "server", "1.4.post1") == "compat-matrix/qt/server:1.4.post1"
    assert image_info_path(system, "worker", "1.4.post1") == "compat/qt/worker-1.4.post1.docker-info.json"
    assert requirement_target("5.15") == "release-5.15"
    assert release_resolve("qt", "5.15") == "qt-5.15"
    assert system.releases.resolve_of("1.4.post1") == "qt-1.4.post1"


@pytest.mark.parametrize("version", ["latest", "earliest", "01.2.3", "5.15.0rc1", "1.0.dev0", "1!2.0", "1.0+local", "v1.0", ""])
def test_names_take_only_concrete_versions(version: str) -> None:
    system = cluster()
    for name in (image_target, image_ref, image_info_path):
        with pytest.raises(ValueError, match="'branch' or a release"):
            name(system, "server", version)
    for of_version in (pex_target, pex_path):
        with pytest.raises(ValueError, match="'branch' or a release"):
            of_version(system, version)
    with pytest.raises(ValueError, match=re.escape(repr(version))):
        requirement_target(version)
    with pytest.raises(ValueError):
        release_resolve("cluster", version)


def _everything(system: System) -> dict[str, list[tuple[str, str]]]:
    """Kind -> (artifact, name) of every name a system's artifacts get (target, path, image, resolve)."""
    versions = ["branch", *system.releases.pinned]
    out: dict[str, list[tuple[str, str]]] = {"target": [], "path": [], "image": [], "resolve": []}
    for role_name, version in itertools.product(system.roles, versions):
        # A version has one PEX for all its roles: one artifact, named once.
        pex = f"pex of version {version}"
        image = f"image of {role_name}@{version}"
        out["target"] += [(pex, pex_target(system, version)), (image, image_target(system, role_name, version))]
        out["path"] += [(pex, pex_path(system, version)), (image, image_info_path(system, role_name, version))]
        out["image"].append((image, image_ref(system, role_name, version)))
    for version in system.releases.pinned:
        out["target"].append((f"requirements of release {version}", requirement_target(version)))
        out["resolve"].append((f"release {version}", release_resolve(system.name, version)))
    return out


def clashes(named: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Name -> artifacts, for every name given to more than one artifact."""
    owners: dict[str, set] = {}
    for artifact, name in named:
        owners.setdefault(name, set()).add(artifact)
    return {name: sorted(artifacts) for name, artifacts in owners.items() if len(artifacts) > 1}


SYSTEM_PAIRS = [
    ("conveyor", "dagster"),
    ("conveyor", "conveyor-2"),
    ("a", "a-0"),  # a prefix plus what looks like a version part
    ("a-0.1", "a"),
    ("x.y", "x-y"),
]


@pytest.mark.parametrize("first, second", SYSTEM_PAIRS)
@pytest.mark.parametrize("branch_release", ["", "0.1.0"])
def test_two_systems_never_collide(first: str, second: str, branch_release: str) -> None:
    one = cluster(first, pinned=("0.1.0", "1.0.0"), branch_release=branch_release)
    two = cluster(second, pinned=("0.1.0", "1.0.0"), branch_release=branch_release)
    a, b = _everything(one), _everything(two)
    # Generated targets live under each system's own address; paths, images and resolves are global.
    for kind in ("path", "image", "resolve"):
        shared = {name for _, name in a[kind]} & {name for _, name in b[kind]}
        assert not shared, f"{kind} names shared by systems {first!r} and {second!r}: {sorted(shared)}"
    assert all(name.startswith(f"compat/{first}/") for _, name in a["path"])
    assert all(ref.startswith(f"compat-matrix/{first}/") for _, ref in a["image"])


@pytest.mark.parametrize(
    "roles",
    [
        ("scheduler", "worker", "user-code", "server"),
        # Role names that look like parts of other generated names but do not clash.
        ("a", "a-0.1.0", "0.1.0", "branch", "pex-x", "releases"),
    ],
)
def test_one_system_never_gives_two_artifacts_one_name(roles: tuple[str, ...]) -> None:
    system = system_with(*(role(r) for r in roles), pinned=("0.1.0", "1.0.0"))
    names = _everything(system)
    for kind in ("target", "path", "image"):
        assert not clashes(names[kind]), f"{kind} names given to two artifacts"


def test_artifact_address_names_the_generated_target_behind_an_artifact_path() -> None:
    plan = CellPlan(suite="s", name="c", instances=(), system="conveyor", system_address="src/python/conveyor:conveyor")
    assert artifact_address(plan, "compat/conveyor/pex-0.1.0.pex") == "src/python/conveyor:conveyor#pex-0.1.0"
    assert artifact_address(plan, "compat/conveyor/src-branch-server") == "src/python/conveyor:conveyor#src-branch-server"
    assert artifact_address(plan, "compat/conveyor/server-branch.docker-info.json") == "src/python/conveyor:conveyor#server-branch"
