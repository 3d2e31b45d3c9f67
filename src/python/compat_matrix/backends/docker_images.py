"""Role images for the docker backend: built from a cell's own PEXes, tagged by what went into them.

A cell's instances run images built from the version's PEX with the role recipe of
``compat_core.images``, tagged by a digest of recipe, artifacts and base image: one image per version,
shared by its roles (the role's command is set at run time), built once per engine and reused by
every run and checkout with the same inputs; a version's image is built on an image of its
third-party distributions (``pex_layers``), which every version, cell and run with the same pins
shares. Concurrent builds of one tag on a
machine are serialized. Without the PEX (outside Pants) the plan's packaged image is used when
present. What an image's Python imports is compiled once per engine into a volume of its own
(``docker_bytecode``).

A branch role's sources directory is mounted read-only where the recipe puts it, when the engine
shares this machine's files (``DockerOptions.persist_data``) and a container's user can read it:
a source edit then builds no image at all. Otherwise it is an image of its own, on top.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import docker
import docker.errors

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_core.contract import BASE_IMAGE_ENV
from compat_core.errors import BackendError
from compat_core.images import (
    content_tag,
    deps_instructions,
    requirements_instructions,
    sources_instructions,
)
from compat_core.labels import BYTECODE_OF_LABEL
from compat_core.labels import IMAGE_LABEL_SYSTEM as LABEL_SYSTEM
from compat_core.labels import IMAGE_LABEL_VERSION as LABEL_VERSION
from compat_core.names import image_repository
from compat_core.settings import Settings
from compat_matrix.backends import pex_layers
from compat_matrix.backends.common import last_lines, missing_artifact
from compat_matrix.backends.docker_engine import present_image

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class RoleImage:
    """The image an instance runs and, for a branch role whose sources are not in it, the
    directory on this machine to mount read-only at ``CONTAINER_SOURCES``."""

    reference: str
    sources: Path | None = None


def ensure_image(
    client: docker.DockerClient,
    plan: CellPlan,
    instance: InstancePlan,
    artifact_root: Path,
    layers: pex_layers.PexLayers | None = None,
    mount_sources: bool = False,
) -> RoleImage:
    """The image ``instance`` runs: built from its version's PEX (and sources) with the role recipe, if not yet.

    Without the PEX (outside Pants), the plan's image (``instance.image``, as ``./pants package``
    tags it) when the engine has it.

    Each image is tagged by a digest of what went into it (``compat_core.images.content_tag``):
    the requirements (recipe, PEX, base image) and, for a branch role whose sources are not
    mounted, ``FROM`` that, its sources (a source edit sends only them). Another checkout can only
    give a tag the image these inputs make, and a cell whose inputs did not change is a cache
    hit in Pants, whatever the engine. Concurrent builds of one tag are serialized.

    With ``layers`` (the PEX split by ``pex_layers``; ``ensure_images`` passes it whenever the
    PEX has a third-party part), the requirements image is built on a third, deps image that
    every version with the same third-party pins shares (tagged by ``PexLayers.key``), and
    installs only the rest.

    ``mount_sources``: a branch role's sources are mounted (``RoleImage.sources``) rather than
    built into an image, when a container's user can read them.
    """
    pex = Path(artifact_root) / instance.pex
    if not pex.exists() and _has_image(client, instance.image):
        # Outside Pants without the PEX: the packaged image (`./pants package`), or one a test made.
        return RoleImage(instance.image)
    if not pex.exists():
        raise missing_artifact(plan, instance, instance.pex, artifact_root)
    base = Settings.from_env(os.environ).base_image
    base_id = str(present_image(client, base, f"{instance.name}: the base image").id)
    sources = Path(artifact_root) / instance.sources if instance.sources else None
    if sources is not None and not sources.is_dir():
        raise missing_artifact(plan, instance, instance.sources, artifact_root)
    system = plan.system or "compat"
    repository = image_repository(system, PurePosixPath(instance.pex).stem)
    labels = {LABEL_SYSTEM: plan.system, LABEL_VERSION: instance.runs or instance.version}
    if layers is None:
        dockerfile = _dockerfile(requirements_instructions("app.pex", with_sources=sources is not None))
        requirements = f"{repository}:{content_tag(dockerfile, [_pex_digest(pex)], base_id)}"
        _build(client, instance, requirements, dockerfile, {"app.pex": pex}, {BASE_IMAGE_ENV: base}, labels)
    else:
        # The third-party part every version with the same pins shares (pex_layers), then this
        # version's own distributions and sources on it.
        dockerfile = _dockerfile(deps_instructions("deps.pex"))
        deps = f"{image_repository(system, 'deps')}:{content_tag(dockerfile, [layers.key], base_id)}"
        _build(client, instance, deps, dockerfile, {"deps.pex": _written(layers.write_deps)}, {BASE_IMAGE_ENV: base},
               {LABEL_SYSTEM: plan.system})
        dockerfile = _dockerfile(requirements_instructions("app.pex", with_sources=sources is not None, on=deps))
        requirements = f"{repository}:{content_tag(dockerfile, [_pex_digest(pex)], base_id)}"
        _build(client, instance, requirements, dockerfile, {"app.pex": _written(layers.write_rest)}, {}, labels)
    if sources is None:
        return RoleImage(requirements)
    if mount_sources and _readable_by_anyone(sources):
        return RoleImage(requirements, sources.resolve())
    dockerfile = _dockerfile([f"FROM {requirements}", *sources_instructions("src")])
    reference = f"{repository}:{content_tag(dockerfile, [_tree_sha256(sources)], base_id)}"
    # The other labels come FROM the requirements image. This one names it: the sources image's
    # containers keep their bytecode in the requirements image's volume (bytecode_volume).
    _build(client, instance, reference, dockerfile, {"src": sources}, {}, {BYTECODE_OF_LABEL: requirements})
    return RoleImage(reference)


def ensure_images(
    client: docker.DockerClient,
    plan: CellPlan,
    instances: Sequence[InstancePlan],
    artifact_root: Path,
    mount_sources: bool = False,
) -> list[RoleImage]:
    """``ensure_image`` of each instance, in order: the images of different artifacts are built
    at the same time (a cold cell's images are the larger part of its start), each once.

    A version's PEX is split (``pex_layers``) and built on a deps image of its third-party part,
    which versions with the same pins (conveyor's branch and releases, LiberTEM's releases) share,
    whichever cell builds it first: a cell that runs one version builds the same images as one
    that runs it beside others, not an image of its own. A PEX with no third-party part is built
    in one step.

    Every build finishes before this returns or raises; the first failure, in the order of
    ``instances``, is raised.
    """
    keys = [(i.pex, i.sources, i.image) for i in instances]
    wanted: dict[tuple[str, str, str], InstancePlan] = {}
    for key, instance in zip(keys, instances, strict=True):
        wanted.setdefault(key, instance)
    layers = _splits(wanted.values(), Path(artifact_root))
    with ThreadPoolExecutor(max_workers=max(len(wanted), 1), thread_name_prefix="image") as pool:
        futures = {
            key: pool.submit(ensure_image, client, plan, i, artifact_root, layers.get(i.pex), mount_sources)
            for key, i in wanted.items()
        }
    return [futures[key].result() for key in keys]


def _splits(instances: Iterable[InstancePlan], artifact_root: Path) -> dict[str, pex_layers.PexLayers]:
    """The split of each PEX (by path) that has a third-party part."""
    splits: dict[str, pex_layers.PexLayers] = {}
    for instance in instances:
        path = artifact_root / instance.pex
        if instance.pex not in splits and path.exists():
            split = pex_layers.split(path, instance.runs or instance.version)
            if split is not None:
                splits[instance.pex] = split
    return splits


def _dockerfile(instructions: list[str]) -> str:
    return "\n".join(instructions) + "\n"


def _build(
    client: docker.DockerClient,
    instance: InstancePlan,
    reference: str,
    dockerfile: str,
    context: dict[str, Path | Callable[[tarfile.TarFile, str], None]],
    buildargs: dict[str, str],
    labels: dict[str, str],
) -> None:
    """Build ``reference`` from ``dockerfile`` and ``context`` (name in the build context -> a
    file or directory, or a function that adds it to the context's tar), unless the engine has it.
    The context is one tar stream, written here (nothing is unpacked on disk for it)."""
    with _build_lock(reference):
        if _has_image(client, reference):
            return
        with tempfile.TemporaryFile(prefix="compat-image-") as stream:
            with tarfile.open(fileobj=stream, mode="w") as tar:
                data = dockerfile.encode("utf-8")
                entry = tarfile.TarInfo("Dockerfile")
                entry.size = len(data)
                tar.addfile(entry, io.BytesIO(data))
                for name, path in context.items():
                    if callable(path):
                        path(tar, name)
                    else:
                        tar.add(path, arcname=name)
            stream.seek(0)
            try:
                client.images.build(
                    fileobj=stream, custom_context=True, tag=reference, buildargs=buildargs, labels=labels, rm=True,
                    forcerm=True,
                )
            except (docker.errors.BuildError, docker.errors.APIError) as exc:
                log = "".join(str(line.get("stream", "")) for line in getattr(exc, "build_log", []) or [])
                raise BackendError(
                    f"{instance.name}: building image {reference} from {instance.pex} failed: {exc}"
                    + (f"\n--- build log ---\n{last_lines(log)}" if log else "")
                ) from exc


def _written(write: Callable[[Path], None]) -> Callable[[tarfile.TarFile, str], None]:
    """A context entry for ``_build``: the file ``write`` writes, added under its name."""

    def add(tar: tarfile.TarFile, name: str) -> None:
        with tempfile.TemporaryDirectory(prefix="compat-image-") as directory:
            path = Path(directory) / "file"
            write(path)
            tar.add(path, arcname=name)

    return add


def _has_image(client: docker.DockerClient, reference: str) -> bool:
    try:
        client.images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise BackendError(f"cannot inspect image {reference}: {exc}") from exc
    return True


def _readable_by_anyone(directory: Path) -> bool:
    """Whether a container's user, who is nobody on this machine, can read ``directory`` through a
    bind mount: every directory above it searchable by others, and everything in it readable."""
    resolved = directory.resolve()
    for parent in resolved.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    for path in (resolved, *resolved.rglob("*")):
        mode = path.stat().st_mode
        if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH):
            return False
    return True


def _tree_sha256(root: Path) -> str:
    """A digest of a directory tree: every file's relative path, mode bit for execute, and content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(b"x" if os.access(path, os.X_OK) else b"-")
        digest.update(_sha256(path).encode())
    return digest.hexdigest()


def _pex_digest(pex: Path) -> str:
    """What a PEX holds, as a digest: of its PEX-INFO, which names every file pex put in it by its
    content (distributions by fingerprint, sources by code hash, pex's runtime by its hash and
    version) and every setting, and on which pex keys the venvs it installs, in either layout (a
    zipapp file or a packed directory); of its bytes (or tree) when it is not a PEX pex wrote."""
    try:
        info = pex_layers.read_pex_info(pex)
        fields = json.loads(info)
        if isinstance(fields, dict) and {"bootstrap_hash", "code_hash", "distributions", "pex_hash"} <= set(fields):
            return "pex-info:" + hashlib.sha256(info).hexdigest()
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        pass
    return _tree_sha256(pex) if pex.is_dir() else _sha256(pex)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _build_lock(reference: str) -> Iterator[None]:
    """One build of ``reference`` at a time on this machine (other test processes wait for it)."""
    directory = Path(tempfile.gettempdir()) / "compat-matrix-image-locks"
    directory.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(reference.encode()).hexdigest()[:24]
    with open(directory / name, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = ("RoleImage", "ensure_image", "ensure_images")
