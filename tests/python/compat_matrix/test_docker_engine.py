"""Without a Docker engine a docker cell fails at once, naming what to install or start; without
the base image, it waits for the launcher's build of it, or names that build's log."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import docker.errors
import pytest

from compat_core.errors import ArtifactError, BackendError
from compat_matrix.backends.docker_engine import (
    await_base_image_build,
    base_image_lock,
    connect,
    no_engine_message,
    present_image,
)


def test_no_engine_names_what_to_install_and_how_to_leave_docker_out(tmp_path: Path) -> None:
    socket = f"unix://{tmp_path}/docker.sock"  # nothing listens there
    with pytest.raises(BackendError) as info:
        connect(socket)
    message = str(info.value)
    for fragment in (f"no Docker engine answers at {socket}", "install Docker Engine", "docs.docker.com/engine/install", "--tag=-docker"):
        assert fragment in message, message


def test_the_message_names_docker_host_when_it_chose_the_engine() -> None:
    message = no_engine_message(None, "tcp://10.0.0.9:2375", "refused")
    assert message.startswith("no Docker engine answers at tcp://10.0.0.9:2375 (DOCKER_HOST=tcp://10.0.0.9:2375)")
    assert no_engine_message(None, "", "x").startswith("no Docker engine answers at unix:///var/run/docker.sock:")


@pytest.fixture
def held_lock() -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """A base image reference of this test's own and a process holding its build lock until its
    stdin gets a line, which it then leaves in the lock file (as a failed build leaves its log)."""
    reference = f"compat-matrix-test/base:{uuid.uuid4().hex[:8]}"
    lock = base_image_lock(reference)
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield reference, lock, holder
    finally:
        holder.kill()
        holder.wait()
        lock.unlink(missing_ok=True)


HOLD = """
import fcntl, sys
with open(sys.argv[1], "ab") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    print("locked", flush=True)
    left = sys.stdin.readline().strip()
    lock.truncate(0)
    lock.write(left.encode())
"""


def test_a_cell_waits_for_the_launchers_build_of_the_base_image(held_lock: tuple[str, Path, subprocess.Popen[str]]) -> None:
    reference, _, holder = held_lock
    result: list[str] = []
    waiter = threading.Thread(target=lambda: result.append(await_base_image_build(reference)))
    waiter.start()
    waiter.join(timeout=1.0)
    assert waiter.is_alive(), "went on while the build held the lock"
    assert holder.stdin is not None
    holder.stdin.write("/cache/logs/base_image.log\n")
    holder.stdin.close()
    waiter.join(timeout=30)
    assert result == ["/cache/logs/base_image.log"]


def test_no_build_no_wait() -> None:
    assert await_base_image_build(f"compat-matrix-test/none:{uuid.uuid4().hex[:8]}") == ""


class _NoImages:
    """An engine that has no image and can pull none (the engine's API answers as docker's does)."""

    def get(self, reference: str) -> None:
        raise docker.errors.ImageNotFound(f"No such image: {reference}")

    def pull(self, reference: str) -> None:
        raise docker.errors.APIError(f"pull access denied for {reference}")


def test_a_failed_build_is_named_with_its_log(held_lock: tuple[str, Path, subprocess.Popen[str]]) -> None:
    reference, _, holder = held_lock
    assert holder.stdin is not None
    holder.stdin.write("/cache/logs/base_image.log\n")
    holder.stdin.close()
    client = SimpleNamespace(images=_NoImages())
    with pytest.raises(ArtifactError) as info:
        present_image(client, reference, "the base image")  # type: ignore[arg-type]
    message = str(info.value)
    assert f"the base image {reference} is not in the Docker engine" in message
    assert "the launcher's build of it failed, see /cache/logs/base_image.log" in message
