"""Regression (issue 25), on the docker backend: a role that prints its readiness line with a plain
``print()`` is ready by ``log_probe``, from a release's PEX and from the branch's, as a module and
as a console script.

The containers ran the image's entry point, the venv's ``pex`` script, whose shebang is
``python -sE``: ``PYTHONUNBUFFERED`` did not reach the role and its log stayed empty. The images
are built by the backend from real venv PEXes (``fake_products.printing``) with the real
recipe, under a system name of this run's, and removed at the end. Skipped, with the reason, only
when no Docker engine answers or the base image is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from compat_core.labels import IMAGE_LABEL_SYSTEM
from compat_core.model import BRANCH, System
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_bytecode import remove_bytecode
from compat_matrix.session import Session
from compat_matrix.testing_support import docker_client_or_skip, isolated_sessions
from fake_products.printing import RELEASE, build_artifacts, check_printed, printing_cell, printing_system


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    with docker_client_or_skip() as client:
        yield client


@pytest.fixture(scope="module")
def product(client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[System, Path]]:
    # A name of this run's: its images (tagged by the system) are this module's to remove.
    system = printing_system(f"printing-{uuid.uuid4().hex[:8]}", timeout=60.0)
    root = tmp_path_factory.mktemp("artifacts")
    build_artifacts(system, root, tmp_path_factory.mktemp("build"))
    try:
        yield system, root
    finally:
        _remove_images(client, system.name)


@pytest.fixture
def session() -> Iterator[Session]:
    with isolated_sessions() as directory:
        session = Session.create("printed readiness test (docker)", directory=directory)
        try:
            yield session
        finally:
            session.close()


@pytest.mark.parametrize("version", [BRANCH, RELEASE], ids=["branch", "release"])
def test_a_role_is_ready_by_a_line_it_prints_without_flushing(
    product: tuple[System, Path], session: Session, tmp_path: Path, version: str
) -> None:
    system, artifacts = product
    deployment = DockerBackend(session=session).start(printing_cell(system, version, "docker"), artifacts, tmp_path)
    try:
        check_printed(deployment.logs(), version)
    finally:
        deployment.stop()


def _remove_images(client: docker.DockerClient, system: str) -> None:
    """The images the backend built for ``system``, newest first (a sources image is built FROM its
    requirements image), with their bytecode volumes and the containers filling them."""
    images = client.images.list(filters={"label": f"{IMAGE_LABEL_SYSTEM}={system}"})
    for image in sorted(images, key=lambda i: str(i.attrs.get("Created", "")), reverse=True):
        remove_bytecode(client, image.id)
        try:
            client.images.remove(image.id, force=True)
        except docker.errors.APIError:
            pass  # held by a container a watchdog is still removing; the tags are this run's only
