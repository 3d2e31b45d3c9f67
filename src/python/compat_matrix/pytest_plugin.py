"""The compat-matrix pytest plugin: run a suite's tests in every cell, against a real deployment.

Load it from the suite's ``conftest.py`` (pytest forbids ``pytest_plugins`` outside the root
conftest, so importing is the supported way)::

    from compat_matrix.pytest_plugin import *  # noqa: F401,F403

or with ``pytest -p compat_matrix.pytest_plugin`` (use one of the two, not both).

Where the cells come from:

- Under Pants the ``compat_suite`` target sets ``COMPAT_MATRIX_CELL`` (the planned cell as JSON,
  with its roles' specs) and ``COMPAT_MATRIX_BACKEND``: every test runs in that one cell.
- Outside Pants, ``--compat-plan FILE`` (written by ``./pants compat-plan --json <suite or cell
  target>``) parametrizes every test that uses ``cell`` or ``deployment`` over the file's cells,
  each marked with its cell's name (``-m user-code-earliest`` runs one).

The harness never reads BUILD files: the plan is made once, by the plugin's shared core.

Fixtures: ``cell`` (the ``CellPlan``), ``deployment`` (the running cell, started once per cell
per module and stopped after it), ``compat_backend``, ``compat_backend_name``,
``compat_artifacts``, ``compat_session`` and ``compat_launcher`` (override it in a conftest to
run roles without PEXes, e.g. with ``compat_matrix.backends.source_launch.source_launcher``).

Options: ``--compat-backend=process|docker`` (default ``COMPAT_MATRIX_BACKEND``, else
``process``), ``--compat-plan=FILE``, ``--compat-keep`` (leave deployments up and print their
endpoints; tear down with ``compat-matrix down SESSION``), ``--compat-artifacts=DIR`` (default:
the Pants sandbox under Pants, else ``<repo>/dist``). For development before the PEXes exist
(process backend): ``--compat-from-source[=SOURCE_ROOT]`` runs branch roles' module commands
from source and ``--compat-release-path VERSION=DIR`` (e.g. ``5.15=DIR``) runs a release from a
``pip install --target`` directory.

When a test fails, or its cell fails to start, every instance's log is attached to its report and
written whole to a file the failure names (``compat_matrix.cell_logs``); a cell that fails is
written again once it is torn down. SIGTERM tears the session
down like Ctrl-C does (fixture finalizers run). When pytest is killed before its teardown can run
(SIGKILL, or Pants killing it because the ``./pants`` client went away), the backends' watchdogs
remove the session's instances (``compat_matrix.session.Session.guard``). pytest's base temp,
with the instances' data and logs, goes with a killed or interrupted run (the process watchdog
removes it) and stays after a run that ends normally (pytest keeps the last few). The reaper
runs at session start as the last line of defence.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from compat_core.cell_plan import CellPlan
from compat_core.contract import CELL_ENV
from compat_core.errors import CompatMatrixError, SuiteDeclarationError
from compat_matrix.backends import process_watchdog
from compat_matrix.backends.base import Backend, Deployment, start_logs
from compat_matrix.backends.registry import default_backend_name, describe_deployment, make_backend
from compat_matrix.backends.source_launch import Launcher, source_launcher
from compat_matrix.cell_logs import (
    attach_logs,
    keep_logs,
    logs_location,
    pants_outputs,
    repo_root,
    write_logs,
)
from compat_matrix.junit_properties import compat_matrix_junit_properties
from compat_matrix.pytest_options import add_options, cells_to_run, option
from compat_matrix.reaper import reap
from compat_matrix.session import Session, remove_directories


class SessionTerminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM so pytest unwinds and runs every finalizer."""


