"""The pytest plugin's per-run state, its signal handling and its reaping at session start.

State lives in ``config.stash``, never at module level, so two pytest runs in one process (as
``pytester`` makes) never share it.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from compat_core.cell_plan import CellPlan
from compat_core.settings import Settings
from compat_matrix.backends.base import Deployment
from compat_matrix.reaper import reap
from compat_matrix.session import Session


class SessionTerminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM so pytest unwinds and runs every finalizer."""


@dataclass
class PluginState:
    """Per-run plugin state (kept in ``config.stash``)."""

    configured: bool = False
    session_started: bool = False
    previous_sigterm: Any = None
    previous_sigint: Any = None
    terminated: bool = False
    # The run was stopped by a signal (Ctrl-C, SIGTERM), whenever it came (during a teardown too):
    # its temporary directories go with it.
    interrupted: bool = False
    base_temp: Path | None = None
    # The base temp this plugin chose for the run (see ``own_base_temp``): removed when it ends.
    own_base_temp: Path | None = None
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
    # The harness session of a docker cell test, guarded while pytest collects (start_session_early).
    early_session: Future[Session] | None = None


_STATE = pytest.StashKey[PluginState]()


def own_base_temp(config: pytest.Config) -> Path | None:
    """A base temp of the run's own, unless the user chose one (``--basetemp``,
    ``PYTEST_DEBUG_TEMPROOT``); None then.

    pytest's numbered base temps share one root per user, and each run's end prunes that root's
    dead ``pytest-current`` link: two runs that end together (as Pants runs them) race on it, and
    the loser fails with ``FileNotFoundError``. A base temp of its own shares nothing. The run
    removes it when it ends (unless it keeps deployments, whose data it holds): a failed cell's
    logs are kept where the failure says (``compat_matrix.cell_logs``), not in the base temp.
    """
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return None
    path = Path(tempfile.mkdtemp(prefix="compat-matrix-pytest-"))
    # pytest empties and recreates a given base temp: it takes this empty one as it is.
    config.option.basetemp = str(path)
    return path


def plugin_state(config: pytest.Config) -> PluginState:
    """This run's state, created on first use."""
    if _STATE not in config.stash:
        config.stash[_STATE] = PluginState()
    return config.stash[_STATE]


def install_signal_handlers(state: PluginState) -> None:
    """SIGTERM unwinds like Ctrl-C (finalizers run); either marks the run interrupted."""
    if threading.current_thread() is not threading.main_thread():
        return
    state.previous_sigterm = signal.getsignal(signal.SIGTERM)
    state.previous_sigint = signal.getsignal(signal.SIGINT)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        state.interrupted = True
        if state.terminated:
            return  # already unwinding: let the finalizers finish
        state.terminated = True
        raise SessionTerminated(f"received signal {signum} (SIGTERM): tearing down the compat-matrix session")

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        state.interrupted = True
        previous = state.previous_sigint
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigint)


def restore_signal_handlers(state: PluginState) -> None:
    """Put back the handlers ``install_signal_handlers`` replaced."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, previous in ((signal.SIGTERM, state.previous_sigterm), (signal.SIGINT, state.previous_sigint)):
        if previous is not None:
            signal.signal(signum, previous)
    state.previous_sigterm = state.previous_sigint = None


def reap_once(config: pytest.Config) -> None:
    """Run the reaper once per run and print what it removed.

    Called at session start, and from ``compat_session``: a conftest found late in collection
    misses ``pytest_sessionstart``.
    """
    state = plugin_state(config)
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


def start_session_early(config: pytest.Config) -> None:
    """For a cell test on the docker backend (a cell in the environment), create the run's harness
    session and start its watchdogs on a thread of their own, at session start: a cell's containers
    wait for its docker watchdog, and it starts while pytest collects. ``compat_session`` takes the
    session (``take_early_session``); a run that never does closes it at its end.
    """
    from compat_matrix.backends.registry import default_backend_name
    from compat_matrix.pytest_options import option

    state = plugin_state(config)
    backend = option(config, "compat_backend") or default_backend_name()
    if state.early_session is not None or backend != "docker" or config.option.collectonly:
        return
    if not Settings.from_env(os.environ).cell:
        return
    description = f"pytest {' '.join(config.invocation_params.args)}".strip()
    future: Future[Session] = Future()

    def run() -> None:
        try:
            future.set_result(_guarded_session(description))
        except BaseException as error:  # raised again by whoever takes the session
            future.set_exception(error)

    state.early_session = future
    threading.Thread(target=run, name="compat-session", daemon=True).start()


def _guarded_session(description: str) -> Session:
    from compat_matrix.backends import docker_watchdog, process_watchdog
    from compat_matrix.backends.docker_engine import connect

    session = Session.create(description)
    try:
        process_watchdog.guard(session)
        docker_watchdog.guard(session, connect)
    except Exception:
        # Only a head start: the backend guards its session again before it creates anything,
        # and that attempt's error is the one the test reports.
        pass
    return session


def take_early_session(state: PluginState) -> Session | None:
    """The session ``start_session_early`` created (once its watchdogs started), if any; the
    caller owns it from now on."""
    future, state.early_session = state.early_session, None
    return future.result() if future is not None else None


__all__ = (
    "PluginState",
    "SessionTerminated",
    "install_signal_handlers",
    "own_base_temp",
    "plugin_state",
    "reap_once",
    "restore_signal_handlers",
    "start_session_early",
    "take_early_session",
)
