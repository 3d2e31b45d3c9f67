"""A running docker cell: its containers on a private network, their endpoints, faults and logs.

``DockerBackend.start`` (``docker``) constructs a ``DockerDeployment`` with what it owns (the
engine client, the session, the images, the shared directory) and launches each instance on it
(``launch``): the container is created from ``docker_container.container_spec``, started, and
waited ready with the role's readiness probe. Peers find each other by instance name (each
container's network alias); the driver reaches a container at its IP on the deployment's bridge
(``endpoint``). A deployment's containers and network carry its session's labels and are recorded
in the session, so its watchdog and the reaper can remove them when its owner dies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors

from compat_core.cell_plan import CellPlan
from compat_core.errors import BackendError
from compat_core.labels import IMAGE_LABEL_VERSION
from compat_matrix.backends.base import Deployment, Endpoint
from compat_matrix.backends.common import (
    LOG_TAIL_LINES,
    each_concurrently,
    in_plan_order,
    instance_named,
    last_lines,
)
from compat_matrix.backends.docker_bytecode import bytecode_volume
from compat_matrix.backends.docker_cell_network import CellNetwork
from compat_matrix.backends.docker_container import DockerOptions, container_spec, host_path
from compat_matrix.backends.docker_engine import ENGINE_TIMEOUT
from compat_matrix.backends.docker_images import RoleImage, ensure_image
from compat_matrix.backends.docker_instance import DockerInstance
from compat_matrix.backends.docker_mounts import share_data_dir
from compat_matrix.probes import ProbeTarget, probe_for, wait_ready
from compat_matrix.session import Session

if TYPE_CHECKING:
    from docker.models.containers import Container


class DockerDeployment(Deployment):
    """A cell running as containers on a private internal network (see the module docstring)."""

    def __init__(
        self,
        plan: CellPlan,
        client: docker.DockerClient,
        session: Session,
        *,
        owns_session: bool,
        network_name: str,
        labels: Mapping[str, str],
        options: DockerOptions,
        images: Mapping[tuple[str, str], RoleImage],
        artifact_root: Path,
        shared_dir: Path,
    ) -> None:
        """``labels`` go on the network and every container; ``images`` maps (role, version) to
        the image that runs it (more are built on demand from the PEXes under ``artifact_root``);
        ``shared_dir`` is the host side of every container's ``{shared_dir}``."""
        self.plan = plan
        self.client = client
        self.session = session
        self.options = options
        self.network_name = network_name
        self.labels = dict(labels)
        self.shared_dir = shared_dir
        self.artifact_root = artifact_root
        self._owns_session = owns_session
        self._cell = plan  # as planned: the versions an instance can be replaced with
        self._images = dict(images)
        self.network = CellNetwork(client, network_name, session, options.isolate_host)
        self._instances: dict[str, DockerInstance] = {}
        self._stopped = False
        # image -> its bytecode volume when filled, else "" (the container's own tmpfs); found once per image
        self._bytecode: dict[str, str] = {}
        self._cpus: int | None = None  # the engine's CPU count once asked (0: it did not say)

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
            for name, i in in_plan_order(self.plan, self._instances).items()
            if i.ip
        }

    def status(self, instance: str) -> str:
        """The container's state (``running``, ``paused``, ``exited``, ... or ``removed``)."""
        return self._get(instance).state()

    def logs(self) -> Mapping[str, str]:
        out: dict[str, str] = {}
        for name, inst in in_plan_order(self.plan, self._instances).items():
            parts = [inst.earlier_logs + inst.engine_logs() + inst.oom_note(self.options.mem_limit)]
            if inst.data_dir is not None:
                for template in inst.spec.log_files:
                    extra = host_path(inst.expand(template), inst.data_dir, self.shared_dir)
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
        log_start = len(inst.engine_logs())
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
            self._images[key] = ensure_image(
                self.client, self._cell, target, self.artifact_root, mount_sources=self.options.persist_data
            )
        previous = inst.plan.version
        self._remove_container(inst, graceful=True)
        inst.earlier_logs += (inst.final_logs or "") + f"\n--- compat-matrix: replacing {instance}: {previous} -> {version} ---\n"
        inst.final_logs = None
        inst.plan = target
        inst.image, inst.sources = self._images[key].reference, self._images[key].sources
        inst.connected = True
        self.plan = replace(
            self.plan, instances=tuple(target if i.name == instance else i for i in self.plan.instances)
        )
        inst.labels = {**inst.labels, IMAGE_LABEL_VERSION: version}
        self._launch(inst)

    def disconnect(self, instance: str) -> None:
        """Take the instance off the cell's network: neither peers nor the driver reach it."""
        inst = self._get(instance)
        container = self._container(inst, "disconnect")
        if not inst.connected:
            return
        self.network.disconnect(container, inst.describe())
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
            self.network.remove()
        except Exception as exc:
            errors.append(f"network {self.network_name}: {exc}")
        if self._owns_session:
            self.session.close()
        self.client.close()  # logs() keeps answering from the logs saved above
        if errors:
            raise BackendError("could not remove every container/network cleanly: " + "; ".join(errors))

    # -- internals -------------------------------------------------------------------------
    def _get(self, instance: str) -> DockerInstance:
        return instance_named(self._instances, self.plan.name, instance)

    def _container(self, inst: DockerInstance, action: str) -> Container:
        if inst.container is None or self._stopped:
            raise BackendError(f"cannot {action} {inst.describe()}: the deployment was stopped")
        return inst.container

    def _running(self, instance: str, action: str) -> DockerInstance:
        inst = self._get(instance)
        self._container(inst, action)
        state = self.status(instance)
        if state != "running":
            raise BackendError(f"cannot {action} {inst.describe()}: it is {state}, not running")
        return inst

    def _connect(self, inst: DockerInstance, container: Container) -> None:
        self.network.connect(container, inst.plan.name, inst.describe())
        inst.connected = True

    # -- starting ------------------------------------------------------------------------
    def add_images(self, images: Mapping[tuple[str, str], RoleImage]) -> None:
        """Images (by role and version) its instances run, found or built after it was made."""
        self._images.update(images)

    def open_network(self) -> None:
        """Create the deployment's internal network (and its host isolation): before any launch."""
        self.network.open(self.labels)

    def launch(self, inst: DockerInstance) -> None:
        """Create and start ``inst``'s container and wait until it is ready."""
        self._instances[inst.plan.name] = inst
        self._launch(inst)

    def _launch(self, inst: DockerInstance) -> None:
        options = self.options
        if inst.image not in self._bytecode:
            volume, filled = bytecode_volume(self.client, inst.image)
            self._bytecode[inst.image] = volume if filled else ""
        user = options.user
        if inst.data_dir is not None:
            # Writable by the container's user only (docker_mounts), never world-writable.
            user = share_data_dir(inst.data_dir, options.user)
            share_data_dir(self.shared_dir, options.user)
        spec = container_spec(
            inst.plan,
            inst.spec,
            image=inst.image,
            name=inst.name,
            args=inst.args,
            env=inst.env,
            labels=inst.labels,
            network=self.network_name,
            options=options,
            user=user,
            data_dir=inst.data_dir,
            shared_dir=self.shared_dir,
            bytecode_volume=self._bytecode[inst.image],
            sources_dir=inst.sources,
            host_cpus=self._host_cpus(),
        )
        endpoint = self.client.api.create_endpoint_config(aliases=[inst.plan.name])
        try:
            inst.container = self.client.containers.create(
                **spec, networking_config={self.network_name: endpoint}
            )
        except docker.errors.APIError as exc:
            hint = f" (memory limit {spec['mem_limit']!r})" if "emory" in str(exc) else ""
            raise BackendError(f"cannot create the container of {inst.describe()}{hint}: {exc}") from exc
        self.session.record_container(str(inst.container.id))
        try:
            inst.container.start()
        except docker.errors.APIError as exc:
            raise BackendError(
                f"cannot start {inst.describe()}: {exc}\n--- last lines of its log ---\n"
                + last_lines(inst.engine_logs())
            ) from exc
        self._wait_ready(inst)

    def _host_cpus(self) -> int | None:
        """The engine's CPU count, asked once per deployment (the engine's info is a costly call)."""
        if self._cpus is None:
            try:
                self._cpus = int(self.client.info().get("NCPU") or 0)
            except (docker.errors.APIError, ValueError):
                self._cpus = 0
        return self._cpus or None

    def _wait_ready(self, inst: DockerInstance, log_start: int = 0) -> None:
        """Wait until the instance's readiness probe passes (a log probe on output from ``log_start`` on)."""
        inst.refresh_ip(self.network_name)
        if not inst.ip:
            raise BackendError(
                f"{inst.describe()} got no address on network {self.network_name} "
                f"(state {self.status(inst.plan.name)})\n--- last lines of its log ---\n"
                + last_lines(inst.engine_logs())
            )
        wait_ready(
            probe_for(inst.spec.readiness),
            ProbeTarget(
                endpoint=lambda port: self.endpoint(inst.plan.name, port),
                log=lambda: inst.engine_logs()[log_start:],
                run=lambda args, env, timeout: inst.exec(self._container(inst, "probe"), args, env),
                expand=inst.expand,
            ),
            inst.alive,
            instance=inst.describe(),
            log_tail=lambda: last_lines(inst.engine_logs(), LOG_TAIL_LINES) + inst.oom_note(self.options.mem_limit),
        )

    def _remove_container(self, inst: DockerInstance, graceful: bool) -> None:
        removed = inst.remove(self.options.stop_timeout, graceful)
        if removed is not None:
            self.session.forget_container(removed)


__all__ = ("DockerDeployment",)