@dataclass
class _State:
    """Per-run plugin state (kept in ``config.stash``, never at module level)."""

    configured: bool = False
    session_started: bool = False
    previous_sigterm: Any = None
    previous_sigint: Any = None
    terminated: bool = False
    # The run was stopped by a signal (Ctrl-C, SIGTERM), whenever it came (during a teardown too):
    # its temporary directories go with it.
    interrupted: bool = False
    base_temp: Path | None = None
    session: Session | None = None
    reaped: list[str] = field(default_factory=list)
    parametrized: set[str] = field(default_factory=set)
    plans: list[CellPlan] | None = None
    kept: list[tuple[Deployment, Session]] = field(default_factory=list)
    # Under Pants: the sandbox's extra-output directory and the target's name under dist/test.
    pants_outputs: tuple[Path, str] | None = None
    # Deployments a test failed in (by id), with the name of their backend: written again at teardown.
    failed: dict[int, str] = field(default_factory=dict)
    # Start failures (by id of the error) whose logs are still to be attached to a report, with the
    # cell's name and where the logs are: a module's every test reports the error, the first one them.
    start_failures: dict[int, tuple[str, str]] = field(default_factory=dict)


_STATE = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State:
    if _STATE not in config.stash:
        config.stash[_STATE] = _State()
    return config.stash[_STATE]


# --- hooks -------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    state = _state(config)
    if state.configured:
        return
    state.configured = True
    state.pants_outputs = pants_outputs(config)
    if threading.current_thread() is threading.main_thread():
        state.previous_sigterm = signal.getsignal(signal.SIGTERM)

        state.previous_sigint = signal.getsignal(signal.SIGINT)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            state.interrupted = True
            if state.terminated:
                return  # already unwinding: let the finalizers finish
            state.terminated = True
            raise SessionTerminated(
                f"received signal {signum} (SIGTERM): tearing down the compat-matrix session"
            )

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            state.interrupted = True
            previous = state.previous_sigint
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_sigterm)
        signal.signal(signal.SIGINT, on_sigint)


def pytest_sessionstart(session: pytest.Session) -> None:
    _reap_once(session.config)


