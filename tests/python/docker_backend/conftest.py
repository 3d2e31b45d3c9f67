"""Fixtures of the docker backend's tests: the engine's client, the fake roles' image, and a
running web + peer cell. Each test module gets its own (a module runs in a process of its own)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_deployment import DockerDeployment
from compat_matrix.session import Session
from compat_matrix.testing_support import docker_client_or_skip
from docker_backend.fakes import fake_image, plan


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    with docker_client_or_skip() as client:
        yield client


@pytest.fixture(scope="module")
def image(client: docker.DockerClient) -> Iterator[str]:
    with fake_image(client) as tag:
        yield tag


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    session = Session.create("docker backend test", directory=tmp_path_factory.mktemp("sessions"))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def deployment(
    client: docker.DockerClient, image: str, session: Session, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerDeployment]:
    """web-0 + peer-0, from the test's image (no PEX under the artifact root: the plan's image)."""
    deployment = DockerBackend(session=session).start(
        plan({"web": 1, "peer": 1}, image=image), tmp_path_factory.mktemp("artifacts"), tmp_path_factory.mktemp("work")
    )
    try:
        yield deployment
    finally:
        deployment.stop()
