"""Loads a Definitions object from a user module (--module) or file (--file)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from conveyor.definitions import DefinitionError, Definitions


class UserCodeError(Exception):
    """The user code could not be loaded; the message is one line naming the cause."""


def _one_line_cause(exc: BaseException) -> str:
    # The last frame inside user code says where it broke; the exception says why.
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "importlib" not in frame.filename:
            where = f" ({frame.filename}:{frame.lineno})"
            break
    return f"{type(exc).__name__}: {exc}{where}"


def _find_definitions(module: ModuleType, origin: str) -> Definitions:
    for attr in ("defs", "definitions"):
        value = getattr(module, attr, None)
        if isinstance(value, Definitions):
            return value
    found = [v for v in vars(module).values() if isinstance(v, Definitions)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserCodeError(
            f"{origin} defines no Definitions object; add `defs = Definitions(jobs=[...])` to it"
        )
    raise UserCodeError(f"{origin} defines {len(found)} Definitions objects; name the one to serve `defs`")


def load_module(name: str) -> Definitions:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UserCodeError(
                f"cannot import user module {name!r}: no module named {exc.name!r};"
                " check --module and that the module is on PYTHONPATH"
            ) from exc
        raise UserCodeError(f"user module {name!r} failed to import: {_one_line_cause(exc)}") from exc
    except DefinitionError as exc:
        raise UserCodeError(f"user module {name!r} has an invalid definition: {exc}") from exc
    except Exception as exc:
        raise UserCodeError(f"user module {name!r} failed to import: {_one_line_cause(exc)}") from exc
    return _find_definitions(module, f"module {name!r}")


def load_file(path: str) -> Definitions:
    file = Path(path)
    if not file.is_file():
        raise UserCodeError(f"user code file {path!r} does not exist; check --file")
    module_name = f"conveyor_user_code_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise UserCodeError(f"cannot load {path!r} as a Python module; --file needs a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except DefinitionError as exc:
        raise UserCodeError(f"user code file {path!r} has an invalid definition: {exc}") from exc
    except Exception as exc:
        raise UserCodeError(f"user code file {path!r} failed to import: {_one_line_cause(exc)}") from exc
    _pickle_by_value(module)
    return _find_definitions(module, f"file {path!r}")


def _pickle_by_value(module: ModuleType) -> None:
    # Workers cannot import a module loaded from a file path, so its task functions
    # must travel by value to dask workers.
    # cloudpickle comes with distributed (not a direct requirement), hence the string import.
    try:
        cloudpickle = importlib.import_module("cloudpickle")
    except ImportError:  # only the dask executor needs it
        return
    cloudpickle.register_pickle_by_value(module)
