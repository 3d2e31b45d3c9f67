"""A docker deployment against the real engine: endpoints, peers, hardening, faults, roles as
data, and logs, on the fake roles of ``docker_backend.fakes`` in real containers."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import docker
import docker.errors
import pytest

from compat_core.declare import compat_upgrade
from compat_core.errors import BackendError
from compat_core.images import CONTAINER_BYTECODE
from compat_core.labels import BYTECODE_VOLUME_LABEL, IMAGE_LABEL_VERSION, LABEL_INSTANCE, LABEL_SESSION
from compat_core.model import Suite, Topology
from compat_core.plan import plan_suite
from compat_matrix.backends.base import Endpoint
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_deployment import DockerDeployment
from compat_matrix.probes import HttpProbe, TcpProbe, check_once
from compat_matrix.session import Session
from compat_matrix.testing import advertising_system, replace_role
from compat_matrix.testing_support import eventually
from docker_backend import fakes
from docker_backend.fakes import SYSTEM, SYSTEM_ADDRESS, TEST_NET, dial, get

# -- a running cell ----------------------------------------------------------------------------


def test_endpoints_are_reachable_from_the_driver(deployment: DockerDeployment) -> None:
    web = deployment.endpoint("web-0", "http")
    assert web.port == 8000 and web.host.count(".") == 3 and not web.host.startswith("127.")
    assert get(web, "/health") == {"ok": True}
    assert check_once(TcpProbe("tcp"), deployment.endpoint("peer-0", "tcp")).ready
    assert deployment.first("peer", "tcp") == deployment.endpoint("peer-0", "tcp")
    with pytest.raises(KeyError, match="no instance 'server-0'"):
        deployment.endpoint("server-0", "http")
    with pytest.raises(KeyError, match="no port 'grpc'"):
        deployment.endpoint("web-0", "grpc")


def test_peers_resolve_each_other_by_instance_name(deployment: DockerDeployment) -> None:
    logs = deployment.logs()
    assert "reached web-0:8000" in logs["peer-0"]  # {address[web]} = <instance>:<port>
    assert "fake web listening on 0.0.0.0:8000" in logs["web-0"]
    assert "web web-0 data log" in logs["web-0"]  # the declared log file, from the data dir
    assert dial(deployment, "peer-0:8000")["reached"] is True


def test_the_network_is_internal(deployment: DockerDeployment, client: docker.DockerClient) -> None:
    network = client.networks.get(deployment.network_name)
    assert network.attrs["Internal"] is True
    assert network.attrs["Labels"][LABEL_SESSION] == deployment.session.id
    result = dial(deployment, TEST_NET, timeout=1.0)
    assert result["reached"] is False, result


def test_containers_are_hardened_and_labelled(
    deployment: DockerDeployment, client: docker.DockerClient
) -> None:
    containers = fakes.containers(client, deployment)
    assert set(containers) == {"web-0", "peer-0"}
    for name, container_id in containers.items():
        attrs = client.containers.get(container_id).attrs
        host, config = attrs["HostConfig"], attrs["Config"]
        assert config["User"] == "10001:10001"
        assert host["CapDrop"] == ["ALL"]
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert host["Memory"] == host["MemorySwap"] == 1024**3  # no swap beyond the limit
        assert host["PidsLimit"] == 1024
        assert host["NanoCpus"] == 10**9  # the default CPU limit (issue 12: there was none)
        assert host["ReadonlyRootfs"] is True
        assert host["Init"] is True
        assert host["AutoRemove"] is False
        assert "/tmp" in host["Tmpfs"]
        labels = config["Labels"]
        assert labels[LABEL_SESSION] == deployment.session.id
        assert labels[LABEL_INSTANCE] == name
        assert labels["compat-matrix.role"] == name.split("-")[0]
        assert labels["compat-matrix.version"] == "branch"
        assert labels["compat-matrix.cell"] == "all-branch"
    assert get(deployment.endpoint("web-0", "http"), "/info")["uid"] == 10001
    attrs = client.containers.get(containers["web-0"]).attrs
    mounts = attrs["Mounts"]
    # The bytecode of what it imports comes from its image's volume, shared and read-only, or,
    # while that is filled, from a tmpfs of its own (issue 24): never a volume it can write.
    volumes = [m for m in mounts if m["Type"] == "volume"]
    if volumes:
        (volume,) = volumes
        assert (volume["Destination"], volume["RW"]) == (CONTAINER_BYTECODE, False)
        assert client.volumes.get(volume["Name"]).attrs["Labels"] == {BYTECODE_VOLUME_LABEL: attrs["Image"]}
    else:
        assert CONTAINER_BYTECODE in attrs["HostConfig"]["Tmpfs"], attrs["HostConfig"]["Tmpfs"]
    # Regression (issue 12): the bind-mounted data dir was world-writable (0777).
    for source in (m["Source"] for m in mounts if m["Type"] == "bind"):
        mode = os.stat(source)
        assert stat.S_IMODE(mode.st_mode) == 0o700, (source, oct(mode.st_mode))
        assert (mode.st_uid, mode.st_gid) == ((10001, 10001) if os.geteuid() == 0 else (os.getuid(), os.getgid()))
    recorded = set(deployment.session.record.containers)
    assert set(containers.values()) <= recorded


# -- faults (each leaves the cell ready for the next) -----------------------------------------


def test_pause_and_resume(deployment: DockerDeployment) -> None:
    web = deployment.endpoint("web-0", "http")
    probe = HttpProbe("http", "/health")
    deployment.pause("web-0")
    try:
        assert deployment.status("web-0") == "paused"
        assert not check_once(probe, web, timeout=1.0).ready
    finally:
        deployment.resume("web-0")
    eventually(lambda: check_once(probe, web, timeout=1.0).ready, 15.0, "web-0 ready again after resume")


def test_disconnect_and_reconnect(deployment: DockerDeployment) -> None:
    deployment.disconnect("peer-0")
    try:
        assert dial(deployment, "peer-0:8000", timeout=1.0)["reached"] is False
    finally:
        deployment.reconnect("peer-0")
    # The alias comes back with the endpoint; the cell's DNS may take a moment.
    eventually(lambda: dial(deployment, "peer-0:8000", timeout=1.0)["reached"] is True, 15.0, "peer-0 reached by its alias")
    assert check_once(TcpProbe("tcp"), deployment.endpoint("peer-0", "tcp")).ready


def test_restart_keeps_name_alias_and_data(deployment: DockerDeployment, client: docker.DockerClient) -> None:
    before = fakes.containers(client, deployment)["web-0"]
    starts = get(deployment.endpoint("web-0", "http"), "/info")["starts"]
    deployment.disconnect("web-0")  # restart also heals a partition
    deployment.restart("web-0")
    assert fakes.containers(client, deployment)["web-0"] == before
    assert get(deployment.endpoint("web-0", "http"), "/info")["starts"] == starts + 1  # data dir survived
    assert dial(deployment, "peer-0:8000")["reached"] is True


def test_kill_then_restart(deployment: DockerDeployment) -> None:
    peer = deployment.endpoint("peer-0", "tcp")
    deployment.kill("peer-0")
    assert deployment.status("peer-0") == "exited"
    assert not check_once(TcpProbe("tcp"), peer, timeout=1.0).ready
    with pytest.raises(BackendError, match="it is exited, not running"):
        deployment.pause("peer-0")
    assert "fake peer listening" in deployment.logs()["peer-0"]  # logs outlive the process
    deployment.restart("peer-0")
    assert check_once(TcpProbe("tcp"), deployment.endpoint("peer-0", "tcp")).ready


def test_replace_swaps_the_container_for_another_version_under_the_same_name_alias_and_data(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # An upgrade path (web 0.1.0 -> branch) gives the cell the branch's artifacts; both versions run
    # the test's image here (no PEX under the artifact root), told apart by the version label.
    suite = Suite(
        name="dockertest",
        topology=Topology.of({"web": 1, "peer": 1}),
        cells=(),
        system=SYSTEM.name,
        backends=("docker",),
        upgrade=compat_upgrade("up", start="0.1.0", to="branch", order=["web", "peer"]),
    )
    (plan,) = plan_suite(suite, SYSTEM).cells
    plan = replace(
        plan,
        system_address=SYSTEM_ADDRESS,
        instances=tuple(replace(i, image=image) for i in plan.instances),
        artifacts=tuple(replace(a, image=image) for a in plan.artifacts),
    )
    session = Session.create("docker replace test", directory=tmp_path / "sessions")
    try:
        deployment = DockerBackend(session=session).start(plan, tmp_path / "artifacts", tmp_path / "work")
        try:
            before = fakes.containers(client, deployment)
            starts = get(deployment.endpoint("web-0", "http"), "/info")["starts"]
            deployment.replace("peer-0", "branch")
            deployment.replace("web-0", "branch")
            after = fakes.containers(client, deployment)
            assert set(after) == {"web-0", "peer-0"} and not set(after.values()) & set(before.values())
            for name, container_id in after.items():
                container = client.containers.get(container_id)
                assert container.name == f"{deployment.network_name}-{name}"  # the same container name
                assert container.labels[IMAGE_LABEL_VERSION] == "branch"
            assert get(deployment.endpoint("web-0", "http"), "/info")["starts"] == starts + 1  # the same data dir
            assert dial(deployment, "peer-0:8000")["reached"] is True  # peers reach it by the same alias
            assert {i.name: i.version for i in deployment.plan.instances} == {"web-0": "branch", "peer-0": "branch"}
            logs = deployment.logs()["peer-0"]
            assert logs.index("fake peer listening") < logs.index("replacing peer-0: 0.1.0 -> branch")
            assert "fake peer listening" in logs.split("replacing peer-0: 0.1.0 -> branch")[1]  # both containers
        finally:
            deployment.stop()
    finally:
        session.close()


# -- roles as data: shared dir, files, env, port-less roles, peers ---------------------------


@pytest.fixture(scope="module")
def runtime_deployment(
    client: docker.DockerClient, image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DockerDeployment]:
    """web-0, seeder-0 (ready by a log line) and checked-0 (ready by a command in its container).

    In a session of its own: tests of the `deployment` fixture count that session's resources.
    """
    session = Session.create("docker runtime test", directory=tmp_path_factory.mktemp("runtime-sessions"))
    plan = fakes.plan({"web": 1, "seeder": 1, "checked": 1}, image, cell="runtime")
    try:
        deployment = DockerBackend(session=session).start(
            plan, tmp_path_factory.mktemp("artifacts"), tmp_path_factory.mktemp("work")
        )
        try:
            yield deployment
        finally:
            deployment.stop()
    finally:
        session.close()


def test_every_container_shares_the_deployments_shared_dir(runtime_deployment: DockerDeployment) -> None:
    shared = runtime_deployment.shared_dir
    assert shared.name == "shared" and shared.is_dir()
    assert sorted(shared.joinpath("members").read_text().split()) == ["checked-0", "seeder-0"]
    assert shared.joinpath("seed-0.txt").read_text() == "seeded by seeder-0"  # written before start


def test_files_env_and_peers_are_rendered_as_the_container_sees_them(runtime_deployment: DockerDeployment) -> None:
    log = runtime_deployment.logs()["seeder-0"]
    # Paths inside the container; the file was on the bind mount before the container started.
    assert "read /tmp/data/config.txt: config of seeder-0, sharing /tmp/shared" in log
    assert "env GREETING=hello from seeder-0 (#0)" in log
    assert "env WEB=web-0:8000" in log  # peers by instance name and container port
    assert '"--webs": "web-0=web-0:8000"' in log
    assert "--- seed-0.txt ---\nseeded by seeder-0" in log  # a declared log file in {shared_dir}


def test_port_less_roles_are_ready_by_log_line_and_by_command(runtime_deployment: DockerDeployment) -> None:
    logs = runtime_deployment.logs()
    assert "fake seeder ready" in logs["seeder-0"]
    # The command probe ran `docker exec` with the args expanded for the container ({shared_dir}).
    assert runtime_deployment.shared_dir.joinpath("checked-0.ready").exists()
    assert "fake checked ready" in logs["checked-0"]
    assert [runtime_deployment.status(name) for name in ("seeder-0", "checked-0")] == ["running", "running"]


# A web role that registers the address it advertises where a peer looks it up, and a peer that
# dials what it finds there.
ADVERTISING_SYSTEM = advertising_system(SYSTEM, "http", interval=0.1)


def test_an_instance_is_reached_at_the_address_it_advertises(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    plan = fakes.plan({"web": 1, "dialer": 1}, image, system=ADVERTISING_SYSTEM)
    deployment = DockerBackend().start(plan, tmp_path / "a", tmp_path / "w")
    try:
        # Its network alias, as {address[web]} gives the web role's peers; a peer reached it there.
        assert deployment.shared_dir.joinpath("registry").read_text().split() == ["web-0:8000"]
        assert "reached web-0:8000" in deployment.logs()["dialer-0"]
        # The driver cannot resolve the alias: what it registered leads to the container's address.
        assert deployment.advertised("web-0", "http") == Endpoint("web-0", 8000)
        assert deployment.reach("web-0:8000") == deployment.endpoint("web-0", "http")
        assert deployment.reach("web-0:8000").host != "web-0"
    finally:
        deployment.stop()


def test_a_command_probe_runs_in_a_script_roles_container(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression: the exec inherited the container's PEX_SCRIPT (now PEX_INTERPRETER) next to the
    # probe's PEX_MODULE, and the PEX refused to run ("Can only specify one of ..."): such a role
    # never became ready.
    deployment = DockerBackend().start(fakes.plan({"checked-script": 1}, image, cell="script"), tmp_path / "a", tmp_path / "w")
    try:
        assert deployment.status("checked-script-0") == "running"
        assert "fake checked-script ready" in deployment.logs()["checked-script-0"]
    finally:
        deployment.stop()


def test_endpoints_list_every_instance_in_start_order(runtime_deployment: DockerDeployment) -> None:
    endpoints = runtime_deployment.endpoints()
    assert list(endpoints) == ["web-0", "seeder-0", "checked-0"]
    assert endpoints["seeder-0"] == {} and endpoints["checked-0"] == {}
    assert endpoints["web-0"] == {"http": runtime_deployment.endpoint("web-0", "http")}
    assert get(endpoints["web-0"]["http"], "/health") == {"ok": True}


# Regression: the engine keeps a container's output across a restart, so the log probe matched the
# previous run's line and restart() returned before the instance was ready again.
def test_restart_of_a_port_less_role_waits_for_a_new_log_line(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    seeder = SYSTEM.roles["seeder"]
    system = replace_role(SYSTEM, "seeder", args=seeder.args + ("--ready-after", "1"))
    session = Session.create("docker restart test", directory=tmp_path / "sessions")
    try:
        deployment = DockerBackend(session=session).start(
            fakes.plan({"web": 1, "seeder": 1}, image, system=system), tmp_path, tmp_path / "w"
        )
        try:
            deployment.restart("seeder-0")
            assert deployment.logs()["seeder-0"].count("fake seeder ready") == 2
        finally:
            deployment.stop()
    finally:
        session.close()
