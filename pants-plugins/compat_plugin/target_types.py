"""The ``compat_system`` and ``compat_suite`` target types.

Every field hands its raw BUILD value to ``compat_core.declare`` and every target checks itself
with ``compat_core.validate`` when it is constructed, so a mistake fails while Pants parses the
BUILD file, naming the target and the value. Checks that need another target (a suite's system)
run when the suite generates its cells (``compat_plugin.generate``).
"""

from __future__ import annotations

import os
from typing import Any

from pants.backend.python.target_types import PexBinary, PythonTestTarget
from pants.engine.addresses import Address
from pants.engine.internals.native_engine import AddressInput
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    Dependencies,
    DictStringToStringField,
    Field,
    IntField,
    InvalidFieldException,
    InvalidTargetException,
    MultipleSourcesField,
    StringField,
    StringSequenceField,
    Tags,
    TargetGenerator,
)
from pants.util.strutil import help_text

from compat_core.contract import BACKENDS, DEFAULT_RELEASE_INDEX, PIN_COMMAND
from compat_core.declare import (
    DEPENDS_ON_AND_REQUIRES,
    parse_cells,
    parse_releases,
    parse_roles,
    parse_topology,
    parse_upgrade,
)
from compat_core.errors import CompatMatrixError
from compat_core.model import Suite, System
from compat_core.support import parse_support
from compat_core.upgrade import suite_cells
from compat_core.validate import validate_system
from compat_core.validate_names import check_name, check_not_reserved
from compat_core.validate_suite import MAX_INSTANCES_PER_ROLE, validate_backends


def _where(address: Address) -> str:
    return f"{address.spec_path or '.'}/BUILD, target {address}"


class _ModelField(Field):
    """A field whose raw value is parsed by ``compat_core`` (errors name the target and the value)."""

    parse_what = ""

    @classmethod
    def parse(cls, raw_value: Any, where: str) -> Any:
        raise NotImplementedError

    @classmethod
    def compute_value(cls, raw_value: Any | None, address: Address) -> Any:
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        try:
            return cls.parse(value, f"{_where(address)}, field {cls.alias}")
        except CompatMatrixError as exc:
            raise InvalidFieldException(str(exc)) from None


# --- compat_system -------------------------------------------------------------------------------


class CompatRolesField(_ModelField):
    alias = "roles"
    required = True
    help = help_text(
        """
        The system's roles: a list of `compat_role(name, script=... | module=..., args=[...],
        ports=[...], readiness=<probe>, env={...}, files={...}, depends_on=[...], requires=[...],
        args_if_present={...}, log_files=[...], cpus=..., memory=..., branch=[...])`.

        `script` is a console script of the version's environment (e.g. `dagster-webserver`),
        `module` an entry point (`pkg.mod:function`). `args`, `env` values and `files` (path ->
        content, written before the instance starts) are templates: `{host}` (the address to
        bind: 0.0.0.0 in a container), `{advertised_host}` (the host its peers reach the instance
        at, for what it registers or advertises: its name on docker, 127.0.0.1 on the process
        backend), `{port[NAME]}`, `{name}`, `{index}`, `{data_dir}`, `{shared_dir}` (shared
        by every instance of the deployment), `{address[ROLE]}` (host:port of ROLE's first port)
        and `{peers[ROLE][I].host}` / `{peers[ROLE][I].port[NAME]}`. `readiness` is one of
        `http_probe(port, path)`, `grpc_health_probe(port, service)`, `tcp_probe(port)`,
        `log_probe(regex)` or `command_probe([module, *args])`; a role with no port is ready by a
        log or command probe. `branch` lists the addresses of the role's branch code.
        `depends_on` is start order, `requires` what a suite must run with the role (below).

        `cpus` and `memory` (e.g. `"512m"`, `"2g"`) are container limits, applied by the docker
        backend. A process has no honest memory limit, so a suite that runs a role with `memory` on
        the process backend is an error: run that suite on docker only (`backends=["docker"]`).

        Example:

            roles=[
                compat_role("server", module="conveyor.cli:main", ports=["http"],
                            args=["server", "--host", "{host}", "--port", "{port[http]}"],
                            readiness=http_probe("http", "/health"),
                            branch=["src/python/conveyor/server"]),
            ]
        """
    ) + "\n\n" + help_text(DEPENDS_ON_AND_REQUIRES)

    @classmethod
    def parse(cls, raw_value: Any, where: str) -> Any:
        return parse_roles(raw_value, where)


