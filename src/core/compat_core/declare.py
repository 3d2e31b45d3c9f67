"""The declaration vocabulary of BUILD files: roles, probes, cells, faults and upgrade paths.

Pure and CPython 3.9-compatible. The Pants plugin exposes ``compat_role``, the probes and
``compat_cell`` to BUILD files (``compat_core.build_objects``), and its fields turn raw values into
the model (``compat_core.parse``), so a mistake fails while Pants parses the BUILD file with a
message naming the value and the fix. Tests build
systems and suites with the same functions.

Example (a system beside its code, a suite beside its tests)::

    compat_system(
        name="conveyor",
        roles=[
            compat_role("server", module="conveyor.cli:main", ports=["http"],
                        args=["server", "--host", "{host}", "--port", "{port[http]}"],
                        readiness=http_probe("http", "/health"),
                        branch_sources=["src/python/conveyor/server"]),
        ],
        releases=["0.1.0", "0.2.0"],
        earliest="0.1.0",
    )
    compat_suite(name="backcompat", system="src/python/conveyor:conveyor",
                 topology={"server": 1}, cells=[compat_cell("server-latest", {"server": "latest"})])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from compat_core.errors import SuiteDeclarationError
from compat_core.model import (
    BRANCH,
    EARLIEST,
    FAULT_KINDS,
    CellSpec,
    Command,
    FaultSpec,
    Probe,
    RoleSpec,
    UpgradeSpec,
)
from compat_core.parse import string_map, strings

DEPENDS_ON_AND_REQUIRES = """\
`depends_on` and `requires` answer two questions, and a role often needs both:

- `depends_on=[ROLE, ...]` is start order: the role's instances start once every instance of
those roles is ready. It applies where the suite's topology runs them; a topology without them
starts the role anyway.

- `requires=[ROLE, ...]` is the topology: a suite that runs the role without one of those roles
is an error when Pants reads its BUILD file. It orders nothing.

- A role whose `args`, `env` or `files` name another role (`{address[ROLE]}`, `{peers[ROLE]...}`)
requires it (or names it only in `args_if_present`, which applies where that role runs), and
depends on it, so that it starts after it whatever order the topology lists them in.

Example: the server connects to the code server as it starts and is useless without one, so it
has both; the code server uses a dask scheduler only where the suite runs one: it waits for it
there, and a suite without a scheduler is still valid.

    compat_role("server", ..., args=["--code-server", "{address[user-code]}"],
                depends_on=["user-code"], requires=["user-code"]),
    compat_role("user-code", ..., depends_on=["scheduler"], args_if_present={
        "scheduler": ["--dask-scheduler", "tcp://{address[scheduler]}"],
    }),
