"""Backends by name (imported lazily, so the process path never needs the docker SDK), and a
human-readable description of a running deployment shared by the pytest plugin and the CLI."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from compat_core.contract import BACKEND_ENV, DEFAULT_BACKEND
from compat_core.errors import BackendError, CompatMatrixError
from compat_core.settings import Settings
from compat_matrix.backends.base import Backend, Deployment
from compat_matrix.backends.source_launch import Launcher
from compat_matrix.session import Session

# name -> "module:class". Every backend class takes ``session=`` (a compat_matrix Session that
# records what it starts); the process backend also takes ``launcher=``.
BACKENDS: Mapping[str, str] = {
    "process": "compat_matrix.backends.process:ProcessBackend",
    "docker": "compat_matrix.backends.docker:DockerBackend",
}


def default_backend_name(environ: Mapping[str, str] | None = None) -> str:
    """``COMPAT_MATRIX_BACKEND`` when set, else ``process``."""
    return Settings.from_env(os.environ if environ is None else environ).backend or DEFAULT_BACKEND


def make_backend(name: str, session: Session, launcher: Launcher | None = None) -> Backend:
    """An instance of backend ``name`` recording into ``session``."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    module_name, _, class_name = BACKENDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(
            f"backend {name!r} is not available: {exc} (the docker backend needs the docker SDK, "
            f"`pip install docker`, and a reachable engine; or use --compat-backend=process)"
        ) from exc
    cls = getattr(module, class_name)
    if name == "process":
        return cls(session=session, launcher=launcher)  # type: ignore[no-any-return]
    return cls(session=session)  # type: ignore[no-any-return]


def describe_deployment(deployment: Deployment) -> list[str]:
    """One line per instance port (``name port -> host:port``) and per log file, for humans."""
    lines = []
    log_paths = getattr(deployment, "log_paths", None)
    logs = log_paths() if callable(log_paths) else {}
    for inst in deployment.plan.instances:
        for port in inst.ports:
            try:
                address = deployment.endpoint(inst.name, port).address
            except (KeyError, CompatMatrixError):
                address = "(not running)"
            lines.append(f"{inst.name} ({inst.role} {inst.version}) {port} -> {address}")
        if inst.name in logs:
            lines.append(f"{inst.name} log: {logs[inst.name]}")
    return lines


__all__ = (
    "BACKENDS",
    "describe_deployment",
    "BACKEND_ENV",
    "DEFAULT_BACKEND",
    "default_backend_name",
    "make_backend",
)
