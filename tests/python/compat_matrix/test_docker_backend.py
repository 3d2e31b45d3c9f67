"""The docker backend against the real engine: tiny images built FROM the local base image.

No mocks: a two-role fake system (an HTTP ``web`` role and a TCP ``peer`` role that dials
``web`` by instance name) runs on real containers and a real internal network. Skipped, with
the reason, only when no Docker engine answers or the base image is missing.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from compat_core.codec import cell_to_json
from compat_core.declare import command_probe, compat_upgrade, log_probe, parse_releases
from compat_core.errors import ArtifactError, BackendError, CompatMatrixError
from compat_core.images import CONTAINER_BYTECODE
from compat_core.model import CellPlan, CellSpec, Command, Probe, RoleSpec, Suite, System, Topology
from compat_core.plan import plan_cell, plan_suite
from compat_matrix.backends import docker_watchdog
from compat_matrix.backends.base import Endpoint, start_logs
from compat_matrix.backends.docker import (
    LABEL_CELL,
    LABEL_INSTANCE,
    LABEL_OWNER_CREATED,
    LABEL_SESSION_RECORD,
    LABEL_VERSION,
    DockerBackend,
    DockerDeployment,
    DockerOptions,
    being_removed,
    connect,
    remove_container,
    remove_network,
)
from compat_matrix.backends.docker_images import (
    BYTECODE_FILLER_LABEL,
    BYTECODE_VOLUME_LABEL,
    bytecode_volume,
)
from compat_matrix.backends.docker_limits import CpuLimits, memory_for_role
from compat_matrix.backends.docker_network import (
    RULE_COMMENT_PREFIX,
    Firewall,
    bridge_interface,
    reap_host_rules,
)
from compat_matrix.backends.docker_reaper import RESOURCE_REAPER, DockerResourceReaper, orphaned
from compat_matrix.backends.docker_watchdog import (
    LABEL_WATCHDOG_SESSION,
    LABEL_WATCHED_BY,
    DockerWatchdog,
    running_watchdogs,
)
from compat_matrix.backends.process import python_path
from compat_matrix.probes import HttpProbe, TcpProbe, check_once
from compat_matrix.reaper import reap
from compat_matrix.session import (
    LABEL_OWNER_PID,
    LABEL_SESSION,
    NO_WATCHDOG_ENV,
    Session,
    create_time_of,
    list_sessions,
)
from compat_matrix.testing import docker_client_or_skip, eventually, isolated_sessions, replace_role

BASE_IMAGE = "compat-matrix/base:bookworm"
_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TEST_NET = "192.0.2.1:80"  # RFC 5737 TEST-NET-1: never routed, never a real host

FAKE_ROLE = r"""
import json, os, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

role = sys.argv[1]
opts = dict(zip(sys.argv[2::2], sys.argv[3::2]))
print(f"fake {role} starting with {json.dumps(opts, sort_keys=True)}", flush=True)
for name in filter(None, opts.get("--show-env", "").split(",")):
    print(f"env {name}={os.environ.get(name, '<unset>')}", flush=True)
if "--read" in opts:  # a file the backend wrote before start: missing is fatal
    with open(opts["--read"]) as f:
        print(f"read {opts['--read']}: {f.read()}", flush=True)
if "--touch" in opts:
    with open(opts["--touch"], "a") as f:
        f.write(opts.get("--name", role) + "\n")
if "--hog" in opts:  # use this many MiB of memory (written, so really resident)
    hog = b"x" * (int(opts["--hog"]) << 20)
    print(f"holding {len(hog) >> 20} MiB", flush=True)
if "--plant" in opts:  # plant bytecode of /app/victim.py that says otherwise (issue 24)
    import importlib.util, py_compile
    try:
        with open("/tmp/victim.py", "w") as f:
            f.write('MESSAGE = "planted"\n')  # the size of the genuine source, and its mtime
        genuine = os.stat("/app/victim.py").st_mtime
        os.utime("/tmp/victim.py", (genuine, genuine))
        target = importlib.util.cache_from_source("/app/victim.py")
        py_compile.compile("/tmp/victim.py", cfile=target, doraise=True)
        print(f"planted {target}", flush=True)
    except Exception as exc:
        print(f"could not plant: {exc!r}", flush=True)
if "--victim" in opts:
    sys.path.insert(0, "/app")
    import victim
    print(f"victim says {victim.MESSAGE}", flush=True)
if role == "crash":
    print("fatal: this role always fails to start", file=sys.stderr, flush=True)
    sys.exit(3)

def dial(address, timeout):
    name, _, number = address.rpartition(":")
    # A name the cell's DNS does not know is forwarded upstream, which an internal network
    # cannot reach: bound the lookup too, not only the connect.
    found = []
    lookup = threading.Thread(target=lambda: found.append(socket.gethostbyname(name)), daemon=True)
    lookup.start()
    lookup.join(timeout)
    if not found:
        raise OSError(f"cannot resolve {name!r} within {timeout}s")
    with socket.create_connection((found[0], int(number)), timeout=timeout):
        pass

if "--port" not in opts:  # listens nowhere: says when it is ready, in its log and a file
    if "--dial-file" in opts:  # dials the first address registered there
        with open(opts["--dial-file"]) as f:
            address = f.readline().strip()
        dial(address, 5.0)
        print(f"reached {address}", flush=True)
    time.sleep(float(opts.get("--ready-after", "0")))
    if "--ready-file" in opts:
        with open(opts["--ready-file"] + ".tmp", "w") as f:
            f.write('{"ready": true}')
        os.rename(opts["--ready-file"] + ".tmp", opts["--ready-file"])
    print(f"fake {role} ready", flush=True)
    while True:
        time.sleep(1)
host, port = opts["--host"], int(opts["--port"])

if role == "web":
    data = opts["--data"]
    with open(os.path.join(data, "web.log"), "a") as f:
        f.write(f"web {opts['--name']} started\n")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/health":
                code, body = 200, {"ok": True}
            elif url.path == "/info":
                with open(os.path.join(data, "web.log")) as f:
                    starts = sum(1 for line in f if "started" in line)
                code, body = 200, {"uid": os.getuid(), "starts": starts, "home": os.environ.get("HOME")}
            elif url.path == "/dial":
                query = parse_qs(url.query)
                try:
                    dial(query["to"][0], float(query.get("timeout", ["2"])[0]))
                    code, body = 200, {"reached": True}
                except OSError as exc:
                    code, body = 200, {"reached": False, "error": repr(exc)}
            else:
                code, body = 404, {}
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, fmt, *args):
            print("http: " + fmt % args, flush=True)

    server = ThreadingHTTPServer((host, port), Handler)
    print(f"fake web listening on {host}:{port}", flush=True)
    if "--register" in opts:  # where peers look up the address it advertises
        with open(opts["--register"], "a") as f:
            f.write(opts["--advertise"] + "\n")
    server.serve_forever()
