"""The docker backend: one container per instance, on a private network per deployment.

A deployment creates one bridge network with ``internal=True`` (no route out of the machine)
and one container per instance on it, started in plan order, each waited ready with the
role's readiness probe before the next starts. Peers find each other by instance name: each
container's network alias is its instance name, so ``{address[ROLE]}`` expands to
``<instance>:<container port>``, and an instance's own ``{advertised_host}`` to its name.
Every container binds ``0.0.0.0`` (``{host}``) on fixed container ports (``container_ports``):
each has its own network namespace, so ports never collide. A container runs its version's
venv interpreter with ``-u`` (``ROLE_VENV``), so whatever the role prints reaches its log at once.

Driver access: the test process reaches a container at its IP on the deployment's bridge (the
host holds the bridge's gateway address, and ``internal=True`` only drops traffic *forwarded*
off the bridge, not traffic between the host and the bridge). The reverse is closed: a host
firewall rule per network rejects new connections from its bridge to the host
(``docker_network``), so containers reach only their own deployment. Ports are not published: Docker
does not publish ports of containers on internal networks, and publishing would open host
ports. ``endpoint()`` returns ``<container IP>:<container port>``.

Every container is hardened (``DockerOptions``): an unprivileged user, no capabilities,
``no-new-privileges``, memory (the role's ``memory``, else the environment's), pid and CPU limits
(``docker_limits``), a read-only root filesystem with a tmpfs on
``/tmp`` (``HOME``), and ``init`` so signals reach the role. The bytecode of what it imports comes
from a volume of its image's (``docker_images.bytecode_volume``), mounted read-only: a container of
its own compiles the image's files into it once per engine, in the background
(``docker_images.fill_bytecode``), and no role process can write bytecode another cell imports;
until it is filled, from a tmpfs of the container's own. The role's data directory is
``/tmp/data``, bind-mounted from ``<work_dir>/<instance>/data`` (mode 0700, owned by the
container's user: ``docker_mounts``) so it survives ``restart`` and
its declared log files can be read after the container is gone (``persist_data=False`` uses a
tmpfs instead, for an engine on another machine).

The driver must run on the engine's machine (it talks to bridge IPs); with ``DOCKER_HOST``
pointing elsewhere, run the tests on that machine too, and use ``persist_data=False`` since
bind mounts name paths on the engine's host.

Images: a cell's instances run images built from the cell's own PEXes (the test's only
artifacts) with the role recipe of ``compat_core.images``, tagged by a digest of recipe, PEX and
base image (``ensure_image``): one image per version, shared by its roles (the role's command is
set at run time), built once per engine and reused by every run and checkout with the same inputs.
``./pants package`` builds the per-role ``docker_image`` targets from the same recipe.

Everything carries the session's labels plus the cell, instance, role and version, and the
label of the session's docker watchdog (``docker_watchdog``), which removes it all when the
session's owner dies; the session's process watchdog on the host then removes its host-isolation
rules and its record (``process_watchdog``). The ``RESOURCE_REAPER`` here, the last line of defence, removes what a dead
session left behind, and only that.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors

from compat_core.contract import IMAGE_LABEL_ROLE, IMAGE_LABEL_VERSION
from compat_core.errors import BackendError
from compat_core.images import CONTAINER_BYTECODE, CONTAINER_SOURCES, CONTAINER_VENV
from compat_core.model import CellPlan, InstancePlan, RoleSpec
from compat_matrix.backends import docker_watchdog, process_watchdog
from compat_matrix.backends.base import Backend, Deployment, Endpoint
from compat_matrix.backends.common import (
    LOG_TAIL_LINES,
    PEX_COMMAND_VARIABLES,
    STOP_TIMEOUT,
    Peer,
    PexVenv,
    each_concurrently,
    in_plan_order,
    instance_named,
    last_lines,
    render_role,
    role_command,
    start_in_waves,
    stopped_on_failure,
)
from compat_matrix.backends.docker_images import bytecode_volume, ensure_image, ensure_images
from compat_matrix.backends.docker_limits import (
    CPUS_ENV,
    DEFAULT_MEMORY,
    MEMORY_ENV,
    CpuLimits,
    memory_for_role,
    nano_cpus,
    oom_killed,
)
from compat_matrix.backends.docker_mounts import share_data_dir
from compat_matrix.backends.docker_network import HostIsolation, isolation_wanted
from compat_matrix.backends.process import write_files
from compat_matrix.probes import ProbeTarget, probe_for, wait_ready
from compat_matrix.session import Session

if TYPE_CHECKING:
    from docker.models.containers import Container
    from docker.models.networks import Network

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

# Labels besides the session's (LABEL_SESSION, LABEL_OWNER_PID from compat_matrix.session).
LABEL_CELL = "compat-matrix.cell"
LABEL_INSTANCE = "compat-matrix.instance"
LABEL_ROLE = IMAGE_LABEL_ROLE
LABEL_VERSION = IMAGE_LABEL_VERSION
# The owner's create time, so the reaper never mistakes a reused pid for a live owner.
LABEL_OWNER_CREATED = "compat-matrix.owner-create-time"
# The session record file, so a reaper using another sessions directory leaves it alone.
LABEL_SESSION_RECORD = "compat-matrix.session-record"

PIDS_ENV = "COMPAT_MATRIX_DOCKER_PIDS"

# How long a single engine API call may take before we give up on the engine.
ENGINE_TIMEOUT = 60
START_DOCKER_HINT = (
    "start the Docker engine (as root on Debian: `service docker start`, or `dockerd &`), "
    "or run `./pants test ...`, which starts it on Debian when run as root; "
    "set DOCKER_HOST if the engine listens elsewhere"
)


@dataclass(frozen=True)
class DockerOptions:
    """How every container of a deployment is confined (see the module docstring)."""

    user: str = "10001:10001"
    # For every role that declares no memory of its own (docker_limits.memory_for_role).
    mem_limit: str = DEFAULT_MEMORY
    pids_limit: int = 1024
    # noexec: role images run a venv built at image build time, nothing executes from /tmp.
    tmpfs_options: str = "rw,nosuid,nodev,noexec,size=256m,mode=1777"
    persist_data: bool = True
    stop_timeout: float = STOP_TIMEOUT
    # CPU limit per instance: the role's, unless COMPAT_MATRIX_DOCKER_CPUS overrides (docker_limits).
    cpu_limits: CpuLimits = field(default_factory=CpuLimits)
    # Reject new connections from the deployment's bridge to the host (docker_network).
    isolate_host: bool = True
    environment: Mapping[str, str] = field(
        default_factory=lambda: {"HOME": CONTAINER_HOME, "PYTHONUNBUFFERED": "1"}
    )

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None) -> DockerOptions:
        """The default options with the limits the environment overrides.

        ``COMPAT_MATRIX_DOCKER_MEMORY`` (e.g. ``2g``; a role's own ``memory`` wins),
        ``COMPAT_MATRIX_DOCKER_PIDS`` (e.g.
        ``2048``), ``COMPAT_MATRIX_DOCKER_CPUS`` (e.g. ``1.5`` or ``worker=0.5,server=2``) and
        ``COMPAT_MATRIX_DOCKER_ISOLATE_HOST`` (on by default); a Pants test target can set them
        in ``extra_env_vars``.
        """
        environ = os.environ if environ is None else environ
        options = DockerOptions(
            cpu_limits=CpuLimits.parse(environ.get(CPUS_ENV, "")), isolate_host=isolation_wanted(environ)
        )
        memory = environ.get(MEMORY_ENV, "").strip()
        if memory:
            options = replace(options, mem_limit=memory)
        pids = environ.get(PIDS_ENV, "").strip()
        if pids:
            try:
                options = replace(options, pids_limit=int(pids))
            except ValueError:
                raise BackendError(
                    f"{PIDS_ENV}={pids!r} is not a whole number; set it to e.g. 1024"
                ) from None
        return options


def container_ports(spec: RoleSpec) -> dict[str, int]:
    """The fixed container ports of a role: its ports in declaration order from 8000.

    Deterministic (the same for every instance and restart); containers never share a network
    namespace, so two instances using the same port numbers do not collide.
    """
    return {name: CONTAINER_PORT_BASE + index for index, name in enumerate(spec.ports)}


def connect(base_url: str | None = None) -> docker.DockerClient:
    """A client for the engine at ``base_url`` (default: ``DOCKER_HOST`` / the local socket).

    Raises ``BackendError`` saying how to start Docker when no engine answers.
    """
    try:
        if base_url:
            client = docker.DockerClient(base_url=base_url, timeout=ENGINE_TIMEOUT)
        else:
            client = docker.from_env(timeout=ENGINE_TIMEOUT)
        client.ping()
    except docker.errors.DockerException as exc:
        where = base_url or os.environ.get("DOCKER_HOST") or "the local socket"
        raise BackendError(f"no Docker engine answers at {where} ({exc}); {START_DOCKER_HINT}") from exc
    return client


def _docker_name(*parts: str) -> str:
    # Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; cell names normally already do.
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", "-".join(parts)).strip("-.")


@dataclass
class _Instance:
    plan: InstancePlan
    spec: RoleSpec
    ports: dict[str, int]
    image: str
    name: str  # container name
    args: tuple[str, ...]
    env: Mapping[str, str]
    data_dir: Path | None  # host side of the data dir (None: tmpfs)
    expand: Callable[[str], str] = str  # the role's other templates (probe args, log files), as the container sees them
    container: Container | None = None
    ip: str = ""
    connected: bool = True
    final_logs: str | None = None  # the engine's logs, kept when the container is removed
    final_attrs: Mapping[str, object] = field(default_factory=dict)  # its inspect data, kept then too
    labels: Mapping[str, str] = field(default_factory=dict)
    earlier_logs: str = ""  # the logs of the containers ``replace`` removed, oldest first

    def describe(self) -> str:
        image = self.plan.image if self.image == self.plan.image else f"{self.plan.image} = {self.image}"
        return (
            f"{self.plan.name} ({self.plan.role} {self.plan.version}, image {image}, container {self.name})"
        )


class DockerDeployment(Deployment):
    """A cell running as containers on a private internal network (see the module docstring)."""

    def __init__(
        self,
        plan: CellPlan,
        client: docker.DockerClient,
        session: Session,
        owns_session: bool,
        network_name: str,
        options: DockerOptions,
    ) -> None:
        self.plan = plan
        self.client = client
        self.session = session
        self.options = options
        self.network_name = network_name
        self._owns_session = owns_session
        self._network: Network | None = None
        self._isolation: HostIsolation | None = None
        self._instances: dict[str, _Instance] = {}
        self._stopped = False
        self.shared_dir = Path()  # set by DockerBackend.start (None of the host's when not persisted)
        self._cell = plan  # as planned: the versions an instance can be replaced with
        self.artifact_root = Path()  # set by DockerBackend.start: where the versions' PEXes are
        self._images: dict[tuple[str, str], str] = {}  # (role, version) -> image, built by start
        # image -> its bytecode volume when filled, else "" (the container's own tmpfs); found once per image
        self._bytecode: dict[str, str] = {}

    # -- queries ---------------------------------------------------------------------------
    def endpoint(self, instance: str, port: str) -> Endpoint:
        """``<container IP>:<container port>`` (during ``disconnect``: the last, unreachable, IP)."""
        inst = self._get(instance)
        if port not in inst.ports:
            raise KeyError(f"instance {instance!r} has no port {port!r}; its ports are {sorted(inst.ports)}")
        if not inst.ip:
            raise BackendError(f"{inst.describe()} has no address on network {self.network_name}")
        return Endpoint(inst.ip, inst.ports[port])

    def advertised(self, instance: str, port: str) -> Endpoint:
        """``<instance name>:<container port>``: its network alias, as its peers reach it."""
        inst = self._get(instance)
        if port not in inst.ports:
            raise KeyError(f"instance {instance!r} has no port {port!r}; its ports are {sorted(inst.ports)}")
        return Endpoint(instance, inst.ports[port])

    def endpoints(self) -> dict[str, dict[str, Endpoint]]:
        """Instance name -> port name -> driver-visible endpoint, in start order."""
        return {
            name: {p: Endpoint(i.ip, n) for p, n in i.ports.items()}
            for name, i in self._instances.items()
            if i.ip
        }

    def status(self, instance: str) -> str:
        """The container's state (``running``, ``paused``, ``exited``, ... or ``removed``)."""
        inst = self._get(instance)
        if inst.container is None:
            return "removed"
        try:
            inst.container.reload()
        except docker.errors.NotFound:
            return "removed"
        return str(inst.container.status)

    def logs(self) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for name, inst in self._instances.items():
            parts = [inst.earlier_logs + self._engine_logs(inst) + self._oom_note(inst)]
            if inst.data_dir is not None:
                for template in inst.spec.log_files:
                    extra = _host_path(inst.expand(template), inst.data_dir, self.shared_dir)
                    if extra is not None and extra.is_file():
                        parts.append(
                            f"--- {extra.name} ---\n{extra.read_text(encoding='utf-8', errors='replace')}"
                        )
            out[name] = "\n".join(parts)
        return out

    # -- faults ----------------------------------------------------------------------------
    def kill(self, instance: str) -> None:
        inst = self._get(instance)
        container = self._container(inst, "kill")
        if self.status(instance) == "paused":
            container.unpause()  # the engine refuses to kill a frozen container on some versions
        try:
            container.kill("SIGKILL")
        except docker.errors.APIError as exc:
            if "is not running" not in str(exc):
                raise BackendError(f"cannot kill {inst.describe()}: {exc}") from exc
        container.wait(timeout=ENGINE_TIMEOUT)

    def pause(self, instance: str) -> None:
        inst = self._running(instance, "pause")
        assert inst.container is not None
        inst.container.pause()

    def resume(self, instance: str) -> None:
        inst = self._get(instance)
        if self.status(instance) != "paused":
            raise BackendError(f"cannot resume {inst.describe()}: it is {self.status(instance)}, not paused")
        assert inst.container is not None
        inst.container.unpause()

    def restart(self, instance: str) -> None:
        """Restart the container (same name, alias, ports and data dir), then wait until ready.

        A disconnected instance is reconnected first (it could never become ready otherwise).
        Its IP may change; ``endpoint`` returns the new one afterwards.
        """
        inst = self._get(instance)
        container = self._container(inst, "restart")
        if self.status(instance) == "paused":
            container.unpause()
        if not inst.connected:
            self._connect(inst, container)
        # The engine keeps the last run's output: a log probe reads only the new run's.
        log_start = len(self._engine_logs(inst))
        try:
            container.restart(timeout=int(self.options.stop_timeout))
        except docker.errors.APIError as exc:
            raise BackendError(f"cannot restart {inst.describe()}: {exc}") from exc
        self._wait_ready(inst, log_start)

    def replace(self, instance: str, version: str) -> None:
        """Remove the instance's container and start ``version``'s image in its place: the same
        container name, network alias (its address for peers), container ports, data dir and
        arguments; wait until ready (see ``Deployment.replace``). Its IP on the network may change:
        ``endpoint`` returns the new one. The old container's logs stay in ``logs()``.
        """
        inst = self._get(instance)
        self._container(inst, "replace")
        target = self._cell.instance_at(instance, version)
        key = (target.role, target.version)
        if key not in self._images:  # start builds the path's images; another version is built here
            self._images[key] = ensure_image(self.client, self._cell, target, self.artifact_root)
        previous = inst.plan.version
        self._remove_container(inst)
        inst.earlier_logs += (inst.final_logs or "") + f"\n--- compat-matrix: replacing {instance}: {previous} -> {version} ---\n"
        inst.final_logs = None
        inst.plan = target
        inst.image = self._images[key]
        inst.connected = True
        self.plan = replace(
            self.plan, instances=tuple(target if i.name == instance else i for i in self.plan.instances)
        )
        self._launch(inst, {**inst.labels, LABEL_VERSION: version})

    def disconnect(self, instance: str) -> None:
        """Take the instance off the cell's network: neither peers nor the driver reach it."""
        inst = self._get(instance)
        container = self._container(inst, "disconnect")
        if not inst.connected:
            return
        assert self._network is not None
        try:
            self._network.disconnect(container)
        except docker.errors.APIError as exc:
            raise BackendError(
                f"cannot disconnect {inst.describe()} from {self.network_name}: {exc}"
            ) from exc
        inst.connected = False

    def reconnect(self, instance: str) -> None:
        """Put the instance back on the network under the same alias; wait until ready again."""
        inst = self._get(instance)
        container = self._container(inst, "reconnect")
        if inst.connected:
            return
        self._connect(inst, container)
        self._wait_ready(inst)

    def stop(self) -> None:
        """Remove every container, then the network; idempotent, tolerates gone resources.

        The containers are killed and removed in one call each: the cell is over, their logs are
        saved first, and nothing observes a graceful shutdown (``replace``, an upgrade step, stops
        the old container gracefully).
        """
        if self._stopped:
            return
        self._stopped = True
        errors = each_concurrently(
            lambda inst: self._remove_container(inst, graceful=False),
            list(self._instances.values()),
            lambda i: i.describe(),
        )
        try:
            self._remove_network()
        except Exception as exc:
            errors.append(f"network {self.network_name}: {exc}")
        if self._owns_session:
            self.session.close()
        self.client.close()  # logs() keeps answering from the logs saved above
        if errors:
            raise BackendError("could not remove every container/network cleanly: " + "; ".join(errors))

    # -- internals -------------------------------------------------------------------------
    def _get(self, instance: str) -> _Instance:
        return instance_named(self._instances, self.plan.cell, instance)

    def _container(self, inst: _Instance, action: str) -> Container:
        if inst.container is None or self._stopped:
            raise BackendError(f"cannot {action} {inst.describe()}: the deployment was stopped")
        return inst.container

    def _running(self, instance: str, action: str) -> _Instance:
        inst = self._get(instance)
        self._container(inst, action)
        state = self.status(instance)
        if state != "running":
            raise BackendError(f"cannot {action} {inst.describe()}: it is {state}, not running")
        return inst

    def _engine_logs(self, inst: _Instance) -> str:
        if inst.container is None:
            return inst.final_logs or ""
        try:
            raw = inst.container.logs(stdout=True, stderr=True)
        except docker.errors.APIError:  # removed behind our back
            return inst.final_logs or ""
        return bytes(raw).decode("utf-8", errors="replace")

    def _oom_note(self, inst: _Instance) -> str:
        """A line saying the instance's container was killed for exceeding its memory limit, and
        which limit that was; "" when it was not (or is gone)."""
        attrs = inst.final_attrs
        if inst.container is not None:
            try:
                inst.container.reload()
                attrs = inst.container.attrs
            except docker.errors.APIError:
                pass
        if not oom_killed(attrs):
            return ""
        memory, source = memory_for_role(inst.spec, self.options.mem_limit)
        return (
            f"\n--- compat-matrix: {inst.plan.name} was killed by the kernel's OOM killer: it used more than "
            f"its memory limit {memory} ({source}); raise the role's memory or use less ---\n"
        )

    def _connect(self, inst: _Instance, container: Container) -> None:
        assert self._network is not None
        try:
            self._network.connect(container, aliases=[inst.plan.name])
        except docker.errors.APIError as exc:
            raise BackendError(f"cannot reconnect {inst.describe()} to {self.network_name}: {exc}") from exc
        inst.connected = True

    def _create_network(self, labels: Mapping[str, str]) -> None:
        try:
            self._network = self.client.networks.create(
                self.network_name, driver="bridge", internal=True, labels=dict(labels), check_duplicate=True
            )
        except docker.errors.APIError as exc:
            hint = ""
            if "address pool" in str(exc) or "overlap" in str(exc):
                # Each network takes a subnet from the engine's small default pool; leaked
                # networks of killed runs exhaust it.
                hint = (
                    "; the engine has no free subnet: remove leftovers of killed runs with "
                    "`compat-matrix reap` (or `docker network prune`), or widen the daemon's "
                    "default-address-pools"
                )
            raise BackendError(f"cannot create docker network {self.network_name}: {exc}{hint}") from exc
        self.session.record_network(str(self._network.id))
        if self.options.isolate_host:
            self._isolation = HostIsolation.install(self._network.attrs, self.session.id)

    def _launch(self, inst: _Instance, labels: Mapping[str, str]) -> None:
        inst.labels = dict(labels)
        options = self.options
        # What the instance's Python imports is compiled once per image into a volume it reads
        # read-only, but not its branch sources: their bytecode goes to a tmpfs of its own
        # (docker_images.bytecode_volume). Until that volume is filled, the container compiles into
        # a tmpfs of its own, which its processes share (a worker's nanny and its workers): no
        # process compiles an import another of its container has compiled, and none writes
        # bytecode that another container imports.
        if inst.image not in self._bytecode:
            volume, filled = bytecode_volume(self.client, inst.image)
            self._bytecode[inst.image] = volume if filled else ""
        mounts: dict[str, str] = {CONTAINER_HOME: options.tmpfs_options}
        volumes: dict[str, dict[str, str]] = {}
        if self._bytecode[inst.image]:
            mounts[CONTAINER_BYTECODE + CONTAINER_SOURCES] = options.tmpfs_options
            volumes[self._bytecode[inst.image]] = {"bind": CONTAINER_BYTECODE, "mode": "ro"}
        else:
            mounts[CONTAINER_BYTECODE] = options.tmpfs_options
        user = options.user
        memory, _ = memory_for_role(inst.spec, options.mem_limit)
        if inst.data_dir is None:
            mounts[CONTAINER_DATA_DIR] = options.tmpfs_options
            mounts[CONTAINER_SHARED_DIR] = options.tmpfs_options  # not shared: persist_data=False
        else:
            # Writable by the container's user only (docker_mounts), never world-writable.
            user = share_data_dir(inst.data_dir, options.user)
            share_data_dir(self.shared_dir, options.user)
            volumes[str(inst.data_dir)] = {"bind": CONTAINER_DATA_DIR, "mode": "rw"}
            volumes[str(self.shared_dir)] = {"bind": CONTAINER_SHARED_DIR, "mode": "rw"}
        command_args, command_variables = role_command(inst.spec, in_venv=True)
        try:
            inst.container = self.client.containers.create(
                inst.image,
                entrypoint=list(ROLE_VENV.argv()),
                command=[*command_args, *inst.args],
                name=inst.name,
                hostname=inst.plan.name[:63],
                labels=dict(labels),
                environment={**options.environment, **command_variables, **inst.env},
                network=self.network_name,
                networking_config={
                    self.network_name: self.client.api.create_endpoint_config(aliases=[inst.plan.name])
                },
                user=user,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=memory,
                memswap_limit=memory,  # no swap beyond it: the limit is what the instance can use
                pids_limit=options.pids_limit,
                nano_cpus=nano_cpus(options.cpu_limits.for_role(inst.spec, self._host_cpus())),
                read_only=True,
                tmpfs=mounts,
                volumes=volumes,
                init=True,  # docker-init forwards SIGTERM and reaps zombies
                auto_remove=False,  # logs are collected before removal
                detach=True,
            )
        except docker.errors.APIError as exc:
            hint = f" (memory limit {memory!r})" if "emory" in str(exc) else ""
            raise BackendError(f"cannot create the container of {inst.describe()}{hint}: {exc}") from exc
        self.session.record_container(str(inst.container.id))
        try:
            inst.container.start()
        except docker.errors.APIError as exc:
            raise BackendError(
                f"cannot start {inst.describe()}: {exc}\n--- last lines of its log ---\n"
                + last_lines(self._engine_logs(inst))
            ) from exc
        self._wait_ready(inst)

    def _host_cpus(self) -> int | None:
        try:
            return int(self.client.info().get("NCPU") or 0) or None
        except (docker.errors.APIError, ValueError):
            return None

    def _refresh_ip(self, inst: _Instance) -> None:
        assert inst.container is not None
        inst.container.reload()
        networks = inst.container.attrs.get("NetworkSettings", {}).get("Networks") or {}
        ip = (networks.get(self.network_name) or {}).get("IPAddress") or ""
        if ip:
            inst.ip = str(ip)

    def _alive(self, inst: _Instance) -> bool:
        assert inst.container is not None
        try:
            inst.container.reload()
        except docker.errors.NotFound:
            return False
        return inst.container.status in ("created", "running", "restarting", "paused")

    def _wait_ready(self, inst: _Instance, log_start: int = 0) -> None:
        """Wait until the instance's readiness probe passes (a log probe on output from ``log_start`` on)."""
        self._refresh_ip(inst)
        if not inst.ip:
            raise BackendError(
                f"{inst.describe()} got no address on network {self.network_name} "
                f"(state {self.status(inst.plan.name)})\n--- last lines of its log ---\n"
                + last_lines(self._engine_logs(inst))
            )
        wait_ready(
            probe_for(inst.spec.readiness),
            ProbeTarget(
                endpoint=lambda port: self.endpoint(inst.plan.name, port),
                log=lambda: self._engine_logs(inst)[log_start:],
                run=lambda args, env, timeout: self._exec(inst, args, env),
                expand=inst.expand,
            ),
            lambda: self._alive(inst),
            instance=inst.describe(),
            log_tail=lambda: last_lines(self._engine_logs(inst), LOG_TAIL_LINES) + self._oom_note(inst),
        )

    def _exec(self, inst: _Instance, args: Sequence[str], env: Mapping[str, str]) -> tuple[int, str]:
        """Run the image's entry point with ``args`` and ``env`` in the instance's container.

        An exec inherits the container's environment, which names the role's command
        (``PEX_MODULE``, or ``PEX_INTERPRETER`` for a console script) and cannot be dropped through
        the API; the PEX refuses two of them (a probe's ``PEX_MODULE`` in a script role), so
        ``env -u`` unsets them first.
        """
        container = self._container(inst, "probe")
        unset = [arg for name in PEX_COMMAND_VARIABLES for arg in ("-u", name)]
        argv = ["env", *unset, *(f"{k}={v}" for k, v in env.items()), ROLE_VENV.pex, *args]
        try:
            result = container.exec_run(argv, user=None)
        except docker.errors.APIError as exc:
            return 125, f"docker exec failed: {exc}"
        output = result.output
        return int(result.exit_code or 0), bytes(output or b"").decode("utf-8", errors="replace")

    def _remove_container(self, inst: _Instance, graceful: bool = True) -> None:
        """Save the container's logs and remove it: after SIGTERM and up to ``stop_timeout``
        (``graceful``), or at once (the engine kills it)."""
        container = inst.container
        if container is None:
            return
        try:
            inst.final_logs = self._engine_logs(inst)
            container.reload()
            inst.final_attrs = dict(container.attrs)
            if graceful:
                if container.status == "paused":
                    container.unpause()  # a frozen container cannot handle SIGTERM
                if container.status in ("running", "paused", "restarting"):
                    container.stop(timeout=int(self.options.stop_timeout))  # SIGTERM, then SIGKILL
        except docker.errors.NotFound:
            pass  # already gone: nothing to stop
        except docker.errors.APIError as exc:
            if not being_removed(exc):
                raise
        remove_container(container)
        inst.container = None
        self.session.forget_container(str(container.id))

    def _remove_network(self) -> None:
        network = self._network
        if network is None:
            return
        remove_network(network)
        self._network = None
        self.session.forget_network(str(network.id))
        if self._isolation is not None:
            self._isolation.remove()
            self._isolation = None


def being_removed(exc: docker.errors.APIError) -> bool:
    """Whether the engine refused an action because a removal of the container is under way.

    Other compat-matrix runs share the engine: a session's watchdog, or another checkout's
    reaper removing a dead session's leftovers, may remove a container at the same moment as we
    do. That is not an error.
    """
    return exc.status_code == 409 and "already in progress" in str(exc)


def remove_container(container: Container, patience: float = 30.0) -> None:
    """Force-remove ``container`` (and its anonymous volumes); idempotent under a concurrent removal.

    Gone (404) is done; another removal under way (409, ``being_removed``) is waited out for up
    to ``patience`` seconds (the engine answers 404 once it finished), so on return the
    container is gone, whoever removed it.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            container.remove(force=True, v=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if not being_removed(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.2)


def remove_network(network: Network, patience: float = 10.0) -> None:
    """Remove ``network``; tolerate it being gone, and wait out endpoints still being released.

    The engine may report "active endpoints" for a moment after the last container on the
    network was removed, so retry for up to ``patience`` seconds before giving up.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            network.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if "active endpoints" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.2)


