"""The names the build, the harness and CI agree on: one home for each shared constant.

Pure and CPython 3.9-compatible (the Pants plugin imports it; Pants 2.17 runs on 3.9).
"""

from __future__ import annotations

PROCESS_BACKEND = "process"
DOCKER_BACKEND = "docker"
BACKENDS = (PROCESS_BACKEND, DOCKER_BACKEND)
"""How a cell's processes are started: local PEX subprocesses, or one container per instance."""

DEFAULT_BACKEND = PROCESS_BACKEND
"""The embedded default backend: needs no Docker."""

CELL_ENV = "COMPAT_MATRIX_CELL"
"""Set on every generated cell test: the planned cell as JSON (``compat_core.codec``)."""

BACKEND_ENV = "COMPAT_MATRIX_BACKEND"
"""Set on every generated cell test: the backend (one of ``BACKENDS``)."""

FULL_MATRIX_ENV = "COMPAT_MATRIX_FULL"
"""An on/off flag (``compat_core.settings``): add every version combination to suites that opt in."""

EARLIEST_ENV = "EARLIEST_TESTED_RELEASE"
"""Moves ``earliest`` for every system that pins the given release (see ``compat_core.versions``)."""

SEED_ENV = "COMPAT_MATRIX_SEED"
"""Plans every upgrade path with this seed instead of the one its suite declares (a whole number)."""

MATRIX_TAG = "matrix"
"""Tag on every generated cell test."""

DOCKER_TAG = "docker"
"""Tag on everything that needs a Docker engine (images, docker cells); the launcher leaves these
out where no engine can be had."""

ARTIFACT_TAG = "artifact"
"""Tag on every generated PEX and image."""

BRANCH_TAG = "branch"
RELEASE_TAG = "release"

RESERVED_TAGS = (MATRIX_TAG, DOCKER_TAG, ARTIFACT_TAG, BRANCH_TAG, RELEASE_TAG, *BACKENDS)
"""Tags the plugin gives generated targets: a cell, suite or system may not be named like one
(``--tag=<cell>`` would then select more than the cell)."""

BASE_IMAGE_ENV = "BASE_IMAGE"
"""The image every role image starts FROM (the launcher sets it: compat-matrix/base:bookworm)."""

DEFAULT_BASE_IMAGE = "compat-matrix/base:bookworm"

ARTIFACT_ROOT_DIR = "compat"
"""Every generated artifact's output path starts here: ``compat/<system>/...`` (under ``dist/``
after ``pants package``, at the sandbox root in a test)."""

IMAGE_LABEL_SYSTEM = "compat-matrix.system"
IMAGE_LABEL_ROLE = "compat-matrix.role"
IMAGE_LABEL_VERSION = "compat-matrix.version"

DEFAULT_RELEASE_INDEX = "https://pypi.org/simple"
"""Where a system's releases come from unless it says otherwise (``compat_system(release_index=...)``)."""

RELEASE_LOCKFILE_DIR = "3rdparty/python/releases"
"""Where a pinned release's lockfile goes: ``<dir>/<system>-<version>.lock``."""

PIN_COMMAND = "./pants run src/python/compat_matrix:cli -- releases pin"
"""The command that pins a release (``compat-matrix releases pin <system address> <version>``)."""


__all__ = (
    "ARTIFACT_ROOT_DIR",
    "ARTIFACT_TAG",
    "BASE_IMAGE_ENV",
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_RELEASE_INDEX",
    "BACKENDS",
    "DOCKER_BACKEND",
    "PROCESS_BACKEND",
    "BACKEND_ENV",
    "BRANCH_TAG",
    "CELL_ENV",
    "DEFAULT_BACKEND",
    "DOCKER_TAG",
    "EARLIEST_ENV",
    "FULL_MATRIX_ENV",
    "IMAGE_LABEL_ROLE",
    "IMAGE_LABEL_SYSTEM",
    "IMAGE_LABEL_VERSION",
    "MATRIX_TAG",
    "PIN_COMMAND",
    "RELEASE_LOCKFILE_DIR",
    "RELEASE_TAG",
    "RESERVED_TAGS",
    "SEED_ENV",
)