else:
    web = opts["--web"]
    for _ in range(100):
        try:
            dial(web, 1.0)
            print(f"peer reached web at {web}", flush=True)
            break
        except OSError as exc:
            print(f"peer cannot reach web at {web} yet: {exc}", flush=True)
            time.sleep(0.1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(16)
    print(f"fake peer listening on {host}:{port}", flush=True)
    while True:
        conn, _ = sock.accept()
        conn.close()
"""

# Stands in for /app/venv/pex, the entry point of a role image's PEX venv: it runs $PEX_MODULE
# (pkg.mod or pkg.mod:function) with the image's code on sys.path, or with PEX_INTERPRETER the
# code of `-c CODE ARGS`, and refuses two of them at once, as pex does. The backend runs it with the
# venv's interpreter (/app/venv/bin/python -sE -u /app/venv/pex) and sets PEX_MODULE to a module
# role's command, or PEX_INTERPRETER with `-c <the backends' script runner> SCRIPT` for a console
# script (bin/fake-role here); and PEX_MODULE to a command probe's module for `docker exec`.
FAKE_PEX = r"""#!/usr/bin/env python3
import importlib, os, runpy, sys
sys.path.insert(0, "/app")
found = [k for k in ("PEX_INTERPRETER", "PEX_SCRIPT", "PEX_MODULE") if k in os.environ]
if len(found) > 1:
    sys.exit(f"Can only specify one of PEX_INTERPRETER, PEX_SCRIPT, PEX_MODULE; found: {found}")
if "PEX_INTERPRETER" in os.environ:
    del os.environ["PEX_INTERPRETER"]
    code, sys.argv = sys.argv[2], ["-c", *sys.argv[3:]]
    exec(compile(code, "-c <cmd>", "exec"), {"__name__": "__main__"})
    sys.exit(0)
module, _, function = os.environ["PEX_MODULE"].partition(":")
if function:
    sys.exit(getattr(importlib.import_module(module), function)())
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

# A console script of the venv, as pip writes one.
FAKE_SCRIPT = r"""#!/app/venv/bin/python3 -sE
import runpy, sys
sys.path.insert(0, "/app")
runpy.run_module("fake_role", run_name="__main__", alter_sys=True)
"""

VICTIM = 'MESSAGE = "genuine"\n'

# Laid out like the images the build makes (compat_core.images): the venv's Python keeps the
# bytecode of what it imports under CONTAINER_BYTECODE (a .pth sets sys.pycache_prefix).
DOCKERFILE = f"""
FROM {BASE_IMAGE}
COPY fake_role.py /app/fake_role.py
COPY victim.py /app/victim.py
COPY pex /app/venv/pex
COPY fake-role /app/venv/bin/fake-role
RUN mkdir -p /app/venv/bin {CONTAINER_BYTECODE}/app/src && ln -s "$(command -v python3)" /app/venv/bin/python3 \\
 && ln -s python3 /app/venv/bin/python \\
 && chown -R 10001:10001 {CONTAINER_BYTECODE} \\
 && site=$(python3 -c 'import site; print(site.getsitepackages()[0])') && mkdir -p "$site" \\
 && echo 'import sys; sys.pycache_prefix = "{CONTAINER_BYTECODE}"' > "$site/compat_matrix_bytecode.pth"
ENV HOME=/tmp
USER 10001:10001
ENTRYPOINT ["/app/venv/pex"]
"""


def _tcp(port: str, timeout: float = 20.0) -> Probe:
    return Probe("tcp", port, timeout=timeout, interval=0.1)


def _role(name: str, args: tuple[str, ...], readiness: Probe, **fields: Any) -> RoleSpec:
    return RoleSpec(
        name=name, command=Command("module", "fake_role"), args=(name, *args), readiness=readiness, branch=("fake",),
        **fields,
    )


_MEMBER = ("--name", "{name}", "--touch", "{shared_dir}/members")

SYSTEM = System(
    name="fakedocker",
    role_specs=(
        _role(
            "web",
            ("--host", "{host}", "--port", "{port[http]}", "--name", "{name}", "--data", "{data_dir}"),
            Probe("http", "http", "/health", timeout=20.0, interval=0.1),
            ports=("http",),
            log_files=("web.log",),
        ),
        _role(
            "peer",
            ("--host", "{host}", "--port", "{port[tcp]}", "--web", "{address[web]}"),
            _tcp("tcp"),
            ports=("tcp",),
            depends_on=("web",),
            requires=("web",),
        ),
        _role(
            "crash",
            ("--host", "{host}", "--port", "{port[tcp]}"),
            _tcp("tcp", timeout=15.0),
            ports=("tcp",),
            depends_on=("web",),
        ),
        # No port: ready by a log line. Reads a file written before start, shows its env.
        _role(
            "seeder",
            (
                *_MEMBER,
                "--read", "{data_dir}/config.txt",
                "--show-env", "GREETING,WEB",
                "--webs", "{peers[web][0].name}={peers[web][0].host}:{peers[web][0].port[http]}",
            ),
            log_probe(r"^fake seeder ready$", timeout=20.0, interval=0.1),
            env=(("GREETING", "hello from {name} (#{index})"), ("WEB", "{address[web]}")),
            files=(
                ("{data_dir}/config.txt", "config of {name}, sharing {shared_dir}"),
                ("{shared_dir}/seed-{index}.txt", "seeded by {name}"),
            ),
            depends_on=("web",),
            requires=("web",),
            log_files=("{shared_dir}/seed-{index}.txt",),  # collected from the host side of the mount
        ),
        # No port: ready when `docker exec` of python -m json.tool on its ready file exits 0.
        _role(
            "checked",
            (*_MEMBER, "--ready-after", "0.5", "--ready-file", "{shared_dir}/{name}.ready"),
            command_probe(["json.tool", "{shared_dir}/{name}.ready"], timeout=30.0, interval=0.1),
        ),
        # The same, run as a console script (PEX_INTERPRETER in its container's environment).
        RoleSpec(
            name="checked-script",
            command=Command("script", "fake-role"),
            args=("checked-script", *_MEMBER, "--ready-file", "{shared_dir}/{name}.ready"),
            readiness=command_probe(["json.tool", "{shared_dir}/{name}.ready"], timeout=30.0, interval=0.1),
            branch=("fake",),
        ),
    ),
    releases=parse_releases("fakedocker", ["0.1.0"], "0.1.0"),
)
SYSTEM_ADDRESS = "tests/fakedocker:fakedocker"


def _plan(topology: dict[str, int], image: str, cell: str = "all-branch", system: System = SYSTEM) -> CellPlan:
    suite = Suite(
        name="dockertest", topology=Topology.of(topology), cells=(CellSpec(cell),), system=system.name,
        backends=("docker",),
    )
    plan = replace(plan_cell(suite, cell, system), system_address=SYSTEM_ADDRESS)
    return replace(plan, instances=tuple(replace(i, image=image) for i in plan.instances))


def _containers(client: docker.DockerClient, deployment: DockerDeployment) -> dict[str, str]:
    """Instance name -> id of the deployment's containers, found by their labels as the reaper finds them."""
    label = [f"{LABEL_SESSION}={deployment.session.id}", f"{LABEL_CELL}={deployment.plan.cell}"]
    found = client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    return {c.labels[LABEL_INSTANCE]: c.id for c in found if c.name.startswith(deployment.network_name)}


def _wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    with docker_client_or_skip() as client:
        yield client


@pytest.fixture(scope="module")
def image(client: docker.DockerClient) -> Iterator[str]:
    """The fake roles' image, under a unique tag, removed at the end."""
    tag = f"compat-matrix-test/fake-roles:{uuid.uuid4().hex[:12]}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        files = (
            ("Dockerfile", DOCKERFILE, 0o644),
            ("fake_role.py", FAKE_ROLE, 0o644),
            ("victim.py", VICTIM, 0o644),
            ("pex", FAKE_PEX, 0o755),
            ("fake-role", FAKE_SCRIPT, 0o755),
        )
        for name, text, mode in files:
            raw = text.encode()
            entry = tarfile.TarInfo(name)
            entry.size = len(raw)
            entry.mode = mode
            tar.addfile(entry, io.BytesIO(raw))
    context.seek(0)
    # pull=False: nothing can come from a registry; the base image is local.
    built, _ = client.images.build(
        fileobj=context, custom_context=True, tag=tag, pull=False, rm=True, forcerm=True
    )
    try:
        yield tag
    finally:
        # Its bytecode volume, and the container filling it, are this module's too.
        for filler in client.containers.list(all=True, filters={"label": BYTECODE_FILLER_LABEL}, ignore_removed=True):
            if filler.attrs["Image"] == built.id:
                remove_container(filler)
        for volume in client.volumes.list(filters={"label": f"{BYTECODE_VOLUME_LABEL}={built.id}"}):
            try:
                volume.remove(force=True)
            except docker.errors.NotFound:
                pass
        # A container of this module that a watchdog is still removing holds the image for a moment
        # (seen once: 409 "image is being used by running container"): retry, bounded.
        deadline = time.monotonic() + 20
        while True:
            try:
                client.images.remove(built.id, force=True)
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError as exc:
                if exc.status_code != 409 or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


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
    artifacts = tmp_path_factory.mktemp("artifacts")
    plan = _plan({"web": 1, "peer": 1}, image=image)
    deployment = DockerBackend(session=session).start(
        plan, artifacts, tmp_path_factory.mktemp("work")
    )
    try:
        yield deployment
    finally:
        deployment.stop()


