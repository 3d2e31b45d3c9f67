"""Per-instance resource limits of the docker backend that come from roles and the environment.

Memory: a role declares ``RoleSpec.memory`` (``compat_role(memory="512m")``); it wins over
``COMPAT_MATRIX_DOCKER_MEMORY`` (``MEMORY_ENV``), which is the limit of every role that declares
none (default ``DEFAULT_MEMORY``). The role's own figure wins, not the stricter one: a role that
needs more than the default (a webserver) must get it, and one declared small (to test running
short of memory) must get that. The limit includes swap (``memswap_limit`` is the same), so it
is the memory the instance can use, and an instance over it is killed by the kernel's OOM killer
(``oom_killed`` tells). The process backend does not apply it (it has no honest per-process
memory limit: ``RLIMIT_AS`` counts virtual memory, not what a process uses).

CPU: a role declares ``RoleSpec.cpus``; ``COMPAT_MATRIX_DOCKER_CPUS`` overrides it, either for
every role (``1.5``) or per role (``worker=0.5,server=2``), or both (``1,worker=0.5``: a role
named there gets its value, every other role the bare number). Without either, an instance gets
``DEFAULT_CPUS``. The limit is capped at the engine's CPU count (the engine rejects more).
Pure: the environment value is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compat_core.errors import BackendError
from compat_core.model import RoleSpec

MEMORY_ENV = "COMPAT_MATRIX_DOCKER_MEMORY"
"""The memory limit of every role that declares none, e.g. ``2g``."""

DEFAULT_MEMORY = "1g"
"""An instance's memory limit when neither its role nor the environment sets one."""

CPUS_ENV = "COMPAT_MATRIX_DOCKER_CPUS"
"""Overrides the roles' CPU limits: ``N`` for every role, ``ROLE=N,...`` per role."""

DEFAULT_CPUS = 1.0
"""An instance's CPU limit when neither its role nor the environment sets one."""

_EXAMPLE = f"{CPUS_ENV}=1.5 (every role) or {CPUS_ENV}=worker=0.5,server=2 (per role)"


@dataclass(frozen=True)
class CpuLimits:
    """The environment's CPU overrides: one for every role (``every``) and per role (``roles``)."""

    every: float | None = None
    roles: Mapping[str, float] = field(default_factory=dict)

    @staticmethod
    def parse(value: str) -> CpuLimits:
        """``COMPAT_MATRIX_DOCKER_CPUS``'s value; raises ``BackendError`` naming a bad part."""
        every: float | None = None
        roles: dict[str, float] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            role, sep, number = part.rpartition("=")
            cpus = _cpus(number.strip(), value)
            if sep:
                roles[role.strip()] = cpus
            else:
                every = cpus
        return CpuLimits(every, roles)

    def for_role(self, spec: RoleSpec, host_cpus: int | None = None) -> float:
        """The CPU limit of an instance of ``spec``: environment, then role, then the default."""
        cpus = self.roles.get(spec.name, self.every)
        if cpus is None:
            cpus = spec.cpus if spec.cpus is not None else DEFAULT_CPUS
        return min(cpus, float(host_cpus)) if host_cpus else cpus


def _cpus(text: str, value: str) -> float:
    try:
        cpus = float(text)
    except ValueError:
        cpus = -1.0
    if not 0 < cpus <= 1024:  # also rejects nan
        raise BackendError(
            f"{CPUS_ENV}={value!r}: {text!r} is not a number of CPUs above 0; set e.g. {_EXAMPLE}"
        )
    return cpus


def memory_for_role(spec: RoleSpec, default: str) -> tuple[str, str]:
    """The memory limit of an instance of ``spec`` and where it comes from (for messages): the
    role's ``memory``, else ``default`` (``COMPAT_MATRIX_DOCKER_MEMORY`` or ``DEFAULT_MEMORY``)."""
    if spec.memory is not None:
        return spec.memory, f"role {spec.name!r}'s memory={spec.memory!r}"
    return default, f"the default for every role ({MEMORY_ENV}, else {DEFAULT_MEMORY})"


def oom_killed(container_attrs: Mapping[str, Any]) -> bool:
    """Whether the engine reports the container's last run killed by the OOM killer."""
    return bool((container_attrs.get("State") or {}).get("OOMKilled"))


def nano_cpus(cpus: float) -> int:
    """Docker's ``NanoCpus`` for a CPU count (at least 0.01 CPU, the engine's minimum)."""
    return max(int(round(cpus * 1e9)), 10_000_000)


__all__ = (
    "CPUS_ENV",
    "DEFAULT_CPUS",
    "DEFAULT_MEMORY",
    "MEMORY_ENV",
    "CpuLimits",
    "memory_for_role",
    "nano_cpus",
    "oom_killed",
)
