"""The compat-matrix pytest plugin: run a suite's tests in every cell, against a real deployment.

Load it from the suite's ``conftest.py`` (pytest forbids ``pytest_plugins`` outside the root
conftest, so importing is the supported way)::

    from compat_matrix.pytest_plugin import *  # noqa: F401,F403

or with ``pytest -p compat_matrix.pytest_plugin`` (use one of the two, not both).

Where the cells come from:

- Under Pants the suite macro sets ``COMPAT_MATRIX_CELL`` (JSON, versions concrete) and
  ``COMPAT_MATRIX_BACKEND``: every test runs in that one cell.
- Outside Pants the plugin reads the ``compat_suite(...)`` in the BUILD file next to the test
  module, resolves ``earliest``/``latest`` with the repo's releases file (and
  ``EARLIEST_TESTED_RELEASE``), and parametrizes every test that uses ``cell`` or
  ``deployment`` over every cell. Each test is marked with its cell's name, so
  ``pytest tests/python/integration/backcompat -m user-code-earliest`` runs one cell.

Fixtures: ``cell`` (the ``CellPlan``), ``deployment`` (the running cell, started once per cell
per module and stopped after it), ``compat_system``, ``compat_backend``, ``compat_backend_name``,
``compat_artifacts``, ``compat_session`` and ``compat_launcher`` (override it in a conftest to
run roles without PEXes, e.g. with ``compat_matrix.backends.process.source_launcher``).

Options: ``--compat-backend=process|docker`` (default ``COMPAT_MATRIX_BACKEND``, else
``process``), ``--compat-keep`` (leave deployments up and print their endpoints; tear down with
``compat-matrix down SESSION``), ``--compat-artifacts=DIR`` (default: the Pants sandbox under
Pants, else ``<repo>/dist``). For development before the PEXes exist (process backend):
``--compat-from-source[=SOURCE_ROOT]`` runs branch roles from source and
``--compat-release-path X.Y.Z=DIR`` runs a release from a ``pip install --target`` directory.

Hook: ``pytest_compat_matrix_system(name, config)`` may return a ``System`` for a system name
(for systems outside ``compat_matrix.systems``, e.g. the harness's own fake system in tests).

When a test fails, every instance's log is attached to its report. SIGTERM tears the session
down like Ctrl-C does (fixture finalizers run). When pytest is killed before its teardown can run
(SIGKILL, or Pants killing it because the ``./pants`` client went away), the backends' watchdogs
remove the session's instances (``compat_matrix.session.Session.guard``). The reaper runs at
session start as the last line of defence.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from compat_matrix.backends.base import Backend, Deployment
from compat_matrix.backends.process import Launcher, source_launcher
from compat_matrix.backends.registry import BACKENDS, default_backend_name, describe_deployment, make_backend
from compat_matrix.errors import CompatMatrixError, ReleaseError, SuiteDeclarationError
from compat_matrix.junit_properties import compat_matrix_junit_properties
from compat_matrix.model import CellPlan, Releases, Suite, System
from compat_matrix.session import Session, reap

LOG_LINES_IN_REPORT = 400


class SessionTerminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM so pytest unwinds and runs every finalizer."""


class CompatMatrixHookspecs:
    """Hooks this plugin adds."""

    @pytest.hookspec(firstresult=True)
    def pytest_compat_matrix_system(self, name: str, config: pytest.Config) -> System | None:  # type: ignore[empty-body]
        """Return the ``System`` called ``name``, or None to use ``compat_matrix.systems.<name>``."""


@dataclass
class _State:
    """Per-run plugin state (kept in ``config.stash``, never at module level)."""

    configured: bool = False
    session_started: bool = False
    previous_sigterm: Any = None
    terminated: bool = False
    session: Session | None = None
    reaped: list[str] = field(default_factory=list)
    parametrized: set[str] = field(default_factory=set)
    plans: dict[str, list[CellPlan]] = field(default_factory=dict)
    suites: dict[str, Suite] = field(default_factory=dict)
    kept: list[tuple[Deployment, Session]] = field(default_factory=list)


