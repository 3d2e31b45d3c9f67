"""A docker deployment's private network: one internal bridge per deployment, recorded in its
session and, unless switched off, closed to the host (``docker_network.HostIsolation``).

``internal=True`` drops traffic forwarded off the bridge but not traffic between the host and
the bridge: the driver on the host reaches containers at their bridge IPs, and a host firewall
rule per network rejects new connections from the bridge to the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import docker
import docker.errors

from compat_core.errors import BackendError
from compat_matrix.backends.docker_engine import remove_network
from compat_matrix.backends.docker_network import HostIsolation
from compat_matrix.session import Session

if TYPE_CHECKING:
    from docker.models.containers import Container
    from docker.models.networks import Network


class CellNetwork:
    """The network named ``name`` of one deployment, created by ``open``, removed by ``remove``."""

    def __init__(self, client: docker.DockerClient, name: str, session: Session, isolate_host: bool) -> None:
        self.client = client
        self.name = name
        self.session = session
        self.isolate_host = isolate_host
        self._network: Network | None = None
        self._isolation: HostIsolation | None = None

    def open(self, labels: Mapping[str, str]) -> None:
        """Create the network with ``labels`` and record it in the session."""
        try:
            self._network = self.client.networks.create(
                self.name, driver="bridge", internal=True, labels=dict(labels), check_duplicate=True
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
            raise BackendError(f"cannot create docker network {self.name}: {exc}{hint}") from exc
        self.session.record_network(str(self._network.id))
        if self.isolate_host:
            self._isolation = HostIsolation.install(self._network.attrs, self.session.id)

    def connect(self, container: Container, alias: str, what: str) -> None:
        """Put ``container`` (``what``, for errors) on the network under ``alias``."""
        assert self._network is not None
        try:
            self._network.connect(container, aliases=[alias])
        except docker.errors.APIError as exc:
            raise BackendError(f"cannot reconnect {what} to {self.name}: {exc}") from exc

    def disconnect(self, container: Container, what: str) -> None:
        """Take ``container`` (``what``, for errors) off the network."""
        assert self._network is not None
        try:
            self._network.disconnect(container)
        except docker.errors.APIError as exc:
            raise BackendError(f"cannot disconnect {what} from {self.name}: {exc}") from exc

    def remove(self) -> None:
        """Remove the network and its host isolation; idempotent, tolerates it being gone."""
        network = self._network
        if network is None:
            return
        remove_network(network)
        self._network = None
        self.session.forget_network(str(network.id))
        if self._isolation is not None:
            self._isolation.remove()
            self._isolation = None


__all__ = ("CellNetwork",)
