"""Upgrade paths at run time on the process backend: ``replace`` and the upgrade runner, with the
fake system's real subprocesses (the docker backend's ``replace`` is in tests/python/docker_backend)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from compat_core.cell_plan import CellPlan, InstancePlan, UpgradeStep
from compat_core.declare import compat_fault, compat_upgrade
from compat_core.errors import ArtifactError
from compat_core.model import RoleSpec, Suite, Topology
from compat_core.plan import plan_suite
from compat_matrix.backends.process import ProcessBackend, ProcessDeployment
from compat_matrix.backends.source_launch import Launch
from compat_matrix.session import Session
from compat_matrix.testing import FAKE_SYSTEM, fake_launcher
from compat_matrix.testing_support import isolated_sessions
from compat_matrix.upgrade_runner import UpgradeStepFailed, run_upgrade


def _cell(**upgrade: object) -> CellPlan:
    fields: dict[str, object] = dict(start="0.1.0", to="branch", order=["web"])
    fields.update(upgrade)
    suite = Suite(
        name="fake-suite",
        topology=Topology.of({"web": 2, "peer": 1}),
        cells=(),
        system=FAKE_SYSTEM.name,
        backends=("process",),
        upgrade=compat_upgrade("up", **fields),  # type: ignore[arg-type]
    )
    (cell,) = plan_suite(suite, FAKE_SYSTEM).cells
    return cell


class RecordingLauncher:
    """The fake launcher, remembering which version of which instance it started."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []

    def __call__(self, instance: InstancePlan, spec: RoleSpec) -> Launch | None:
        self.started.append((instance.name, instance.version))
        return fake_launcher(instance, spec)


@pytest.fixture
def session() -> Iterator[Session]:
    with isolated_sessions() as directory:
        session = Session.create("test", directory=directory)
        try:
            yield session
        finally:
            session.close()


@pytest.fixture
def launcher() -> RecordingLauncher:
    return RecordingLauncher()


@pytest.fixture
def deployment(session: Session, launcher: RecordingLauncher, tmp_path: Path) -> Iterator[ProcessDeployment]:
    running = ProcessBackend(session=session, launcher=launcher).start(
        _cell(faults=[compat_fault("kill", role="web", seconds=0.1), compat_fault("pause", role="peer", seconds=0.1)]),
        tmp_path,
        tmp_path / "work",
    )
    try:
        yield running
    finally:
        running.stop()


def _info(deployment: ProcessDeployment, name: str) -> dict:
    return dict(httpx.get(deployment.endpoint(name, "main").url() + "/info", timeout=5.0).json())


def test_replace_keeps_name_port_and_data_and_runs_the_other_version(
    deployment: ProcessDeployment, launcher: RecordingLauncher, tmp_path: Path
) -> None:
    endpoint = deployment.endpoint("web-1", "main")
    pid = deployment.pids()["web-1"]
    deployment.replace("web-1", "branch")
    assert launcher.started[-1] == ("web-1", "branch")
    assert deployment.endpoint("web-1", "main") == endpoint  # the same address
    assert deployment.pids()["web-1"] != pid
    assert _info(deployment, "web-1")["opts"]["--name"] == "web-1"
    versions = {i.name: i.version for i in deployment.plan.instances}
    assert versions == {"web-0": "0.1.0", "web-1": "branch", "peer-0": "0.1.0"}
    data_log = tmp_path / "work" / "web-1" / "data" / "web.log"
    assert data_log.read_text().count("web web-1 data log") == 2  # the same data dir, both versions
    assert "--- compat-matrix: replacing web-1: 0.1.0 -> branch ---" in deployment.logs()["web-1"]
    deployment.replace("web-1", "0.1.0")  # and back (a rollback to the version it started on)
    assert {i.name: i.version for i in deployment.plan.instances}["web-1"] == "0.1.0"


def test_a_version_off_the_path_fails_before_anything_stops(deployment: ProcessDeployment) -> None:
    pid = deployment.pids()["peer-0"]
    with pytest.raises(ArtifactError, match="no artifact of role 'peer' at version 'branch'"):
        deployment.replace("peer-0", "branch")  # the path upgrades web only
    assert deployment.pids()["peer-0"] == pid


def test_the_runner_prints_the_plan_then_performs_and_checks_every_step(
    deployment: ProcessDeployment, launcher: RecordingLauncher
) -> None:
    cell = deployment.plan
    assert cell.upgrade is not None
    lines: list[str] = []
    checked: list[int] = []

    def check(step: UpgradeStep | None) -> None:
        checked.append(step.number if step else 0)
        for inst in deployment.plan.instances:  # every instance answers after every step
            assert deployment.endpoint(inst.name, "main").port > 0
        assert _info(deployment, "web-0")["role"] == "web"

    run_upgrade(deployment, cell, check, log=lines.append)
    assert lines[0].startswith("upgrade path up: 0.1.0 -> branch, seed 0")
    assert checked == list(range(len(cell.upgrade.steps) + 1))
    assert {i.name: i.version for i in deployment.plan.instances} == {"web-0": "branch", "web-1": "branch", "peer-0": "0.1.0"}
    assert sorted(name for name, version in launcher.started if version == "branch") == ["web-0", "web-1"]
    kinds = [s.fault or s.kind for s in cell.upgrade.steps]
    assert sorted(kinds) == ["kill", "pause", "upgrade", "upgrade"]


def test_a_failing_check_names_the_step_and_the_seed(deployment: ProcessDeployment) -> None:
    cell = deployment.plan
    assert cell.upgrade is not None
    second = cell.upgrade.steps[1]

    def check(step: UpgradeStep | None) -> None:
        assert step is None or step.number < 2, "the system broke"

    with pytest.raises(UpgradeStepFailed) as failed:
        run_upgrade(deployment, cell, check, log=lambda line: None)
    message = str(failed.value)
    assert f"failed at step 2/{len(cell.upgrade.steps)} ({second.describe()})" in message
    assert "the system broke" in message
    assert "seed 0: COMPAT_MATRIX_SEED=0 plans the same steps again" in message
    assert failed.value.step == second