_STATE = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State:
    if _STATE not in config.stash:
        config.stash[_STATE] = _State()
    return config.stash[_STATE]


# --- hooks -------------------------------------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    try:
        pluginmanager.add_hookspecs(CompatMatrixHookspecs)
    except ValueError:
        pass  # registered twice (conftest import and -p): the spec is already there


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compat-matrix", "compat-matrix: run suites in every cell of the matrix")
    try:
        group.addoption(
            "--compat-backend",
            choices=sorted(BACKENDS),
            default=None,
            help="backend that starts the cells (default: $COMPAT_MATRIX_BACKEND, else process)",
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
            help="process backend, for development: run branch roles with `python -m <package>` from "
            "SOURCE_ROOT (default <repo>/src/python) instead of their PEXes",
        )
        group.addoption(
            "--compat-release-path",
            action="append",
            default=[],
            metavar="X.Y.Z=DIR",
            help="process backend, for development: run release X.Y.Z from DIR (its package installed "
            "with `pip install --no-deps --target DIR`) instead of its PEX; repeatable",
        )
    except ValueError:
        pass  # registered twice


def pytest_configure(config: pytest.Config) -> None:
    state = _state(config)
    if state.configured:
        return
    state.configured = True
    if threading.current_thread() is threading.main_thread():
        state.previous_sigterm = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if state.terminated:
                return  # already unwinding: let the finalizers finish
            state.terminated = True
            raise SessionTerminated(
                f"received signal {signum} (SIGTERM): tearing down the compat-matrix session"
            )

        signal.signal(signal.SIGTERM, on_sigterm)


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


def pytest_unconfigure(config: pytest.Config) -> None:
    state = _state(config)
    if not state.configured:
        return
    state.configured = False
    if state.session is not None:
        # Normally empty: the deployment finalizers stopped everything. This catches the rest.
        state.session.close()
    if state.previous_sigterm is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, state.previous_sigterm)
        state.previous_sigterm = None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    if metafunc.definition.nodeid in state.parametrized:
        return  # the plugin is registered twice
    state.parametrized.add(metafunc.definition.nodeid)
    plans = _plans_for(metafunc, state)
    params = []
    for plan in plans:
        # Register the marker before using it: no unknown-marker warning, works with --strict-markers.
        metafunc.config.addinivalue_line(
            "markers", f"{plan.cell}: compat-matrix cell {plan.cell} of suite {plan.suite}"
        )
        params.append(pytest.param(plan, id=plan.cell, marks=getattr(pytest.mark, plan.cell)))
    metafunc.parametrize("cell", params, indirect=True, scope="module")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or getattr(report, "_compat_matrix_logs", False):
        return
    funcargs = getattr(item, "funcargs", {})
    deployment = funcargs.get("deployment")
    if not isinstance(deployment, Deployment):
        return
    report._compat_matrix_logs = True
    try:
        logs = deployment.logs()
    except Exception as exc:  # a broken engine must not hide the test's own failure
        report.sections.append(("compat-matrix logs", f"could not collect logs: {type(exc).__name__}: {exc}"))
        return
    for name, text in logs.items():
        lines = text.splitlines()
        cut = len(lines) - LOG_LINES_IN_REPORT
        shown = ([f"[... {cut} earlier lines ...]"] if cut > 0 else []) + lines[-LOG_LINES_IN_REPORT:]
        # "Captured log ...": pytest's JUnit report keeps such sections (junit_logging), and the
        # matrix report shows them for the failed cell.
        report.sections.append(
            (f"Captured log compat-matrix {deployment.plan.cell}/{name}", f"=== {name} ===\n" + "\n".join(shown))
        )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if not state.kept:
        return
    terminalreporter.section("compat-matrix: deployments kept running (--compat-keep)")
    for deployment, session in state.kept:
        terminalreporter.write_line(
            f"cell {deployment.plan.cell} (suite {deployment.plan.suite}), session {session.id}"
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
            f"{request.node.nodeid}: no compat-matrix cell; the plugin parametrizes tests of modules listed in "
            "a compat_suite(...) of the BUILD file next to them (or run under Pants with COMPAT_MATRIX_CELL)"
        )
    return plan


