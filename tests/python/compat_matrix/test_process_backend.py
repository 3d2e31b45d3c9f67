"""The process backend with real subprocesses (the fake system's stdlib roles), real ports and probes."""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import psutil
import pytest

from compat_matrix.backends.process import (
    ProcessBackend,
    ProcessDeployment,
    child_environment,
    free_ports,
    source_launcher,
)
from compat_core.errors import ArtifactError, BackendError, ReadinessTimeout
from compat_core.model import Probe, RoleSpec, System
from compat_matrix.session import Session, list_sessions
from compat_matrix.testing import FAKE_ROLES_SCRIPT, FAKE_SYSTEM, fake_launcher, fake_plan, isolated_sessions


@pytest.fixture
def sessions() -> Iterator[Path]:
    # Inside the default sessions directory: if this run is killed, the next run reaps it.
    with isolated_sessions() as directory:
        yield directory


@pytest.fixture
def session(sessions: Path) -> Iterator[Session]:
    session = Session.create("test", directory=sessions)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def backend(session: Session) -> ProcessBackend:
    return ProcessBackend(session=session, launcher=fake_launcher)


def _info(deployment: ProcessDeployment, instance: str) -> dict:
    response = httpx.get(deployment.endpoint(instance, "main").url() + "/info", timeout=5.0)
    response.raise_for_status()
    return dict(response.json())


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _logged_pid(log: Path, pattern: str = r"pid (\d+) starting") -> int:
    match = re.search(pattern, log.read_text())
    assert match, f"no pid in {log}: {log.read_text()!r}"
    return int(match.group(1))


def _wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def test_starts_in_order_with_formatted_args_and_stops(
    backend: ProcessBackend, session: Session, sessions: Path, tmp_path: Path
) -> None:
    plan = fake_plan("all-branch", [("web", 1), ("extra", 1), ("peer", 2)])
    deployment = backend.start(plan, tmp_path / "artifacts", tmp_path / "work")
    try:
        pids = deployment.pids()
        assert list(pids) == ["web-0", "extra-0", "peer-0", "peer-1"]
        assert {p.pid for p in session.record.processes} == set(pids.values())
        on_disk = {r.id: r for r in list_sessions(sessions)}[session.id]
        assert {p.instance for p in on_disk.processes} == set(pids)
        assert all(p.create_time > 0 for p in on_disk.processes)

        web = _info(deployment, "web-0")
        assert web["opts"]["--name"] == "web-0"
        assert web["opts"]["--data"] == str(tmp_path / "work" / "web-0" / "data")
        peer_log = (tmp_path / "work" / "logs" / "peer-1.log").read_text()
        web_address = deployment.endpoint("web-0", "main").address
        extra_address = deployment.endpoint("extra-0", "main").address
        assert f'"--web": "{web_address}"' in peer_log
        assert f'"--extra": "{extra_address}"' in peer_log  # args_if_present: extra is in the topology
        ports = {deployment.endpoint(name, "main").port for name in pids}
        assert len(ports) == 4

        logs = deployment.logs()
        assert "fake web listening" in logs["web-0"]
        assert "web web-0 data log" in logs["web-0"]  # the declared log file is collected too
        assert set(logs) == set(pids)
        with pytest.raises(KeyError, match="no instance 'server-0'"):
            deployment.endpoint("server-0", "main")
        with pytest.raises(KeyError, match="no port 'http'"):
            deployment.endpoint("web-0", "http")
    finally:
        deployment.stop()
    assert not any(_alive(pid) for pid in pids.values())
    assert session.record.processes == ()
    deployment.stop()  # idempotent


def test_args_if_present_left_out_without_the_role(backend: ProcessBackend, tmp_path: Path) -> None:
    deployment = backend.start(
        fake_plan("c", [("web", 1), ("peer", 1)]), tmp_path, tmp_path / "w"
    )
    try:
        assert "--extra" not in deployment.logs()["peer-0"]
    finally:
        deployment.stop()


