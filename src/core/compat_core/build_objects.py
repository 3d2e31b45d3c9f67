"""What BUILD files may call besides the target types: the declaration vocabulary
(``compat_core.declare``) and shared role declarations (``compat_core.ipyparallel``)."""

from __future__ import annotations

from compat_core.declare import (
    command_probe,
    compat_cell,
    compat_fault,
    compat_role,
    compat_upgrade,
    grpc_health_probe,
    http_probe,
    log_probe,
    tcp_probe,
)
from compat_core.ipyparallel import ipyparallel_client_file, ipyparallel_roles

BUILD_FILE_OBJECTS = {
    "compat_role": compat_role,
    "compat_cell": compat_cell,
    "http_probe": http_probe,
    "grpc_health_probe": grpc_health_probe,
    "tcp_probe": tcp_probe,
    "log_probe": log_probe,
    "command_probe": command_probe,
    "compat_upgrade": compat_upgrade,
    "compat_fault": compat_fault,
    "ipyparallel_roles": ipyparallel_roles,
    "ipyparallel_client_file": ipyparallel_client_file,
}
"""What BUILD files may call besides the target types (registered by the Pants plugin)."""


__all__ = ("BUILD_FILE_OBJECTS",)
