"""What a role's container is, as data: its options, ports, mounts, labels and hardening.

Pure: ``container_spec`` turns an instance, its role and the deployment's ``DockerOptions`` into
the arguments of the engine's container create call, with no engine and no I/O, so how every
container is confined is unit-tested without Docker (the deployment, ``docker_deployment``,
makes the call).

Every container binds ``0.0.0.0`` (``BIND_HOST``) on fixed container ports (``container_ports``):
each has its own network namespace, so ports never collide. It runs its version's venv
interpreter with ``-u`` (``ROLE_VENV``), so whatever the role prints reaches its log at once. It
is hardened: an unprivileged user, no capabilities, ``no-new-privileges``, memory (the role's
``memory``, else the settings'), pid and CPU limits (``compat_core.limits``), a read-only root
filesystem with a tmpfs on ``/tmp`` (``HOME``), and ``init`` so signals reach the role. The
bytecode of what it imports comes from its image's volume, mounted read-only
(``docker_bytecode.bytecode_volume``), or, until that is filled, from a tmpfs of its own. The
role's data directory is ``/tmp/data``, bind-mounted from the host (``persist_data``), or a tmpfs.
A branch role's sources, when its image does not hold them, are bind-mounted read-only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat_core.cell_plan import InstancePlan
from compat_core.errors import BackendError
from compat_core.images import CONTAINER_BYTECODE, CONTAINER_SOURCES, CONTAINER_USER, CONTAINER_VENV
from compat_core.limits import DEFAULT_MEMORY, DEFAULT_PIDS, CpuLimits
from compat_core.model import RoleSpec
from compat_core.settings import Settings
from compat_matrix.backends.common import STOP_TIMEOUT, PexVenv, role_command
from compat_matrix.backends.docker_limits import memory_for_role, nano_cpus

BIND_HOST = "0.0.0.0"  # inside the container: reachable on the deployment network
CONTAINER_PORT_BASE = 8000
CONTAINER_HOME = "/tmp"
CONTAINER_DATA_DIR = "/tmp/data"
CONTAINER_SHARED_DIR = "/tmp/shared"
NAME_PREFIX = "compat-matrix"
# How a role's container starts (in place of the image's entry point, the venv's `pex` script):
# the venv's interpreter with pex's flags and -u (common.PexVenv). The recipe's `pex venv` makes
# hermetic scripts (`-sE`).
ROLE_VENV = PexVenv(f"{CONTAINER_VENV}/bin/python", f"{CONTAINER_VENV}/pex")



@dataclass(frozen=True)
class DockerOptions:
    """How every container of a deployment is confined (see the module docstring)."""

    user: str = CONTAINER_USER
    # For every role that declares no memory of its own (docker_limits.memory_for_role).
    mem_limit: str = DEFAULT_MEMORY
    pids_limit: int = DEFAULT_PIDS
    # noexec: role images run a venv built at image build time, nothing executes from /tmp.
    tmpfs_options: str = "rw,nosuid,nodev,noexec,size=256m,mode=1777"
    # Bind mounts from this machine: the data dirs, and a branch role's sources (else built into
    # an image). False for an engine on another machine.
    persist_data: bool = True
    stop_timeout: float = STOP_TIMEOUT
    # CPU limit per instance: the role's, unless the docker_cpus setting overrides (compat_core.limits).
    cpu_limits: CpuLimits = field(default_factory=CpuLimits)
    # Reject new connections from the deployment's bridge to the host (docker_network).
    isolate_host: bool = True
    environment: Mapping[str, str] = field(
        default_factory=lambda: {"HOME": CONTAINER_HOME, "PYTHONUNBUFFERED": "1"}
    )

    @staticmethod
    def from_settings(settings: Settings) -> DockerOptions:
        """The default options with the settings' limits and host isolation (a cell test gets
        them from the plugin, ``Settings.cell_env``)."""
        return DockerOptions(
            mem_limit=settings.docker_memory,
            pids_limit=settings.docker_pids,
            cpu_limits=settings.cpu_limits,
            isolate_host=settings.isolate_host,
        )

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None) -> DockerOptions:
        """``from_settings`` of the settings ``environ`` (default: this process's) holds."""
        return DockerOptions.from_settings(Settings.from_env(os.environ if environ is None else environ))


def container_ports(spec: RoleSpec) -> dict[str, int]:
    """The fixed container ports of a role: its ports in declaration order from 8000.

    Deterministic (the same for every instance and restart); containers never share a network
    namespace, so two instances using the same port numbers do not collide.
    """
    return {name: CONTAINER_PORT_BASE + index for index, name in enumerate(spec.ports)}


def container_spec(
    instance: InstancePlan,
    spec: RoleSpec,
    *,
    image: str,
    name: str,
    args: Sequence[str],
    env: Mapping[str, str],
    labels: Mapping[str, str],
    network: str,
    options: DockerOptions,
    user: str,
    data_dir: Path | None,
    shared_dir: Path,
    bytecode_volume: str = "",
    host_cpus: int | None = None,
    sources_dir: Path | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``client.containers.create`` for ``instance`` of role ``spec``.

    All but ``networking_config`` (its network alias, ``instance.name``, needs the engine's API
    version). ``args`` and ``env`` are the role's rendered for the container; ``user`` the user
    that owns ``data_dir`` (``docker_mounts.share_data_dir``); ``data_dir`` and ``shared_dir``
    the host sides of the bind mounts (``data_dir`` None: both are tmpfs, ``persist_data=False``);
    ``bytecode_volume`` the image's filled bytecode volume ("" while it is not filled);
    ``host_cpus`` the engine's CPU count, which caps the CPU limit; ``sources_dir`` a branch
    role's sources on the host, mounted read-only where its image's recipe would have put them.
    """
    tmpfs: dict[str, str] = {CONTAINER_HOME: options.tmpfs_options}
    volumes: dict[str, dict[str, str]] = {}
    # What the instance imports is compiled once per image into a volume it reads read-only, but
    # not its branch sources: their bytecode goes to a tmpfs of its own. Until the volume is
    # filled, the container compiles into a tmpfs of its own, which its processes share (a
    # worker's nanny and its workers): none writes bytecode that another container imports.
    if bytecode_volume:
        tmpfs[CONTAINER_BYTECODE + CONTAINER_SOURCES] = options.tmpfs_options
        volumes[bytecode_volume] = {"bind": CONTAINER_BYTECODE, "mode": "ro"}
    else:
        tmpfs[CONTAINER_BYTECODE] = options.tmpfs_options
    if data_dir is None:
        tmpfs[CONTAINER_DATA_DIR] = options.tmpfs_options
        tmpfs[CONTAINER_SHARED_DIR] = options.tmpfs_options  # not shared: persist_data=False
    else:
        volumes[str(data_dir)] = {"bind": CONTAINER_DATA_DIR, "mode": "rw"}
        volumes[str(shared_dir)] = {"bind": CONTAINER_SHARED_DIR, "mode": "rw"}
    if sources_dir is not None:
        volumes[str(sources_dir)] = {"bind": CONTAINER_SOURCES, "mode": "ro"}
    memory, _ = memory_for_role(spec, options.mem_limit)
    command_args, command_variables = role_command(spec, in_venv=True)
    return dict(
        image=image,
        entrypoint=list(ROLE_VENV.argv()),
        command=[*command_args, *args],
        name=name,
        hostname=instance.name[:63],
        labels=dict(labels),
        environment={**options.environment, **command_variables, **env},
        network=network,
        user=user,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mem_limit=memory,
        memswap_limit=memory,  # no swap beyond it: the limit is what the instance can use
        pids_limit=options.pids_limit,
        nano_cpus=nano_cpus(options.cpu_limits.for_role(spec, host_cpus)),
        read_only=True,
        tmpfs=tmpfs,
        volumes=volumes,
        init=True,  # docker-init forwards SIGTERM and reaps zombies
        auto_remove=False,  # logs are collected before removal
        detach=True,
    )


def host_path(path: str, data_dir: Path, shared_dir: Path) -> Path | None:
    """A path as the container sees it on the host side of its bind mount (a relative one is in
    the data dir); None when it is in neither mount."""
    if not path.startswith("/"):
        return data_dir / path
    for container_dir, host_dir in ((CONTAINER_DATA_DIR, data_dir), (CONTAINER_SHARED_DIR, shared_dir)):
        if path.startswith(container_dir + "/"):
            return host_dir / path[len(container_dir) + 1 :]
    return None


def host_paths(files: Mapping[str, str], data_dir: Path, shared_dir: Path) -> dict[str, str]:
    """Rendered file paths (as the container sees them) on the host side of their bind mounts."""
    out: dict[str, str] = {}
    for path, content in files.items():
        host = host_path(path, data_dir, shared_dir) if path.startswith("/") else None
        if host is None:  # pragma: no cover - compat_core.validate keeps files under {data_dir} or {shared_dir}
            raise BackendError(f"file {path!r} is outside {CONTAINER_DATA_DIR} and {CONTAINER_SHARED_DIR}")
        out[str(host)] = content
    return out


__all__ = (
    "BIND_HOST",
    "CONTAINER_DATA_DIR",
    "CONTAINER_SHARED_DIR",
    "ROLE_VENV",
    "DockerOptions",
    "container_ports",
    "container_spec",
    "host_path",
    "host_paths",
)
