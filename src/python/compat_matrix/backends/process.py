"""The process backend: every instance is a local subprocess on 127.0.0.1.

Each instance runs its version's PEX in its own process group (``start_new_session``), with
``PEX_*`` and ``PYTHONPATH`` scrubbed from its environment (the test runner is itself a PEX and
must not leak into the system under test) and its data directory as HOME (as a host of its own
would have one: no role reads the user's configuration or writes into the user's home), stdout
and stderr in a per-instance log file, and its pid recorded in the harness ``Session``. A venv
PEX (what the build makes) runs as its venv's interpreter with ``-u`` (``common.PexVenv``; the
venv is found, and made by pex if need be, once per PEX and backend): pex would re-execute it
with ``-sE``, which ignores ``PYTHONUNBUFFERED``.
Any other PEX runs as ``[sys.executable, "-u", <pex>, *role args]``. The session's
process watchdog (``process_watchdog``) kills the instances if the session's owner dies without
stopping them (SIGKILL, a killed Pants client); the reaper is the last line of defence.

Before PEXes exist (or to run a role from source), pass a ``launcher`` (``source_launch``). How
an instance's version runs is ``process_command``'s; its launch, readiness and stop are
``process_instance``'s; its process tree, ports and log file are ``process_tree``'s.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_core.errors import BackendError, ReadinessTimeout
from compat_core.model import RoleSpec
from compat_core.validate_suite import memory_limit_error
from compat_matrix.backends import process_watchdog
from compat_matrix.backends.base import Backend, Deployment, Endpoint
from compat_matrix.backends.common import (
    STOP_TIMEOUT,
    Peer,
    each_concurrently,
    in_plan_order,
    instance_named,
    render_role,
    start_in_waves,
    stopped_on_failure,
    write_files,
)
from compat_matrix.backends.process_command import ProcessCommand, VenvFinder, instance_command
from compat_matrix.backends.process_instance import HOST, ProcessInstance
from compat_matrix.backends.process_tree import PortTaken, free_ports, port_clash, read_from, signal_group
from compat_matrix.backends.source_launch import Launcher
from compat_matrix.session import Session

# How often an instance is started with fresh ports when its port was taken before it bound it.
PORT_ATTEMPTS = 3


class ProcessDeployment(Deployment):
    """A cell running as local processes. Fault controls signal the instance's process group."""

    def __init__(
        self,
        plan: CellPlan,
        session: Session,
        owns_session: bool,
        command: Callable[[InstancePlan, RoleSpec], ProcessCommand] | None = None,
    ) -> None:
        self.plan = plan
        self.session = session
        self._owns_session = owns_session
        self._instances: dict[str, ProcessInstance] = {}
        self._stopped = False
        self.shared_dir = Path()  # set by ProcessBackend.start
        self._cell = plan  # as planned: the versions an instance can be replaced with
        self._command = command  # how an instance's version runs (for replace)

    # -- queries ---------------------------------------------------------------------------
    def endpoint(self, instance: str, port: str) -> Endpoint:
        return self._get(instance).endpoint(port)

    def advertised(self, instance: str, port: str) -> Endpoint:
        """The same as ``endpoint``: peers and the driver reach an instance on the loopback address."""
        return self.endpoint(instance, port)

    def endpoints(self) -> dict[str, dict[str, Endpoint]]:
        """Instance name -> port name -> endpoint, in start order."""
        return {
            name: {p: Endpoint(HOST, n) for p, n in i.ports.items()} for name, i in self._instances.items()
        }

    def log_paths(self) -> dict[str, Path]:
        """Instance name -> its stdout/stderr log file."""
        return {name: inst.log_path for name, inst in self._instances.items()}

    def pids(self) -> dict[str, int]:
        """Instance name -> pid of its running process (stopped instances are left out)."""
        return {name: inst.popen.pid for name, inst in self._instances.items() if inst.popen and inst.alive()}

    def logs(self) -> Mapping[str, str]:
        return {name: inst.logs() for name, inst in self._instances.items()}

    # -- faults ----------------------------------------------------------------------------
    def kill(self, instance: str) -> None:
        inst = self._get(instance)
        if inst.alive():
            signal_group(inst.popen, signal.SIGKILL)
        inst.reap(self.session, timeout=STOP_TIMEOUT)

    def pause(self, instance: str) -> None:
        inst = self._running(instance, "pause")
        signal_group(inst.popen, signal.SIGSTOP)

    def resume(self, instance: str) -> None:
        inst = self._running(instance, "resume")
        signal_group(inst.popen, signal.SIGCONT)

    def restart(self, instance: str) -> None:
        inst = self._get(instance)
        self._stop_instance(inst)
        self._launch(inst, note=f"restarting {inst.plan.name}")

    def replace(self, instance: str, version: str) -> None:
        """Stop the instance, start ``version``'s artifact with the same name, ports, data dir and
        arguments, and wait until it is ready (see ``Deployment.replace``).

        Its ports are free between the two processes: another process could take one then, and
        the new instance fails to start, saying so (the address must not change, so no retry).
        """
        inst = self._get(instance)
        target = self._cell.instance_at(instance, version)
        if self._command is None or inst.rendered is None:
            raise BackendError(f"cannot replace {instance!r}: the deployment was not started by ProcessBackend.start")
        how = self._command(target, inst.spec)  # a missing PEX fails before the stop
        previous = inst.plan.version
        self._stop_instance(inst)
        inst.plan = target
        inst.argv, inst.env = how.role(inst.spec, inst.rendered, inst.data_dir)
        inst.probe_argv = how.argv
        self.plan = replace(
            self.plan, instances=tuple(target if i.name == instance else i for i in self.plan.instances)
        )
        self._launch(inst, note=f"replacing {instance}: {previous} -> {version}")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        errors = each_concurrently(self._stop_instance, list(self._instances.values()), lambda i: i.plan.name)
        if self._owns_session:
            self.session.close()
        if errors:
            raise BackendError("could not stop every instance cleanly: " + "; ".join(errors))

    # -- internals -------------------------------------------------------------------------
    def _get(self, instance: str) -> ProcessInstance:
        return instance_named(self._instances, self.plan.name, instance)

    def _running(self, instance: str, action: str) -> ProcessInstance:
        inst = self._get(instance)
        if not inst.alive():
            raise BackendError(
                f"cannot {action} {instance!r}: it is not running (see its log {inst.log_path})"
            )
        return inst

    def _add(self, inst: ProcessInstance) -> None:
        self._instances[inst.plan.name] = inst

    def _launch(self, inst: ProcessInstance, note: str = "") -> None:
        inst.launch(self.session, note)

    def _stop_instance(self, inst: ProcessInstance, timeout: float = STOP_TIMEOUT) -> None:
        inst.stop(self.session, timeout)


