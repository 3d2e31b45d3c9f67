"""Shared helpers for conveyor's end-to-end tests: real role processes on 127.0.0.1.

Each role runs as ``python -m conveyor ...`` in a subprocess, waits on a real readiness
probe (HTTP /health, gRPC health, TCP accept), and is always stopped (SIGTERM, then
SIGKILL) by the fixture that started it. Logs go to files that are printed on failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import conveyor
from compat_core.ipyparallel import IPYPARALLEL_CONTROLLER_ARGS

READY_TIMEOUT = 30.0
POLL = 0.05


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subprocess_env(pythonpath_first: Sequence[str] = ()) -> dict[str, str]:
    """The environment for role processes: this interpreter's sys.path, so the same code runs."""
    env = dict(os.environ)
    paths = [*pythonpath_first, *(p for p in sys.path if p)]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def conveyor_source_root() -> str:
    return str(Path(conveyor.__file__).resolve().parent.parent)


class ProcessExited(Exception):
    pass


# A role dies with the test process that started it (the fixtures start roles from its main
# thread), however that ends: a Pants timeout or a killed run skips every fixture's teardown, and
# the role would serve on, orphaned. util-linux's setpriv sets the parent-death signal and then
# runs the role; without it, roles start as they are.
_SETPRIV = shutil.which("setpriv") or ("/usr/bin/setpriv" if os.access("/usr/bin/setpriv", os.X_OK) else None)
_DIE_WITH_PARENT: tuple[str, ...] = (_SETPRIV, "--pdeathsig", "KILL", "--") if _SETPRIV else ()


@dataclass
class RoleProcess:
    """One running conveyor role; `stop()` is idempotent."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> RoleProcess:
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [*_DIE_WITH_PARENT, *self.argv], stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        finally:
            log.close()
        return self

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_until(self, probe: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
        """Polls `probe` until it returns True; fails early if the process exits."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ProcessExited(
                    f"{self.name} exited with {self.proc.returncode} before {what}:\n{self.logs()}"
                )
            if probe():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not {what} after {timeout}s:\n{self.logs()}")
            time.sleep(POLL)

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code (the roles promise 0)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.terminate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def grpc_serving(address: str) -> Callable[[], bool]:
    def probe() -> bool:
        with grpc.insecure_channel(address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1.0
                )
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    return probe


def tcp_accepts(host: str, port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False

    return probe


class Launcher:
    """Starts role processes for one test and stops all of them at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[RoleProcess] = []

    def spawn(
        self, name: str, args: Sequence[str], python: str = sys.executable, env: dict[str, str] | None = None
    ) -> RoleProcess:
        process = RoleProcess(
            name=name,
            argv=[python, "-m", "conveyor", *args],
            log_path=self.tmp_path / f"{name}.log",
            # dask's servers' scratch space, which is /tmp/dask-scratch-space otherwise and outlives the test.
            env={"DASK_TEMPORARY_DIRECTORY": str(self.tmp_path / "dask"), **(env or subprocess_env())},
        )
        self.processes.append(process)
        return process.start()

    def code_server(
        self,
        *extra: str,
        port: int | None = None,
        name: str = "code-server",
        env: dict[str, str] | None = None,
    ) -> tuple[RoleProcess, str]:
        port = port or free_port()
        proc = self.spawn(name, ["code-server", "--host", "127.0.0.1", "--port", str(port), *extra], env=env)
        address = f"127.0.0.1:{port}"
        proc.wait_until(grpc_serving(address), "SERVING (grpc health)")
        return proc, address

    def server(
        self,
        code_server: str,
        db: Path | None = None,
        *extra: str,
        port: int | None = None,
        name: str = "server",
        env: dict[str, str] | None = None,
    ) -> tuple[RoleProcess, str]:
        port = port or free_port()
        db = db or self.tmp_path / "runs.sqlite"
        proc = self.spawn(
            name,
            [
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--code-server",
                code_server,
                "--db",
                str(db),
                *extra,
            ],
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        proc.wait_until(http_ok(f"{url}/health"), "healthy (GET /health)")
        return proc, url

    def scheduler(self) -> tuple[RoleProcess, str]:
        port = free_port()
        proc = self.spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port)])
        proc.wait_until(tcp_accepts("127.0.0.1", port), "accepting on its port")
        return proc, f"tcp://127.0.0.1:{port}"

    def worker(self, scheduler: str, name: str) -> RoleProcess:
        port = free_port()
        proc = self.spawn(
            f"worker-{name}",
            ["worker", "--scheduler", scheduler, "--host", "127.0.0.1", "--port", str(port), "--name", name],
        )
        proc.wait_until(tcp_accepts("127.0.0.1", port), "accepting on its port")
        return proc

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _dump_logs_on_failure(request: pytest.FixtureRequest, launcher: Launcher) -> None:
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for process in launcher.processes:
            sys.stderr.write(f"\n----- {process.name} log -----\n{process.logs()}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def launcher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launcher]:
    """Per-test role processes (for tests that stop or restart them)."""
    launch = Launcher(tmp_path)
    try:
        yield launch
    finally:
        _dump_logs_on_failure(request, launch)
        launch.stop_all()


def ipyparallel_process(launch: Launcher, name: str, module: str, *args: str, pythonpath: Sequence[str] = ()) -> RoleProcess:
    """Start ``python -m <module> ARGS`` (ipyparallel's apps) under the launcher, with its own IPYTHONDIR."""
    env = {**subprocess_env(pythonpath), "IPYTHONDIR": str(launch.tmp_path / f"ipython-{name}")}
    process = RoleProcess(name=name, argv=[sys.executable, "-m", module, *args], log_path=launch.tmp_path / f"{name}.log", env=env)
    launch.processes.append(process)
    return process.start()


def ipyparallel_controller(launch: Launcher, profile: Path) -> RoleProcess:
    """An ``ipcontroller`` as the systems declare it (``compat_core.declare.ipyparallel_roles``)."""
    return ipyparallel_process(
        launch, "controller", "ipyparallel.controller", "--ip=127.0.0.1", f"--profile-dir={profile}",
        *IPYPARALLEL_CONTROLLER_ARGS,
    )


@dataclass(frozen=True)
class Stack:
    """A running code server (in-process executor) and a server in front of it."""

    code_server: str
    url: str
    server_process: RoleProcess
    code_server_process: RoleProcess


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One code server + server shared by a module's read-mostly tests."""
    launch = Launcher(tmp_path_factory.mktemp("stack"))
    try:
        cs_proc, address = launch.code_server()
        srv_proc, url = launch.server(address)
        yield Stack(address, url, srv_proc, cs_proc)
    finally:
        launch.stop_all()
