"""How an instance's version runs as a local process: its PEX (a venv PEX as its venv's
interpreter with ``-u``, any other PEX with this interpreter), or what a ``Launcher`` says, in an
environment scrubbed of the test runner's own ``PEX_*`` and ``PYTHONPATH``.

pex would re-execute a venv PEX with ``-sE``, which ignores ``PYTHONUNBUFFERED``: starting the
venv's interpreter directly keeps a role's output unbuffered (``common.PexVenv``). The venv is
found, and made by pex if need be, once per PEX and backend (``VenvFinder``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_core.errors import BackendError
from compat_core.images import SOURCES_PATH_VARIABLE
from compat_core.model import RoleSpec
from compat_matrix.backends.common import (
    PEX_COMMAND_VARIABLES,
    PexVenv,
    RenderedRole,
    last_lines,
    missing_artifact,
    role_command,
)
from compat_matrix.backends.pex_layers import read_pex_info
from compat_matrix.backends.source_launch import Launcher

# How long pex may take to make a PEX's venv (once per machine and PEX: a large one unpacks slowly).
VENV_TIMEOUT = 600.0
# Run by a venv PEX in its venv's interpreter (PEX_INTERPRETER): where that venv is, and the flags
# pex started its interpreter with.
_WHERE_IS_THE_VENV = (
    "import json, os, sys; print(json.dumps({'python': sys.executable, 'pex': os.path.join(sys.prefix, 'pex'),"
    " 's': sys.flags.no_user_site, 'E': sys.flags.ignore_environment}))"
)


def child_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The environment an instance gets: ours without ``PEX_*`` (nor pex's internal ``_PEX_*`` and
    ``__PEX_*``: a venv PEX's sys.path goes on to its children in ``__PEX_EXTRA_SYS_PATH__``) and
    ``PYTHONPATH``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.lstrip("_").startswith("PEX_") and k != "PYTHONPATH"}
    env["PYTHONUNBUFFERED"] = "1"  # logs reach the file as they happen, not at exit
    env.update(extra)
    return env


def instance_command(
    plan: CellPlan,
    instance: InstancePlan,
    spec: RoleSpec,
    artifact_root: Path,
    launcher: Launcher | None,
    venvs: VenvFinder,
) -> ProcessCommand:
    """How ``instance`` runs: ``launcher``'s ``Launch`` if it gives one, else its version's PEX
    under ``artifact_root`` (an ``ArtifactError`` naming the build command when it is missing)."""
    if launcher is not None:
        launch = launcher(instance, spec)
        if launch is not None:
            return ProcessCommand(tuple(launch.argv), dict(launch.env), in_venv=False)
    env: dict[str, str] = {}
    for path in (instance.pex, instance.sources):
        if path and not (artifact_root / path).exists():
            raise missing_artifact(plan, instance, path, artifact_root)
    if instance.sources:
        # The branch role's first-party code, beside its requirements PEX (compat_core.names).
        env[SOURCES_PATH_VARIABLE] = str((artifact_root / instance.sources).resolve())
    pex = artifact_root / instance.pex
    venv = venvs.find(pex, child_environment(env), instance.name)
    if venv is None:
        # pex unpacks such a PEX under PEX_ROOT, by default in HOME, which is the instance's own
        # (so once per instance): the runner's user's default keeps one copy for every instance.
        env["PEX_ROOT"] = os.path.join(os.path.expanduser("~"), ".pex")
        return ProcessCommand((sys.executable, "-u", str(pex)), env, in_venv=False)
    return ProcessCommand(venv.argv(), env, in_venv=True)


class ProcessCommand(NamedTuple):
    """How an instance's version runs: the argv that runs its PEX (or launcher), before the role's
    command; the environment that adds; whether that is a ``PexVenv``."""

    argv: tuple[str, ...]
    env: dict[str, str]
    in_venv: bool

    def role(self, spec: RoleSpec, rendered: RenderedRole, home: Path) -> tuple[tuple[str, ...], dict[str, str]]:
        """The instance's argv and environment: this, the role's command, the role's arguments.

        ``home`` is the instance's HOME (a role's ``env`` may set another), as a host of its own
        would have: what a role reads from or writes to its home (dask's and IPython's
        configuration, caches) is neither the user's nor another instance's.
        """
        command_args, variables = role_command(spec, self.in_venv)
        env = {"HOME": str(home), **variables, **rendered.env, **self.env}
        return self.argv + command_args + rendered.args, child_environment(env)


class VenvFinder:
    """The venv of each venv PEX, asked of the PEX once (``PEX_INTERPRETER`` running
    ``_WHERE_IS_THE_VENV``; pex makes the venv then if it is not there yet) and kept per file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[str, int, int], PexVenv | None] = {}
        self._asking: dict[tuple[str, int, int], threading.Lock] = {}

    def find(self, pex: Path, env: Mapping[str, str], instance: str) -> PexVenv | None:
        """``pex``'s venv, or None when ``pex`` is not a venv PEX."""
        stat = pex.stat()
        key = (str(pex.resolve()), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:  # instances of one wave that run the same PEX ask once
            if key not in self._found:
                self._found[key] = _ask_for_venv(pex, env, instance) if _is_venv_pex(pex) else None
            return self._found[key]


def _is_venv_pex(pex: Path) -> bool:
    """Whether ``pex`` is a PEX (a zip file or a directory) built to run in a venv (``--venv``)."""
    try:
        if not pex.is_dir() and not zipfile.is_zipfile(pex):
            return False
        return bool(json.loads(read_pex_info(pex)).get("venv"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False


def _ask_for_venv(pex: Path, env: Mapping[str, str], instance: str) -> PexVenv:
    argv = [sys.executable, str(pex), "-c", _WHERE_IS_THE_VENV]
    child = {k: v for k, v in env.items() if k not in PEX_COMMAND_VARIABLES}
    try:
        done = subprocess.run(
            argv,
            env={**child, "PEX_INTERPRETER": "1"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=VENV_TIMEOUT,
        )
        found = json.loads(done.stdout.decode("utf-8", errors="replace").strip().splitlines()[-1])
        flags = "".join(flag for flag in ("s", "E") if found[flag])
        return PexVenv(str(found["python"]), str(found["pex"]), (f"-{flags}",) if flags else ())
    except subprocess.TimeoutExpired:
        problem = f"it did not answer within {VENV_TIMEOUT:g}s"
    except (ValueError, IndexError, KeyError, TypeError):
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        problem = f"it exited {done.returncode}:\n{last_lines(output)}"
    raise BackendError(
        f"{instance}: cannot find the venv of {pex}: {problem}\n(asked with PEX_INTERPRETER=1 {' '.join(argv[:3])} -c ...; "
        "rebuild the PEX with `./pants package` if it is damaged)"
    )


__all__ = ("VENV_TIMEOUT", "ProcessCommand", "VenvFinder", "child_environment", "instance_command")
