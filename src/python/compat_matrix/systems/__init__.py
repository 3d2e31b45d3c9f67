"""Role catalogs of the systems under test: ``compat_matrix.systems.<name>`` defines ``SYSTEM``.

Adding a system is one new module here; a suite names it with ``system="<name>"``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from compat_matrix.errors import SuiteDeclarationError
from compat_matrix.model import System

# A module name, never a dotted path: a suite cannot make the harness import arbitrary modules.
_SYSTEM_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def known_systems() -> tuple[str, ...]:
    """The names of the systems defined in this package."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def load_system(name: str) -> System:
    """The ``SYSTEM`` of ``compat_matrix.systems.<name>``; unknown names list the known systems."""
    if not isinstance(name, str) or not _SYSTEM_NAME_RE.match(name) or name not in known_systems():
        raise SuiteDeclarationError(
            f"unknown system {name!r}; known systems: {', '.join(known_systems())} "
            f"(a system is a module compat_matrix/systems/<name>.py defining SYSTEM)"
        )
    module = importlib.import_module(f"{__name__}.{name}")
    system = getattr(module, "SYSTEM", None)
    if not isinstance(system, System):
        raise SuiteDeclarationError(f"compat_matrix.systems.{name} defines no SYSTEM of type System")
    return system


__all__ = ("known_systems", "load_system")