"""
"""What ``depends_on`` and ``requires`` of a ``compat_role`` mean: the one text, shown by
``./pants help compat_system`` (the plugin's ``roles`` field)."""


RENAMED_ROLE_ARGUMENTS = {"branch": "branch_sources"}
"""Names ``compat_role`` does not take -> the name to write instead (their meaning's name)."""


def reject_unknown(where: str, unknown: Mapping[str, Any], renamed: Mapping[str, str], function: Callable[..., Any]) -> None:
    """Fail on an argument ``function`` does not take, naming the one to write when it was renamed.

    A declaration function takes ``**unknown`` only to call this: Python's own ``TypeError``
    (an unexpected keyword argument) names neither the new name nor what the function takes.
    """
    for key in unknown:
        if key in renamed:
            raise SuiteDeclarationError(f"{where}: there is no argument {key}=; write {renamed[key]}=[...] instead")
    if unknown:
        takes = [
            p.name for p in inspect.signature(function).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        raise SuiteDeclarationError(
            f"{where}: unknown argument(s) {', '.join(sorted(unknown))}; it takes {', '.join(takes)}"
        )


def _probe(kind: str, port: str = "", **fields: Any) -> Probe:
    where = f"{kind} probe"
    if not isinstance(port, str):
        raise SuiteDeclarationError(f"{where}: port={port!r} must be the name of one of the role's ports")
    for key in ("timeout", "interval"):
        value = fields.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise SuiteDeclarationError(f"{where}: {key}={value!r} must be a number of seconds > 0")
    return Probe(kind=kind, port=port, **{k: v for k, v in fields.items() if v is not None})


def http_probe(port: str, path: str = "/", timeout: float | None = None, interval: float | None = None) -> Probe:
    """Ready when GET ``path`` on ``port`` answers 2xx."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise SuiteDeclarationError(f"http probe: path={path!r} must start with '/', e.g. \"/health\"")
    return _probe("http", port, path=path, timeout=timeout, interval=interval)


def grpc_health_probe(
    port: str, service: str = "", timeout: float | None = None, interval: float | None = None
) -> Probe:
    """Ready when grpc.health.v1 ``Check(service)`` on ``port`` answers SERVING ('' = the server)."""
    if not isinstance(service, str):
        raise SuiteDeclarationError(f"grpc-health probe: service={service!r} must be a string")
    return _probe("grpc-health", port, service=service, timeout=timeout, interval=interval)


def tcp_probe(port: str, timeout: float | None = None, interval: float | None = None) -> Probe:
    """Ready when ``port`` accepts a TCP connection."""
    return _probe("tcp", port, timeout=timeout, interval=interval)


def log_probe(pattern: str, timeout: float | None = None, interval: float | None = None) -> Probe:
    """Ready when a line of the instance's output matches the regex ``pattern``."""
    if not isinstance(pattern, str) or not pattern:
        raise SuiteDeclarationError(f"log probe: pattern={pattern!r} must be a non-empty regex")
    return _probe("log", pattern=pattern, timeout=timeout, interval=interval)


def command_probe(args: Sequence[str], timeout: float | None = None, interval: float | None = None) -> Probe:
    """Ready when the instance's own environment runs ``python -m <args>`` with exit status 0.

    ``args`` are templates like a role's args (``{peers[...]}``, ``{shared_dir}``, ...); the first is
    a module (``pkg.mod`` or ``pkg.mod:function``) run with the version's interpreter and packages.
    """
    return _probe("command", args=strings(args, "args", "command probe"), timeout=timeout, interval=interval)


def compat_role(
    name: str,
    *,
    script: str | None = None,
    module: str | None = None,
    readiness: Probe | None = None,
    args: Sequence[str] = (),
    ports: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    depends_on: Sequence[str] = (),
    requires: Sequence[str] = (),
    args_if_present: Mapping[str, Sequence[str]] | None = None,
    log_files: Sequence[str] = (),
    cpus: float | None = None,
    memory: str | None = None,
    branch_sources: Sequence[str] = (),
    **unknown: Any,
) -> RoleSpec:
    """One role of a ``compat_system``: what it runs, its ports, how it is ready, what it needs.

    ``script`` (a console script of the version's environment) or ``module`` (``pkg.mod`` or
    ``pkg.mod:function``) is the command; ``args``, ``env`` values and ``files`` (path -> content,
    written before start) are templates (see ``compat_core.model.RoleSpec``). ``depends_on`` is
    start order, ``requires`` what a topology must run with the role (``DEPENDS_ON_AND_REQUIRES``).
    ``branch_sources`` are the build addresses of the role's code on the branch.
    """
    where = f"compat_role({name!r})"
    reject_unknown(where, unknown, RENAMED_ROLE_ARGUMENTS, compat_role)
    if not isinstance(name, str):
        raise SuiteDeclarationError(f"compat_role: name={name!r} must be a string, e.g. \"server\"")
    if (script is None) == (module is None):
        raise SuiteDeclarationError(
            f"{where}: give exactly one of script=\"console-script\" or module=\"pkg.mod:function\" "
            f"(got script={script!r}, module={module!r})"
        )
    kind, value = ("script", script) if script is not None else ("module", module)
    if not isinstance(value, str) or not value.strip():
        raise SuiteDeclarationError(
            f"{where}: {kind}={value!r} must be a non-empty string, e.g. "
            + ('script="dagster-webserver"' if kind == "script" else 'module="pkg.cli:main"')
        )
    command = Command(kind, value)
    if readiness is None:
        raise SuiteDeclarationError(
            f"{where}: no readiness; give readiness=http_probe(...), grpc_health_probe(...), tcp_probe(...), "
            f"log_probe(...) or command_probe(...)"
        )
    if not isinstance(readiness, Probe):
        raise SuiteDeclarationError(f"{where}: readiness={readiness!r} must be one of the *_probe(...) objects")
    present: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if args_if_present is not None:
        if not isinstance(args_if_present, Mapping):
            raise SuiteDeclarationError(f"{where}: args_if_present must be a dict of role -> list of args")
        present = tuple((role, strings(extra, f"args_if_present[{role!r}]", where)) for role, extra in args_if_present.items())
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, (int, float))):
        raise SuiteDeclarationError(f"{where}: cpus={cpus!r} must be a number, e.g. 0.5")
    return RoleSpec(
        name=name,
        command=command,
        readiness=readiness,
        args=strings(args, "args", where),
        ports=strings(ports, "ports", where),
        env=string_map(env or {}, "env", where),
        files=string_map(files or {}, "files", where),
        depends_on=strings(depends_on, "depends_on", where),
        requires=strings(requires, "requires", where),
        args_if_present=present,
        log_files=strings(log_files, "log_files", where),
        cpus=None if cpus is None else float(cpus),
        memory=memory,
        branch_sources=strings(branch_sources, "branch_sources", where),
    )


def compat_cell(name: str, versions: Mapping[str, str] | None = None) -> CellSpec:
    """One cell of a ``compat_suite``: its name and the version of each role not on ``branch``."""
    if not isinstance(name, str):
        raise SuiteDeclarationError(f"compat_cell: name={name!r} must be a string, e.g. \"server-latest\"")
    versions = {} if versions is None else versions
    if not isinstance(versions, Mapping) or not all(isinstance(k, str) for k in versions):
        raise SuiteDeclarationError(
            f"compat_cell({name!r}): versions={versions!r} must be a dict of role -> version, "
            f"e.g. {{\"server\": \"latest\"}}"
        )
    for role, version in versions.items():
        if not isinstance(version, str):
            raise SuiteDeclarationError(
                f"compat_cell({name!r}): role {role!r} has the version {version!r}, which is not a string; "
                f"write 'branch', 'earliest', 'latest' or a release in quotes, e.g. \"0.1.0\""
            )
    return CellSpec(name=name, versions=tuple(versions.items()))


