"""The compat-matrix pytest plugin's options, and the cells they (or the environment) name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from compat_core.cell_plan import CellPlan
from compat_core.codec import cell_from_json
from compat_core.contract import CELL_ENV
from compat_core.errors import SuiteDeclarationError
from compat_core.settings import Settings
from compat_matrix.backends.registry import BACKENDS
from compat_matrix.workspace import cells_from_plan_file


def add_options(parser: pytest.Parser) -> None:
    """Register the ``--compat-*`` options (once: a second registration is ignored)."""
    group = parser.getgroup("compat-matrix", "compat-matrix: run suites in every cell of the matrix")
    try:
        group.addoption(
            "--compat-backend",
            choices=sorted(BACKENDS),
            default=None,
            help="backend that starts the cells (default: $COMPAT_MATRIX_BACKEND, else process)",
        )
        group.addoption(
            "--compat-plan",
            default=None,
            metavar="FILE",
            help="run every cell of this plan (`./pants compat-plan --json <suite or cell target> > FILE`) "
            "instead of $COMPAT_MATRIX_CELL",
        )
        group.addoption(
            "--compat-keep",
            action="store_true",
            default=False,
            help="leave every deployment running and print its endpoints; tear down with `compat-matrix down`",
        )
        group.addoption(
            "--compat-artifacts",
            default=None,
            metavar="DIR",
            help="where the cells' PEXes / docker-info files are (default: the Pants sandbox, else <repo>/dist)",
        )
        group.addoption(
            "--compat-from-source",
            nargs="?",
            const="",
            default=None,
            metavar="SOURCE_ROOT",
            help="process backend, for development: run branch roles' module commands from "
            "SOURCE_ROOT (default <repo>/src/python) instead of their PEXes",
        )
        group.addoption(
            "--compat-release-path",
            action="append",
            default=[],
            metavar="VERSION=DIR",
            help="process backend, for development: run release VERSION (as pinned, e.g. 5.15) from DIR (its package installed "
            "with `pip install --no-deps --target DIR`) instead of its PEX; repeatable",
        )
    except ValueError:
        pass  # registered twice


def option(config: pytest.Config, name: str) -> Any:
    # getoption with a default: the options are missing when the conftest was not an initial one.
    return config.getoption(name, default=None)


def cells_to_run(config: pytest.Config) -> list[CellPlan]:
    """The cells to run: ``--compat-plan FILE``, else ``COMPAT_MATRIX_CELL``; none is an error."""
    plan_file = option(config, "compat_plan")
    text = Settings.from_env(os.environ).cell
    if plan_file:
        return list(cells_from_plan_file(Path(str(plan_file))))
    if text:
        return [cell_from_json(text, CELL_ENV)]
    raise SuiteDeclarationError(
        f"no compat-matrix cell to run: run the suite under Pants (`./pants test <suite>::` sets "
        f"{CELL_ENV}) or pass --compat-plan FILE (`./pants compat-plan --json <suite target> > FILE`)"
    )


__all__ = ("add_options", "cells_to_run", "option")
