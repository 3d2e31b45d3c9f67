"""Without a Docker engine a docker cell fails at once, naming what to install or start."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat_core.errors import BackendError
from compat_matrix.backends.docker_engine import connect, no_engine_message


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
