"""The ``compat_system`` target type, and what every compat target type shares (``ModelField``).

Every field hands its raw BUILD value to ``compat_core.declare`` and every target checks itself
with ``compat_core.validate`` when it is constructed (``compat_suite``: ``suite_target``), so a mistake fails while Pants parses the
BUILD file, naming the target and the value. Checks that need another target (a suite's system)
run when the suite generates its cells (``compat_plugin.generate``).
"""

from __future__ import annotations

from typing import Any

from pants.backend.python.target_types import PexBinary
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    DictStringToStringField,
    Field,
    InvalidFieldException,
    InvalidTargetException,
    StringField,
    StringSequenceField,
    TargetGenerator,
)
from pants.util.strutil import help_text

from compat_core.contract import DEFAULT_RELEASE_INDEX, PIN_COMMAND
from compat_core.declare import DEPENDS_ON_AND_REQUIRES
from compat_core.errors import CompatMatrixError
from compat_core.model import System
from compat_core.parse import parse_releases, parse_roles
from compat_core.support import parse_support
from compat_core.validate import validate_system


def build_location(address: Address) -> str:
    """A target as errors name it: its BUILD file and address."""
    return f"{address.spec_path or '.'}/BUILD, target {address}"


class ModelField(Field):
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
            return cls.parse(value, f"{build_location(address)}, field {cls.alias}")
        except CompatMatrixError as exc:
            raise InvalidFieldException(str(exc)) from None


# --- compat_system -------------------------------------------------------------------------------


class CompatRolesField(ModelField):
    alias = "roles"
    required = True
    help = help_text(
        """
        The system's roles: a list of `compat_role(name, script=... | module=..., args=[...],
        ports=[...], readiness=<probe>, env={...}, files={...}, depends_on=[...], requires=[...],
        args_if_present={...}, log_files=[...], cpus=..., memory=..., branch_sources=[...])`.

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
                            branch_sources=["src/python/conveyor/server"]),
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
                f"{build_location(address)}: releases={value!r} must be a list of versions or a dict version -> requirements"
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
                parse_support(value, f"{build_location(address)}, field {cls.alias}")
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
            raise InvalidTargetException(f"{build_location(self.address)}: {exc}") from None


def system_of(target: Any) -> System:
    """The ``System`` a ``compat_system`` target declares (its name is the target's name)."""
    name = target.address.target_name
    where = f"{build_location(target.address)}"
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
