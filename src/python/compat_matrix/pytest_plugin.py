"""The compat-matrix pytest plugin: run a suite's tests in every cell, against a real deployment.

pytest loads it by its entry point (``pytest11``) wherever the ``compat-matrix`` wheel is
installed: a suite that depends on the wheel's requirement needs no conftest. With the harness's
sources on the path instead of the wheel (this repo's suites), load it with ``pytest -p
compat_matrix.pytest_plugin`` or ``from compat_matrix.pytest_plugin import *  # noqa: F401,F403``
in a conftest (one way, not two).

Where the cells come from:

- Under Pants the ``compat_suite`` target sets ``COMPAT_MATRIX_CELL`` (the planned cell as JSON,
  with its roles' specs) and ``COMPAT_MATRIX_BACKEND``: every test runs in that one cell.
- Outside Pants, ``--compat-plan FILE`` (written by ``./pants compat-plan --json <suite or cell
  target>``) parametrizes every test that uses ``cell`` or ``deployment`` over the file's cells,
  each marked with its cell's name (``-m user-code-earliest`` runs one).

The harness never reads BUILD files: the plan is made once, by the plugin's shared core.

This module holds the hooks; the fixtures are in ``compat_matrix.pytest_fixtures``, the per-run
state and signal handling in ``compat_matrix.pytest_state``, the options in
``compat_matrix.pytest_options``; this module exports them all.

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
remove the session's instances (``compat_matrix.session.Session.guard``). Each run gets a base
temp of its own (``compat_matrix.pytest_state.own_base_temp``; ``--basetemp`` chooses another), with
the instances' data and logs: a killed run's goes with it (the process watchdog removes it), and
any other run removes it when it ends, unless it keeps deployments. The reaper runs at session
start as the last line of defence.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from compat_core.cell_plan import CellPlan
from compat_matrix.backends.base import Deployment, start_logs
from compat_matrix.backends.registry import describe_deployment
from compat_matrix.cell_logs import attach_logs, keep_logs, logs_location, pants_outputs
from compat_matrix.junit_properties import compat_matrix_junit_properties
from compat_matrix.pytest_fixtures import (
    cell,
    compat_artifacts,
    compat_backend,
    compat_backend_name,
    compat_launcher,
    compat_session,
    deployment,
)
from compat_matrix.pytest_options import add_options, cells_to_run
from compat_matrix.pytest_state import (
    PluginState,
    SessionTerminated,
    install_signal_handlers,
    own_base_temp,
    plugin_state,
    reap_once,
    restore_signal_handlers,
    start_session_early,
    take_early_session,
)
from compat_matrix.session import remove_directories

# --- hooks -------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before pytest's tmpdir plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    state = plugin_state(config)
    if state.configured:
        return
    state.configured = True
    state.pants_outputs = pants_outputs(config)
    state.own_base_temp = own_base_temp(config)
    install_signal_handlers(state)


def pytest_sessionstart(session: pytest.Session) -> None:
    start_session_early(session.config)  # beside the reaper: it leaves a live session alone
    reap_once(session.config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Before pytest's own sessionfinish tears the session-scoped fixtures down (compat_session).
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        plugin_state(session.config).interrupted = True


def pytest_unconfigure(config: pytest.Config) -> None:
    state = plugin_state(config)
    if not state.configured:
        return
    state.configured = False
    try:
        unused = take_early_session(state)  # a run that never reached a cell's test
    except Exception:
        unused = None  # nothing to close: it failed to start
    if unused is not None:
        unused.close(interrupted=state.interrupted)
    if state.session is not None:
        # Normally empty: the deployment finalizers stopped everything. This catches the rest.
        state.session.close(interrupted=state.interrupted)
    if state.own_base_temp is not None and not state.kept:
        remove_directories([str(state.own_base_temp)])
    elif state.interrupted and state.base_temp is not None:
        # A signal that came after the session closed (during pytest's own teardown).
        remove_directories([str(state.base_temp)])
    restore_signal_handlers(state)


def _plans(config: pytest.Config, state: PluginState) -> list[CellPlan]:
    if state.plans is None:
        state.plans = cells_to_run(config)
    return state.plans


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cell" not in metafunc.fixturenames:
        return
    state = plugin_state(metafunc.config)
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
    running = funcargs.get("deployment")
    state = plugin_state(item.config)
    if isinstance(running, Deployment):
        plan, backend = running.plan, str(funcargs.get("compat_backend_name", ""))
        try:
            logs = running.logs()
        except Exception as exc:  # a broken engine must not hide the test's own failure
            report._compat_matrix_logs = True
            report.sections.append(("compat-matrix logs", f"could not collect logs: {type(exc).__name__}: {exc}"))
            return
        state.failed[id(running)] = backend
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
    state = plugin_state(config)
    if not state.kept:
        return
    terminalreporter.section("compat-matrix: deployments kept running (--compat-keep)")
    for kept, session in state.kept:
        terminalreporter.write_line(f"cell {kept.plan.name} (suite {kept.plan.suite}), session {session.id}")
        for line in describe_deployment(kept):
            terminalreporter.write_line(f"  {line}")
        terminalreporter.write_line(f"  tear down with: compat-matrix down {session.id}")


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
