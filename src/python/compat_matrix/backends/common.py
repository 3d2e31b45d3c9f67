"""What every backend shares: template expansion, how a PEX runs a role's command, and log tails.

Backends differ in where an instance runs (a local process, a container) and so in the host
it binds and the addresses its peers use; how a role's argument templates expand, and how a
version's PEX venv runs the role's command, is the same everywhere, so it lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TypeVar

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_core.errors import ArtifactError, BackendError
from compat_core.model import RoleSpec
from compat_core.names import artifact_address
from compat_core.plan import start_waves
from compat_matrix.backends.base import Deployment, keep_start_logs

LOCALHOST = "127.0.0.1"
LOG_TAIL_LINES = 40
PEX_COMMAND_VARIABLES = ("PEX_INTERPRETER", "PEX_SCRIPT", "PEX_MODULE")
"""The PEX variables that choose what a PEX runs; a PEX refuses more than one."""
STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class Peer:
    """A started instance as its peers reach it: ``{peers[ROLE][I].host}``, ``.port[NAME]``, ``.name``."""

    name: str
    host: str
    port: Mapping[str, int]

    @property
    def address(self) -> str:
        """``host:port`` of its first port ('' without ports)."""
        return f"{self.host}:{next(iter(self.port.values()))}" if self.port else ""


@dataclass(frozen=True)
class RenderedRole:
    """A role's templates expanded for one instance: argv tail, environment, files to write.

    ``expand`` expands any other template of the role for this instance the same way (a command
    probe's args, a log file's path).
    """

    args: tuple[str, ...]
    env: Mapping[str, str]
    files: Mapping[str, str]  # path as the instance sees it -> content
    expand: Callable[[str], str] = str


def render_role(
    spec: RoleSpec,
    instance: InstancePlan,
    ports: Mapping[str, int],
    data_dir: PurePath | str,
    shared_dir: PurePath | str,
    peers: Mapping[str, Sequence[Peer]],
    present_roles: set[str] | frozenset[str],
    host: str = LOCALHOST,
    advertised_host: str = LOCALHOST,
) -> RenderedRole:
    """Expand a role's templates for one instance (see ``compat_core.model.RoleSpec``).

    ``host`` is the address the instance binds; ``advertised_host`` the host its peers reach it
    at, as ``Peer.host`` of the instance will be; ``peers`` maps every started role to its
    instances as other instances reach them.
    """
    templates = list(spec.args)
    for role, extra in spec.args_if_present:
        if role in present_roles:
            templates.extend(extra)
    fields = dict(
        host=host,
        advertised_host=advertised_host,
        port=dict(ports),
        name=instance.name,
        index=instance.index,
        data_dir=str(data_dir),
        shared_dir=str(shared_dir),
        address={role: group[0].address for role, group in peers.items() if group and group[0].port},
        peers={role: list(group) for role, group in peers.items()},
    )

    def expand(template: str) -> str:
        try:
            return template.format(**fields)
        except (KeyError, IndexError, AttributeError) as exc:
            raise BackendError(
                f"{instance.name}: cannot expand {template!r} of role {spec.name!r}: unknown {exc}; "
                f"ports are {sorted(ports)}, started roles are {sorted(peers)} (a role named in "
                "{address[...]} or {peers[...]} must start earlier: check depends_on and the plan order)"
            ) from None

    return RenderedRole(
        args=tuple(expand(t) for t in templates),
        env={name: expand(value) for name, value in spec.env},
        files={expand(path): expand(content) for path, content in spec.files},
        expand=expand,
    )


def start_in_waves(plan: CellPlan, start: Callable[[InstancePlan, Mapping[str, Sequence[Peer]]], Peer]) -> None:
    """Start a cell's instances wave by wave (``compat_core.plan.start_waves``).

    ``start(instance, peers)`` starts one instance and returns it as its peers reach it, once it
    is ready; ``peers`` holds every instance of the earlier waves. The instances of one wave do
    not gate each other and start on threads of their own, concurrently. When some fail, the
    wave's others still finish starting (so the deployment knows, and stops, all of them) and
    the first failure, in start order, is raised.
    """
    peers: dict[str, list[Peer]] = {}
    for wave in start_waves(plan):
        ready = {role: tuple(group) for role, group in peers.items()}
        if len(wave) == 1:
            started = [start(wave[0], ready)]
        else:
            pool = ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix=f"start-{plan.name}")
            try:
                futures = [pool.submit(start, instance, ready) for instance in wave]
                wait(futures)
            finally:  # interrupted: do not wait here; the deployment's stop ends what started
                pool.shutdown(wait=False, cancel_futures=True)
            errors = [f.exception() for f in futures if f.exception() is not None]
            if errors:
                raise errors[0]  # type: ignore[misc]
            started = [f.result() for f in futures]
        for instance, peer in zip(wave, started, strict=True):
            peers.setdefault(instance.role, []).append(peer)


def each_concurrently(action: Callable[[_T], object], items: Sequence[_T], describe: Callable[[_T], str]) -> list[str]:
    """Run ``action`` on every item at once (one thread each); ``describe(item): error`` of each
    that failed. Teardown uses it: instances stop together, not one after another."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="stop") as pool:
        futures = [pool.submit(action, item) for item in items]
    return [f"{describe(item)}: {f.exception()}" for item, f in zip(items, futures, strict=True) if f.exception()]


def in_plan_order(plan: CellPlan, instances: Mapping[str, _T]) -> dict[str, _T]:
    """``instances`` (by name) in the plan's start order: those of one wave come up in any order."""
    return {i.name: instances[i.name] for i in plan.instances if i.name in instances}