class DockerBackend(Backend):
    """Runs each instance as a hardened container on a private internal network."""

    name = "docker"

    def __init__(
        self,
        session: Session | None = None,
        *,
        base_url: str | None = None,
        options: DockerOptions | None = None,
    ) -> None:
        """``session`` records the containers/network (a private one, closed on ``stop``, when omitted).

        ``base_url`` is the engine (default ``DOCKER_HOST`` / the local socket); ``options``
        the hardening and limits (``DockerOptions.from_env()`` by default).
        """
        self.session = session
        self.base_url = base_url
        self.options = options or DockerOptions.from_env()

    def start(self, plan: CellPlan, artifact_root: Path, work_dir: Path) -> DockerDeployment:
        client = connect(self.base_url)
        try:
            specs = {i.name: plan.role(i.role) for i in plan.instances}
            # Resolve every image first, and those of every version the cell's upgrade path
            # switches to: a missing one fails before anything is created.
            first: dict[str, str] = {}
            for i in plan.instances:
                first.setdefault(i.role, i.name)
            needed = [*plan.instances, *(plan.instance_at(first[art.role], art.version) for art in plan.artifacts)]
            references = ensure_images(client, plan, needed, Path(artifact_root))
            # One image per (role, version): its artifacts decide it.
            images = {(i.role, i.version): ref for i, ref in zip(needed, references, strict=True)}
        except BaseException:
            client.close()
            raise
        owns = self.session is None
        session = self.session or Session.create(f"docker backend, cell {plan.cell}")
        try:  # before the network: nothing of the session exists unwatched
            watchdog = docker_watchdog.guard(session, lambda: connect(self.base_url))
            # On the host: removes the session's firewall rules and record when its owner dies
            # (the docker watchdog cannot reach the host's firewall).
            process_watchdog.guard(session)
        except BaseException:
            client.close()
            raise
        short = session.id.rsplit("-", 1)[-1]
        network_name = _docker_name(NAME_PREFIX, short, plan.cell, uuid.uuid4().hex[:6])
        deployment = DockerDeployment(plan, client, session, owns, network_name, self.options)
        deployment.shared_dir = Path(work_dir) / "shared"
        deployment.artifact_root = Path(artifact_root)
        deployment._images = images
        base_labels = {
            **session.labels(),
            LABEL_OWNER_CREATED: repr(session.record.owner_create_time),
            LABEL_SESSION_RECORD: str(session.path),
            LABEL_CELL: plan.cell,
            **(watchdog.labels() if watchdog is not None else {}),
        }
        present = {i.role for i in plan.instances}

        def start(instance: InstancePlan, peers: Mapping[str, Sequence[Peer]]) -> Peer:
            spec = specs[instance.name]
            ports = container_ports(spec)
            rendered = render_role(
                spec,
                instance,
                ports,
                CONTAINER_DATA_DIR,
                CONTAINER_SHARED_DIR,
                peers,
                present,
                host=BIND_HOST,
                advertised_host=instance.name,  # its network alias, as its peers reach it
            )
            data_dir = Path(work_dir) / instance.name / "data" if self.options.persist_data else None
            if rendered.files:
                if data_dir is None:
                    raise BackendError(
                        f"{instance.name}: role {spec.name!r} writes files before start, which needs "
                        f"persist_data (a bind-mounted data dir)"
                    )
                write_files(_host_paths(rendered.files, data_dir, deployment.shared_dir))
            inst = _Instance(
                plan=instance,
                spec=spec,
                ports=ports,
                image=images[(instance.role, instance.version)],
                name=_docker_name(network_name, instance.name),
                args=rendered.args,
                env=rendered.env,
                data_dir=data_dir,
                expand=rendered.expand,
            )
            deployment._instances[instance.name] = inst
            labels = {
                **base_labels,
                LABEL_INSTANCE: instance.name,
                LABEL_ROLE: instance.role,
                LABEL_VERSION: instance.version,
            }
            deployment._launch(inst, labels)
            return Peer(instance.name, instance.name, ports)

        with stopped_on_failure(deployment):
            deployment._create_network(base_labels)
            start_in_waves(plan, start)
            deployment._instances = in_plan_order(plan, deployment._instances)
        return deployment


