"""The backend seam: how a planned cell becomes running instances.

A backend only knows how to run instances; what to run (command, ports, readiness, logs)
comes from the ``CellPlan`` and the ``RoleSpec`` of each role it runs. Adding a backend is one new module that
implements ``Backend`` and returns a ``Deployment``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compat_core.cell_plan import CellPlan


@dataclass(frozen=True)
class Endpoint:
    """Where a port of an instance answers, as seen from the test process (the driver)."""

    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}"


class Deployment(abc.ABC):
    """A running cell: endpoints, logs and fault controls. Torn down by ``stop``."""

    plan: CellPlan
    shared_dir: Path  # on the driver's side: the directory every instance shares ({shared_dir})

    @abc.abstractmethod
    def endpoints(self) -> dict[str, dict[str, Endpoint]]:
        """Instance name -> port name -> endpoint as the driver reaches it, in start order."""

    @abc.abstractmethod
    def endpoint(self, instance: str, port: str) -> Endpoint:
        """The driver-visible endpoint of ``instance``'s named port (e.g. ("server-0", "http"))."""

    @abc.abstractmethod
    def advertised(self, instance: str, port: str) -> Endpoint:
        """``instance``'s named port as its peers reach it: its ``{advertised_host}`` and
        ``{port[NAME]}``, what it registers or advertises (``echo-0:9090`` on docker). The driver
        may not reach it there: ``reach`` turns it into an endpoint the driver does reach."""

    def reach(self, address: str) -> Endpoint:
        """The driver-visible endpoint of ``address`` (``host:port``), an address an instance of
        this deployment advertises to its peers: what a role registered with a name server, or
        that a server hands its clients. Raises ``KeyError`` naming what the instances advertise
        when none advertises ``address``."""
        host, _, port = address.rpartition(":")
        advertised = {
            self.advertised(name, port_name): (name, port_name)
            for name, ports in self.endpoints().items()
            for port_name in ports
        }
        if port.isdigit() and (found := advertised.get(Endpoint(host.strip("[]"), int(port)))):
            return self.endpoint(*found)
        known = ", ".join(f"{name} {port_name}: {ep.address}" for ep, (name, port_name) in advertised.items())
        raise KeyError(
            f"no instance of cell {self.plan.name!r} advertises {address!r} (a host:port as its peers "
            f"reach it); they advertise {known or 'nothing'}"
        )

    def first(self, role: str, port: str) -> Endpoint:
        """The endpoint of the first instance of ``role``."""
        for inst in self.plan.instances:
            if inst.role == role:
                return self.endpoint(inst.name, port)
        raise KeyError(f"cell {self.plan.name!r} runs no instance of role {role!r}")

    @abc.abstractmethod
    def logs(self) -> Mapping[str, str]:
        """Instance name -> everything it logged so far (stdout+stderr and declared log files)."""

    @abc.abstractmethod
    def kill(self, instance: str) -> None:
        """Fault: kill the instance abruptly (SIGKILL)."""

    @abc.abstractmethod
    def pause(self, instance: str) -> None:
        """Fault: freeze the instance (SIGSTOP / docker pause)."""

    @abc.abstractmethod
    def resume(self, instance: str) -> None:
        """Undo ``pause``."""

    @abc.abstractmethod
    def restart(self, instance: str) -> None:
        """Stop (if running) and start the instance again with the same ports and data; wait ready."""

    def replace(self, instance: str, version: str) -> None:
        """Upgrade or roll back: stop ``instance`` and start it again at concrete ``version`` (``branch``
        or a release), with the same name, ports, address on the deployment's network and data
        directory; wait until it is ready. The version's artifact must be among the cell's (its
        upgrade path visits it: ``CellPlan.instance_at``). ``plan`` then shows the new version."""
        raise NotImplementedError(f"{type(self).__name__} cannot replace {instance!r}")

    def disconnect(self, instance: str) -> None:
        """Fault: partition the instance from its peers. Backends that cannot, raise."""
        raise NotImplementedError(f"{type(self).__name__} cannot partition {instance!r}")

    def reconnect(self, instance: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot partition {instance!r}")

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop every instance (SIGTERM then SIGKILL) and remove what the deployment created.

        Idempotent; never raises for an instance that is already gone.
        """


class Backend(abc.ABC):
    """Starts a planned cell."""

    name: str  # "process" or "docker"

    @abc.abstractmethod
    def start(self, plan: CellPlan, artifact_root: Path, work_dir: Path) -> Deployment:
        """Start every instance of ``plan`` (which carries its roles' specs) in order, wait for each to be ready, return the deployment.

        ``artifact_root`` is where the plan's relative artifact paths (PEX, docker-info.json)
        resolve: the Pants test sandbox, or ``dist/`` after ``pants package``. On any failure,
        everything started so far is stopped before the error propagates, and the instances'
        logs go with the error (``start_logs``).
        """


_START_LOGS = "compat_matrix_start_logs"


def keep_start_logs(error: BaseException, logs: Mapping[str, str]) -> None:
    """Keep, with the error a ``Backend.start`` raises, every instance's log of the start it ended
    (the instances are gone by then: their logs are what explains the error)."""
    setattr(error, _START_LOGS, dict(logs))


def start_logs(error: BaseException) -> Mapping[str, str]:
    """Instance name -> log of the start that ``error`` ended ({} for any other error)."""
    logs = getattr(error, _START_LOGS, None)
    return logs if isinstance(logs, dict) else {}


__all__: tuple[str, ...] = ("Backend", "Deployment", "Endpoint", "keep_start_logs", "start_logs")
