"""The ``compat_suite`` target type: a system, a topology, its cells, and the test modules run in
every cell. Its fields parse their raw values with ``compat_core`` (``target_types.ModelField``);
checks that need the suite's system run when the suite generates its cells (``generate``).
"""

from __future__ import annotations

import os
from typing import Any

from pants.backend.python.target_types import PythonTestTarget
from pants.engine.addresses import Address
from pants.engine.internals.native_engine import AddressInput
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    Dependencies,
    IntField,
    InvalidTargetException,
    MultipleSourcesField,
    StringField,
    StringSequenceField,
    Tags,
    TargetGenerator,
)
from pants.util.strutil import help_text

from compat_core.contract import BACKENDS
from compat_core.errors import CompatMatrixError
from compat_core.model import Suite
from compat_core.parse import parse_cells, parse_topology, parse_upgrade
from compat_core.upgrade import suite_cells
from compat_core.validate_names import check_name, check_not_reserved
from compat_core.validate_suite import MAX_INSTANCES_PER_ROLE, validate_backends
from compat_plugin.target_types import ModelField, build_location


class CompatSuiteSystemField(StringField):
    alias = "system"
    required = True
    help = "The address of the suite's `compat_system` target, e.g. `src/python/conveyor:conveyor`."


class CompatTopologyField(ModelField):
    alias = "topology"
    required = True
    help = (
        "How many instances of each role the suite starts, in start order: e.g. `{\"scheduler\": 1, \"worker\": 2}`. "
        f"A count is 1 to {MAX_INSTANCES_PER_ROLE} (each instance is a process or container of its own)."
    )

    @classmethod
    def parse(cls, raw_value: Any, where: str) -> Any:
        return parse_topology(raw_value, where)


class CompatCellsField(ModelField):
    alias = "cells"
    # Required unless the suite has an upgrade path (compat_core.validate.validate_suite says so).
    default = ()
    help = help_text(
        """
        The cells: a list of `compat_cell(name, {role: version})`, a version being `branch`,
        `earliest`, `latest` or a pinned release as `releases` spells it (e.g. `5.15`); roles not
        named run `branch`. A cell's name is a
        tag of its tests (`pants --tag=<cell> test ::`). A list, so that a repeated name is an error.
        A suite with an `upgrade` path may have no other cells.

        Example: `cells=[compat_cell("server-latest", {"server": "latest"}), compat_cell("all-branch")]`
        """
    )

    @classmethod
    def parse(cls, raw_value: Any, where: str) -> Any:
        return parse_cells(raw_value, where)


class CompatUpgradeField(ModelField):
    alias = "upgrade"
    default = None
    help = help_text(
        """
        An upgrade path, run in a cell of its own named after it:
        `compat_upgrade(name, start="earliest", to="branch", order=[roles...], rollback={role: version},
        restart_after={role: [roles...]}, faults=[compat_fault(kind, role=..., after=..., seconds=...)],
        seed=N, one_at_a_time=True)`. Every instance starts on `start`; the instances of each role in
        `order` are replaced by `to` one at a time (same name and address), then `rollback` moves
        roles back; faults (kill, pause, partition, restart) land after a step of their `after` role.
        The seed draws the order of a role's instances and where faults land: the same seed gives the
        same plan (`pants compat-plan` prints it step by step); `COMPAT_MATRIX_SEED=N` plans another.
        The cell's tests depend on every artifact the path visits.

        Example:

            upgrade=compat_upgrade(
                "rolling", start="earliest", to="branch",
                order=["worker", "scheduler", "user-code", "server"],
                rollback={"server": "latest"},
                restart_after={"scheduler": ["worker"]},
                faults=[compat_fault("kill", role="worker", after="worker")],
                seed=1,
            )
        """
    )

    @classmethod
    def parse(cls, raw_value: Any, where: str) -> Any:
        return parse_upgrade(raw_value, where)


class CompatBackendsField(StringSequenceField):
    alias = "backends"
    default = BACKENDS
    help = f"The backends every cell runs on: any of {', '.join(BACKENDS)} (one test target per cell and backend)."


class CompatFullMatrixField(BoolField):
    alias = "full_matrix"
    default = False
    help = "With `COMPAT_MATRIX_FULL=1`, add a cell for every combination of versions over the topology's roles."


class CompatSuiteSourcesField(MultipleSourcesField):
    default = ("test_*.py",)
    expected_file_extensions = (".py",)
    help = "The test modules run in every cell (globs relative to the BUILD file)."


