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

# The environment variables that override a setting (``compat_core.settings`` says what each means).
FULL_MATRIX_ENV = "COMPAT_MATRIX_FULL"
EARLIEST_ENV = "EARLIEST_TESTED_RELEASE"
"""Also the prefix of the per-system override, ``EARLIEST_TESTED_RELEASE_<SYSTEM>``."""
SEED_ENV = "COMPAT_MATRIX_SEED"
BASE_IMAGE_ENV = "BASE_IMAGE"
"""Also the build argument every role image's ``FROM`` names (``compat_core.images``)."""
DOCKER_CPUS_ENV = "COMPAT_MATRIX_DOCKER_CPUS"
DOCKER_MEMORY_ENV = "COMPAT_MATRIX_DOCKER_MEMORY"
DOCKER_PIDS_ENV = "COMPAT_MATRIX_DOCKER_PIDS"
ISOLATE_HOST_ENV = "COMPAT_MATRIX_DOCKER_ISOLATE_HOST"
SESSIONS_DIR_ENV = "COMPAT_MATRIX_SESSIONS_DIR"
NO_WATCHDOG_ENV = "COMPAT_MATRIX_NO_WATCHDOG"
WATCHDOG_SOCKET_ENV = "COMPAT_MATRIX_WATCHDOG_SOCKET"
DOCKER_HOST_ENV = "DOCKER_HOST"
"""Docker's own: where the engine listens (the docker SDK reads it too)."""

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

ARTIFACT_ROOT_DIR = "compat"
"""Every generated artifact's output path starts here: ``compat/<system>/...`` (under ``dist/``
after ``pants package``, at the sandbox root in a test)."""

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
    "DEFAULT_RELEASE_INDEX",
    "BACKENDS",
    "DOCKER_BACKEND",
    "PROCESS_BACKEND",
    "BACKEND_ENV",
    "BRANCH_TAG",
    "CELL_ENV",
    "DEFAULT_BACKEND",
    "DOCKER_CPUS_ENV",
    "DOCKER_HOST_ENV",
    "DOCKER_MEMORY_ENV",
    "DOCKER_PIDS_ENV",
    "DOCKER_TAG",
    "EARLIEST_ENV",
    "FULL_MATRIX_ENV",
    "ISOLATE_HOST_ENV",
    "MATRIX_TAG",
    "NO_WATCHDOG_ENV",
    "PIN_COMMAND",
    "RELEASE_LOCKFILE_DIR",
    "RELEASE_TAG",
    "RESERVED_TAGS",
    "SEED_ENV",
    "SESSIONS_DIR_ENV",
    "WATCHDOG_SOCKET_ENV",
)