class CompatReleasesField(Field):
    alias = "releases"
    required = True
    help = help_text(
        """
        The pinned releases: a list of versions `["0.1.0", "0.2.0"]`, each installed by
        `release_requirements`, or a dict version -> requirements
        (`{"1.9.0": ["dagster==1.9.0", "dagster-webserver==1.9.0"]}`). Each release needs a resolve
        (`<system>-<version>` unless `release_resolves` says otherwise) in `[python.resolves]` and
        its lockfile: `pants generate-lockfiles --resolve=<system>-<version>`.
        `compat-matrix releases pin <this target> <version>` does all three for a list.

        A version is written as the package index names it: a PEP 440 final or post-release in its
        normalized form (`5.15`, `2.0`, `1.13.28`, `1.4.post1`), used verbatim in the resolve, the
        artifacts, the image tags and the cells (`5.15`, never `5.15.0`), and ordered by PEP 440
        (`latest` is the newest). One version is pinned once: `5.15` and `5.15.0` are the same.
        Pre-releases and dev releases (`1.0rc1`, `1.0.dev0`), epochs (`1!2.0`) and local
        versions (`1.0+local`) are refused.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Any | None, address: Address) -> Any:
        value = super().compute_value(raw_value, address)
        if isinstance(value, dict):
            return tuple((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in value.items())
        if isinstance(value, list):
            return tuple(value)
        if not isinstance(value, tuple):
            raise InvalidFieldException(
                f"{_where(address)}: releases={value!r} must be a list of versions or a dict version -> requirements"
            )
        return value


class CompatEarliestField(StringField):
    alias = "earliest"
    required = True
    help = help_text(
        """
        The oldest release kept compatible: what `earliest` means in cells. `EARLIEST_TESTED_RELEASE_<SYSTEM>`
        (e.g. `EARLIEST_TESTED_RELEASE_CONVEYOR`) moves it for this system; `EARLIEST_TESTED_RELEASE`
        moves it for every system that pins the given release. Where the system declares
        `support`, `releases pin` writes it.
        """
    )


class CompatSupportField(StringField):
    alias = "support"
    help = help_text(
        f"""
        A support policy, instead of moving `earliest` by hand: `"last N minor"` (the newest release
        of each of the last N minor series) or `"N months"` (every release published in the last N
        months). Planning and tests never read the index: `{PIN_COMMAND} <this target>` evaluates
        the policy against the package index and writes its result into this declaration
        (`earliest`, and `releases` without the releases older than it, whose resolves and lockfiles
        go too); `releases check` says when the index has moved on.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: str | None, address: Address) -> str | None:
        value = super().compute_value(raw_value, address)
        if value is not None:
            try:
                parse_support(value, f"{_where(address)}, field {cls.alias}")
            except CompatMatrixError as exc:
                raise InvalidFieldException(str(exc)) from None
        return value


class CompatReleaseRequirementsField(StringSequenceField):
    alias = "release_requirements"
    help = "Requirements that install a release listed in `releases`, as templates with `{version}` and `{system}` (default `[\"{system}=={version}\"]`)."


class CompatReleaseResolvesField(DictStringToStringField):
    alias = "release_resolves"
    help = "Version -> the resolve its PEX is built from (default `<system>-<version>`)."


class CompatPackageField(StringField):
    alias = "package"
    help = "The distribution `compat-matrix releases check` and `releases pin` look for in `release_index` (default: the system's name)."


class CompatReleaseIndexField(StringField):
    alias = "release_index"
    help = help_text(
        """
        Where the releases come from, for `releases check` and `releases pin`: a find-links
        directory relative to the repo root (which must also be in `[python-repos].find_links`) or
        a simple index URL (default: PyPI).
        """
    )
    default = DEFAULT_RELEASE_INDEX


class CompatBranchResolveField(StringField):
    alias = "branch_resolve"
    default = "python-default"
    help = "The resolve every branch PEX is built from."


