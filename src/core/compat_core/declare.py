"""The declaration vocabulary of BUILD files, and raw BUILD values turned into the model.

Pure and CPython 3.9-compatible. The Pants plugin exposes ``compat_role``, the probes and
``compat_cell`` to BUILD files, and its fields call the ``parse_*`` functions, so a mistake fails
while Pants parses the BUILD file with a message naming the value and the fix. Tests build
systems and suites with the same functions.

Example (a system beside its code, a suite beside its tests)::

    compat_system(
        name="conveyor",
        roles=[
            compat_role("server", module="conveyor.cli:main", ports=["http"],
                        args=["server", "--host", "{host}", "--port", "{port[http]}"],
                        readiness=http_probe("http", "/health"), branch=["src/python/conveyor/server"]),
        ],
        releases=["0.1.0", "0.2.0"],
        earliest="0.1.0",
    )
    compat_suite(name="backcompat", system="src/python/conveyor:conveyor",
                 topology={"server": 1}, cells=[compat_cell("server-latest", {"server": "latest"})])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    Releases,
    RoleSpec,
    Topology,
    UpgradeSpec,
)
from compat_core.names import release_resolve
from compat_core.validate_suite import check_instance_count

DEFAULT_REQUIREMENTS = ("{system}=={version}",)
"""Requirements of a release when the system gives none: the distribution named like the system."""

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


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SuiteDeclarationError(f"{where}: {what}={value!r} must be a list of strings, e.g. [\"a\", \"b\"]")
    return tuple(value)


def _string_map(value: Any, what: str, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise SuiteDeclarationError(f"{where}: {what}={value!r} must be a dict of strings to strings")
    return tuple(value.items())


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
    return _probe("command", args=_strings(args, "args", "command probe"), timeout=timeout, interval=interval)


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
    branch: Sequence[str] = (),
) -> RoleSpec:
    """One role of a ``compat_system``: what it runs, its ports, how it is ready, what it needs.

    ``script`` (a console script of the version's environment) or ``module`` (``pkg.mod`` or
    ``pkg.mod:function``) is the command; ``args``, ``env`` values and ``files`` (path -> content,
    written before start) are templates (see ``compat_core.model.RoleSpec``). ``depends_on`` is
    start order, ``requires`` what a topology must run with the role (``DEPENDS_ON_AND_REQUIRES``).
    """
    where = f"compat_role({name!r})"
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
        present = tuple((role, _strings(extra, f"args_if_present[{role!r}]", where)) for role, extra in args_if_present.items())
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, (int, float))):
        raise SuiteDeclarationError(f"{where}: cpus={cpus!r} must be a number, e.g. 0.5")
    return RoleSpec(
        name=name,
        command=command,
        readiness=readiness,
        args=_strings(args, "args", where),
        ports=_strings(ports, "ports", where),
        env=_string_map(env or {}, "env", where),
        files=_string_map(files or {}, "files", where),
        depends_on=_strings(depends_on, "depends_on", where),
        requires=_strings(requires, "requires", where),
        args_if_present=present,
        log_files=_strings(log_files, "log_files", where),
        cpus=None if cpus is None else float(cpus),
        memory=memory,
        branch=_strings(branch, "branch", where),
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
    ordered = _strings(order, "order", where)
    if not ordered:
        raise SuiteDeclarationError(f"{where}: order is empty; list the roles to upgrade, e.g. order=[\"worker\", \"server\"]")
    back = _string_map(rollback or {}, "rollback", where)
    if restart_after is not None and not isinstance(restart_after, Mapping):
        raise SuiteDeclarationError(f"{where}: restart_after must be a dict of role -> list of roles")
    restarts = tuple(
        (role, _strings(others, f"restart_after[{role!r}]", where)) for role, others in (restart_after or {}).items()
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


def parse_upgrade(value: Any, where: str) -> UpgradeSpec | None:
    """A suite's ``upgrade``: one ``compat_upgrade(...)``, or None."""
    if value is None or isinstance(value, UpgradeSpec):
        return value
    raise SuiteDeclarationError(f"{where}: upgrade={value!r} must be compat_upgrade(...)")


def parse_cells(value: Any, where: str) -> tuple[CellSpec, ...]:
    """A suite's ``cells``: a list of ``compat_cell(...)`` (a list, so a repeated name is seen)."""
    if isinstance(value, Mapping):
        raise SuiteDeclarationError(
            f"{where}: cells must be a list of compat_cell(name, {{role: version}}), not a dict (a dict "
            f"silently keeps only the last of two cells with the same name)"
        )
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, CellSpec) for c in value):
        raise SuiteDeclarationError(f"{where}: cells={value!r} must be a list of compat_cell(...)")
    names: list[str] = []
    for cell in value:
        if cell.name in names:
            raise SuiteDeclarationError(f"{where}: cell {cell.name!r} is declared twice; give each cell a unique name")
        names.append(cell.name)
    return tuple(value)


