"""The bytecode volume of a role image: what its Python imports, compiled once per engine by a fill
container of its own, mounted read-only into every role container of that image
(``docker_container``; the image's recipe: ``compat_core.images``)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import docker
import docker.errors

from compat_core.errors import ArtifactError, BackendError
from compat_core.images import CONTAINER_BYTECODE, CONTAINER_SOURCES, CONTAINER_USER, CONTAINER_VENV
from compat_core.labels import BYTECODE_FILLER_LABEL, BYTECODE_OF_LABEL, BYTECODE_VOLUME_LABEL
from compat_matrix.backends.docker_engine import remove_container

if TYPE_CHECKING:
    from docker.models.containers import Container


# Compiles everything on the image's sys.path into the bytecode volume, at the lowest priority.
# Runs no role code: the image's Python with -I, the stdlib's compileall, and the image's own .pth
# files (the image's).
FILL_SCRIPT = r"""
import compileall, os, sys
prefix, sources = sys.argv[1], sys.argv[2]
os.nice(19)
sys.pycache_prefix = prefix
for entry in sys.path:
    if os.path.isdir(entry) and not entry.startswith(sources):
        compileall.compile_dir(entry, quiet=2, workers=0)
print("complete", flush=True)
"""
FILL_PYTHON = f"{CONTAINER_VENV}/bin/python3"
FILL_SUFFIX = "-fill"
"""A bytecode volume's fill container is named like the volume plus this."""


def bytecode_volume(client: docker.DockerClient, image: str) -> tuple[str, bool]:
    """The volume holding the compiled bytecode of what ``image``'s Python can import
    (``compat_core.images.CONTAINER_BYTECODE``), and whether its fill is over; created, and its
    fill started (``fill_bytecode``), when it does not exist.

    Role containers mount it read-only: no role process can write bytecode that another
    container (of another cell, run or checkout) imports. Only the fill writes it, compiling the
    image's own files; while it runs (or for what a fill cut short left out), a role's Python
    compiles what is missing in memory, as without the volume: a partly filled volume holds only
    bytecode the fill wrote, each file checked against its source as Python always does. Shared by every container, run and checkout that starts that image on
    this engine.

    One per image id, so the bytecode always belongs to the files it was compiled from; a sources
    image uses its requirements image's (``BYTECODE_OF_LABEL``), so that an edit does not compile
    the requirements and the standard library again. Its own sources' bytecode is never kept (the
    docker backend mounts a tmpfs over their place in the volume): after an edit a source file
    could have the size and modification second of the one a kept file was compiled from.
    """
    try:
        attrs = client.images.get(image).attrs
    except docker.errors.ImageNotFound:
        raise ArtifactError(
            f"image {image} is no longer in the Docker engine (removed while the cell started?); run the test again, which builds it"
        ) from None
    except docker.errors.APIError as exc:
        raise BackendError(f"cannot inspect image {image}: {exc}") from exc
    owner = ((attrs.get("Config") or {}).get("Labels") or {}).get(BYTECODE_OF_LABEL) or str(attrs["Id"])
    name = "compat-matrix-bytecode-" + hashlib.sha256(owner.encode()).hexdigest()[:24]
    try:
        client.volumes.get(name)
        return name, not filling(client, name)
    except docker.errors.NotFound:
        pass
    try:
        # Creating a volume that another run created a moment ago returns it: both then start the
        # one fill, and the second start is refused by its name.
        client.volumes.create(name=name, labels={BYTECODE_VOLUME_LABEL: owner})
        fill_bytecode(client, image, name)
        return name, False
    except docker.errors.APIError as exc:
        raise BackendError(
            f"cannot create or fill the bytecode volume {name} of image {image}: {exc}; check that the "
            f"engine answers and has disk space (`docker system df`)"
        ) from exc


def remove_bytecode(client: docker.DockerClient, image_id: str) -> None:
    """Remove the bytecode volume of the image ``image_id`` and any container still filling it; a
    volume a container being removed still holds is left for ``docker volume prune``."""
    for filler in client.containers.list(all=True, filters={"label": BYTECODE_FILLER_LABEL}, ignore_removed=True):
        if filler.attrs["Image"] == image_id:
            remove_container(filler)
    for volume in client.volumes.list(filters={"label": f"{BYTECODE_VOLUME_LABEL}={image_id}"}):
        try:
            volume.remove(force=True)
        except docker.errors.APIError:
            pass


def filling(client: docker.DockerClient, volume: str) -> bool:
    """Whether the fill of ``volume`` still runs."""
    try:
        client.containers.get(volume + FILL_SUFFIX)
        return True
    except docker.errors.NotFound:
        return False


def fill_bytecode(client: docker.DockerClient, image: str, volume: str) -> None:
    """Starts the fill of a new ``volume``.

    The fill is one container per volume, engine-wide (``<volume>-fill``): ``FILL_SCRIPT`` in
    the image, confined as a role container is, without a network, at the lowest CPU weight. It
    belongs to no session (it runs on after the cell that started it, and compiles the image's
    files only) and removes itself when it ends, however it ends: nothing of it stays behind.
    """
    try:
        filler = client.containers.create(
            image,
            ["-I", "-c", FILL_SCRIPT, CONTAINER_BYTECODE, CONTAINER_SOURCES],
            entrypoint=[FILL_PYTHON],
            name=volume + FILL_SUFFIX,
            labels={BYTECODE_FILLER_LABEL: volume},
            user=CONTAINER_USER,
            network_mode="none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs={"/tmp": "rw,nosuid,nodev,noexec,size=64m"},
            volumes={volume: {"bind": CONTAINER_BYTECODE, "mode": "rw"}},
            mem_limit="512m",
            pids_limit=64,
            cpu_shares=2,  # the lowest weight: the cells' own containers come first
            auto_remove=True,
        )
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            return  # another run started it a moment ago
        raise
    try:
        filler.start()
    except docker.errors.APIError:
        # An image without the venv's Python: its bytecode is compiled in memory, as without the
        # volume; never a reason to fail a cell.
        _remove_quietly(filler)


def _remove_quietly(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.APIError:
        pass  # gone, or being removed by another run


__all__ = ("FILL_SCRIPT", "FILL_SUFFIX", "bytecode_volume", "fill_bytecode", "filling", "remove_bytecode")