class ProcessBackend(Backend):
    """Runs each instance as a local subprocess (see the module docstring)."""

    name = "process"

    def __init__(self, session: Session | None = None, launcher: Launcher | None = None) -> None:
        """``session`` records the processes (a private one, closed on ``stop``, when omitted)."""
        self.session = session
        self.launcher = launcher
        self._venvs = VenvFinder()

    def start(self, plan: CellPlan, artifact_root: Path, work_dir: Path) -> ProcessDeployment:
        for spec in plan.roles:  # a plan not made by compat_core.plan (which refuses it) gets here
            if spec.memory is not None and any(i.role == spec.name for i in plan.instances):
                raise BackendError(memory_limit_error(spec, f"cell {plan.name!r} on the process backend"))
        owns = self.session is None
        session = self.session or Session.create(f"process backend, cell {plan.name}")
        process_watchdog.guard(session)  # before the first instance: none runs unguarded
        root = Path(artifact_root)
        deployment = ProcessDeployment(
            plan, session, owns_session=owns, command=lambda inst, spec: self._command(plan, inst, spec, root)
        )
        present = {i.role for i in plan.instances}
        work_dir = Path(work_dir)
        shared_dir = work_dir / "shared"
        shared_dir.mkdir(parents=True, exist_ok=True)
        deployment.shared_dir = shared_dir

        def start(instance: InstancePlan, peers: Mapping[str, Sequence[Peer]]) -> Peer:
            spec = plan.role(instance.role)
            data_dir = work_dir / instance.name / "data"
            data_dir.mkdir(parents=True, exist_ok=True)
            how = self._command(plan, instance, spec, root)
            log_path = work_dir / "logs" / f"{instance.name}.log"
            for attempt in range(1, PORT_ATTEMPTS + 1):
                ports = dict(zip(spec.ports, free_ports(len(spec.ports)), strict=True))
                rendered = render_role(
                    spec, instance, ports, data_dir, shared_dir, peers, present, host=HOST, advertised_host=HOST
                )
                write_files(rendered.files)
                argv, env = how.role(spec, rendered, data_dir)
                inst = ProcessInstance(
                    plan=instance,
                    spec=spec,
                    ports=ports,
                    data_dir=data_dir,
                    log_path=log_path,
                    argv=argv,
                    env=env,
                    probe_argv=how.argv,
                    rendered=rendered,
                    expand=rendered.expand,
                )
                deployment._add(inst)
                offset = log_path.stat().st_size if log_path.exists() else 0
                try:
                    deployment._launch(inst, note=f"retrying {instance.name} with new ports" if attempt > 1 else "")
                    break
                except ReadinessTimeout:
                    raise
                except BackendError as exc:
                    # A free port can be taken by another process before the instance binds it
                    # (several test runs share the machine): retry with new ports, not forever.
                    clash = isinstance(exc, PortTaken) or (not inst.alive() and port_clash(read_from(log_path, offset)))
                    if attempt == PORT_ATTEMPTS or not clash or not ports:
                        raise
                    deployment._stop_instance(inst)
            return Peer(instance.name, HOST, ports)

        with stopped_on_failure(deployment):
            start_in_waves(plan, start)
            deployment._instances = in_plan_order(plan, deployment._instances)
        return deployment

    def _command(self, plan: CellPlan, instance: InstancePlan, spec: RoleSpec, artifact_root: Path) -> ProcessCommand:
        return instance_command(plan, instance, spec, artifact_root, self.launcher, self._venvs)


__all__ = ("HOST", "PortTaken", "ProcessBackend", "ProcessDeployment")