def _get(endpoint: Endpoint, path: str, timeout: float = 5.0) -> dict:
    response = httpx.get(endpoint.url() + path, timeout=timeout)
    response.raise_for_status()
    return dict(response.json())


def _dial(deployment: DockerDeployment, target: str, timeout: float = 2.0) -> dict:
    """Ask web-0 to open a TCP connection to ``target`` from inside the cell's network."""
    return _get(deployment.endpoint("web-0", "http"), f"/dial?to={target}&timeout={timeout}", timeout + 5)


def _labelled(client: docker.DockerClient, session_id: str) -> tuple[list[str], list[str]]:
    label = f"{LABEL_SESSION}={session_id}"
    containers = [c.name for c in client.containers.list(all=True, filters={"label": label}, ignore_removed=True)]
    networks = [n.name for n in client.networks.list(filters={"label": label})]
    return containers, networks


# -- a running cell ----------------------------------------------------------------------------


def test_endpoints_are_reachable_from_the_driver(deployment: DockerDeployment) -> None:
    web = deployment.endpoint("web-0", "http")
    assert web.port == 8000 and web.host.count(".") == 3 and not web.host.startswith("127.")
    assert _get(web, "/health") == {"ok": True}
    assert check_once(TcpProbe("tcp"), deployment.endpoint("peer-0", "tcp")).ready
    assert deployment.first("peer", "tcp") == deployment.endpoint("peer-0", "tcp")
    with pytest.raises(KeyError, match="no instance 'server-0'"):
        deployment.endpoint("server-0", "http")
    with pytest.raises(KeyError, match="no port 'grpc'"):
        deployment.endpoint("web-0", "grpc")


def test_peers_resolve_each_other_by_instance_name(deployment: DockerDeployment) -> None:
    logs = deployment.logs()
    assert "peer reached web at web-0:8000" in logs["peer-0"]  # {address[web]} = <instance>:<port>
    assert "fake web listening on 0.0.0.0:8000" in logs["web-0"]
    assert "web web-0 started" in logs["web-0"]  # the declared log file, from the data dir
    assert _dial(deployment, "peer-0:8000")["reached"] is True


def test_the_network_is_internal(deployment: DockerDeployment, client: docker.DockerClient) -> None:
    network = client.networks.get(deployment.network_name)
    assert network.attrs["Internal"] is True
    assert network.attrs["Labels"][LABEL_SESSION] == deployment.session.id
    result = _dial(deployment, TEST_NET, timeout=1.0)
    assert result["reached"] is False, result


def test_containers_are_hardened_and_labelled(
    deployment: DockerDeployment, client: docker.DockerClient
) -> None:
    containers = _containers(client, deployment)
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
    assert _get(deployment.endpoint("web-0", "http"), "/info")["uid"] == 10001
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
    assert _wait_until(lambda: check_once(probe, web, timeout=1.0).ready)