@pytest.fixture(scope="module")
def compat_system(request: pytest.FixtureRequest, cell: CellPlan) -> System:
    """The ``System`` (role catalog) the cell runs."""
    return _load_system(request.config, cell.system)


@pytest.fixture(scope="session")
def compat_backend_name(request: pytest.FixtureRequest) -> str:
    """``--compat-backend``, else ``COMPAT_MATRIX_BACKEND``, else ``process``."""
    chosen = _option(request.config, "compat_backend")
    return str(chosen) if chosen else default_backend_name()


@pytest.fixture(scope="session")
def compat_artifacts(request: pytest.FixtureRequest) -> Path:
    """The artifact root: ``--compat-artifacts``, the Pants sandbox (cwd), or ``<repo>/dist``."""
    chosen = _option(request.config, "compat_artifacts")
    if chosen:
        return Path(str(chosen)).resolve()
    if os.environ.get("COMPAT_MATRIX_CELL"):
        return Path.cwd()
    root = _repo_root(Path(str(request.config.rootpath)))
    return (root or Path.cwd()) / "dist"


@pytest.fixture(scope="module")
def compat_launcher(request: pytest.FixtureRequest, compat_system: System) -> Launcher | None:
    """How the process backend runs an instance instead of its PEX (None: the PEX).

    Set by ``--compat-from-source`` / ``--compat-release-path``; override the fixture to change.
    """
    from_source = _option(request.config, "compat_from_source")
    release_items = _option(request.config, "compat_release_path") or []
    if from_source is None and not release_items:
        return None
    source_root: Path | None = None
    if from_source:
        source_root = Path(str(from_source))
    elif from_source is not None:
        root = _repo_root(Path(str(request.config.rootpath)))
        if root is None:
            raise CompatMatrixError("--compat-from-source: no pants.toml above the rootdir; pass SOURCE_ROOT")
        source_root = root / "src" / "python"
    release_paths = {}
    for item in release_items:
        version, sep, path = str(item).partition("=")
        if not sep or not path:
            raise CompatMatrixError(f"--compat-release-path {item!r}: write X.Y.Z=DIR")
        release_paths[version] = Path(path)
    return source_launcher(source_root, compat_system.package, release_paths)


@pytest.fixture(scope="session")
def compat_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """The harness session recording every process/container this pytest run starts."""
    state = _state(request.config)
    _reap_once(request.config)
    session = Session.create(f"pytest {' '.join(request.config.invocation_params.args)}".strip())
    state.session = session
    try:
        yield session
    finally:
        if state.kept:
            session.keep()
        session.close()
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
    compat_system: System,
    compat_backend: Backend,
    compat_backend_name: str,
    compat_artifacts: Path,
    compat_session: Session,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    """The running cell: started once per cell per module, stopped after the module's last test."""
    suite = _state(request.config).suites.get(cell.suite)
    if suite is not None and suite.backends and compat_backend_name not in suite.backends:
        pytest.skip(
            f"suite {suite.name!r} does not run on backend {compat_backend_name!r} (backends: {suite.backends})"
        )
    work_dir = tmp_path_factory.mktemp(f"{cell.cell}-", numbered=True)
    running = compat_backend.start(cell, compat_system, compat_artifacts, work_dir)
    try:
        yield running
    finally:
        if _option(request.config, "compat_keep"):
            compat_session.keep()
            compat_session.annotate(
                f"cell {cell.cell}", {"suite": cell.suite, "describe": describe_deployment(running)}
            )
            _state(request.config).kept.append((running, compat_session))
        else:
            running.stop()


# --- helpers -----------------------------------------------------------------------------------


def _option(config: pytest.Config, name: str) -> Any:
    # getoption with a default: the options are missing when the conftest was not an initial one.
    return config.getoption(name, default=None)


def _load_system(config: pytest.Config, name: str) -> System:
    system = config.hook.pytest_compat_matrix_system(name=name, config=config)
    if system is not None:
        return system  # type: ignore[no-any-return]
    from compat_matrix.systems import load_system

    return load_system(name)


