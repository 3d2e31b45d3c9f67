"""One instance of a process deployment: its rendered command and, once launched, its process
group, log file and readiness (the deployment, ``process``, decides when)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from compat_core.cell_plan import InstancePlan
from compat_core.errors import BackendError
from compat_core.model import RoleSpec
from compat_matrix.backends.base import Endpoint
from compat_matrix.backends.common import (
    LOCALHOST,
    PEX_COMMAND_VARIABLES,
    STOP_TIMEOUT,
    RenderedRole,
    unapplied_limits_note,
)
from compat_matrix.backends.process_tree import (
    PortTaken,
    listening_ports,
    merge_processes,
    read_from,
    signal_group,
    tail,
)
from compat_matrix.backends.source_launch import module_argv
from compat_matrix.probes import TIMED_OUT, ProbeTarget, probe_for, wait_ready
from compat_matrix.session import Session
from compat_matrix.session_processes import process_running

HOST = LOCALHOST


@dataclass
class ProcessInstance:
    """One instance: what it runs, where it writes, and once launched its process and descendants."""

    plan: InstancePlan
    spec: RoleSpec
    ports: dict[str, int]
    data_dir: Path
    log_path: Path
    argv: tuple[str, ...]
    env: dict[str, str]
    probe_argv: tuple[str, ...] = ()  # runs a command probe's module in the instance's environment
    rendered: RenderedRole | None = None  # the role's templates for this instance (kept by replace)
    expand: Callable[[str], str] = str  # the role's other templates (probe args, log files) for this instance
    popen: subprocess.Popen[bytes] | None = None
    log_handle: IO[bytes] | None = None
    descendants: list[psutil.Process] = field(default_factory=list)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def endpoint(self, port: str) -> Endpoint:
        if port not in self.ports:
            raise KeyError(f"instance {self.plan.name!r} has no port {port!r}; its ports are {sorted(self.ports)}")
        return Endpoint(HOST, self.ports[port])

    def logs(self) -> str:
        """Its log, then the role's ``log_files`` found in its data directory."""
        parts = [unapplied_limits_note(self.spec, "process") + read_from(self.log_path)]
        for template in self.spec.log_files:
            extra = self.data_dir / self.expand(template)  # a relative path is in the data dir
            if extra.exists():
                parts.append(f"--- {extra.name} ---\n{read_from(extra)}")
        return "\n".join(parts)

    def launch(self, session: Session, note: str = "") -> None:
        """Start the process in its own process group, record it in ``session`` and wait until it
        is ready; ``PortTaken`` when what answers on its port is another process."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.log_path, "ab")
        if note:
            handle.write(f"\n--- compat-matrix: {note} ---\n".encode())
            handle.flush()
        # A log probe reads only this launch's output: a restart's log holds the last run's too.
        log_start = handle.tell()
        self.log_handle = handle
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=str(self.data_dir),
                start_new_session=True,
            )
        except OSError as exc:
            handle.close()
            raise BackendError(f"could not start {self.plan.name}: {exc} (command: {' '.join(self.argv)})") from exc
        session.record_process(self.popen.pid, self.plan.name, str(self.log_path))
        port = self.spec.readiness.port
        wait_ready(
            probe_for(self.spec.readiness),
            self._probe_target(log_start),
            self.alive,
            instance=f"{self.plan.name} ({self.plan.role} {self.plan.version}, log {self.log_path})",
            log_tail=lambda: tail(self.log_path),
        )
        try:
            self.descendants = psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.Error:
            self.descendants = []
        # The probe only proves that *something* answers on the port: make sure it is this
        # instance, not a process that took the port between allocation and bind.
        owned = listening_ports(self.popen.pid, self.descendants) if port else None
        if owned is not None and self.ports[port] not in owned:
            raise PortTaken(
                f"{self.plan.name}: port {port!r} ({HOST}:{self.ports[port]}) answers, but not from this instance "
                f"(pid {self.popen.pid}, listening on {sorted(owned) or 'nothing'}); another process took it"
                f"\n--- last lines of its log ---\n{tail(self.log_path)}"
            )

    def _probe_target(self, log_start: int) -> ProbeTarget:
        def run(args: Sequence[str], env: Mapping[str, str], timeout: float) -> tuple[int, str]:
            child = {k: v for k, v in self.env.items() if k not in PEX_COMMAND_VARIABLES}
            argv = self.probe_argv
            if "PEX_MODULE" in env and "-c" in argv[1:3]:
                # A launch of `python [-u] -c CODE` (a source launch): no PEX to pick the module.
                argv = module_argv(env["PEX_MODULE"])
            try:
                done = subprocess.run(
                    [*argv, *args],
                    env={**child, **env},
                    cwd=str(self.data_dir),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                return TIMED_OUT, f"timed out after {timeout:g}s"
            return done.returncode, (done.stdout + done.stderr).decode("utf-8", errors="replace")

        return ProbeTarget(
            endpoint=self.endpoint,
            log=lambda: read_from(self.log_path, log_start),
            run=run,
            expand=self.expand,
        )

    def stop(self, session: Session, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM its process group (resumed first), then ``reap``."""
        if self.popen is None:
            return
        if self.alive():
            try:
                self.descendants = merge_processes(
                    self.descendants, psutil.Process(self.popen.pid).children(recursive=True)
                )
            except psutil.Error:
                pass
            signal_group(self.popen, signal.SIGCONT)  # a paused instance cannot handle SIGTERM
            signal_group(self.popen, signal.SIGTERM)
        self.reap(session, timeout)

    def reap(self, session: Session, timeout: float) -> None:
        """Wait for the leader (SIGKILL the group after ``timeout``), then for its descendants."""
        assert self.popen is not None
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            signal_group(self.popen, signal.SIGKILL)
            self.popen.wait()
        # Descendants that left the group or outlived the leader; psutil re-checks identity.
        leftovers = [p for p in self.descendants if process_running(p)]
        for proc in leftovers:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(leftovers, timeout=timeout)
        self.descendants = []
        if self.log_handle is not None:
            self.log_handle.close()
            self.log_handle = None
        session.forget_process(self.popen.pid)


__all__ = ("HOST", "ProcessInstance")
