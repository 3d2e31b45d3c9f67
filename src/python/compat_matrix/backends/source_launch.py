"""Running roles without their PEXes: a ``Launcher`` returns, per instance, the argv and
environment to run instead of the version's PEX (``Launch``), or None for the PEX.

``source_launcher`` runs the branch's module commands from a source tree (and releases from
installed directories), for development before PEXes exist; ``module_argv`` runs a module entry
point in this interpreter; ``python_path`` is this process's ``sys.path`` for a child's
``PYTHONPATH``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from compat_core.cell_plan import InstancePlan
from compat_core.model import BRANCH, RoleSpec

# Relative sys.path entries (Pants puts "src/python" there) are relative to this directory.
_STARTUP_CWD = os.getcwd()


@dataclass(frozen=True)
class Launch:
    """How to run one instance instead of its PEX: argv prefix (before role args) and env additions."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


Launcher = Callable[[InstancePlan, RoleSpec], "Launch | None"]

# Runs "pkg.mod:function" (sys.exit with its result) or "pkg.mod" (as __main__) from argv[1].
_RUN_MODULE = (
    "import importlib, runpy, sys\n"
    "target = sys.argv.pop(1)\n"
    "module, _, function = target.partition(':')\n"
    "if function:\n"
    "    sys.exit(getattr(importlib.import_module(module), function)())\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def module_argv(module: str) -> tuple[str, ...]:
    """``python -u`` running a module entry point (``pkg.mod`` or ``pkg.mod:function``) from sys.path."""
    return (sys.executable, "-u", "-c", _RUN_MODULE, module)


def source_launcher(
    source_root: Path | None,
    release_paths: Mapping[str, Path] | None = None,
    inherit_sys_path: bool = True,
) -> Launcher:
    """A development launcher: run roles' module commands from source instead of their PEXes.

    Branch instances import from ``source_root`` (None: leave branch instances to their PEX); a
    release in ``release_paths`` imports from that directory (e.g. ``pip install --target
    DIR <requirements>``). The child's ``PYTHONPATH`` is that directory followed
    (``inherit_sys_path``) by this process's ``sys.path``, so third-party dependencies resolve as
    they do here. Roles whose command is a console script, and other instances, use their PEX.
    """
    inherited = python_path() if inherit_sys_path else []
    roots: dict[str, str] = {}
    if source_root is not None:
        roots[BRANCH] = str(Path(source_root).resolve())
    for version, path in (release_paths or {}).items():
        roots[version] = str(Path(path).resolve())

    def launch(instance: InstancePlan, spec: RoleSpec) -> Launch | None:
        root = roots.get(instance.version)
        if root is None or spec.command.kind != "module":
            return None
        pythonpath = os.pathsep.join([root] + [p for p in inherited if p != root])
        return Launch(module_argv(spec.command.value), {"PYTHONPATH": pythonpath})

    return launch


def python_path() -> list[str]:
    """This process's ``sys.path`` as absolute paths, for a child ``PYTHONPATH``.

    Under Pants, sources come from relative entries (``src/python``) that a child with another
    working directory would not find. They are relative to the directory this module was
    imported in (a test may have changed directory since, e.g. with pytester).
    """
    return [os.path.join(_STARTUP_CWD, p) for p in sys.path if p]


__all__ = ("Launch", "Launcher", "module_argv", "python_path", "source_launcher")