def test_disconnect_and_reconnect(deployment: DockerDeployment) -> None:
    deployment.disconnect("peer-0")
    try:
        assert _dial(deployment, "peer-0:8000", timeout=1.0)["reached"] is False
    finally:
        deployment.reconnect("peer-0")
    # The alias comes back with the endpoint; the cell's DNS may take a moment.
    assert _wait_until(lambda: _dial(deployment, "peer-0:8000", timeout=1.0)["reached"] is True)
    assert check_once(TcpProbe("tcp"), deployment.endpoint("peer-0", "tcp")).ready


def test_restart_keeps_name_alias_and_data(deployment: DockerDeployment, client: docker.DockerClient) -> None:
    before = _containers(client, deployment)["web-0"]
    starts = _get(deployment.endpoint("web-0", "http"), "/info")["starts"]
    deployment.disconnect("web-0")  # restart also heals a partition
    deployment.restart("web-0")
    assert _containers(client, deployment)["web-0"] == before
    assert _get(deployment.endpoint("web-0", "http"), "/info")["starts"] == starts + 1  # data dir survived
    assert _dial(deployment, "peer-0:8000")["reached"] is True


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
            before = _containers(client, deployment)
            starts = _get(deployment.endpoint("web-0", "http"), "/info")["starts"]
            deployment.replace("peer-0", "branch")
            deployment.replace("web-0", "branch")
            after = _containers(client, deployment)
            assert set(after) == {"web-0", "peer-0"} and not set(after.values()) & set(before.values())
            for name, container_id in after.items():
                container = client.containers.get(container_id)
                assert container.name == f"{deployment.network_name}-{name}"  # the same container name
                assert container.labels[LABEL_VERSION] == "branch"
            assert _get(deployment.endpoint("web-0", "http"), "/info")["starts"] == starts + 1  # the same data dir
            assert _dial(deployment, "peer-0:8000")["reached"] is True  # peers reach it by the same alias
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
    plan = _plan({"web": 1, "seeder": 1, "checked": 1}, image, cell="runtime")
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


# A web role that registers the address it advertises ({advertised_host}, not the 0.0.0.0 it binds)
# where a peer looks it up, and a peer that dials what it finds there.
ADVERTISING_SYSTEM = replace(
    SYSTEM,
    role_specs=(
        replace_role(
            SYSTEM,
            "web",
            args=SYSTEM.roles["web"].args
            + ("--advertise", "{advertised_host}:{port[http]}", "--register", "{shared_dir}/registry"),
        ).roles["web"],
        _role(
            "dialer",
            ("--dial-file", "{shared_dir}/registry"),
            log_probe(r"^fake dialer ready$", timeout=20.0, interval=0.1),
            depends_on=("web",),
        ),
    ),
)


def test_an_instance_is_reached_at_the_address_it_advertises(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    plan = _plan({"web": 1, "dialer": 1}, image, system=ADVERTISING_SYSTEM)
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
    deployment = DockerBackend().start(_plan({"checked-script": 1}, image, cell="script"), tmp_path / "a", tmp_path / "w")
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
    assert _get(endpoints["web-0"]["http"], "/health") == {"ok": True}


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
            _plan({"web": 1, "seeder": 1}, image, system=system), tmp_path, tmp_path / "w"
        )
        try:
            deployment.restart("seeder-0")
            assert deployment.logs()["seeder-0"].count("fake seeder ready") == 2
        finally:
            deployment.stop()
    finally:
        session.close()


# -- lifecycle ----------------------------------------------------------------------------------


def test_stop_removes_everything_and_is_idempotent(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    session = Session.create("stop test", directory=tmp_path / "sessions")
    try:
        # No docker-info file: the plan's tag is the image (outside Pants, after `pants package`).
        deployment = DockerBackend(session=session).start(
            _plan({"web": 1}, image), tmp_path / "artifacts", tmp_path / "work"
        )
        containers, networks = _labelled(client, session.id)
        assert len(containers) == 1 and networks == [deployment.network_name]
        assert deployment.network_name.startswith(
            f"compat-matrix-{session.id.rsplit('-', 1)[-1]}-all-branch-"
        )
        deployment.stop()
        assert _labelled(client, session.id) == ([], [])
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
                _plan({"web": 1, "crash": 1}, image), tmp_path, tmp_path / "work"
            )
        message = str(info.value)
        assert "crash-0" in message and image in message
        assert "exited before it was ready" in message and "TCP connect to" in message
        assert "fatal: this role always fails to start" in message
        assert _labelled(client, session.id) == ([], [])
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
            DockerBackend(session=session).start(_plan({"web": 1}, missing), tmp_path, tmp_path / "w")
        assert _labelled(client, session.id) == ([], [])
    finally:
        session.close()