class CompatSuiteDependenciesField(Dependencies):
    help = "Extra dependencies of every generated cell test (the cell's artifacts are added by the suite)."


class CompatSuiteTimeoutField(IntField):
    alias = "timeout"
    default = 900
    help = "Timeout of each cell test, in seconds (it only stops a hang)."


class CompatSuiteResolveField(StringField):
    alias = "resolve"
    help = help_text(
        """
        The resolve every cell test of the suite runs in (default `[python].default_resolve`,
        `python-default` here). A product whose tests import a client library of their own
        gives its suite a resolve of its own, so that the default resolve, and every other
        suite's tests, stay as they are: declare it in `[python.resolves]`, make the harness
        available in it (this repo: `PRODUCT_TEST_RESOLVES` in `3rdparty/python/test_resolves.py`),
        declare the client there (`python_requirement(..., resolve=...)`), give the suite's
        `python_test_utils` (its conftest) the same resolve, and run
        `pants generate-lockfiles --resolve=<it>`.

        Example: `resolve="pyro5-tests"`
        """
    )


class CompatSuiteTarget(TargetGenerator):
    alias = "compat_suite"
    help = help_text(
        """
        A suite: a system, a topology, its cells and the test modules run in every cell. It
        generates one `python_test` per cell, backend (and test module), tagged with the cell, the
        suite, the system, the backend and `matrix`, whose runtime dependencies are exactly the
        cell's PEXes (process backend) or images (docker backend), and whose environment carries
        the planned cell (`COMPAT_MATRIX_CELL`) for the harness.

        Example:

            compat_suite(
                name="backcompat",
                system="src/python/conveyor:conveyor",
                topology={"server": 1, "user-code": 1},
                cells=[compat_cell("server-latest", {"server": "latest"}),
                       compat_cell("user-code-earliest", {"user-code": "earliest"})],
                backends=["process", "docker"],
            )
        """
    )
    generated_target_cls = PythonTestTarget
    core_fields = (
        *COMMON_TARGET_FIELDS,
        CompatSuiteSystemField,
        CompatTopologyField,
        CompatCellsField,
        CompatUpgradeField,
        CompatBackendsField,
        CompatFullMatrixField,
        CompatSuiteSourcesField,
        CompatSuiteTimeoutField,
        CompatSuiteResolveField,
    )
    copied_fields = ()
    moved_fields = (CompatSuiteDependenciesField,)

    def validate(self) -> None:
        suite = suite_of(self)
        try:
            where = f"{build_location(self.address)}"
            check_name("suite", suite.name, where)
            check_not_reserved("suite", suite.name, (), where)
            validate_backends(suite)
            # What this BUILD file shows: the suite's name, its system's (the target name of its
            # address) and its tags. Other suites and systems: compat_plugin.repo.
            taken = (suite.name, _system_name(self[CompatSuiteSystemField].value or "", self.address), *(self[Tags].value or ()))
            for cell in suite_cells(suite):
                check_name("cell", cell.name, f"{where}, suite {suite.name!r}")
                check_not_reserved("cell", cell.name, taken, f"{where}, cell {cell.name!r}")
            if not suite_cells(suite):
                raise InvalidTargetException(
                    f"{where}: no cells; give cells=[compat_cell(...), ...] or an upgrade path, upgrade=compat_upgrade(...)"
                )
        except CompatMatrixError as exc:
            raise InvalidTargetException(f"{build_location(self.address)}: {exc}") from None


def _system_name(spec: str, address: Address) -> str:
    """The name of the system ``spec`` (a suite's `system` field) names: its address's target name."""
    try:
        parsed = AddressInput.parse(spec, relative_to=address.spec_path, description_of_origin=f"the `system` field of {address}")
    except Exception:
        return ""  # a malformed address fails when the suite resolves it, naming it
    return parsed.target_component or os.path.basename(parsed.path_component.rstrip("/"))


def suite_of(target: Any) -> Suite:
    """The ``Suite`` a ``compat_suite`` target declares (its name is the target's name)."""
    return Suite(
        name=target.address.target_name,
        topology=target[CompatTopologyField].value,
        cells=tuple(target[CompatCellsField].value or ()),
        modules=tuple(target[CompatSuiteSourcesField].value or ()),
        system=target[CompatSuiteSystemField].value,
        backends=tuple(target[CompatBackendsField].value or ()),
        full_matrix=bool(target[CompatFullMatrixField].value),
        upgrade=target[CompatUpgradeField].value,
    )