def parse_topology(value: Any, where: str) -> Topology:
    """A suite's ``topology``: role -> instance count."""
    if not isinstance(value, Mapping) or not value:
        raise SuiteDeclarationError(
            f"{where}: topology={value!r} must be a non-empty dict of role -> instance count, e.g. {{\"server\": 1}}"
        )
    for role, count in value.items():
        if not isinstance(role, str):
            raise SuiteDeclarationError(f"{where}: topology role {role!r} must be a string")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SuiteDeclarationError(
                f"{where}: topology gives role {role!r} the count {count!r}; it must be an integer >= 1"
            )
        check_instance_count(role, count, where)
    return Topology(tuple(value.items()))


def parse_roles(value: Any, where: str) -> tuple[RoleSpec, ...]:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(r, RoleSpec) for r in value):
        raise SuiteDeclarationError(f"{where}: roles must be a non-empty list of compat_role(...), got {value!r}")
    return tuple(value)


def parse_releases(
    system: str,
    releases: Any,
    earliest: Any,
    requirements: Any = None,
    resolves: Any = None,
    package: str | None = None,
    index: str = "",
    where: str = "",
    branch_release: str = "",
) -> Releases:
    """A system's releases from its fields.

    ``releases``: a list of versions ``["0.1.0", ...]`` (each installed by ``requirements``, templates
    with ``{version}`` and ``{system}``, default ``["<system>=={version}"]``), or a dict version ->
    list of requirements. ``resolves``: version -> resolve (default ``<system>-<version>``).
    Versions are checked by ``compat_core.validate.validate_releases``.
    """
    where = where or f"compat_system(name={system!r})"
    template = DEFAULT_REQUIREMENTS if requirements is None else _strings(requirements, "release_requirements", where)
    pinned: list[str] = []
    reqs: dict[str, tuple[str, ...]] = {}
    if isinstance(releases, Mapping):
        items = list(releases.items())
    elif isinstance(releases, (list, tuple)):
        items = [(v, None) for v in releases]
    else:
        raise SuiteDeclarationError(
            f"{where}: releases={releases!r} must be a list of versions [\"0.1.0\", ...] or a dict version -> requirements"
        )
    for version, given in items:
        if not isinstance(version, str):
            raise SuiteDeclarationError(
                f"{where}: release {version!r} is not a string; write versions in quotes, e.g. \"0.1.0\""
            )
        pinned.append(version)
        if given is None:
            reqs[version] = tuple(t.format(system=system, version=version) for t in template)
        else:
            reqs[version] = _strings(given, f"releases[{version!r}]", where)
    if not isinstance(earliest, str):
        raise SuiteDeclarationError(f"{where}: earliest={earliest!r} must be a release string, e.g. \"0.1.0\"")
    given_resolves = dict(_string_map(resolves or {}, "release_resolves", where))
    for version in given_resolves:
        if version not in pinned:
            raise SuiteDeclarationError(f"{where}: release_resolves names {version!r}, which is not a release")
    from compat_core.versions import is_release

    return Releases(
        branch=branch_release,
        package=package or system,
        pinned=tuple(pinned),
        earliest=earliest,
        index=index,
        requirements=tuple((v, reqs[v]) for v in pinned),
        resolves=tuple(
            (v, given_resolves.get(v) or (release_resolve(system, v) if is_release(v) else "")) for v in pinned
        ),
    )


# ipyparallel's controller and engines give up on each other after a few seconds of silence (the
# controller forgets a registration whose first heartbeat is not seen within 30 s, and drops an
# engine after 10 missed beats; an engine waits 5 s for the registration reply). A starved engine
# (a loaded machine) sets up its kernel slowly and starts its heart only then: it completed its
# registration after the controller forgot it, and was never counted.
IPYPARALLEL_SILENCE = 180
"""Seconds a starting engine or the controller may stay silent before the other gives up."""
IPYPARALLEL_DEAD_ENGINE = 45
"""Seconds without a heartbeat before the controller drops a registered engine: long enough for a
starved engine, short enough that a killed engine's tasks go to the others (and its id is free for
its restart) within a test's patience."""
# The hub pings every second, so a registration completes within a second of the engine's first
# beat; an engine checks for the hub's pings every period + 0.5 s.
_IPY_PERIOD_MS = 1000
_IPY_ENGINE_CHECK_MS = _IPY_PERIOD_MS + 500
IPYPARALLEL_CONTROLLER_ARGS = (
    f"--HeartMonitor.period={_IPY_PERIOD_MS}",
    f"--HeartMonitor.max_heartmonitor_misses={IPYPARALLEL_DEAD_ENGINE * 1000 // _IPY_PERIOD_MS}",
    f"--IPController.registration_timeout={IPYPARALLEL_SILENCE}",
)
"""``ipcontroller`` settings that tolerate starved engines (ipyparallel 8 and 9)."""
IPYPARALLEL_ENGINE_ARGS = (
    f"--IPEngine.timeout={IPYPARALLEL_SILENCE}",
    f"--IPEngine.max_heartbeat_misses={IPYPARALLEL_SILENCE * 1000 // _IPY_ENGINE_CHECK_MS}",
)
"""``ipengine`` settings that tolerate a starved controller (ipyparallel 8 and 9)."""