class CompatBranchReleaseField(StringField):
    alias = "branch_release"
    help = help_text(
        """
        A pinned release that plays `branch`, for a product whose source is not in this repo: its
        artifacts run wherever a cell says `branch`, and roles need no `branch` addresses.
        """
    )


class CompatReleaseDependenciesField(StringSequenceField):
    alias = "release_dependencies"
    help = help_text(
        """
        In-repo targets shipped inside every release PEX (and a `branch_release`'s): adapters, test
        user code. They have no resolve of their own (use `resources`), since each release PEX
        is built from its own resolve.
        """
    )


class CompatSystemTarget(TargetGenerator):
    alias = "compat_system"
    help = help_text(
        """
        A product under test, declared once beside its code: its roles, where each role's branch
        code lives, and its pinned releases. It generates, for the branch, one `pex_binary` of the
        third-party requirements its roles import (`#pex-branch`, through `#requirements-branch`,
        whose dependencies are inferred from the roles' code, so that an edit of one role's code
        is a dependency only of the cells that run that role on the branch) and per role a target of that
        role's first-party sources only (`#src-branch-<role>`, a directory: an edit rebuilds only
        it), a `pex_binary` per release, a `docker_image` per role and
        version, and a `python_requirement` per release in the release's resolve. The target's
        name is the system's name, used in every artifact and image name
        (`compat-matrix/<system>/<role>:<version>`). Suites name it in `compat_suite(system=...)`.
        """
    )
    # Generates several types (pex_binary, docker_image, python_requirement); Pants reads this one
    # only for generators of one type.
    generated_target_cls = PexBinary
    core_fields = (
        *COMMON_TARGET_FIELDS,
        CompatRolesField,
        CompatReleasesField,
        CompatEarliestField,
        CompatSupportField,
        CompatReleaseRequirementsField,
        CompatReleaseResolvesField,
        CompatPackageField,
        CompatReleaseIndexField,
        CompatBranchResolveField,
        CompatBranchReleaseField,
        CompatReleaseDependenciesField,
    )
    copied_fields = ()
    moved_fields = ()

    def validate(self) -> None:
        try:
            validate_system(system_of(self))
        except CompatMatrixError as exc:
            raise InvalidTargetException(f"{_where(self.address)}: {exc}") from None


def system_of(target: Any) -> System:
    """The ``System`` a ``compat_system`` target declares (its name is the target's name)."""
    name = target.address.target_name
    where = f"{_where(target.address)}"
    releases = parse_releases(
        name,
        _releases_raw(target[CompatReleasesField].value),
        target[CompatEarliestField].value,
        requirements=target[CompatReleaseRequirementsField].value,
        resolves=dict(target[CompatReleaseResolvesField].value or {}),
        package=target[CompatPackageField].value,
        index=target[CompatReleaseIndexField].value or "",
        where=where,
        branch_release=target[CompatBranchReleaseField].value or "",
    )
    return System(
        name=name,
        role_specs=target[CompatRolesField].value,
        releases=releases,
        branch_resolve=target[CompatBranchResolveField].value or "python-default",
        branch_release=target[CompatBranchReleaseField].value or "",
        release_dependencies=tuple(target[CompatReleaseDependenciesField].value or ()),
    )


def _releases_raw(value: Any) -> Any:
    if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in value}
    return list(value or ())


# --- compat_suite --------------------------------------------------------------------------------


class CompatSuiteSystemField(StringField):
    alias = "system"
    required = True
    help = "The address of the suite's `compat_system` target, e.g. `src/python/conveyor:conveyor`."


class CompatTopologyField(_ModelField):
    alias = "topology"
    required = True
    help = (
        "How many instances of each role the suite starts, in start order: e.g. `{\"scheduler\": 1, \"worker\": 2}`. "
        f"A count is 1 to {MAX_INSTANCES_PER_ROLE} (each instance is a process or container of its own)."
    )

    @classmethod
    def parse(cls, raw_value: Any, where: str) -> Any:
        return parse_topology(raw_value, where)


class CompatCellsField(_ModelField):
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


class CompatUpgradeField(_ModelField):
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
            where = f"{_where(self.address)}"
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
            raise InvalidTargetException(f"{_where(self.address)}: {exc}") from None


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