def compat_fault(kind: str, role: str, after: str = "", seconds: float = 2.0) -> FaultSpec:
    """A fault of a ``compat_upgrade`` path: ``kind`` (kill, pause, partition, restart) injected into
    an instance of ``role`` right after one of the steps of the role ``after`` (any step when
    empty); the instance and the step are drawn with the path's seed. It lasts ``seconds``, then
    the instance is recovered (started again, resumed, reconnected)."""
    where = f"compat_fault({kind!r})"
    if kind not in FAULT_KINDS:
        raise SuiteDeclarationError(
            f"compat_fault: kind={kind!r} is not one of {', '.join(FAULT_KINDS)}, e.g. compat_fault(\"kill\", role=\"worker\")"
        )
    for name, value in (("role", role), ("after", after)):
        if not isinstance(value, str):
            raise SuiteDeclarationError(f"{where}: {name}={value!r} must be a role name, e.g. \"worker\"")
    if not role:
        raise SuiteDeclarationError(f"{where}: give the role whose instance gets the fault, e.g. role=\"worker\"")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 600:
        raise SuiteDeclarationError(f"{where}: seconds={seconds!r} must be a number of seconds in (0, 600]")
    return FaultSpec(kind=kind, role=role, after=after, seconds=float(seconds))


def compat_upgrade(
    name: str,
    *,
    order: Sequence[str],
    start: str = EARLIEST,
    to: str = BRANCH,
    rollback: Mapping[str, str] | None = None,
    restart_after: Mapping[str, Sequence[str]] | None = None,
    faults: Sequence[FaultSpec] = (),
    seed: int = 0,
    one_at_a_time: bool = True,
) -> UpgradeSpec:
    """An upgrade path of a ``compat_suite`` (its ``upgrade`` field), run in a cell named ``name``.

    Every instance starts on ``start``; the instances of each role in ``order`` are replaced by
    ``to`` (one at a time, in an order drawn with ``seed``; all of a role's at once when
    ``one_at_a_time=False``); then each role in ``rollback`` goes back to its version (e.g.
    ``{"server": "latest"}``). ``faults`` are ``compat_fault(...)`` steps placed with ``seed``.
    ``restart_after={"scheduler": ["worker"]}`` starts the workers again after the scheduler
    stopped (they exit without it). The same seed gives the same plan;
    ``COMPAT_MATRIX_SEED=N`` plans with another.
    """
    where = f"compat_upgrade({name!r})"
    if not isinstance(name, str):
        raise SuiteDeclarationError(f"compat_upgrade: name={name!r} must be a string (the cell's name), e.g. \"rolling\"")
    for field_name, value in (("start", start), ("to", to)):
        if not isinstance(value, str):
            raise SuiteDeclarationError(
                f"{where}: {field_name}={value!r} must be a version string: 'branch', 'earliest', 'latest' or a release, e.g. \"5.15\""
            )
    ordered = strings(order, "order", where)
    if not ordered:
        raise SuiteDeclarationError(f"{where}: order is empty; list the roles to upgrade, e.g. order=[\"worker\", \"server\"]")
    back = string_map(rollback or {}, "rollback", where)
    if restart_after is not None and not isinstance(restart_after, Mapping):
        raise SuiteDeclarationError(f"{where}: restart_after must be a dict of role -> list of roles")
    restarts = tuple(
        (role, strings(others, f"restart_after[{role!r}]", where)) for role, others in (restart_after or {}).items()
    )
    if isinstance(faults, (str, FaultSpec)) or not isinstance(faults, (list, tuple)) or not all(
        isinstance(f, FaultSpec) for f in faults
    ):
        raise SuiteDeclarationError(f"{where}: faults={faults!r} must be a list of compat_fault(...)")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SuiteDeclarationError(f"{where}: seed={seed!r} must be a whole number >= 0")
    if not isinstance(one_at_a_time, bool):
        raise SuiteDeclarationError(f"{where}: one_at_a_time={one_at_a_time!r} must be True or False")
    return UpgradeSpec(
        name=name,
        start=start,
        to=to,
        order=ordered,
        rollback=back,
        restart_after=restarts,
        faults=tuple(faults),
        seed=seed,
        one_at_a_time=one_at_a_time,
    )


__all__ = (
    "DEPENDS_ON_AND_REQUIRES",
    "RENAMED_ROLE_ARGUMENTS",
    "command_probe",
    "compat_cell",
    "compat_fault",
    "compat_role",
    "compat_upgrade",
    "grpc_health_probe",
    "http_probe",
    "log_probe",
    "reject_unknown",
    "tcp_probe",
)
