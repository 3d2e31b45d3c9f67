"""The role image recipe: one home for the Dockerfile every system's images are built from.

Pure and CPython 3.9-compatible. The Pants plugin writes it into each generated ``docker_image``
(``./pants package``), and the docker backend builds a cell's images from the same recipe and the
cell's own PEXes, tagged by what went into them (``content_tag``): the tag, and so the cell's
cache key (its PEXes and this recipe), changes exactly when an image's inputs change, the same
in every checkout and on every engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from compat_core.model import RoleSpec

RECIPE_VERSION = "8"
"""Part of every content tag: bump it when the recipe below changes meaning."""

CONTAINER_PEX = "/app/app.pex"
CONTAINER_VENV = "/app/venv"
CONTAINER_SOURCES = "/app/src"
SOURCES_PATH_VARIABLE = "PEX_EXTRA_SYS_PATH"
"""How a branch role's sources directory reaches its requirements PEX's ``sys.path`` (both backends)."""
CONTAINER_USER = "10001:10001"
CONTAINER_BYTECODE = "/app/pycache"
"""Where the venv's Python writes the bytecode of what it imports (``sys.pycache_prefix``, set by a
``.pth`` file: pex runs the venv's Python with ``-sE``, which ignores ``PYTHONPYCACHEPREFIX``). The
docker backend mounts a volume of that image's there, so it is compiled once per image and engine."""
BUILD_PEX_ROOT = "/tmp/pex-root"
"""Where ``pex venv`` unpacks the PEX at build time (removed in the same step)."""


CONTAINER_DEPS_PEX = "/app/deps.pex"


def deps_instructions(deps_pex: str) -> list[str]:
    """The third-party part of a venv, shared by every version that pins the same distributions:
    ``deps_pex`` (a PEX file in the build context; the docker backend splits it off a version's
    PEX) installed with ``pex venv --scope=deps``, a partial venv that
    ``requirements_instructions(..., on=...)`` completes. Unpacked, not compiled, as there (see
    that function)."""
    return [
        "ARG BASE_IMAGE",
        "FROM ${BASE_IMAGE}",
        f"COPY {deps_pex} {CONTAINER_DEPS_PEX}",
        "RUN " + _venv_command(CONTAINER_DEPS_PEX, "--scope=deps "),
    ]


def requirements_instructions(pex: str, with_sources: bool = False, on: str = "") -> list[str]:
    """The requirements part of a version's image: its PEX (a path in the build context) as a venv.

    The PEX becomes a venv at build time (containers start without unpacking it), in layers of
    their own. pex unpacks it into a PEX_ROOT removed in the same step (the venv's files are hard
    links to it, so the layer holds them once), and does not compile it: compiling every module
    of the venv costs more build time than a process compiling only what it imports
    (docs/benchmarks.md). A process compiles what it imports instead, into
    ``CONTAINER_BYTECODE``, which the docker backend keeps in a volume per image: later starts
    read it, as from a compiled venv. The role's command is chosen at run time (``PEX_MODULE`` / ``PEX_SCRIPT``), so
    every role of a version shares this image. ``with_sources``: the sources directory that
    ``sources_instructions`` adds on top goes on the PEX's ``sys.path``. ``on``: an image of
    ``deps_instructions`` to build on instead of the base image; ``pex`` then completes its
    partial venv (pex installs into a venv a ``--scope=deps`` install left partial).
    """
    env = "ENV HOME=/tmp" + (f" {SOURCES_PATH_VARIABLE}={CONTAINER_SOURCES}" if with_sources else "")
    return [
        *([f"FROM {on}"] if on else ["ARG BASE_IMAGE", "FROM ${BASE_IMAGE}"]),
        f"COPY {pex} {CONTAINER_PEX}",
        "RUN "
        + _venv_command(CONTAINER_PEX)
        # Its own, with the mount point of the sources' bytecode (a tmpfs: docker_bytecode.bytecode_volume).
        + f" && mkdir -p {CONTAINER_BYTECODE}{CONTAINER_SOURCES} && chown -R {CONTAINER_USER} {CONTAINER_BYTECODE}"
        f" && echo 'import sys; sys.pycache_prefix = \"{CONTAINER_BYTECODE}\"'"
        f" > $(echo {CONTAINER_VENV}/lib/python3*/site-packages)/compat_matrix_bytecode.pth",
        env,
        f"USER {CONTAINER_USER}",
        f'ENTRYPOINT ["{CONTAINER_VENV}/pex"]',
    ]


def _venv_command(pex: str, options: str = "") -> str:
    """``pex venv`` of the PEX at ``pex`` in the image into the venv, then the PEX and the
    PEX_ROOT it unpacked into removed, in one step (one layer)."""
    return (
        f"PEX_ROOT={BUILD_PEX_ROOT} PEX_TOOLS=1 python3 {pex} venv {options}{CONTAINER_VENV}"
        f" && rm -rf {pex} {BUILD_PEX_ROOT}"
    )


def sources_instructions(sources: str) -> list[str]:
    """The one step that puts a branch role's first-party ``sources`` directory on top of its
    requirements: a thin layer, so a source edit rebuilds only this."""
    return [f"COPY {sources} {CONTAINER_SOURCES}"]


def base_instructions(pex: str, sources: str = "") -> list[str]:
    """The image of one version's artifacts (paths in the build context), for any role, as one
    Dockerfile: requirements first, as a hand-written Dockerfile would, then the sources, if any.

    The docker backend builds the same steps as two images (``requirements_instructions``, then
    ``FROM`` it, ``sources_instructions``), so that a source edit sends only the sources to the
    engine and builds one step; every image whose requirements are the same shares the layers below.
    """
    return requirements_instructions(pex, bool(sources)) + (sources_instructions(sources) if sources else [])


def role_instructions(pex: str, role: RoleSpec, sources: str = "") -> list[str]:
    """A role's image: the version's image, with the role's command as the default."""
    return base_instructions(pex, sources) + [f"ENV {role.command.pex_variable}={role.command.value}"]


def content_tag(dockerfile: str, artifact_digests: Sequence[str], base_image_id: str) -> str:
    """The tag of an image built from ``dockerfile``, its artifacts (their digests, in order) and a
    base image: a digest of all of them."""
    digest = hashlib.sha256()
    for part in (RECIPE_VERSION, dockerfile, *artifact_digests, base_image_id):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return "in-" + digest.hexdigest()[:20]


__all__ = (
    "CONTAINER_BYTECODE",
    "CONTAINER_DEPS_PEX",
    "CONTAINER_PEX",
    "CONTAINER_SOURCES",
    "CONTAINER_USER",
    "CONTAINER_VENV",
    "RECIPE_VERSION",
    "SOURCES_PATH_VARIABLE",
    "base_instructions",
    "content_tag",
    "deps_instructions",
    "requirements_instructions",
    "role_instructions",
    "sources_instructions",
)