def _host_path(path: str, data_dir: Path, shared_dir: Path) -> Path | None:
    """A path as the container sees it on the host side of its bind mount (a relative one is in
    the data dir); None when it is in neither mount."""
    if not path.startswith("/"):
        return data_dir / path
    for container_dir, host_dir in ((CONTAINER_DATA_DIR, data_dir), (CONTAINER_SHARED_DIR, shared_dir)):
        if path.startswith(container_dir + "/"):
            return host_dir / path[len(container_dir) + 1 :]
    return None


def _host_paths(files: Mapping[str, str], data_dir: Path, shared_dir: Path) -> dict[str, str]:
    """Rendered file paths (as the container sees them) on the host side of their bind mounts."""
    out: dict[str, str] = {}
    for path, content in files.items():
        host = _host_path(path, data_dir, shared_dir) if path.startswith("/") else None
        if host is None:  # pragma: no cover - compat_core.validate keeps files under {data_dir} or {shared_dir}
            raise BackendError(f"file {path!r} is outside {CONTAINER_DATA_DIR} and {CONTAINER_SHARED_DIR}")
        out[str(host)] = content
    return out


__all__ = (
    "BIND_HOST",
    "CONTAINER_DATA_DIR",
    "LABEL_CELL",
    "LABEL_INSTANCE",
    "LABEL_OWNER_CREATED",
    "LABEL_ROLE",
    "LABEL_SESSION_RECORD",
    "LABEL_VERSION",
    "MEMORY_ENV",
    "PIDS_ENV",
    "DockerBackend",
    "DockerDeployment",
    "DockerOptions",
    "being_removed",
    "connect",
    "container_ports",
    "remove_container",
    "remove_network",
)
