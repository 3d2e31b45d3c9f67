"""One instance of a docker deployment: its rendered role and its container's state, logs, exec
and removal (the deployment, ``docker_deployment``, decides when)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import docker.errors

from compat_core.cell_plan import InstancePlan
from compat_core.model import RoleSpec
from compat_matrix.backends.common import PEX_COMMAND_VARIABLES
from compat_matrix.backends.docker_container import ROLE_VENV
from compat_matrix.backends.docker_engine import being_removed, remove_container
from compat_matrix.backends.docker_limits import memory_for_role, oom_killed

if TYPE_CHECKING:
    from docker.models.containers import Container

# The states in which a container's process may still become ready.
LIVE_STATES = ("created", "running", "restarting", "paused")


@dataclass
class DockerInstance:
    """One instance: its role rendered for its container and, once launched, the container."""

    plan: InstancePlan
    spec: RoleSpec
    ports: dict[str, int]
    image: str
    name: str  # container name
    args: tuple[str, ...]
    env: Mapping[str, str]
    data_dir: Path | None  # host side of the data dir (None: tmpfs)
    labels: Mapping[str, str]
    sources: Path | None = None  # a branch role's sources, mounted read-only (None: in its image, or none)
    expand: Callable[[str], str] = str  # the role's other templates (probe args, log files), as the container sees them
    container: Container | None = None
    ip: str = ""
    connected: bool = True
    final_logs: str | None = None  # the engine's logs, kept when the container is removed
    final_attrs: Mapping[str, object] = field(default_factory=dict)  # its inspect data, kept then too
    earlier_logs: str = ""  # the logs of the containers ``replace`` removed, oldest first

    def describe(self) -> str:
        image = self.plan.image if self.image == self.plan.image else f"{self.plan.image} = {self.image}"
        return (
            f"{self.plan.name} ({self.plan.role} {self.plan.version}, image {image}, container {self.name})"
        )

    def state(self) -> str:
        """The container's state (``running``, ``paused``, ``exited``, ... or ``removed``)."""
        if self.container is None:
            return "removed"
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "removed"
        return str(self.container.status)

    def alive(self) -> bool:
        return self.state() in LIVE_STATES

    def engine_logs(self) -> str:
        """The container's output (once it is removed: as it was then)."""
        if self.container is None:
            return self.final_logs or ""
        try:
            raw = self.container.logs(stdout=True, stderr=True)
        except docker.errors.APIError:  # removed behind our back
            return self.final_logs or ""
        return bytes(raw).decode("utf-8", errors="replace")

    def oom_note(self, default_memory: str) -> str:
        """A line saying the container was killed for exceeding its memory limit, and which limit
        that was; "" when it was not (or is gone)."""
        attrs = self.final_attrs
        if self.container is not None:
            try:
                self.container.reload()
                attrs = self.container.attrs
            except docker.errors.APIError:
                pass
        if not oom_killed(attrs):
            return ""
        memory, source = memory_for_role(self.spec, default_memory)
        return (
            f"\n--- compat-matrix: {self.plan.name} was killed by the kernel's OOM killer: it used more than "
            f"its memory limit {memory} ({source}); raise the role's memory or use less ---\n"
        )

    def refresh_ip(self, network_name: str) -> None:
        """Read the container's address on ``network_name`` (kept when it has none right now)."""
        assert self.container is not None
        self.container.reload()
        networks = self.container.attrs.get("NetworkSettings", {}).get("Networks") or {}
        ip = (networks.get(network_name) or {}).get("IPAddress") or ""
        if ip:
            self.ip = str(ip)

    def exec(self, container: Container, args: Sequence[str], env: Mapping[str, str]) -> tuple[int, str]:
        """Run the image's entry point with ``args`` and ``env`` in ``container`` (the instance's).

        An exec inherits the container's environment, which names the role's command
        (``PEX_MODULE``, or ``PEX_INTERPRETER`` for a console script) and cannot be dropped through
        the API; the PEX refuses two of them (a probe's ``PEX_MODULE`` in a script role), so
        ``env -u`` unsets them first.
        """
        unset = [arg for name in PEX_COMMAND_VARIABLES for arg in ("-u", name)]
        argv = ["env", *unset, *(f"{k}={v}" for k, v in env.items()), ROLE_VENV.pex, *args]
        try:
            result = container.exec_run(argv, user=None)
        except docker.errors.APIError as exc:
            return 125, f"docker exec failed: {exc}"
        output = result.output
        return int(result.exit_code or 0), bytes(output or b"").decode("utf-8", errors="replace")

    def remove(self, stop_timeout: float, graceful: bool = True) -> str | None:
        """Save the container's logs and remove it: after SIGTERM and up to ``stop_timeout``
        (``graceful``), or at once (the engine kills it). The removed container's id, if any."""
        container = self.container
        if container is None:
            return None
        try:
            self.final_logs = self.engine_logs()
            container.reload()
            self.final_attrs = dict(container.attrs)
            if graceful:
                if container.status == "paused":
                    container.unpause()  # a frozen container cannot handle SIGTERM
                if container.status in ("running", "paused", "restarting"):
                    container.stop(timeout=int(stop_timeout))  # SIGTERM, then SIGKILL
        except docker.errors.NotFound:
            pass  # already gone: nothing to stop
        except docker.errors.APIError as exc:
            if not being_removed(exc):
                raise
        remove_container(container)
        self.container = None
        return str(container.id)


__all__ = ("LIVE_STATES", "DockerInstance")
