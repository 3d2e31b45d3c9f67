"""Pyro5 across releases: the echo server registers with the name server the address its peers
reach it at, and a client that finds it there calls it.

Every cell runs a name server (``pyro5-ns``) and Pyro's test echo server (``pyro5-echoserver``
through ``compat_pyro5.echo``), each on the version the cell says, both ready by a line they print.
The test process is the client, with Pyro5 5.17 (the suite's resolve, ``pyro5-tests``). It reaches
the name server from outside (``deployment.first``), looks the echo server up and calls it through
that registration: on docker the registered ``echo-0:<port>`` names a network alias that only the
deployment's containers resolve, and ``deployment.reach`` turns it into the container's address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename
from Pyro5.api import URI, Proxy, locate_ns

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_matrix.backends.base import Deployment
from compat_matrix.backends.pex_layers import read_pex_info

CLIENT_RELEASE = "5.17"  # Pyro5 in pyro5-tests (tests/python/integration/pyro5_naming/BUILD)
ECHO_OBJECT = "test.echoserver"  # the name pyro5-echoserver registers under
TIMEOUT = 20.0  # seconds: a call that takes longer has hung


def instance(cell: CellPlan, role: str) -> InstancePlan:
    (only,) = (inst for inst in cell.instances if inst.role == role)
    return only


def release_of(inst: InstancePlan) -> str:
    """The Pyro5 release an instance runs: ``branch`` is the release the system plays it with."""
    return inst.runs or inst.version


@pytest.fixture
def name_server(deployment: Deployment) -> Iterator[Proxy]:
    where = deployment.first("nameserver", "pyro")
    with locate_ns(where.host, where.port) as ns:
        ns._pyroTimeout = TIMEOUT
        yield ns


def test_the_client_is_the_release_the_suite_says() -> None:
    import Pyro5

    assert Pyro5.__version__ == CLIENT_RELEASE


def test_each_instance_runs_the_release_its_cell_says(deployment: Deployment, cell: CellPlan, compat_artifacts: Path) -> None:
    # The echo server's launcher prints the Pyro5 it imported, before the line it is ready by.
    echo = instance(cell, "echo")
    assert f"compat_pyro5: Pyro5 {release_of(echo)}," in deployment.logs()[echo.name]
    # The name server says nothing of its version: the PEX it runs (the docker backend builds its
    # image from the same PEX, a packed directory or a file) holds the release's Pyro5 and nothing else of Pyro5.
    for inst in cell.instances:
        info = json.loads(read_pex_info(compat_artifacts / inst.pex))
        wheels = [parse_wheel_filename(wheel) for wheel in info["distributions"]]
        pyro5 = [str(version) for name, version, *_ in wheels if name == "pyro5"]
        assert pyro5 == [release_of(inst)], f"{inst.name}: {inst.pex} holds Pyro5 {pyro5}"


def test_the_name_server_registers_itself_under_its_advertised_address(deployment: Deployment, name_server: Proxy) -> None:
    registered = name_server.lookup("Pyro.NameServer")
    assert registered.location == deployment.advertised("nameserver-0", "pyro").address


def test_the_echo_server_registers_its_advertised_address(deployment: Deployment, name_server: Proxy) -> None:
    registered = name_server.lookup(ECHO_OBJECT)
    # Not the address it binds (0.0.0.0 in a container), but the one its peers reach it at: its
    # network alias on docker, the loopback address on the process backend.
    assert registered.host != "0.0.0.0"
    assert registered.location == deployment.advertised("echo-0", "pyro").address
    assert name_server.list() == {
        "Pyro.NameServer": str(name_server.lookup("Pyro.NameServer")),
        ECHO_OBJECT: str(registered),
    }


def test_a_client_calls_the_echo_server_through_its_registration(deployment: Deployment, name_server: Proxy) -> None:
    registered = name_server.lookup(ECHO_OBJECT)
    reached = deployment.reach(registered.location)
    message = {"text": "hello", "numbers": [1, 2.5, -3], "nested": {"ok": True, "none": None}}
    with Proxy(URI(f"PYRO:{registered.object}@{reached.address}")) as echo:
        echo._pyroTimeout = TIMEOUT
        assert echo.echo(message) == message
        assert echo.echo("ünïcödé") == "ünïcödé"
        with pytest.raises(ValueError, match="generated error"):
            echo.error()
