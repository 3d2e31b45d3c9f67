"""The docker backend's start sequence against the real engine: what a start creates, what a
failed start removes, and the errors that name the fix."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from compat_core.errors import ArtifactError, BackendError
from compat_matrix.backends.base import start_logs
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_reaper import DockerResourceReaper
from compat_matrix.session import Session
from docker_backend import fakes
from docker_backend.fakes import labelled

# -- lifecycle ----------------------------------------------------------------------------------


def test_stop_removes_everything_and_is_idempotent(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    session = Session.create("stop test", directory=tmp_path / "sessions")
    try:
        # No docker-info file: the plan's tag is the image (outside Pants, after `pants package`).
        deployment = DockerBackend(session=session).start(
            fakes.plan({"web": 1}, image), tmp_path / "artifacts", tmp_path / "work"
        )
        containers, networks = labelled(client, session.id)
        assert len(containers) == 1 and networks == [deployment.network_name]
        assert deployment.network_name.startswith(
            f"compat-matrix-{session.id.rsplit('-', 1)[-1]}-all-branch-"
        )
        deployment.stop()
        assert labelled(client, session.id) == ([], [])
        assert session.record.containers == () and session.record.networks == ()
        assert "fake web listening" in deployment.logs()["web-0"]  # kept from before the removal
        deployment.stop()
        with pytest.raises(BackendError, match="stopped"):
            deployment.kill("web-0")
    finally:
        session.close()


def test_a_failed_start_removes_what_it_created(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    session = Session.create("failure test", directory=tmp_path / "sessions")
    try:
        with pytest.raises(BackendError) as info:
            DockerBackend(session=session).start(
                fakes.plan({"web": 1, "crash": 1}, image), tmp_path, tmp_path / "work"
            )
        message = str(info.value)
        assert "crash-0" in message and image in message
        assert "exited before it was ready" in message and "TCP connect to" in message
        assert "fatal: this role always fails to start" in message
        assert labelled(client, session.id) == ([], [])
        # The containers are gone; every instance's log came with the error (the pytest plugin keeps them).
        logs = start_logs(info.value)
        assert "fake web listening on" in logs["web-0"]
        assert "fatal: this role always fails to start" in logs["crash-0"]
    finally:
        session.close()


def test_a_missing_image_names_the_build_command(client: docker.DockerClient, tmp_path: Path) -> None:
    # Neither the version's PEX (to build the image from) nor the plan's packaged image exists.
    session = Session.create("missing image test", directory=tmp_path / "sessions")
    try:
        missing = f"compat-matrix-test/never-built:{uuid.uuid4().hex[:8]}"
        with pytest.raises(
            ArtifactError, match=r"pex-branch\.pex.*missing.*\./pants package tests/fakedocker:fakedocker#pex-branch\b"
        ):
            DockerBackend(session=session).start(fakes.plan({"web": 1}, missing), tmp_path, tmp_path / "w")
        assert labelled(client, session.id) == ([], [])
    finally:
        session.close()


def test_no_engine_says_how_to_start_docker(tmp_path: Path) -> None:
    backend = DockerBackend(base_url=f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(BackendError, match=r"no Docker engine answers at unix://.*no-such-docker\.sock: install Docker Engine .* and start it"):
        backend.start(fakes.plan({"web": 1}, "any:tag"), tmp_path, tmp_path / "w")
    # Nothing on the engine to remove; only host rules (another run's stale ones, if any) are reaped.
    lines = DockerResourceReaper(base_url=f"unix://{tmp_path}/no-such-docker.sock").reap([], frozenset())
    assert all("host-isolation rule" in line for line in lines), lines
