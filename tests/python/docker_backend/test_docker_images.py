"""Role images' bytecode: compiled once per image into a read-only volume, never written by a role."""

from __future__ import annotations

from pathlib import Path

import docker
import docker.errors

from compat_core.images import CONTAINER_BYTECODE
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_bytecode import bytecode_volume
from compat_matrix.testing import replace_role
from docker_backend import fakes
from docker_backend.fakes import SYSTEM

# -- bytecode: compiled once per image, never written by a role (issue 24) ----------------------


def _plant_then_import(image: str, tmp_path: Path) -> str:
    """A role plants the bytecode of a module; a later container of the image imports the module:
    the planter's log (the later container must have imported the genuine module)."""
    web = SYSTEM.roles["web"]
    planter = replace_role(SYSTEM, "web", args=web.args + ("--plant", "1"))
    first = DockerBackend().start(fakes.plan({"web": 1}, image, system=planter), tmp_path / "a", tmp_path / "w1")
    try:
        planted = first.logs()["web-0"]
    finally:
        first.stop()
    reader = replace_role(SYSTEM, "web", args=web.args + ("--victim", "1"))
    later = DockerBackend().start(fakes.plan({"web": 1}, image, system=reader), tmp_path / "a", tmp_path / "w2")
    try:
        assert "victim says genuine" in later.logs()["web-0"], (later.logs()["web-0"], planted)
    finally:
        later.stop()
    return planted


def _wait_filled(client: docker.DockerClient, image: str) -> str:
    volume, filled = bytecode_volume(client, image)  # the first call starts the fill
    if not filled:
        try:
            fill = client.containers.get(f"{volume}-fill")
            # The fill has the lowest CPU weight, so that cells come first: on a machine busy with
            # other cells it would wait for all of them. This test needs it over, so it gets a
            # cell's weight (the image is this test's own: no other run waits on its fill).
            try:
                fill.update(cpu_shares=1024)
            except docker.errors.APIError:
                pass  # it ended meanwhile
            # It removes itself when it ends: nothing of it stays behind.
            fill.wait(timeout=240, condition="removed")
        except docker.errors.NotFound:
            pass  # already over
        assert bytecode_volume(client, image) == (volume, True)
    return volume


def test_a_role_cannot_plant_bytecode_that_a_later_container_imports(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression (issue 24): every container of an image mounted the image's bytecode volume
    # read-write, across cells, runs and checkouts; a role process could write the bytecode of a
    # module, and a later cell's container of the same image imported it. While the volume is
    # filled, a container compiles into a tmpfs of its own (what it plants there dies with it);
    # once it is filled, the volume is read-only.
    _plant_then_import(image, tmp_path / "filling")
    _wait_filled(client, image)
    planted = _plant_then_import(image, tmp_path / "filled")
    assert "could not plant" in planted and "Read-only file system" in planted, planted


def test_the_bytecode_volume_is_filled_by_its_own_container_then_read(client: docker.DockerClient, image: str) -> None:
    # The start-up benefit stays: a container of the image's own (no role code: compileall) fills
    # the volume once; then every container of the image reads the standard library's bytecode.
    volume = _wait_filled(client, image)
    # Read-only, as role containers mount it, and the json package's bytecode is there.
    script = "import importlib.util, json, os; print(os.path.exists(importlib.util.cache_from_source(json.__file__)))"
    output = client.containers.run(
        image, ["-c", script], entrypoint=["python3"], remove=True, read_only=True,
        volumes={volume: {"bind": CONTAINER_BYTECODE, "mode": "ro"}},
    )
    assert output.strip() == b"True"