def _repo_root(start: Path) -> Path | None:
    from compat_matrix.versions import find_repo_root

    try:
        return find_repo_root(start)
    except ReleaseError:
        return None


def _plans_for(metafunc: pytest.Metafunc, state: _State) -> list[CellPlan]:
    from compat_matrix.declaration import suite_from_env

    config = metafunc.config
    env_suite = suite_from_env(os.environ)
    if env_suite is not None:
        # Under Pants: one cell, versions already concrete.
        key = "env"
        if key not in state.plans:
            from compat_matrix.plan import plan_cell

            _check_env_cell(env_suite, Path(str(metafunc.definition.path)))
            system = _load_system(config, env_suite.system)
            state.suites[env_suite.name] = env_suite
            state.plans[key] = [plan_cell(env_suite, env_suite.cells[0], system, None)]
        return state.plans[key]

    module_path = Path(str(metafunc.definition.path))
    key = str(module_path)
    if key not in state.plans:
        suite = _suite_of(module_path)
        releases = _releases_near(module_path.parent)
        from compat_matrix.declaration import expand_cells
        from compat_matrix.plan import plan_suite

        if releases is not None:
            suite = expand_cells(suite, releases, os.environ)
        system = _load_system(config, suite.system)
        state.suites[suite.name] = suite
        state.plans[key] = list(plan_suite(suite, system, releases).cells)
    return state.plans[key]


def _check_env_cell(env_suite: Suite, module_path: Path) -> None:
    """Check a ``COMPAT_MATRIX_CELL`` against the suite's declaration, where the declaration is here.

    A Pants sandbox holds no BUILD files (the macro wrote the cell from the declaration, so there is
    nothing to check); a checkout does, and there a hand-set cell must match what BUILD declares.
    """
    from compat_matrix.declaration import check_env_cell, find_build_files, read_suites

    directory = module_path.parent
    if not find_build_files(directory):
        return
    suites = {s.name: s for s in read_suites(directory)}
    declared = suites.get(env_suite.name)
    if declared is None:
        from compat_matrix.declaration import CELL_ENV

        raise SuiteDeclarationError(
            f"{CELL_ENV} names suite {env_suite.name!r}, but {directory}/BUILD declares "
            f"{', '.join(suites) or 'no suite'}; unset {CELL_ENV} to run the suites declared there"
        )
    check_env_cell(env_suite, declared, _releases_near(directory), f"{directory}/BUILD")


def _suite_of(module_path: Path) -> Suite:
    from compat_matrix.declaration import read_suites

    suites = read_suites(module_path.parent)
    matching = [s for s in suites if any(fnmatch.fnmatch(module_path.name, pattern) for pattern in s.modules)]
    if len(matching) == 1:
        return matching[0]
    names = ", ".join(s.name for s in suites) or "none"
    if not matching:
        raise SuiteDeclarationError(
            f"{module_path.name} uses the compat-matrix `cell`/`deployment` fixtures but no compat_suite in "
            f"{module_path.parent}/BUILD lists it in sources= (suites there: {names}); add it to a suite's sources"
        )
    raise SuiteDeclarationError(
        f"{module_path.name} is in the sources of several suites ({', '.join(s.name for s in matching)}) in "
        f"{module_path.parent}/BUILD; give each suite its own modules"
    )


def _releases_near(directory: Path) -> Releases | None:
    """The repo's releases (with ``EARLIEST_TESTED_RELEASE``), or None outside a repo."""
    root = _repo_root(directory)
    if root is None:
        return None
    from compat_matrix.versions import RELEASES_FILE, load_releases

    path = root / RELEASES_FILE
    if not path.exists():
        return None
    return load_releases(path, os.environ)


__all__ = (
    "CompatMatrixHookspecs",
    "SessionTerminated",
    "cell",
    "compat_artifacts",
    "compat_backend",
    "compat_backend_name",
    "compat_launcher",
    "compat_matrix_junit_properties",
    "compat_session",
    "compat_system",
    "deployment",
    "describe_deployment",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_runtest_makereport",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "pytest_unconfigure",
)
