"""Per-instance resource limits of the docker backend, applied: memory, CPU and the OOM verdict.

What the limits are and where they come from (a role's ``memory`` and ``cpus``, the settings'
``docker_memory`` and ``docker_cpus``, the defaults) is ``compat_core.limits``. Memory: the role's
own figure wins over the settings', not the stricter one: a role that needs more than the default
(a webserver) must get it, and one declared small (to test running short of memory) must get that.
The limit includes swap (``memswap_limit`` is the same), so it is the memory the instance can use,
and an instance over it is killed by the kernel's OOM killer (``oom_killed`` tells). The process
backend does not apply it (it has no honest per-process memory limit: ``RLIMIT_AS`` counts virtual
memory, not what a process uses). CPU is capped at the engine's CPU count (the engine rejects more).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compat_core.contract import DOCKER_MEMORY_ENV
from compat_core.limits import DEFAULT_MEMORY
from compat_core.model import RoleSpec


def memory_for_role(spec: RoleSpec, default: str) -> tuple[str, str]:
    """The memory limit of an instance of ``spec`` and where it comes from (for messages): the
    role's ``memory``, else ``default`` (the ``docker_memory`` setting)."""
    if spec.memory is not None:
        return spec.memory, f"role {spec.name!r}'s memory={spec.memory!r}"
    return default, f"the default for every role ([compat-matrix].docker_memory or {DOCKER_MEMORY_ENV}, else {DEFAULT_MEMORY})"


def oom_killed(container_attrs: Mapping[str, Any]) -> bool:
    """Whether the engine reports the container's last run killed by the OOM killer."""
    return bool((container_attrs.get("State") or {}).get("OOMKilled"))


def nano_cpus(cpus: float) -> int:
    """Docker's ``NanoCpus`` for a CPU count (at least 0.01 CPU, the engine's minimum)."""
    return max(int(round(cpus * 1e9)), 10_000_000)


__all__ = ("memory_for_role", "nano_cpus", "oom_killed")
