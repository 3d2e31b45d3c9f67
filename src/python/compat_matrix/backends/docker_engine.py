"""The Docker engine as the docker backend, its reaper and its watchdog use it: a client, names,
and removals that tolerate other actors on the same engine.

Other compat-matrix runs share the engine: a session's watchdog, or another checkout's reaper
removing a dead session's leftovers, may remove a container or network at the same moment as we
do. The removals here treat that as success, so teardown and reaping are idempotent.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors

from compat_core.contract import BASE_IMAGE_ENV, DOCKER_HOST_ENV, DOCKER_TAG
from compat_core.errors import ArtifactError, BackendError
from compat_core.settings import SCOPE, Settings

if TYPE_CHECKING:
    from docker.models.containers import Container
    from docker.models.images import Image
    from docker.models.networks import Network

# How long a single engine API call may take before we give up on the engine.
ENGINE_TIMEOUT = 60
DEFAULT_ENGINE = "unix:///var/run/docker.sock"
"""Where the docker SDK looks for the engine when ``DOCKER_HOST`` is not set."""


def no_engine_message(base_url: str | None, docker_host: str, detail: str) -> str:
    """Why no docker cell can run, and what to install or start (or how to leave docker out)."""
    where = base_url or docker_host or DEFAULT_ENGINE
    host = f" ({DOCKER_HOST_ENV}={docker_host})" if docker_host and not base_url else ""
    return (
        f"no Docker engine answers at {where}{host}: install Docker Engine "
        f"(https://docs.docker.com/engine/install/) and start it (e.g. `sudo systemctl start docker`), "
        f"set {DOCKER_HOST_ENV} if it listens elsewhere, or leave the docker cells out with "
        f"--tag=-{DOCKER_TAG} ({detail})"
    )


def connect(base_url: str | None = None) -> docker.DockerClient:
    """A client for the engine at ``base_url`` (default: ``DOCKER_HOST`` / the local socket).

    Raises ``BackendError`` naming what to install or start when no engine answers.
    """
    try:
        if base_url:
            client = docker.DockerClient(base_url=base_url, timeout=ENGINE_TIMEOUT)
        else:
            client = docker.from_env(timeout=ENGINE_TIMEOUT)
        client.ping()
    except docker.errors.DockerException as exc:
        docker_host = Settings.from_env(os.environ).docker_host
        raise BackendError(no_engine_message(base_url, docker_host, str(exc))) from exc
    return client


def base_image_lock(reference: str) -> Path:
    """The lock a build of the base image ``reference`` holds while it runs.

    The launcher builds a missing base image beside Pants (``build-support/bootstrap/``:
    ``cm_base_image_lock`` names the same file); while it holds the lock, the image is coming.
    A build that failed leaves the path of its log in the file.
    """
    name = re.sub(r"[^a-zA-Z0-9.-]", "_", reference)
    return Path(tempfile.gettempdir()) / f"compat-matrix-{os.getuid()}" / "base-images" / f"{name}.lock"


def await_base_image_build(reference: str) -> str:
    """Waits until no build of the base image ``reference`` runs (``base_image_lock``); returns
    what a failed build left in the lock file (its log's path), or ``""``."""
    try:
        lock = base_image_lock(reference).open("rb")
    except FileNotFoundError:
        return ""
    with lock:
        # Shared: every cell waiting for the image goes on when the build's exclusive lock goes.
        fcntl.flock(lock, fcntl.LOCK_SH)
        return lock.read().decode(errors="replace").strip()


def present_image(client: docker.DockerClient, reference: str, what: str) -> Image:
    """The image ``reference`` in the engine, pulled when the engine does not have it.

    ``what`` names the image's use (for messages). When the launcher is building it (the base
    image, beside Pants), waits for that build first. Raises ``ArtifactError`` naming the setting
    that chose the image when the engine neither has nor can pull it.
    """
    image = _local_image(client, reference, what)
    failed_build = ""
    if image is None:
        failed_build = await_base_image_build(reference)
        image = _local_image(client, reference, what)
    if image is not None:
        return image
    try:
        return client.images.pull(reference)
    except docker.errors.APIError as exc:
        build = f"; the launcher's build of it failed, see {failed_build}" if failed_build else ""
        raise ArtifactError(
            f"{what} {reference} is not in the Docker engine and pulling it failed ({exc}){build}; set "
            f"[{SCOPE}].base_image in pants.toml (or {BASE_IMAGE_ENV}) to an image with CPython 3.11 as "
            f"python3 that the engine has or can pull"
        ) from None


def _local_image(client: docker.DockerClient, reference: str, what: str) -> Image | None:
    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        raise BackendError(f"cannot inspect {what} {reference}: {exc}") from exc


def docker_name(*parts: str) -> str:
    """``parts`` joined by ``-`` as a valid engine name (``[a-zA-Z0-9][a-zA-Z0-9_.-]*``)."""
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", "-".join(parts)).strip("-.")


def being_removed(exc: docker.errors.APIError) -> bool:
    """Whether the engine refused an action because a removal of the container is under way
    (by another actor on the engine: not an error)."""
    return exc.status_code == 409 and "already in progress" in str(exc)


def remove_container(container: Container, patience: float = 30.0) -> None:
    """Force-remove ``container`` (and its anonymous volumes); idempotent under a concurrent removal.

    Gone (404) is done; another removal under way (409, ``being_removed``) is waited out for up
    to ``patience`` seconds (the engine answers 404 once it finished), so on return the
    container is gone, whoever removed it.
    """
    _remove(lambda: container.remove(force=True, v=True), being_removed, patience)


def remove_network(network: Network, patience: float = 10.0) -> None:
    """Remove ``network``; tolerate it being gone, and wait out endpoints still being released.

    The engine may report "active endpoints" for a moment after the last container on the
    network was removed, so retry for up to ``patience`` seconds before giving up.
    """
    _remove(network.remove, lambda exc: "active endpoints" in str(exc), patience)


def _remove(remove: Callable[[], object], retry: Callable[[docker.errors.APIError], bool], patience: float) -> None:
    """``remove()`` until it succeeds or finds the resource gone; an API error for which ``retry``
    holds is retried for up to ``patience`` seconds, any other is raised."""
    deadline = time.monotonic() + patience
    while True:
        try:
            remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if not retry(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.2)


__all__ = (
    "DEFAULT_ENGINE",
    "ENGINE_TIMEOUT",
    "await_base_image_build",
    "base_image_lock",
    "being_removed",
    "connect",
    "docker_name",
    "no_engine_message",
    "present_image",
    "remove_container",
    "remove_network",
)