def ipyparallel_roles(
    profile: str = "{shared_dir}/ipyparallel",
    *,
    controller_branch: Sequence[str] = (),
    engine_branch: Sequence[str] = (),
    controller_timeout: float = 120.0,
    engine_timeout: float = IPYPARALLEL_SILENCE,
    env: Mapping[str, str] | None = None,
) -> tuple[RoleSpec, RoleSpec]:
    """The roles of an ipyparallel cluster: ``ipy-controller`` (the hub and its schedulers) and
    ``ipy-engine``, for a system's ``roles`` (``roles=[..., *ipyparallel_roles(...)]``).

    ``profile`` is the controller's profile directory, shared by every instance of a deployment
    (a template): the controller writes its connection files under ``<profile>/security``,
    engines read ``ipcontroller-engine.json``, clients ``ipcontroller-client.json``. Readiness
    runs ``compat_probes.ipyparallel_ready`` in each role's own environment, so every version of
    the roles needs ``ipyparallel`` and ``compat_probes`` (``*_branch``: the branch's
    dependencies of each role; a release's come from its requirements). ``env`` is added to
    both roles' environment (default: an ``IPYTHONDIR`` in the instance's data directory).
    Registration tolerates ``IPYPARALLEL_SILENCE`` seconds of a starved process, heartbeats
    ``IPYPARALLEL_DEAD_ENGINE`` seconds of a starved engine.
    """
    client_file = profile + "/security/ipcontroller-client.json"
    environment = dict(env) if env is not None else {"IPYTHONDIR": "{data_dir}/ipython"}
    controller = compat_role(
        "ipy-controller",
        script="ipcontroller",
        args=[
            "--ip={host}",
            # The registration port is the first of the pool; ipcontroller picks its other ports
            # itself and writes them all into the connection files.
            "--ports={port[registration]}",
            "--profile-dir=" + profile,
            *IPYPARALLEL_CONTROLLER_ARGS,
        ],
        ports=["registration"],
        env=environment,
        readiness=command_probe(["compat_probes.ipyparallel_ready", "controller", client_file], timeout=controller_timeout),
        branch=controller_branch,
    )
    engine = compat_role(
        "ipy-engine",
        script="ipengine",
        args=[
            # The engine's connection file, not the client's (which ipengine ignores when given
            # positionally, as LiberTEM's compose file does).
            "--file=" + profile + "/security/ipcontroller-engine.json",
            # A known id, so readiness can ask the controller for this very engine.
            "--IPEngine.id={index}",
            *IPYPARALLEL_ENGINE_ARGS,
        ],
        env=environment,
        # An engine listens on no port: it is ready when the controller counts it.
        readiness=command_probe(["compat_probes.ipyparallel_ready", "engine", client_file, "{index}"], timeout=engine_timeout),
        # An engine waits only a few seconds for the connection file the controller writes.
        depends_on=["ipy-controller"],
        requires=["ipy-controller"],
        branch=engine_branch,
    )
    return controller, engine


BUILD_FILE_OBJECTS = {
    "compat_role": compat_role,
    "compat_cell": compat_cell,
    "http_probe": http_probe,
    "grpc_health_probe": grpc_health_probe,
    "tcp_probe": tcp_probe,
    "log_probe": log_probe,
    "command_probe": command_probe,
    "compat_upgrade": compat_upgrade,
    "compat_fault": compat_fault,
    "ipyparallel_roles": ipyparallel_roles,
}
"""What BUILD files may call besides the target types (registered by the Pants plugin)."""

__all__ = (
    "BUILD_FILE_OBJECTS",
    "DEFAULT_REQUIREMENTS",
    "DEPENDS_ON_AND_REQUIRES",
    "IPYPARALLEL_CONTROLLER_ARGS",
    "IPYPARALLEL_DEAD_ENGINE",
    "IPYPARALLEL_ENGINE_ARGS",
    "IPYPARALLEL_SILENCE",
    "command_probe",
    "compat_cell",
    "compat_fault",
    "compat_role",
    "compat_upgrade",
    "grpc_health_probe",
    "http_probe",
    "ipyparallel_roles",
    "log_probe",
    "parse_cells",
    "parse_releases",
    "parse_roles",
    "parse_topology",
    "parse_upgrade",
    "tcp_probe",
)