def test_child_environment_is_scrubbed(
    backend: ProcessBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEX_ROOT", "/somewhere")
    monkeypatch.setenv("PEX_INHERIT_PATH", "prefer")
    monkeypatch.setenv("PYTHONPATH", "/leak")
    monkeypatch.setenv("COMPAT_MATRIX_SOMETHING", "kept")
    env = child_environment({"EXTRA": "1"})
    assert not any(k.startswith("PEX_") for k in env) and "PYTHONPATH" not in env
    assert env["COMPAT_MATRIX_SOMETHING"] == "kept" and env["EXTRA"] == "1"
    deployment = backend.start(fake_plan("c", [("web", 1)]), tmp_path, tmp_path / "w")
    try:
        assert _info(deployment, "web-0")["env"] == {}
    finally:
        deployment.stop()


def test_runs_the_pex_from_the_artifact_root(session: Session, tmp_path: Path) -> None:
    # No launcher: the production path, `sys.executable <artifact_root>/<pex> <args>`.
    artifacts = tmp_path / "artifacts"
    pex = artifacts / "docker" / "pex-branch-web.pex"
    pex.parent.mkdir(parents=True)
    pex.write_text(FAKE_ROLES_SCRIPT)
    deployment = ProcessBackend(session=session).start(
        fake_plan("c", [("web", 1)]), artifacts, tmp_path / "w"
    )
    try:
        assert _info(deployment, "web-0")["role"] == "web"
    finally:
        deployment.stop()


def test_missing_pex_names_it_and_the_build_command(session: Session, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"docker/pex-0\.1\.0\.pex.*`\./pants package docker:pex-0\.1\.0` .*`\./pants package docker::`"):
        ProcessBackend(session=session).start(
            fake_plan("web-earliest", [("web", 1)], {"web": "0.1.0"}), tmp_path, tmp_path / "w"
        )


def test_crash_fails_fast_with_log_and_stops_what_started(
    backend: ProcessBackend, session: Session, tmp_path: Path
) -> None:
    plan = fake_plan("c", [("web", 1), ("crash", 1)])
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        backend.start(plan, tmp_path, tmp_path / "w")
    assert time.monotonic() - started < 15.0  # not the 20s probe timeout
    message = str(info.value)
    assert "crash-0" in message and "exited before it was ready" in message
    assert "fatal: this role always fails to start" in message
    web_pid = _logged_pid(tmp_path / "w" / "logs" / "web-0.log")
    assert _wait_dead(web_pid)
    assert session.record.processes == ()


def test_readiness_timeout_names_instance_and_probe(backend: ProcessBackend, tmp_path: Path) -> None:
    with pytest.raises(
        ReadinessTimeout, match=r"never-0 .*not ready after 1\.5s: probe TCP connect to 127\.0\.0\.1:\d+"
    ):
        backend.start(fake_plan("c", [("never", 1)]), tmp_path, tmp_path / "w")
    assert _wait_dead(_logged_pid(tmp_path / "w" / "logs" / "never-0.log"))


def test_unknown_address_template_is_explained(session: Session, tmp_path: Path) -> None:
    broken = System(
        "broken",
        "broken",
        {
            "web": RoleSpec(
                "web",
                ("web", "--port", "{port[main]}", "--x", "{address[nowhere]}"),
                ("main",),
                Probe("tcp", "main"),
            )
        },
    )
    with pytest.raises(BackendError, match=r"cannot expand argument '\{address\[nowhere\]\}'"):
        ProcessBackend(session=session, launcher=fake_launcher).start(
            fake_plan("c", [("web", 1)]), broken, tmp_path, tmp_path / "w"
        )


def test_faults_kill_restart_pause_resume(backend: ProcessBackend, tmp_path: Path) -> None:
    deployment = backend.start(
        fake_plan("c", [("web", 1), ("peer", 1)]), tmp_path, tmp_path / "w"
    )
    try:
        endpoint = deployment.endpoint("web-0", "main")
        first_pid = deployment.pids()["web-0"]

        deployment.pause("web-0")
        with pytest.raises(httpx.TimeoutException):
            httpx.get(endpoint.url() + "/health", timeout=0.5)
        deployment.resume("web-0")
        assert httpx.get(endpoint.url() + "/health", timeout=5.0).status_code == 200

        deployment.kill("web-0")
        assert not _alive(first_pid)
        assert "web-0" not in deployment.pids()
        with pytest.raises(httpx.ConnectError):
            httpx.get(endpoint.url() + "/health", timeout=2.0)
        with pytest.raises(BackendError, match="cannot pause 'web-0': it is not running"):
            deployment.pause("web-0")

        deployment.restart("web-0")
        assert deployment.endpoint("web-0", "main") == endpoint  # same port
        assert httpx.get(endpoint.url() + "/health", timeout=5.0).status_code == 200
        second_pid = deployment.pids()["web-0"]
        assert second_pid != first_pid
        assert "restarting web-0" in deployment.logs()["web-0"]

        deployment.restart("peer-0")  # a running instance: stopped, then started again
        assert deployment.pids()["peer-0"] != second_pid
    finally:
        deployment.stop()
    assert not _alive(second_pid)


def test_stop_escalates_to_sigkill_and_kills_grandchildren(session: Session, tmp_path: Path) -> None:
    # The role ignores SIGTERM and starts a grandchild in its process group.
    extra = FAKE_SYSTEM.roles["extra"]
    stubborn = replace(extra, args=extra.args + ("--ignore-term", "1", "--child", "1"))
    system = replace(FAKE_SYSTEM, roles={"extra": stubborn})
    deployment = ProcessBackend(session=session, launcher=fake_launcher).start(
        fake_plan("c", [("extra", 1)]), system, tmp_path, tmp_path / "w"
    )
    log = tmp_path / "w" / "logs" / "extra-0.log"
    pid = deployment.pids()["extra-0"]
    grandchild = _logged_pid(log, r"grandchild pid (\d+)")
    assert _alive(grandchild)
    started = time.monotonic()
    deployment.stop()
    assert time.monotonic() - started >= 4.0  # waited for SIGTERM first
    assert not _alive(pid)
    assert _wait_dead(grandchild)


def test_private_session_when_none_is_given(
    sessions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPAT_MATRIX_SESSIONS_DIR", str(sessions))
    deployment = ProcessBackend(launcher=fake_launcher).start(
        fake_plan("c", [("web", 1)]), tmp_path, tmp_path / "w"
    )
    try:
        assert [r.id for r in list_sessions(sessions)] == [deployment.session.id]
    finally:
        deployment.stop()
    assert list_sessions(sessions) == []


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_source_launcher_runs_branch_and_listed_releases_from_directories(tmp_path: Path) -> None:
    launch = source_launcher(tmp_path / "src", "conveyor", {"0.1.0": tmp_path / "rel"})
    plan = fake_plan("c", [("web", 1), ("peer", 1)], {"peer": "0.1.0"})
    web, peer = plan.instances
    branch = launch(web)
    release = launch(peer)
    assert branch is not None and release is not None
    assert branch.argv == (sys.executable, "-m", "conveyor") == release.argv
    assert branch.env["PYTHONPATH"].split(os.pathsep)[0] == str((tmp_path / "src").resolve())
    assert release.env["PYTHONPATH"].split(os.pathsep)[0] == str((tmp_path / "rel").resolve())
    assert launch(fake_plan("c", [("web", 1)], {"web": "0.2.0"}).instances[0]) is None  # its PEX
    assert source_launcher(None, "conveyor")(web) is None


@pytest.mark.parametrize(
    "role, detected_by",
    [
        ("extra", "TCP probe answered by the squatter: the listener check"),
        ("web", "HTTP probe gets no answer, the instance dies: its log"),
    ],
)
def test_a_port_taken_before_the_instance_binds_it_is_retried(
    backend: ProcessBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: str, detected_by: str
) -> None:
    import compat_matrix.backends.process as process

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        handed_out: list[list[int]] = []

        def ports_with_a_clash(count: int) -> list[int]:
            ports = [taken] * count if not handed_out else free_ports(count)
            handed_out.append(ports)
            return ports

        monkeypatch.setattr(process, "free_ports", ports_with_a_clash)
        deployment = backend.start(fake_plan("c", [(role, 1)]), tmp_path, tmp_path / "w")
        try:
            assert len(handed_out) == 2, detected_by
            assert deployment.endpoint(f"{role}-0", "main").port == handed_out[1][0] != taken
            assert f"retrying {role}-0 with new ports" in deployment.logs()[f"{role}-0"]
        finally:
            deployment.stop()


def test_a_port_taken_every_time_gives_up(
    backend: ProcessBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compat_matrix.backends.process as process

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        monkeypatch.setattr(process, "free_ports", lambda count: [taken] * count)
        with pytest.raises(process.PortTaken, match=f"127.0.0.1:{taken}\\) answers, but not from this instance"):
            backend.start(fake_plan("c", [("extra", 1)]), tmp_path, tmp_path / "w")
