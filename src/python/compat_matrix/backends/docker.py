"""The docker backend: one container per instance, on a private network per deployment.

``DockerBackend.start`` runs the start sequence: it resolves every image the cell (and its upgrade
path) needs before anything is created (``docker_images``), puts the session under its watchdogs
(``docker_watchdog``, ``process_watchdog``), creates the deployment's internal network, and
launches the instances wave by wave, each waited ready before the next wave starts
(``common.start_in_waves``). The rest lives by job:

- ``docker_container``: what a container is (ports, mounts, limits, hardening, labels), as a pure
  function of the instance and ``DockerOptions``;
- ``docker_deployment`` / ``docker_instance``: the running cell, its endpoints, faults and logs;
- ``docker_cell_network`` and ``docker_network``: the private network and its isolation from the host;
- ``docker_engine``: the engine client and removals that tolerate other actors on the engine;
- ``docker_reaper``: the last line of defence, removing what a dead session left behind.

Peers find each other by instance name: each container's network alias is its instance name, so
``{address[ROLE]}`` expands to ``<instance>:<container port>``, and an instance's own
``{advertised_host}`` to its name. The driver must run on the engine's machine (it talks to bridge
IPs); with ``DOCKER_HOST`` pointing elsewhere, run the tests on that machine too, and use
``persist_data=False`` since bind mounts name paths on the engine's host.

A cell's instances run images built from the cell's own PEXes with the role recipe of
``compat_core.images``, tagged by a digest of recipe, PEX and base image (``ensure_image``): one
image per version, shared by its roles, built once per engine and reused by every run and
checkout with the same inputs. A branch role's sources are mounted read-only from the artifact
root (with ``persist_data``), so a source edit builds no image.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_core.errors import BackendError
from compat_core.labels import (
    IMAGE_LABEL_ROLE,
    IMAGE_LABEL_VERSION,
    LABEL_CELL,
    LABEL_INSTANCE,
    LABEL_OWNER_CREATED,
    LABEL_SESSION_RECORD,
)
from compat_matrix.backends import docker_watchdog, process_watchdog
from compat_matrix.backends.base import Backend
from compat_matrix.backends.common import Peer, render_role, start_in_waves, stopped_on_failure, write_files
from compat_matrix.backends.docker_container import (
    BIND_HOST,
    CONTAINER_DATA_DIR,
    CONTAINER_SHARED_DIR,
    NAME_PREFIX,
    DockerOptions,
    container_ports,
    host_paths,
)
from compat_matrix.backends.docker_deployment import DockerDeployment
from compat_matrix.backends.docker_engine import connect, docker_name
from compat_matrix.backends.docker_images import RoleImage, ensure_images
from compat_matrix.backends.docker_instance import DockerInstance
from compat_matrix.session import Session


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
        # Every image the cell needs, and those of every version its upgrade path switches to (a
        # missing one fails before any container is created), found or built while the session's
        # watchdogs start and the deployment's network opens: neither needs the other.
        first: dict[str, str] = {}
        for i in plan.instances:
            first.setdefault(i.role, i.name)
        needed = [*plan.instances, *(plan.instance_at(first[art.role], art.version) for art in plan.artifacts)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"images-{plan.name}") as pool:
            building = pool.submit(self._images, plan, needed, Path(artifact_root))
            deployment = self._open(plan, Path(artifact_root), Path(work_dir))
        specs = {i.name: plan.role(i.role) for i in plan.instances}
        present = {i.role for i in plan.instances}
        images: dict[tuple[str, str], RoleImage] = {}  # (role, version) -> its image: its artifacts decide it

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
                write_files(host_paths(rendered.files, data_dir, deployment.shared_dir))
            labels = {
                **deployment.labels,
                LABEL_INSTANCE: instance.name,
                IMAGE_LABEL_ROLE: instance.role,
                IMAGE_LABEL_VERSION: instance.version,
            }
            deployment.launch(
                DockerInstance(
                    plan=instance,
                    spec=spec,
                    ports=ports,
                    image=images[(instance.role, instance.version)].reference,
                    sources=images[(instance.role, instance.version)].sources,
                    name=docker_name(deployment.network_name, instance.name),
                    args=rendered.args,
                    env=rendered.env,
                    data_dir=data_dir,
                    labels=labels,
                    expand=rendered.expand,
                )
            )
            return Peer(instance.name, instance.name, ports)

        with stopped_on_failure(deployment):
            images.update(((i.role, i.version), ref) for i, ref in zip(needed, building.result(), strict=True))
            deployment.add_images(images)
            start_in_waves(plan, start)
        return deployment

    def _images(self, plan: CellPlan, needed: Sequence[InstancePlan], artifact_root: Path) -> list[RoleImage]:
        """``ensure_images`` with a client of its own (the deployment's may close on a failure meanwhile)."""
        client = connect(self.base_url)
        try:
            # Bind mounts name paths on this machine: only an engine that shares them gets the
            # branch sources mounted.
            return ensure_images(client, plan, needed, artifact_root, mount_sources=self.options.persist_data)
        finally:
            client.close()

    def _open(self, plan: CellPlan, artifact_root: Path, work_dir: Path) -> DockerDeployment:
        """The deployment, with no instance yet: its session under its watchdogs, then its network."""
        client = connect(self.base_url)
        owns = self.session is None
        session = self.session or Session.create(f"docker backend, cell {plan.name}")
        try:  # before the network: nothing of the session exists unwatched
            watchdog = docker_watchdog.guard(session, lambda: connect(self.base_url))
            # On the host: removes the session's firewall rules and record when its owner dies
            # (the docker watchdog cannot reach the host's firewall).
            process_watchdog.guard(session)
        except BaseException:
            client.close()
            if owns:
                session.close()
            raise
        short = session.id.rsplit("-", 1)[-1]
        network_name = docker_name(NAME_PREFIX, short, plan.name, uuid.uuid4().hex[:6])
        labels = {
            **session.labels(),
            LABEL_OWNER_CREATED: repr(session.record.owner_create_time),
            LABEL_SESSION_RECORD: str(session.path),
            LABEL_CELL: plan.name,
            **(watchdog.labels() if watchdog is not None else {}),
        }
        deployment = DockerDeployment(
            plan,
            client,
            session,
            owns_session=owns,
            network_name=network_name,
            labels=labels,
            options=self.options,
            images={},
            artifact_root=artifact_root,
            shared_dir=work_dir / "shared",
        )
        with stopped_on_failure(deployment):
            deployment.open_network()
        return deployment


__all__ = ("DockerBackend",)