def test_no_engine_says_how_to_start_docker(tmp_path: Path) -> None:
    backend = DockerBackend(base_url=f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(BackendError, match="start the Docker engine"):
        backend.start(_plan({"web": 1}, "any:tag"), tmp_path, tmp_path / "w")
    # Nothing on the engine to remove; only host rules (another run's stale ones, if any) are reaped.
    lines = DockerResourceReaper(base_url=f"unix://{tmp_path}/no-such-docker.sock").reap([], frozenset())
    assert all("host-isolation rule" in line for line in lines), lines


# -- the reaper ---------------------------------------------------------------------------------


def _dead_pid() -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    created = create_time_of(proc.pid)
    proc.wait()
    return proc.pid, created


def test_the_reaper_removes_only_dead_sessions_leftovers(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    pid, created = _dead_pid()
    suffix = uuid.uuid4().hex[:8]

    def labels(session_id: str, owner: int, owner_created: float, record: Path) -> dict[str, str]:
        return {
            LABEL_SESSION: session_id,
            LABEL_OWNER_PID: str(owner),
            LABEL_OWNER_CREATED: repr(owner_created),
            LABEL_SESSION_RECORD: str(record),
        }

    # Planted sessions are watched by a watchdog of this test's own, so the reapers of other runs
    # on the machine see them alive and leave them to this test (issue 12: they raced for them).
    shield = DockerWatchdog.start(
        Session.create("planted sessions' watchdog", directory=tmp_path / "shield"),
        connect(),
        watchdog_id=f"test-shield-{suffix}",
    )
    # A dead session with a record, a dead session whose record and watchdog are gone, and a live
    # one whose owner pid is dead here: as a live session owned from another pid namespace looks.
    recorded = f"dead-recorded-{suffix}"
    (sessions / f"{recorded}.json").write_text(
        json.dumps({"id": recorded, "owner_pid": pid, "owner_create_time": created, "created_at": 0})
    )
    kinds = {
        recorded: {**labels(recorded, pid, created, sessions / f"{recorded}.json"), **shield.labels()},
        f"dead-unrecorded-{suffix}": {
            **labels(f"dead-unrecorded-{suffix}", pid, created, sessions / "gone.json"),
            LABEL_WATCHED_BY: f"gone-{suffix}",
        },
        f"live-{suffix}": {**labels(f"live-{suffix}", pid, created, sessions / "elsewhere.json"), **shield.labels()},
    }
    made_networks, made_containers = [], []
    try:
        for session_id, session_labels in kinds.items():
            net = client.networks.create(
                f"compat-matrix-test-{session_id}", internal=True, labels=session_labels
            )
            made_networks.append(net)
            made_containers.append(
                client.containers.create(
                    image,
                    ["web"],
                    name=f"compat-matrix-test-{session_id}",
                    labels=session_labels,
                    network=net.name,
                )
            )
        unlabelled = client.networks.create(f"compat-matrix-test-unlabelled-{suffix}", internal=True)
        made_networks.append(unlabelled)

        result = reap(sessions, reapers=[RESOURCE_REAPER])
        assert recorded in result.sessions
        removed = "\n".join(result.removed)
        # About this test's sessions only: the reaper also meets other runs' leftovers.
        assert not [line for line in result.removed if suffix in line and "could not remove" in line], removed
        assert f"container compat-matrix-test-{recorded} removed" in removed
        assert _labelled(client, recorded) == ([], [])
        # Another run's reaper may remove the unwatched orphans first (they are orphans to it
        # too), so assert that they are gone, not who removed them.
        assert _labelled(client, f"dead-unrecorded-{suffix}") == ([], [])
        assert _labelled(client, f"live-{suffix}") == (
            [f"compat-matrix-test-live-{suffix}"],
            [f"compat-matrix-test-live-{suffix}"],
        )
        assert client.networks.get(unlabelled.id).name == unlabelled.name  # no label: never touched
    finally:
        shield.release(kept=False)  # removes what it watched, as it would if this test were killed
        # Other runs' reapers may be removing the orphans too: idempotent removals.
        for container in made_containers:
            remove_container(container)
        for net in made_networks:
            remove_network(net)


def test_orphaned_decides_from_labels_alone(tmp_path: Path) -> None:
    # Pure: no engine needed. The rules the reaper applies to every labelled resource.
    pid, created = _dead_pid()
    me = {LABEL_OWNER_PID: str(os.getpid()), LABEL_OWNER_CREATED: repr(create_time_of(os.getpid()))}
    dead_owner = {LABEL_OWNER_PID: str(pid), LABEL_OWNER_CREATED: repr(created)}
    record = tmp_path / "other-dir-session.json"
    record.write_text("{}")
    none: frozenset[str] = frozenset()
    assert not orphaned({}, frozenset({"s"}), none)  # no session label: never ours to remove
    assert orphaned({LABEL_SESSION: "s", **me}, frozenset({"s"}), none)  # named dead by its record
    assert not orphaned({LABEL_SESSION: "s", **dead_owner}, none, frozenset({"s"}))  # live or kept
    assert orphaned({LABEL_SESSION: "s", **dead_owner}, none, none)  # no record, owner gone
    assert not orphaned({LABEL_SESSION: "s", **me}, none, none)  # no record here, owner alive
    # Another sessions directory still has its record: that directory's reaper decides.
    assert not orphaned({LABEL_SESSION: "s", **dead_owner, LABEL_SESSION_RECORD: str(record)}, none, none)
    assert orphaned(
        {LABEL_SESSION: "s", **dead_owner, LABEL_SESSION_RECORD: str(tmp_path / "gone.json")}, none, none
    )
    # A reused pid (same number, other create time) is not the owner.
    assert orphaned(
        {LABEL_SESSION: "s", LABEL_OWNER_PID: str(os.getpid()), LABEL_OWNER_CREATED: "1.0"}, none, none
    )
    # A watched session lives exactly as long as its watchdog, whatever the owner pid says here.
    watched = {LABEL_SESSION: "s", **dead_owner, LABEL_WATCHED_BY: "w"}
    assert not orphaned(watched, none, none, frozenset({"w"}))
    assert orphaned({**watched, **me}, none, none, frozenset({"x"}))
    assert orphaned(watched, frozenset({"s"}), none, frozenset({"w"}))  # named dead (down) wins


def test_limits_come_from_the_environment() -> None:
    assert DockerOptions.from_env({}) == DockerOptions()
    options = DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_MEMORY": "2g", "COMPAT_MATRIX_DOCKER_PIDS": "64"})
    assert (options.mem_limit, options.pids_limit) == ("2g", 64)
    with pytest.raises(BackendError, match="COMPAT_MATRIX_DOCKER_PIDS='many' is not a whole number"):
        DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_PIDS": "many"})


# -- host isolation (issue 12) -----------------------------------------------------------------


class _Listener:
    """A TCP listener on the host, recording the peer address of every connection it accepts."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.peers: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.peers.append(peer[0])
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _gateway(client: docker.DockerClient, deployment: DockerDeployment) -> str:
    config = client.networks.get(deployment.network_name).attrs["IPAM"]["Config"]
    return str(config[0]["Gateway"])


@pytest.mark.parametrize("bind", ["0.0.0.0", "gateway"])
def test_a_container_cannot_connect_to_the_host(
    deployment: DockerDeployment, client: docker.DockerClient, bind: str
) -> None:
    # Regression (issue 12): an internal network still let containers reach a listener on the
    # host's 0.0.0.0 (through the bridge's gateway address).
    gateway = _gateway(client, deployment)
    listener = _Listener(gateway if bind == "gateway" else bind)
    try:
        # The listener is up: the host itself reaches it.
        local = "127.0.0.1" if bind == "0.0.0.0" else gateway
        with socket.create_connection((local, listener.port), timeout=2):
            pass
        assert _wait_until(lambda: len(listener.peers) == 1, timeout=5)
        result = _dial(deployment, f"{gateway}:{listener.port}", timeout=2.0)
        assert result["reached"] is False, result
        assert "Connection refused" in result["error"], result  # rejected at once, not timed out
        assert listener.peers == [local], listener.peers  # only the host's own connection
    finally:
        listener.close()
    # ...while the driver on the host still reaches the containers, and they reach each other.
    assert _get(deployment.endpoint("web-0", "http"), "/health") == {"ok": True}
    assert _dial(deployment, "peer-0:8000")["reached"] is True


def test_the_host_rule_lives_and_dies_with_the_network(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    session = Session.create("docker isolation test", directory=tmp_path / "sessions")
    try:
        deployment = DockerBackend(session=session).start(_plan({"web": 1}, image), tmp_path, tmp_path / "w")
        bridge = bridge_interface(client.networks.get(deployment.network_name).attrs)
        comment = f"{RULE_COMMENT_PREFIX}{session.id}"
        try:
            rules = [words for _, words in Firewall.detect().our_rules() if comment in words]
            assert rules and all(words[words.index("-i") + 1] == bridge for words in rules), rules
        finally:
            deployment.stop()
        assert not [words for _, words in Firewall.detect().our_rules() if comment in words]
    finally:
        session.close()


def test_the_reaper_removes_host_rules_of_dead_sessions_and_gone_bridges(deployment: DockerDeployment) -> None:
    firewall = Firewall.detect()
    planted = [("br-cmgone00000", "dead-session-x"), ("br-cmgone00001", "unknown-session-y")]
    for bridge, session_id in planted:
        firewall.add(bridge, session_id)
    live = f"{RULE_COMMENT_PREFIX}{deployment.session.id}"
    try:
        lines = reap_host_rules(frozenset({"dead-session-x"}), frozenset({deployment.session.id}))
        remaining = [words for _, words in firewall.our_rules()]
        assert not [w for w in remaining if any("-session-" in x for x in w)], remaining
        assert any("dead-session-x" in line and "removed" in line for line in lines), lines
        # Its bridge is gone: gone whoever removed it (another run's reaper may be first).
        assert not [w for w in remaining if f"{RULE_COMMENT_PREFIX}unknown-session-y" in w], remaining
        assert [w for w in remaining if live in w], "the live deployment's rule must stay"
    finally:
        for bridge, session_id in planted:
            firewall.remove(bridge, session_id)


def test_cpu_limits_come_from_the_role_and_the_environment() -> None:
    web, peer = SYSTEM.roles["web"], SYSTEM.roles["peer"]
    declared = replace(web, cpus=0.5)
    assert CpuLimits().for_role(web) == 1.0
    assert CpuLimits().for_role(declared) == 0.5
    assert CpuLimits().for_role(replace(web, cpus=8), host_cpus=2) == 2.0
    options = DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_CPUS": "1.5,web=0.25"})
    assert options.cpu_limits.for_role(declared) == 0.25
    assert options.cpu_limits.for_role(peer) == 1.5
    assert DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_CPUS": "2"}).cpu_limits.for_role(declared) == 2.0
    for bad in ("lots", "0", "-1", "web=", "nan"):
        with pytest.raises(BackendError, match="COMPAT_MATRIX_DOCKER_CPUS="):
            DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_CPUS": bad})


def test_a_role_cpu_limit_reaches_the_container(client: docker.DockerClient, image: str, tmp_path: Path) -> None:
    system = replace_role(SYSTEM, "web", cpus=0.5)
    deployment = DockerBackend(options=DockerOptions()).start(
        _plan({"web": 1}, image, system=system), tmp_path, tmp_path / "w"
    )
    try:
        attrs = client.containers.get(_containers(client, deployment)["web-0"]).attrs
        assert attrs["HostConfig"]["NanoCpus"] == 5 * 10**8
    finally:
        deployment.stop()


def test_a_roles_own_memory_wins_over_the_environments() -> None:
    web = SYSTEM.roles["web"]
    assert memory_for_role(web, DockerOptions().mem_limit)[0] == "1g"
    assert memory_for_role(web, DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_MEMORY": "2g"}).mem_limit)[0] == "2g"
    limit, source = memory_for_role(replace(web, memory="512m"), "2g")
    assert limit == "512m" and "role 'web'" in source
    assert memory_for_role(replace(web, memory="4g"), "2g")[0] == "4g"  # more than the default too


def test_a_roles_memory_limit_reaches_its_container_and_an_instance_over_it_is_reported(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression (issue 24): compat_role(memory=...) was declared, validated and documented, and
    # every container got the environment's 1g whatever the role said.
    system = replace_role(SYSTEM, "web", memory="256m")
    deployment = DockerBackend(options=DockerOptions()).start(
        _plan({"web": 1}, image, system=system), tmp_path / "a", tmp_path / "w"
    )
    try:
        host = client.containers.get(_containers(client, deployment)["web-0"]).attrs["HostConfig"]
        assert host["Memory"] == host["MemorySwap"] == 256 * 1024**2
    finally:
        deployment.stop()
    # Over its limit, the instance is killed by the kernel, and the failure says so and why.
    web = SYSTEM.roles["web"]
    hungry = replace_role(SYSTEM, "web", memory="48m", args=web.args + ("--hog", "400"))
    with pytest.raises(BackendError) as info:
        DockerBackend(options=DockerOptions()).start(
            _plan({"web": 1}, image, system=hungry), tmp_path / "a", tmp_path / "w2"
        )
    message = str(info.value)
    assert "web-0 was killed by the kernel's OOM killer" in message, message
    assert "memory limit 48m (role 'web''s memory='48m')" in message, message


def test_host_isolation_is_on_unless_switched_off() -> None:
    assert DockerOptions.from_env({}).isolate_host is True
    assert DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_ISOLATE_HOST": "0"}).isolate_host is False
    with pytest.raises(CompatMatrixError, match="COMPAT_MATRIX_DOCKER_ISOLATE_HOST='maybe'"):
        DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_ISOLATE_HOST": "maybe"})


def test_the_bridge_interface_follows_the_engine_naming() -> None:
    network_id = "0123456789abcdef" * 4
    assert bridge_interface({"Id": network_id, "Options": {}}) == "br-0123456789ab"
    named = {"Id": network_id, "Options": {"com.docker.network.bridge.name": "cm-test0"}}
    assert bridge_interface(named) == "cm-test0"


# -- the watchdog -------------------------------------------------------------------------------

# A harness run that starts a cell on the docker backend, reports it, and blocks until killed.
OWNER_SCRIPT = r"""
import json, sys, threading
from pathlib import Path
from compat_core.codec import cell_from_json
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.session import Session

work = Path(sys.argv[1])
plan = cell_from_json((work / "cell.json").read_text())
session = Session.create("docker owner", directory=Path(sys.argv[2]))
deployment = DockerBackend(session=session).start(plan, work, work / "cell")
(work / "up.json.tmp").write_text(json.dumps({"session": session.id}))
(work / "up.json.tmp").rename(work / "up.json")
threading.Event().wait()
"""


def _watchdogs_of(client: docker.DockerClient, session_id: str) -> list[str]:
    label = f"{LABEL_WATCHDOG_SESSION}={session_id}"
    return [c.name for c in client.containers.list(all=True, filters={"label": label}, ignore_removed=True)]


# Regression (issue 12): a killed session's containers and networks stayed until a later run's reaper.
def test_a_sigkilled_owners_containers_and_network_go_without_a_reaper(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    (tmp_path / "cell.json").write_text(cell_to_json(_plan({"web": 1, "peer": 1}, image)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path())}
    env.pop(NO_WATCHDOG_ENV, None)
    with isolated_sessions() as sessions:
        owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(tmp_path), str(sessions)], env=env)
        session_id = ""
        try:
            eventually(lambda: (tmp_path / "up.json").exists() or owner.poll() is not None, 120.0, "the owner's cell up")
            assert owner.poll() is None, f"the owner exited: {owner.returncode}"
            session_id = json.loads((tmp_path / "up.json").read_text())["session"]
            containers, networks = _labelled(client, session_id)
            assert len(containers) == 2 and len(networks) == 1
            assert len(_watchdogs_of(client, session_id)) == 1
            owner.kill()
            owner.wait()
            eventually(
                lambda: _labelled(client, session_id) == ([], []),
                20.0,
                f"session {session_id}'s containers and network removed after its owner was SIGKILLed",
            )
            eventually(lambda: _watchdogs_of(client, session_id) == [], 20.0, "the watchdog gone after its work")
            # Regression (issue 24): the session's host-isolation rules and its record stayed until
            # the next run's reaper; the session's process watchdog on the host removes them.
            comment = f"{RULE_COMMENT_PREFIX}{session_id}"
            eventually(
                lambda: not [w for _, w in Firewall.detect().our_rules() if comment in w] and not list_sessions(sessions),
                40.0,
                f"session {session_id}'s firewall rules and record removed after its owner was SIGKILLed",
            )
        finally:
            if owner.poll() is None:
                owner.kill()
                owner.wait()
            if session_id:  # only if the watchdog failed: this test's own containers
                label = f"{LABEL_SESSION}={session_id}"
                for container in client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
                    remove_container(container)


# Regression (issue 12): a reaper in another pid namespace (a CI job in a container sharing the
# engine) judged a live session dead by its owner's pid label and removed its containers.
def test_a_reaper_in_another_pid_namespace_leaves_a_live_session_alone(
    client: docker.DockerClient, deployment: DockerDeployment, tmp_path: Path
) -> None:
    unshare, mount = shutil.which("unshare", path=_SYSTEM_PATH), shutil.which("mount", path=_SYSTEM_PATH)
    if unshare is None or mount is None or os.geteuid() != 0:
        pytest.skip("needs root and util-linux's unshare and mount to make another pid namespace")
    assert deployment.session.id in running_watchdogs(client)
    before = _labelled(client, deployment.session.id)
    # Another pid namespace, and a mount namespace in which this session's records are not
    # visible (a container does not share our filesystem): only the engine is shared.
    records = str(deployment.session.path.parent)
    script = "from compat_matrix.reaper import reap; print(reap().removed)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path()), "COMPAT_MATRIX_SESSIONS_DIR": str(tmp_path)}
    run = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", f'{mount} -t tmpfs none "$0" && exec "$@"',
         records, sys.executable, "-c", script],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert deployment.session.id not in run.stdout, run.stdout
    assert _labelled(client, deployment.session.id) == before
    assert check_once(TcpProbe("tcp"), deployment.endpoint("peer-0", "tcp")).ready


def test_a_kept_sessions_watchdog_stands_by_until_down(client: docker.DockerClient, image: str, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    session = Session.create("kept docker session", directory=sessions)
    DockerBackend(session=session).start(_plan({"web": 1}, image), tmp_path, tmp_path / "work")
    try:
        session.keep()
        session.close()  # the owner is done; the session is kept
        [watchdog] = _watchdogs_of(client, session.id)
        assert client.containers.get(watchdog).status == "running"
        assert len(_labelled(client, session.id)[0]) == 1
        assert not reap(sessions, reapers=[RESOURCE_REAPER]).sessions  # kept: alive
        from compat_matrix.reaper import down

        result = down([session.id], sessions, reapers=[RESOURCE_REAPER])
        assert any("watchdog" in line for line in result.removed), result
        assert _labelled(client, session.id) == ([], []) and _watchdogs_of(client, session.id) == []
    finally:
        for name in _watchdogs_of(client, session.id) + _labelled(client, session.id)[0]:
            try:
                remove_container(client.containers.get(name))
            except docker.errors.NotFound:
                pass


def test_a_removal_another_reaper_has_under_way_is_not_an_error() -> None:
    # Regression: two runs' reapers removing one dead session's container at once; the second got
    # 409 "removal ... is already in progress" and reported it as a failure.
    from types import SimpleNamespace

    def api_error(status: int, text: str) -> docker.errors.APIError:
        return docker.errors.APIError(text, response=SimpleNamespace(status_code=status, url="http+docker://localhost/x", reason=""), explanation=text)  # type: ignore[arg-type]

    assert being_removed(api_error(409, 'Conflict ("removal of container abc is already in progress")'))
    assert not being_removed(api_error(409, "Conflict (container is running)"))
    assert not being_removed(api_error(500, "already in progress"))


def test_a_session_starting_while_the_reaper_runs_is_left_alone(
    client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the reaper read the running watchdogs before listing networks, so a session whose
    # watchdog and network started in between looked dead, and its network was removed under it
    # (CI: "cannot create docker network ...: 404 ... not found"). Here that session starts right
    # after the reaper's first read of the running watchdogs.
    suffix = uuid.uuid4().hex[:8]
    started: list[tuple[DockerWatchdog, Any]] = []
    read_watchdogs = docker_watchdog.running_watchdogs

    def read_then_start_a_session(engine: docker.DockerClient) -> frozenset[str]:
        seen = read_watchdogs(engine)
        if not started:
            watchdog = DockerWatchdog.start(
                Session.create("starting session", directory=tmp_path / "s"), connect(), watchdog_id=f"test-{suffix}"
            )
            labels = {LABEL_SESSION: f"starting-{suffix}", **watchdog.labels()}
            started.append((watchdog, client.networks.create(f"compat-matrix-test-starting-{suffix}", internal=True, labels=labels)))
        return seen

    monkeypatch.setattr(docker_watchdog, "running_watchdogs", read_then_start_a_session)
    try:
        RESOURCE_REAPER.reap([], frozenset())
        (watchdog, network) = started[0]
        assert client.networks.get(network.id).name == network.name, "the starting session's network was reaped"
    finally:
        for watchdog, network in started:
            watchdog.release(kept=False)
            remove_network(network)


# -- another checkout on the same engine (issue 24) ---------------------------------------------


def test_a_deployment_stops_cleanly_while_another_actor_removes_its_containers(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression (issue 24): teardown treated 409 "removal ... already in progress" as an error
    # when something else on the engine (the session's watchdog, another checkout's reaper)
    # removed the same container at the same moment; the test then failed on a clean engine.
    session = Session.create("docker concurrent removal test", directory=tmp_path / "sessions")
    try:
        deployment = DockerBackend(session=session).start(_plan({"web": 1, "peer": 1}, image), tmp_path, tmp_path / "w")
        ids = list(_containers(client, deployment).values())
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def other_actor() -> None:
            start.wait()
            for container_id in ids:
                try:
                    client.api.remove_container(container_id, force=True, v=True)
                except docker.errors.APIError:
                    pass  # the other actor's own failures are its business

        def teardown() -> None:
            start.wait()
            try:
                deployment.stop()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=other_actor), threading.Thread(target=other_actor), threading.Thread(target=teardown)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert _labelled(client, session.id) == ([], [])
    finally:
        session.close()


def test_concurrent_removals_of_one_container_all_succeed(client: docker.DockerClient, image: str) -> None:
    # The primitive the teardown and the reaper use: gone (404) is done, and a removal under way
    # elsewhere (409) is waited out, so every caller returns with the container gone.
    container = client.containers.run(image, ["web"], detach=True, labels={LABEL_SESSION: f"unlisted-{uuid.uuid4().hex[:8]}"})
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def remove() -> None:
        start.wait()
        try:
            remove_container(container)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=remove) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container.id)


def test_the_reaper_tolerates_containers_removed_while_it_lists_them(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    # Regression (issue 24): the reaper lists every labelled container on the engine, then
    # inspects each; one that another run removed in between raised 404 "No such container" and
    # stopped the reaper early. Here a live session of this test's own (watched by its own
    # watchdog: every reaper leaves it alone) removes its containers while the reaper runs.
    suffix = uuid.uuid4().hex[:8]
    shield = DockerWatchdog.start(
        Session.create("churning session's watchdog", directory=tmp_path / "shield"), connect(), watchdog_id=f"test-churn-{suffix}"
    )
    labels = {LABEL_SESSION: f"churn-{suffix}", **shield.labels()}
    made = [
        client.containers.create(image, ["web"], name=f"compat-matrix-test-churn-{suffix}-{i}", labels=labels)
        for i in range(24)
    ]
    lines: list[str] = []
    try:
        def remove_all() -> None:
            for container in made:
                remove_container(container)

        remover = threading.Thread(target=remove_all)
        remover.start()
        while remover.is_alive():
            lines.extend(RESOURCE_REAPER.reap([], frozenset()))
        remover.join()
        # Stopping early fails everyone's reap; a removal failing is judged for this test's containers.
        assert not [line for line in lines if "stopped early" in line or (suffix in line and "could not remove" in line)], lines
    finally:
        shield.release(kept=False)
        for container in made:
            remove_container(container)


# -- what a killed run leaves on the host (issue 24) --------------------------------------------


def test_the_next_run_removes_a_killed_sessions_record_and_rules_even_without_an_engine(
    client: docker.DockerClient, deployment: DockerDeployment, tmp_path: Path
) -> None:
    # Regression (issue 24): a SIGKILLed docker run left its session record and its REJECT rules;
    # the reaper every run starts with removed the rules only when an engine answered (a killed
    # run's networks also go when the engine is stopped, and its rules then stayed for good).
    firewall = Firewall.detect()
    sessions = tmp_path / "sessions"
    suffix = uuid.uuid4().hex[:8]
    pid, created = _dead_pid()
    killed = f"killed-{suffix}"
    (sessions / f"{killed}.json").parent.mkdir(parents=True)
    (sessions / f"{killed}.json").write_text(
        json.dumps({"id": killed, "owner_pid": pid, "owner_create_time": created, "created_at": 0})
    )
    live = Session.create("a live docker session", directory=sessions)
    bridge = bridge_interface(client.networks.get(deployment.network_name).attrs)  # exists
    planted = [(bridge, killed), (f"br-gone{suffix}", f"unknown-{suffix}"), (bridge, live.id)]
    for planted_bridge, session_id in planted:
        firewall.add(planted_bridge, session_id)
    try:
        no_engine = DockerResourceReaper(base_url=f"unix://{tmp_path}/no-such-docker.sock")
        result = reap(sessions, reapers=[no_engine])
        assert result.sessions == (killed,) and not result.problems, result
        assert any(killed in line and "host-isolation rule" in line for line in result.removed), result
        rules = [" ".join(words) for _, words in firewall.our_rules()]
        assert not [r for r in rules if killed in r or f"unknown-{suffix}" in r], rules
        assert [r for r in rules if live.id in r], "a live session's rule must stay"
        assert [r for r in rules if deployment.session.id in r], "the running deployment's rule must stay"
        assert [r.id for r in list_sessions(sessions)] == [live.id]  # the killed session's record is gone
    finally:
        for planted_bridge, session_id in planted:
            firewall.remove(planted_bridge, session_id)
        live.close()


# -- bytecode: compiled once per image, never written by a role (issue 24) ----------------------


def _plant_then_import(image: str, tmp_path: Path) -> str:
    """A role plants the bytecode of a module; a later container of the image imports the module:
    the planter's log (the later container must have imported the genuine module)."""
    web = SYSTEM.roles["web"]
    planter = replace_role(SYSTEM, "web", args=web.args + ("--plant", "1"))
    first = DockerBackend().start(_plan({"web": 1}, image, system=planter), tmp_path / "a", tmp_path / "w1")
    try:
        planted = first.logs()["web-0"]
    finally:
        first.stop()
    reader = replace_role(SYSTEM, "web", args=web.args + ("--victim", "1"))
    later = DockerBackend().start(_plan({"web": 1}, image, system=reader), tmp_path / "a", tmp_path / "w2")
    try:
        assert "victim says genuine" in later.logs()["web-0"], (later.logs()["web-0"], planted)
    finally:
        later.stop()
    return planted


def _wait_filled(client: docker.DockerClient, image: str) -> str:
    volume, filled = bytecode_volume(client, image)  # the first call starts the fill
    if not filled:
        try:
            # It removes itself when it ends: nothing of it stays behind.
            client.containers.get(f"{volume}-fill").wait(timeout=240, condition="removed")
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
