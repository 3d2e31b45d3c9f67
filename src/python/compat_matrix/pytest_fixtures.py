"""The compat-matrix pytest plugin's fixtures: the cell, its backend, the session and the
running deployment (``compat_matrix.pytest_plugin`` exports them with its hooks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from compat_core.cell_plan import CellPlan
from compat_core.contract import CELL_ENV
from compat_core.errors import CompatMatrixError, SuiteDeclarationError
from compat_core.settings import Settings
from compat_matrix.backends import process_watchdog
from compat_matrix.backends.base import Backend, Deployment, start_logs
from compat_matrix.backends.registry import default_backend_name, describe_deployment, make_backend
from compat_matrix.backends.source_launch import Launcher, source_launcher
from compat_matrix.cell_logs import keep_logs, logs_location, repo_root, write_logs
from compat_matrix.pytest_options import option
from compat_matrix.pytest_state import plugin_state, reap_once, take_early_session
from compat_matrix.session import Session


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
    if Settings.from_env(os.environ).cell and not option(request.config, "compat_plan"):
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
    normal end leaves it to the plugin (``own_base_temp``), a killed or interrupted run's goes with it. The
    process watchdog guards every backend's session for that, as it guards the process backend's
    instances.
    """
    state = plugin_state(request.config)
    reap_once(request.config)
    session = take_early_session(state) or Session.create(
        f"pytest {' '.join(request.config.invocation_params.args)}".strip()
    )
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
    state = plugin_state(request.config)
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
    "cell",
    "compat_artifacts",
    "compat_backend",
    "compat_backend_name",
    "compat_launcher",
    "compat_session",
    "deployment",
)
