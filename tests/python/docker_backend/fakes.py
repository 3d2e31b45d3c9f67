"""The fake system of the docker backend's tests: ``testing.FAKE_ROLES_SCRIPT``'s roles in a tiny
image built FROM the local base image, laid out like the role images the build makes.

No mocks: the roles run in real containers on a real internal network. ``fake_image`` builds the
image under a unique tag and removes it (with its bytecode volume) at the end.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import docker
import docker.errors
import httpx

from compat_core.cell_plan import CellPlan
from compat_core.declare import command_probe, log_probe
from compat_core.images import CONTAINER_BYTECODE
from compat_core.labels import (
    LABEL_CELL,
    LABEL_INSTANCE,
    LABEL_SESSION,
)
from compat_core.model import CellSpec, Command, Probe, Suite, System, Topology
from compat_core.parse import parse_releases
from compat_core.plan import plan_cell
from compat_core.settings import Settings
from compat_matrix.backends.base import Endpoint
from compat_matrix.backends.docker_bytecode import remove_bytecode
from compat_matrix.backends.docker_deployment import DockerDeployment
from compat_matrix.session_processes import create_time_of
from compat_matrix.testing import FAKE_ROLES_SCRIPT, fake_role

TEST_NET = "192.0.2.1:80"  # RFC 5737 TEST-NET-1: never routed, never a real host

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
runpy.run_module("fake", run_name="__main__", alter_sys=True)
"""

# A module whose bytecode a role tries to plant (the script's --plant) and a later one imports.
VICTIM = 'MESSAGE = "genuine"\n'

# Laid out like the images the build makes (compat_core.images): the venv's Python keeps the
# bytecode of what it imports under CONTAINER_BYTECODE (a .pth sets sys.pycache_prefix).
DOCKERFILE = f"""
FROM {Settings.from_env(os.environ).base_image}
COPY fake.py /app/fake.py
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
# The build's last line, unique per build: each test module's image has an id (and so a bytecode
# volume) of its own, which its teardown removes while other modules' containers run theirs.
BUILD_LABEL = "LABEL compat-matrix-test.build={build}\n"


def tcp(port: str, timeout: float = 20.0) -> Probe:
    return Probe("tcp", port, timeout=timeout, interval=0.1)


MEMBER = ("--name", "{name}", "--touch", "{shared_dir}/members")

SYSTEM = System(
    name="fakedocker",
    role_specs=(
        fake_role(
            "web",
            ("--host", "{host}", "--port", "{port[http]}", "--name", "{name}", "--data", "{data_dir}"),
            Probe("http", "http", "/health", timeout=20.0, interval=0.1),
            ports=("http",),
            log_files=("web.log",),
        ),
        fake_role(
            "peer",
            ("--host", "{host}", "--port", "{port[tcp]}", "--reach", "{address[web]}"),
            tcp("tcp"),
            ports=("tcp",),
            depends_on=("web",),
            requires=("web",),
        ),
        fake_role(
            "crash", ("--host", "{host}", "--port", "{port[tcp]}"), tcp("tcp", timeout=15.0), ports=("tcp",),
            depends_on=("web",),
        ),
        # No port: ready by a log line. Reads a file written before start, shows its env.
        fake_role(
            "seeder",
            (
                *MEMBER,
                "--read", "{data_dir}/config.txt",
                "--show-env", "GREETING,WEB",
                "--webs", "{peers[web][0].name}={peers[web][0].host}:{peers[web][0].port[http]}",
            ),
            log_probe(r"^fake seeder ready$", timeout=20.0, interval=0.1),
            ports=(),
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
        fake_role(
            "checked",
            (*MEMBER, "--ready-after", "0.5", "--ready-file", "{shared_dir}/{name}.ready"),
            command_probe(["json.tool", "{shared_dir}/{name}.ready"], timeout=30.0, interval=0.1),
            ports=(),
        ),
        # The same, run as a console script (PEX_INTERPRETER in its container's environment).
        dataclasses.replace(
            fake_role(
                "checked-script",
                (*MEMBER, "--ready-file", "{shared_dir}/{name}.ready"),
                command_probe(["json.tool", "{shared_dir}/{name}.ready"], timeout=30.0, interval=0.1),
                ports=(),
            ),
            command=Command("script", "fake-role"),
        ),
    ),
    releases=parse_releases("fakedocker", ["0.1.0"], "0.1.0"),
)
SYSTEM_ADDRESS = "tests/fakedocker:fakedocker"


def plan(topology: dict[str, int], image: str, cell: str = "all-branch", system: System = SYSTEM) -> CellPlan:
    """The planned ``cell`` of a suite of ``system`` with ``topology``, every instance on ``image``."""
    suite = Suite(
        name="dockertest", topology=Topology.of(topology), cells=(CellSpec(cell),), system=system.name,
        backends=("docker",),
    )
    planned = replace(plan_cell(suite, cell, system), system_address=SYSTEM_ADDRESS)
    return replace(planned, instances=tuple(replace(i, image=image) for i in planned.instances))


@contextmanager
def fake_image(client: docker.DockerClient) -> Iterator[str]:
    """The fake roles' image, under a unique tag, removed at the end."""
    build = uuid.uuid4().hex[:12]
    tag = f"compat-matrix-test/fake-roles:{build}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        files = (
            ("Dockerfile", DOCKERFILE + BUILD_LABEL.format(build=build), 0o644),
            ("fake.py", FAKE_ROLES_SCRIPT, 0o644),
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
        remove_bytecode(client, built.id)
        # A container of this module's that a watchdog is still removing holds the image for a
        # moment (409 "image is being used by running container"): retry, bounded.
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


def containers(client: docker.DockerClient, deployment: DockerDeployment) -> dict[str, str]:
    """Instance name -> id of the deployment's containers, found by their labels as the reaper finds them."""
    label = [f"{LABEL_SESSION}={deployment.session.id}", f"{LABEL_CELL}={deployment.plan.name}"]
    found = client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    return {c.labels[LABEL_INSTANCE]: c.id for c in found if c.name.startswith(deployment.network_name)}


def labelled(client: docker.DockerClient, session_id: str) -> tuple[list[str], list[str]]:
    """The names of the containers and networks labelled with ``session_id``."""
    label = f"{LABEL_SESSION}={session_id}"
    found = [c.name for c in client.containers.list(all=True, filters={"label": label}, ignore_removed=True)]
    networks = [n.name for n in client.networks.list(filters={"label": label})]
    return found, networks


def get(endpoint: Endpoint, path: str, timeout: float = 5.0) -> dict:
    response = httpx.get(endpoint.url() + path, timeout=timeout)
    response.raise_for_status()
    return dict(response.json())


def dial(deployment: DockerDeployment, target: str, timeout: float = 2.0) -> dict:
    """Ask web-0 to open a TCP connection to ``target`` from inside the cell's network."""
    return get(deployment.endpoint("web-0", "http"), f"/dial?to={target}&timeout={timeout}", timeout + 5)


def dead_pid() -> tuple[int, float]:
    """The pid and create time of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    created = create_time_of(proc.pid)
    proc.wait()
    return proc.pid, created