def missing_artifact(plan: CellPlan, instance: InstancePlan, path: str, artifact_root: PurePath) -> ArtifactError:
    """The error for an artifact (PEX or sources) of ``instance`` not under ``artifact_root``:
    which one, and the command that builds it."""
    kind = "sources" if path == instance.sources else "PEX"
    return ArtifactError(
        f"{instance.name}: {kind} {path} (version {instance.version}) is missing under {artifact_root}; "
        f"build it with `./pants package {artifact_address(plan, path)}` (outside Pants the artifacts come "
        "from dist/, or pass --compat-artifacts DIR)"
    )


# Runs the console script named by argv[1] from the venv's bin directory in this interpreter,
# with the rest of argv. pex's venv entry point would exec the script instead, under its shebang
# (`python -sE`), which drops the `-u` the interpreter was started with. A script that is not
# Python is exec'd as pex would.
RUN_SCRIPT = (
    "import os, runpy, sys\n"
    "path = os.path.join(os.path.dirname(sys.executable), sys.argv[1])\n"
    "with open(path, 'rb') as script:\n"
    "    first = script.readline()\n"
    "if not (first.startswith(b'#!') and b'python' in first):\n"
    "    os.execv(path, [path] + sys.argv[2:])\n"
    "sys.argv = [path] + sys.argv[2:]\n"
    "sys.path[:] = [os.path.dirname(path)] + [p for p in sys.path if p]\n"
    "runpy.run_path(path, run_name='__main__')\n"
)


@dataclass(frozen=True)
class PexVenv:
    """A PEX's venv as an instance runs it: ``python`` with pex's own ``flags`` (``-sE`` for the
    hermetic scripts pex makes by default) and ``-u``, running the venv's ``pex`` entry point.

    pex itself re-executes a venv PEX as ``bin/python -sE pex``; ``-E`` ignores
    ``PYTHONUNBUFFERED``, so a role's plain ``print()`` would sit in its buffer (and a
    ``log_probe`` wait for it) until the buffer fills or the process exits. Starting the venv's
    interpreter directly with ``-u`` makes stdout and stderr unbuffered however the role is
    written; the entry point sees no need to re-execute (it runs in its own venv's interpreter).
    """

    python: str
    pex: str
    flags: tuple[str, ...] = ("-sE",)

    def argv(self) -> tuple[str, ...]:
        return (self.python, *self.flags, "-u", self.pex)


def role_command(spec: RoleSpec, in_venv: bool) -> tuple[tuple[str, ...], dict[str, str]]:
    """What makes a version's PEX run the role's command: arguments that go right after the PEX
    (before the role's own) and the PEX variable.

    A module runs in the interpreter the PEX runs in (``PEX_MODULE``). A console script run
    ``in_venv`` (``PexVenv``) runs there too, by ``RUN_SCRIPT`` (``PEX_INTERPRETER``), so that it
    keeps the interpreter's ``-u``; elsewhere (a zipapp PEX, a launcher) ``PEX_SCRIPT`` names it.
    """
    if spec.command.kind == "script" and in_venv:
        return ("-c", RUN_SCRIPT, spec.command.value), {"PEX_INTERPRETER": "1"}
    return (), command_env(spec)


def command_env(spec: RoleSpec) -> dict[str, str]:
    """The PEX variable that makes a version's artifact run the role's command."""
    return {spec.command.pex_variable: spec.command.value}


def unapplied_limits_note(spec: RoleSpec, backend: str) -> str:
    """A log line naming the CPU limit of ``spec``, which ``backend`` does not apply, or "": a
    container's limit, the docker backend's. (A ``memory`` limit never gets here: planning refuses it
    on the process backend, ``compat_core.validate.validate_limits``.)"""
    limits = [f"cpus={spec.cpus!r}"] if spec.cpus is not None else []
    if not limits:
        return ""
    return (
        f"--- compat-matrix: role {spec.name!r} declares {', '.join(limits)}: container limits, applied by the "
        f"docker backend only; the {backend} backend runs the instance without them ---\n"
    )


def write_files(files: Mapping[str, str]) -> None:
    """Write a role's rendered files (paths already inside the instance's data or shared dir)."""
    for path, content in files.items():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def last_lines(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text`` (for error messages quoting an instance's log)."""
    return "\n".join(text.splitlines()[-lines:])


__all__ = (
    "LOCALHOST",
    "LOG_TAIL_LINES",
    "PEX_COMMAND_VARIABLES",
    "STOP_TIMEOUT",
    "RUN_SCRIPT",
    "Peer",
    "PexVenv",
    "RenderedRole",
    "command_env",
    "each_concurrently",
    "last_lines",
    "missing_artifact",
    "render_role",
    "role_command",
    "start_in_waves",
    "unapplied_limits_note",
    "write_files",
)


_T = TypeVar("_T")


def instance_named(instances: Mapping[str, _T], cell: str, name: str) -> _T:
    """A deployment's instance by name; a KeyError that lists the cell's instances otherwise."""
    try:
        return instances[name]
    except KeyError:
        raise KeyError(f"cell {cell!r} has no instance {name!r}; its instances are {sorted(instances)}") from None


@contextmanager
def stopped_on_failure(deployment: Deployment) -> Iterator[None]:
    """Around a backend's start: on any failure, stop what was started, keep the instances' logs
    with the error (``base.start_logs``), then let the error go on.

    Any failure includes KeyboardInterrupt and the SIGTERM exception: a cell is never left
    half-started.
    """
    try:
        yield
    except BaseException as error:
        try:
            deployment.stop()
        except BackendError:
            pass  # the original error is the one worth raising
        try:
            keep_start_logs(error, deployment.logs())
        except Exception:  # a broken engine must not replace the start's own error
            pass
        raise
