"""The docker backend's per-instance resource limits as values: their defaults, syntax and checks.

Pure and CPython 3.9-compatible: the plugin checks a limit while Pants reads the settings (a typo
fails before any image is built), and the harness applies it (``compat_matrix.backends``).

CPU: a role declares ``RoleSpec.cpus``; the ``docker_cpus`` setting overrides it, either for every
role (``1.5``) or per role (``worker=0.5,server=2``), or both (``1,worker=0.5``: a role named there
gets its value, every other role the bare number). Without either, an instance gets
``DEFAULT_CPUS``. Memory: a role's own ``memory`` wins over the ``docker_memory`` setting, the limit
of every role that declares none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from compat_core.errors import SettingError
from compat_core.model import RoleSpec

DEFAULT_CPUS = 1.0
"""An instance's CPU limit when neither its role nor the settings set one."""

DEFAULT_MEMORY = "1g"
"""An instance's memory limit when its role declares none and the settings set none."""

DEFAULT_PIDS = 1024
"""How many processes an instance may run (the engine's ``pids_limit``)."""

_MEMORY_RE = re.compile(r"^[0-9]+(\.[0-9]+)?[bkmg]?$", re.IGNORECASE)


@dataclass(frozen=True)
class CpuLimits:
    """The settings' CPU overrides: one for every role (``every``) and per role (``roles``)."""

    every: float | None = None
    roles: Mapping[str, float] = field(default_factory=dict)

    @staticmethod
    def parse(value: str, name: str = "docker_cpus") -> CpuLimits:
        """``value`` of the setting ``name``; raises ``SettingError`` naming a bad part and the fix."""
        every: float | None = None
        roles: dict[str, float] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            role, sep, number = part.rpartition("=")
            cpus = _cpus(number.strip(), value, name)
            if sep:
                roles[role.strip()] = cpus
            else:
                every = cpus
        return CpuLimits(every, roles)

    def for_role(self, spec: RoleSpec, host_cpus: int | None = None) -> float:
        """The CPU limit of an instance of ``spec``: the settings, then the role, then the default;
        at most ``host_cpus`` (the engine rejects more than it has)."""
        cpus = self.roles.get(spec.name, self.every)
        if cpus is None:
            cpus = spec.cpus if spec.cpus is not None else DEFAULT_CPUS
        return min(cpus, float(host_cpus)) if host_cpus else cpus


def _cpus(text: str, value: str, name: str) -> float:
    try:
        cpus = float(text)
    except ValueError:
        cpus = -1.0
    if not 0 < cpus <= 1024:  # also rejects nan
        raise SettingError(
            f"{name}={value!r}: {text!r} is not a number of CPUs above 0; set e.g. {name}=1.5 (every role) "
            f"or {name}=worker=0.5,server=2 (per role)"
        )
    return cpus


def check_memory(value: str, name: str = "docker_memory") -> str:
    """``value`` as the engine's memory limit (a number with an optional unit b, k, m or g)."""
    text = value.strip()
    if not _MEMORY_RE.match(text):
        raise SettingError(f"{name}={value!r} is not an amount of memory; set it to e.g. 512m or 2g")
    return text


def check_pids(value: object, name: str = "docker_pids") -> int:
    """``value`` as a pids limit: a whole number above 0."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise SettingError(f"{name}={text!r} is not a whole number above 0; set it to e.g. {DEFAULT_PIDS}")
    return int(text)


__all__ = ("DEFAULT_CPUS", "DEFAULT_MEMORY", "DEFAULT_PIDS", "CpuLimits", "check_memory", "check_pids")