def _reap_once(config: pytest.Config) -> None:
    # Also called from compat_session: a conftest found late in collection misses sessionstart.
    state = _state(config)
    if state.session_started:
        return
    state.session_started = True
    result = reap()
    state.reaped = list(result.removed) + [f"reaper problem: {p}" for p in result.problems]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and state.reaped:
        reporter.write_line("compat-matrix: reaped what killed sessions left behind:")
        for line in state.reaped:
            reporter.write_line(f"  {line}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Before pytest's own sessionfinish tears the session-scoped fixtures down (compat_session).
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        _state(session.config).interrupted = True


def pytest_unconfigure(config: pytest.Config) -> None:
    state = _state(config)
    if not state.configured:
        return
    state.configured = False
    if state.session is not None:
        # Normally empty: the deployment finalizers stopped everything. This catches the rest.
        state.session.close(interrupted=state.interrupted)
    if state.interrupted and state.base_temp is not None:
        # A signal that came after the session closed (during pytest's own teardown).
        remove_directories([str(state.base_temp)])
    if threading.current_thread() is threading.main_thread():
        for signum, previous in ((signal.SIGTERM, state.previous_sigterm), (signal.SIGINT, state.previous_sigint)):
            if previous is not None:
                signal.signal(signum, previous)
        state.previous_sigterm = state.previous_sigint = None


def _plans(config: pytest.Config, state: _State) -> list[CellPlan]:
    if state.plans is None:
        state.plans = cells_to_run(config)
    return state.plans


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    if metafunc.definition.nodeid in state.parametrized:
        return  # the plugin is registered twice
    state.parametrized.add(metafunc.definition.nodeid)
    plans = _plans(metafunc.config, state)
    params = []
    for plan in plans:
        # Register the marker before using it: no unknown-marker warning, works with --strict-markers.
        metafunc.config.addinivalue_line(
            "markers", f"{plan.name}: compat-matrix cell {plan.name} of suite {plan.suite}"
        )
        params.append(pytest.param(plan, id=plan.name, marks=getattr(pytest.mark, plan.name)))
    metafunc.parametrize("cell", params, indirect=True, scope="module")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or getattr(report, "_compat_matrix_logs", False):
        return
    funcargs = getattr(item, "funcargs", {})
    deployment = funcargs.get("deployment")
    state = _state(item.config)
    if isinstance(deployment, Deployment):
        plan, backend = deployment.plan, str(funcargs.get("compat_backend_name", ""))
        try:
            logs = deployment.logs()
        except Exception as exc:  # a broken engine must not hide the test's own failure
            report._compat_matrix_logs = True
            report.sections.append(("compat-matrix logs", f"could not collect logs: {type(exc).__name__}: {exc}"))
            return
        state.failed[id(deployment)] = backend
    else:  # the cell did not start: its error names where the logs are (the deployment fixture)
        error = call.excinfo.value if call.excinfo is not None else None
        started = state.start_failures.pop(id(error), None)
        if error is None or started is None:
            return
        report._compat_matrix_logs = True
        attach_logs(report, started[0], start_logs(error), started[1])
        return
    report._compat_matrix_logs = True
    where = keep_logs(state.pants_outputs, Path(str(item.config.rootpath)), plan, backend, logs)
    # "Captured log ...": pytest's JUnit report keeps such sections (junit_logging), and the matrix
    # report shows them for the failed cell.
    report.sections.append((f"Captured log compat-matrix {plan.name}: where the logs are", where))
    attach_logs(report, plan.name, logs, logs_location(state.pants_outputs, Path(str(item.config.rootpath)), plan, backend)[1])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if not state.kept:
        return
    terminalreporter.section("compat-matrix: deployments kept running (--compat-keep)")
    for deployment, session in state.kept:
        terminalreporter.write_line(
            f"cell {deployment.plan.name} (suite {deployment.plan.suite}), session {session.id}"
        )
        for line in describe_deployment(deployment):
            terminalreporter.write_line(f"  {line}")
        terminalreporter.write_line(f"  tear down with: compat-matrix down {session.id}")


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cell(request: pytest.FixtureRequest) -> CellPlan:
    """The planned cell this test runs in (parametrized by the plugin)."""
    plan = getattr(request, "param", None)
    if not isinstance(plan, CellPlan):
        raise SuiteDeclarationError(
            f"{request.node.nodeid}: no compat-matrix cell; run it under Pants (`./pants test <suite>::`, which "
            f"sets {CELL_ENV}) or pass --compat-plan FILE (`./pants compat-plan --json <suite target> > FILE`)"
        )
    return plan


@pytest.fixture(scope="session")
def compat_backend_name(request: pytest.FixtureRequest) -> str:
    """``--compat-backend``, else ``COMPAT_MATRIX_BACKEND``, else ``process``."""
    chosen = option(request.config, "compat_backend")
    return str(chosen) if chosen else default_backend_name()


@pytest.fixture(scope="session")
def compat_artifacts(request: pytest.FixtureRequest) -> Path:
    """The artifact root: ``--compat-artifacts``, the Pants sandbox (cwd), or ``<repo>/dist``."""
    chosen = option(request.config, "compat_artifacts")
    if chosen:
        return Path(str(chosen)).resolve()
    if os.environ.get(CELL_ENV) and not option(request.config, "compat_plan"):
        return Path.cwd()
    root = repo_root(Path(str(request.config.rootpath)))
    return (root or Path.cwd()) / "dist"


@pytest.fixture(scope="module")
def compat_launcher(request: pytest.FixtureRequest) -> Launcher | None:
    """How the process backend runs an instance instead of its PEX (None: the PEX).

    Set by ``--compat-from-source`` / ``--compat-release-path``; override the fixture to change.
    """
    from_source = option(request.config, "compat_from_source")
    release_items = option(request.config, "compat_release_path") or []
    if from_source is None and not release_items:
        return None
    source_root: Path | None = None
    if from_source:
        source_root = Path(str(from_source))
    elif from_source is not None:
        root = repo_root(Path(str(request.config.rootpath)))
        if root is None:
            raise CompatMatrixError("--compat-from-source: no pants.toml above the rootdir; pass SOURCE_ROOT")
        source_root = root / "src" / "python"
    release_paths = {}
    for item in release_items:
        version, sep, path = str(item).partition("=")
        if not sep or not path:
            raise CompatMatrixError(f"--compat-release-path {item!r}: write VERSION=DIR, e.g. 5.15=DIR")
        release_paths[version] = Path(path)
    return source_launcher(source_root, release_paths)


@pytest.fixture(scope="session")
def compat_session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """The harness session recording every process/container this pytest run starts.

    pytest's base temp (the instances' data and logs) is the session's temporary directory: a
    normal end leaves it to pytest's retention, a killed or interrupted run's goes with it. The
    process watchdog guards every backend's session for that, as it guards the process backend's
    instances.
    """
    state = _state(request.config)
    _reap_once(request.config)
    session = Session.create(f"pytest {' '.join(request.config.invocation_params.args)}".strip())
    state.session = session
    try:
        process_watchdog.guard(session)
        state.base_temp = tmp_path_factory.getbasetemp()
        session.own_temp_directory(state.base_temp)
        yield session
    finally:
        if state.kept:
            session.keep()
            state.base_temp = None  # the kept deployments' data
        session.close(interrupted=state.interrupted)
        state.session = None


@pytest.fixture(scope="module")
def compat_backend(
    compat_backend_name: str, compat_session: Session, compat_launcher: Launcher | None
) -> Backend:
    """The backend that starts cells (see ``compat_backend_name``)."""
    return make_backend(compat_backend_name, compat_session, compat_launcher)


@pytest.fixture(scope="module")
def deployment(
    request: pytest.FixtureRequest,
    cell: CellPlan,
    compat_backend: Backend,
    compat_backend_name: str,
    compat_artifacts: Path,
    compat_session: Session,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    """The running cell: started once per cell per module, stopped after the module's last test."""
    work_dir = tmp_path_factory.mktemp(f"{cell.name}-", numbered=True)
    state = _state(request.config)
    try:
        running = compat_backend.start(cell, compat_artifacts, work_dir)
    except Exception as error:
        logs = start_logs(error)
        if logs:  # the instances are gone: keep what they logged, and say where
            error.add_note("compat-matrix: " + keep_logs(state.pants_outputs, Path(str(request.config.rootpath)), cell, compat_backend_name, logs))
            shown = logs_location(state.pants_outputs, Path(str(request.config.rootpath)), cell, compat_backend_name)[1]
            state.start_failures[id(error)] = (cell.name, shown)
        raise
    try:
        yield running
    finally:
        if option(request.config, "compat_keep"):
            compat_session.keep()
            compat_session.annotate(
                f"cell {cell.name}", {"suite": cell.suite, "describe": describe_deployment(running)}
            )
            state.kept.append((running, compat_session))
        else:
            try:
                running.stop()
            finally:
                backend = state.failed.pop(id(running), None)
                if backend is not None:  # a test failed in it: its logs again, now with the shutdown
                    try:
                        write_logs(logs_location(state.pants_outputs, Path(str(request.config.rootpath)), running.plan, backend)[0], running.logs())
                    except (OSError, CompatMatrixError):
                        pass  # the failure's own report named the logs written then


__all__ = (
    "SessionTerminated",
    "cell",
    "compat_artifacts",
    "compat_backend",
    "compat_backend_name",
    "compat_launcher",
    "compat_matrix_junit_properties",
    "compat_session",
    "deployment",
    "describe_deployment",
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "pytest_unconfigure",
)
