"""What every backend shares: role lookup, argument templating and log tails.

Backends differ in where an instance runs (a local process, a container) and so in the host
it binds and the addresses its peers use; how a role's argument templates expand is the same
everywhere, so it lives here once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import PurePath
from typing import TypeVar

from compat_matrix.backends.base import Deployment
from compat_matrix.errors import BackendError
from compat_matrix.model import InstancePlan, RoleSpec, System

LOCALHOST = "127.0.0.1"
LOG_TAIL_LINES = 40
STOP_TIMEOUT = 5.0


def role_spec(system: System, instance: InstancePlan) -> RoleSpec:
    """The ``RoleSpec`` an instance runs (``BackendError`` naming the known roles if absent)."""
    try:
        return system.roles[instance.role]
    except KeyError:
        raise BackendError(
            f"system {system.name!r} has no role {instance.role!r} (instance {instance.name}); "
            f"its roles are {sorted(system.roles)}"
        ) from None


def format_args(
    spec: RoleSpec,
    instance: InstancePlan,
    ports: Mapping[str, int],
    data_dir: PurePath | str,
    addresses: Mapping[str, str],
    present_roles: set[str] | frozenset[str],
    host: str = LOCALHOST,
) -> list[str]:
    """Expand a role's argument templates for one instance (see ``RoleSpec``).

    ``host`` is the address the instance binds (``{host}``); ``addresses`` maps a started role
    to ``host:port`` of its first instance's first port as its peers reach it (``{address[ROLE]}``).
    """
    templates = list(spec.args)
    for role, extra in spec.args_if_present.items():
        if role in present_roles:
            templates.extend(extra)
    fields = dict(
        host=host, port=dict(ports), name=instance.name, data_dir=str(data_dir), address=dict(addresses)
    )
    out = []
    for template in templates:
        try:
            out.append(template.format(**fields))
        except (KeyError, IndexError) as exc:
            raise BackendError(
                f"{instance.name}: cannot expand argument {template!r} of role {spec.name!r}: unknown {exc}; "
                f"ports are {sorted(ports)}, started roles are {sorted(addresses)} (a role named in "
                "{address[...]} must start earlier: check depends_on and the plan order)"
            ) from None
    return out


def last_lines(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text`` (for error messages quoting an instance's log)."""
    return "\n".join(text.splitlines()[-lines:])


__all__ = ("LOCALHOST", "LOG_TAIL_LINES", "STOP_TIMEOUT", "format_args", "last_lines", "role_spec")


_T = TypeVar("_T")


def instance_named(instances: Mapping[str, _T], cell: str, name: str) -> _T:
    """A deployment's instance by name; a KeyError that lists the cell's instances otherwise."""
    try:
        return instances[name]
    except KeyError:
        raise KeyError(f"cell {cell!r} has no instance {name!r}; its instances are {sorted(instances)}") from None


@contextmanager
def stopped_on_failure(deployment: Deployment) -> Iterator[None]:
    """Around a backend's start: on any failure, stop what was started, then let the error go on.

    Any failure includes KeyboardInterrupt and the SIGTERM exception: a cell is never left
    half-started.
    """
    try:
        yield
    except BaseException:
        try:
            deployment.stop()
        except BackendError:
            pass  # the original error is the one worth raising
        raise
