"""The process backend with real subprocesses (the fake system's stdlib roles), real ports and probes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from compat_core.declare import command_probe, log_probe
from compat_core.errors import ArtifactError, BackendError, ReadinessTimeout
from compat_core.model import Command, Probe
from compat_matrix.backends.base import Endpoint, start_logs
from compat_matrix.backends.process import ProcessBackend, ProcessDeployment
from compat_matrix.backends.process_command import child_environment
from compat_matrix.backends.process_tree import free_ports
from compat_matrix.backends.source_launch import module_argv, source_launcher
from compat_matrix.session import Session, list_sessions
from compat_matrix.session_processes import pid_running
from compat_matrix.testing import (
    FAKE_ROLES_SCRIPT,
    FAKE_SYSTEM,
    advertising_system,
    fake_launcher,
    fake_plan,
    fake_role,
    replace_role,
)
from compat_matrix.testing_support import eventually, isolated_sessions


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



def _logged_pid(log: Path, pattern: str = r"pid (\d+) starting") -> int:
    match = re.search(pattern, log.read_text())
    assert match, f"no pid in {log}: {log.read_text()!r}"
    return int(match.group(1))


def _wait_dead(pid: int, timeout: float = 10.0) -> None:
    eventually(lambda: not pid_running(pid), timeout, f"process {pid} gone")


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
    assert not any(pid_running(pid) for pid in pids.values())
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
        info = _info(deployment, "web-0")
        # Nothing of the runner's PEX: only the variable that names the role's own command.
        assert info["env"] == {"PEX_MODULE": "fake"}
        # Its own home, as on a host of its own: not the user's.
        assert info["home"] == str(tmp_path / "w" / "web-0" / "data")
    finally:
        deployment.stop()


def test_runs_the_pex_from_the_artifact_root(session: Session, tmp_path: Path) -> None:
    # No launcher: the production path for a file that is not a venv PEX, `sys.executable -u
    # <artifact_root>/<pex> <args>` (a venv PEX: test_printed_readiness.py).
    artifacts = tmp_path / "artifacts"
    plan = fake_plan("c", [("web", 1)])
    pex = artifacts / plan.instances[0].pex
    assert plan.instances[0].pex == "compat/fake/pex-branch.pex"
    pex.parent.mkdir(parents=True)
    pex.write_text(FAKE_ROLES_SCRIPT)
    # The branch role's sources directory, beside its requirements PEX.
    sources = artifacts / plan.instances[0].sources
    assert plan.instances[0].sources == "compat/fake/src-branch-web"
    with pytest.raises(ArtifactError, match=r"web-0: sources compat/fake/src-branch-web \(version branch\) is missing"):
        ProcessBackend(session=session).start(plan, artifacts, tmp_path / "w")
    sources.mkdir()
    deployment = ProcessBackend(session=session).start(plan, artifacts, tmp_path / "w")
    try:
        info = _info(deployment, "web-0")
        assert info["role"] == "web"
        # How a real PEX knows the role's command, and where the role's first-party code is.
        assert info["env"] == {
            "PEX_MODULE": "fake",
            "PEX_EXTRA_SYS_PATH": str(sources.resolve()),
            # Unpacked where the user's PEXes are, not in the instance's home at every start.
            "PEX_ROOT": os.path.join(os.path.expanduser("~"), ".pex"),
        }
    finally:
        deployment.stop()


def test_missing_pex_names_it_and_the_build_command(session: Session, tmp_path: Path) -> None:
    plan = replace(fake_plan("web-earliest", [("web", 1)], {"web": "0.1.0"}), system_address="tests/fake:fake")
    with pytest.raises(
        ArtifactError,
        match=r"web-0: PEX compat/fake/pex-0\.1\.0\.pex \(version 0\.1\.0\) is missing under .*"
        r"build it with `\./pants package tests/fake:fake#pex-0\.1\.0`",
    ):
        ProcessBackend(session=session).start(plan, tmp_path, tmp_path / "w")
    assert session.record.processes == ()


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
    _wait_dead(web_pid)
    assert session.record.processes == ()
    # Every instance's log comes with the error (the pytest plugin keeps them with the test's outputs).
    logs = start_logs(info.value)
    assert "fake web listening on" in logs["web-0"] and "web web-0 data log" in logs["web-0"]
    assert "fatal: this role always fails to start" in logs["crash-0"]


def test_readiness_timeout_names_instance_and_probe(backend: ProcessBackend, tmp_path: Path) -> None:
    with pytest.raises(
        ReadinessTimeout, match=r"never-0 .*not ready after 1\.5s: probe TCP connect to 127\.0\.0\.1:\d+"
    ):
        backend.start(fake_plan("c", [("never", 1)]), tmp_path, tmp_path / "w")
    _wait_dead(_logged_pid(tmp_path / "w" / "logs" / "never-0.log"))


@pytest.mark.parametrize(
    "template", ["{address[nowhere]}", "{peers[nowhere][0].host}", "{peers[web][1].port[main]}", "{peers[web][0].pid}"]
)
def test_a_template_naming_what_did_not_start_is_explained(
    session: Session, tmp_path: Path, template: str
) -> None:
    # The planner rejects such a role; a plan file edited by hand still reaches the backend.
    plan = fake_plan("c", [("web", 1), ("extra", 1)])
    extra = plan.role("extra")
    broken = replace(plan, roles=(plan.role("web"), replace(extra, args=extra.args + ("--x", template))))
    with pytest.raises(BackendError, match=rf"extra-0: cannot expand '{re.escape(template)}' of role 'extra'"):
        ProcessBackend(session=session, launcher=fake_launcher).start(broken, tmp_path, tmp_path / "w")
    _wait_dead(_logged_pid(tmp_path / "w" / "logs" / "web-0.log"))  # what started is stopped


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
        assert not pid_running(first_pid)
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
    assert not pid_running(second_pid)


def test_stop_escalates_to_sigkill_and_kills_grandchildren(session: Session, tmp_path: Path) -> None:
    # The role ignores SIGTERM and starts a grandchild in its process group.
    extra = FAKE_SYSTEM.roles["extra"]
    system = replace_role(FAKE_SYSTEM, "extra", args=extra.args + ("--ignore-term", "1", "--child", "1"))
    deployment = ProcessBackend(session=session, launcher=fake_launcher).start(
        fake_plan("c", [("extra", 1)], system=system), tmp_path, tmp_path / "w"
    )
    log = tmp_path / "w" / "logs" / "extra-0.log"
    pid = deployment.pids()["extra-0"]
    grandchild = _logged_pid(log, r"grandchild pid (\d+)")
    assert pid_running(grandchild)
    started = time.monotonic()
    deployment.stop()
    assert time.monotonic() - started >= 4.0  # waited for SIGTERM first
    assert not pid_running(pid)
    _wait_dead(grandchild)


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
    launch = source_launcher(tmp_path / "src", {"0.1.0": tmp_path / "rel"})
    plan = fake_plan("c", [("web", 1), ("peer", 1)], {"peer": "0.1.0"})
    web, peer = plan.instances
    spec = plan.role("web")
    branch = launch(web, spec)
    release = launch(peer, plan.role("peer"))
    assert branch is not None and release is not None
    assert branch.argv == module_argv("fake") == release.argv  # the role's module command
    assert branch.env["PYTHONPATH"].split(os.pathsep)[0] == str((tmp_path / "src").resolve())
    assert release.env["PYTHONPATH"].split(os.pathsep)[0] == str((tmp_path / "rel").resolve())
    other = fake_plan("c", [("web", 1)], {"web": "0.2.0"}).instances[0]
    assert launch(other, spec) is None  # a release without a directory: its PEX
    assert source_launcher(None)(web, spec) is None  # no source root: the branch's PEX
    # A console script is installed in the version's environment only: its PEX.
    assert launch(web, replace(spec, command=Command("script", "fake-web"))) is None


def test_module_argv_runs_a_module_or_a_function(tmp_path: Path) -> None:
    (tmp_path / "entry.py").write_text(
        "import sys\n"
        "def main():\n    print('function', sys.argv[1:])\n    return 3\n"
        "if __name__ == '__main__':\n    print('module', sys.argv[1:])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    as_module = subprocess.run([*module_argv("entry"), "a", "b"], env=env, capture_output=True, text=True)
    assert (as_module.returncode, as_module.stdout) == (0, "module ['a', 'b']\n"), as_module.stderr
    as_function = subprocess.run([*module_argv("entry:main"), "c"], env=env, capture_output=True, text=True)
    assert (as_function.returncode, as_function.stdout) == (3, "function ['c']\n"), as_function.stderr


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


# -- roles as data: shared dir, files, env, port-less roles, peers ----------------------------

# Every instance appends its name to {shared_dir}/members. "seeder" and "checked" have no port:
# seeder is ready by a log line, checked by a command run in its environment (python -m
# json.tool FILE exits 0 once FILE holds JSON, which checked writes after --ready-after).
_MEMBER = ("--name", "{name}", "--touch", "{shared_dir}/members")
RUNTIME_SYSTEM = replace(
    FAKE_SYSTEM,
    role_specs=(
        replace_role(FAKE_SYSTEM, "web", args=FAKE_SYSTEM.roles["web"].args + _MEMBER[2:]).roles["web"],
        fake_role(
            "seeder",
            (
                *_MEMBER,
                "--read", "{data_dir}/config.txt",
                "--show-env", "GREETING,FIRST_WEB,SECOND_WEB",
                "--webs", "{peers[web][0].name}={peers[web][0].host}:{peers[web][0].port[main]},"
                "{peers[web][1].name}={peers[web][1].host}:{peers[web][1].port[main]}",
            ),
            log_probe(r"^fake seeder ready$", timeout=20.0, interval=0.05),
            ports=(),
            env=(
                ("GREETING", "hello from {name} (#{index})"),
                ("FIRST_WEB", "{address[web]}"),
                ("SECOND_WEB", "{peers[web][1].host}:{peers[web][1].port[main]}"),
            ),
            files=(
                ("{data_dir}/config.txt", "config of {name}, sharing {shared_dir}"),
                ("{shared_dir}/seed-{index}.txt", "seeded by {name}"),
            ),
            depends_on=("web",),
            requires=("web",),
        ),
        fake_role(
            "checked",
            (*_MEMBER, "--ready-after", "0.5", "--ready-file", "{shared_dir}/{name}.ready"),
            command_probe(["json.tool", "{shared_dir}/{name}.ready"], timeout=20.0, interval=0.05),
            ports=(),
        ),
    ),
)


def test_a_cell_of_roles_with_files_env_shared_dir_peers_and_no_ports(backend: ProcessBackend, tmp_path: Path) -> None:
    plan = fake_plan("c", [("web", 2), ("seeder", 1), ("checked", 1)], system=RUNTIME_SYSTEM)
    work = tmp_path / "w"
    deployment = backend.start(plan, tmp_path, work)
    try:
        shared = deployment.shared_dir
        assert shared == work / "shared"
        # One directory for the whole deployment: every instance wrote to the same file.
        assert sorted(shared.joinpath("members").read_text().split()) == ["checked-0", "seeder-0", "web-0", "web-1"]
        # Files were written before the instance started (seeder exits 4 when its file is missing).
        logs = deployment.logs()
        assert f"read {work / 'seeder-0' / 'data' / 'config.txt'}: config of seeder-0, sharing {shared}" in logs["seeder-0"]
        assert shared.joinpath("seed-0.txt").read_text() == "seeded by seeder-0"
        # The role's env, rendered for the instance, on top of the harness's.
        web0, web1 = deployment.endpoint("web-0", "main"), deployment.endpoint("web-1", "main")
        assert "env GREETING=hello from seeder-0 (#0)" in logs["seeder-0"]
        assert f"env FIRST_WEB={web0.address}" in logs["seeder-0"]
        assert f"env SECOND_WEB={web1.address}" in logs["seeder-0"]
        # {peers[ROLE][I]...}: every started instance of a role, by index.
        assert f'"--webs": "web-0={web0.address},web-1={web1.address}"' in logs["seeder-0"]
        # Ready by a log line / by a command: both were waited for before start() returned.
        assert "fake seeder ready" in logs["seeder-0"]
        assert shared.joinpath("checked-0.ready").exists()
        assert set(deployment.pids()) == {"web-0", "web-1", "seeder-0", "checked-0"}
        # endpoints(): every instance in start order; a role without ports has none.
        assert deployment.endpoints() == {
            "web-0": {"main": web0},
            "web-1": {"main": web1},
            "seeder-0": {},
            "checked-0": {},
        }
        assert list(deployment.endpoints()) == [i.name for i in plan.instances]
        assert all(e.host == "127.0.0.1" for ports in deployment.endpoints().values() for e in ports.values())
        with pytest.raises(KeyError, match="no port 'main'"):
            deployment.endpoint("seeder-0", "main")
    finally:
        deployment.stop()
    assert not any(pid_running(pid) for pid in deployment.pids().values())


# A product that registers the address it advertises where a peer looks it up, and a peer that
# dials what it finds there.
ADVERTISING_SYSTEM = advertising_system(FAKE_SYSTEM, "main")


def test_an_instance_is_reached_at_the_address_it_advertises(backend: ProcessBackend, tmp_path: Path) -> None:
    deployment = backend.start(fake_plan("c", [("web", 1), ("dialer", 1)], system=ADVERTISING_SYSTEM), tmp_path, tmp_path / "w")
    try:
        web = deployment.endpoint("web-0", "main")
        # The loopback address, as {address[web]} gives the web role's peers; a peer reached it there.
        assert deployment.shared_dir.joinpath("registry").read_text().split() == [f"127.0.0.1:{web.port}"]
        assert f"reached 127.0.0.1:{web.port}" in deployment.logs()["dialer-0"]
        # What it advertises, and the endpoint the driver reaches for that address: the same one.
        assert deployment.advertised("web-0", "main") == web
        assert deployment.reach(f"127.0.0.1:{web.port}") == web
    finally:
        deployment.stop()


# Regression: the log probe read the whole log, so after a restart the line the previous run
# printed passed it at once: restart() returned before the instance was ready again.
def test_restart_waits_for_a_new_log_line(backend: ProcessBackend, tmp_path: Path) -> None:
    seeder = RUNTIME_SYSTEM.roles["seeder"]
    system = replace_role(RUNTIME_SYSTEM, "seeder", args=seeder.args + ("--ready-after", "1"))
    deployment = backend.start(fake_plan("c", [("web", 2), ("seeder", 1)], system=system), tmp_path, tmp_path / "w")
    try:
        first = deployment.pids()["seeder-0"]
        deployment.restart("seeder-0")
        assert deployment.pids()["seeder-0"] != first
        assert deployment.logs()["seeder-0"].count("fake seeder ready") == 2
    finally:
        deployment.stop()


# Regression: log files are templates with every field, but logs() knew only {name}, {index} and
# {data_dir}: one naming {shared_dir} (or a port) raised KeyError, and a failed test got no logs.
def test_declared_log_files_may_use_every_template_field(backend: ProcessBackend, tmp_path: Path) -> None:
    web = FAKE_SYSTEM.roles["web"]
    system = replace_role(
        FAKE_SYSTEM, "web", log_files=web.log_files + ("{shared_dir}/{name}-{port[main]}.log", "{data_dir}/web.log")
    )
    deployment = backend.start(fake_plan("c", [("web", 1)], system=system), tmp_path, tmp_path / "w")
    try:
        port = deployment.endpoint("web-0", "main").port
        (deployment.shared_dir / f"web-0-{port}.log").write_text("in the shared dir\n")
        logs = deployment.logs()["web-0"]
        assert f"--- web-0-{port}.log ---\nin the shared dir" in logs
        assert logs.count("web web-0 data log") == 2  # web.log, named relative and by {data_dir}
    finally:
        deployment.stop()


# Regression: a command probe's args are templates like the role's ({shared_dir}, {name}, ...),
# but no backend expanded them, so a probe naming {shared_dir} never passed.
def test_command_probe_args_are_expanded_like_the_roles(backend: ProcessBackend, tmp_path: Path) -> None:
    plan = fake_plan("c", [("checked", 1)], system=RUNTIME_SYSTEM)
    deployment = backend.start(plan, tmp_path, tmp_path / "w")
    try:
        assert (deployment.shared_dir / "checked-0.ready").exists()
    finally:
        deployment.stop()


@pytest.mark.parametrize(
    "probe, expected",
    [
        (log_probe("never printed", timeout=1.0), r"a log line matching 'never printed'; last result: no log line"),
        (
            command_probe(["json.tool", "{shared_dir}/absent.json"], timeout=1.5),
            r"command python -m json\.tool \S+/shared/absent\.json -> exit 0; last result: exit status 2",
        ),
    ],
    ids=["log", "command"],
)
def test_a_port_less_role_that_never_gets_ready_times_out_naming_its_probe(
    backend: ProcessBackend, tmp_path: Path, probe: Probe, expected: str
) -> None:
    system = replace_role(RUNTIME_SYSTEM, "checked", readiness=probe)
    with pytest.raises(ReadinessTimeout, match=rf"checked-0 .*not ready after \S+s: probe {expected}"):
        backend.start(fake_plan("c", [("checked", 1)], system=system), tmp_path, tmp_path / "w")
    _wait_dead(_logged_pid(tmp_path / "w" / "logs" / "checked-0.log"))


def test_endpoints_of_a_deployment_are_its_ports_as_the_driver_reaches_them(
    backend: ProcessBackend, tmp_path: Path
) -> None:
    deployment = backend.start(fake_plan("c", [("web", 1), ("extra", 1)]), tmp_path, tmp_path / "w")
    try:
        endpoints = deployment.endpoints()
        assert endpoints == {
            "web-0": {"main": deployment.endpoint("web-0", "main")},
            "extra-0": {"main": deployment.endpoint("extra-0", "main")},
        }
        assert isinstance(endpoints["web-0"]["main"], Endpoint)
        assert httpx.get(endpoints["web-0"]["main"].url() + "/health", timeout=5.0).status_code == 200
    finally:
        deployment.stop()


def test_a_roles_cpu_limit_is_named_as_not_applied_here(backend: ProcessBackend, tmp_path: Path) -> None:
    # A CPU limit is a container's (the docker backend's): the process backend says, in the
    # instance's log, that it runs without it.
    system = replace_role(FAKE_SYSTEM, "web", cpus=0.5)
    deployment = backend.start(fake_plan("c", [("web", 1)], system=system), tmp_path, tmp_path / "w")
    try:
        log = deployment.logs()["web-0"]
        assert "role 'web' declares cpus=0.5" in log and "docker backend only" in log, log
    finally:
        deployment.stop()


def test_a_memory_limit_is_refused_not_ignored(backend: ProcessBackend, tmp_path: Path) -> None:
    # Regression (issue 24): compat_role(memory=...) was accepted and applied by no backend. A
    # process has no honest memory limit, so a plan that asks for one here is an error naming it
    # (planning refuses it first: compat_core.validate.validate_limits).
    plan = fake_plan("c", [("web", 1)])
    limited = replace(plan, roles=tuple(replace(r, memory="256m") if r.name == "web" else r for r in plan.roles))
    with pytest.raises(BackendError, match=r"role 'web' declares memory='256m'.*backends=\[\"docker\"\]"):
        backend.start(limited, tmp_path, tmp_path / "w")
