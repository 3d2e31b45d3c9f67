"""The docker watchdog: a session's containers and network go with its owner, however it dies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import docker.errors
import pytest

from compat_core.codec import cell_to_json
from compat_core.contract import NO_WATCHDOG_ENV
from compat_core.labels import LABEL_SESSION
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_deployment import DockerDeployment
from compat_matrix.backends.docker_engine import remove_container
from compat_matrix.backends.docker_network import (
    RULE_COMMENT_PREFIX,
    Firewall,
)
from compat_matrix.backends.docker_reaper import RESOURCE_REAPER
from compat_matrix.backends.docker_watchdog import (
    LABEL_WATCHDOG_SESSION,
    running_watchdogs,
)
from compat_matrix.backends.source_launch import python_path
from compat_matrix.probes import TcpProbe, check_once
from compat_matrix.reaper import reap
from compat_matrix.session import Session, list_sessions
from compat_matrix.testing_support import eventually, isolated_sessions
from docker_backend import fakes
from docker_backend.fakes import labelled

# -- the watchdog -------------------------------------------------------------------------------

# A harness run that starts a cell on the docker backend, reports it, and blocks until killed.
OWNER_SCRIPT = r"""
import json, sys, threading
from pathlib import Path
from compat_core.codec import cell_from_json
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.session import Session

work = Path(sys.argv[1])
plan = cell_from_json((work / "cell.json").read_text())
session = Session.create("docker owner", directory=Path(sys.argv[2]))
deployment = DockerBackend(session=session).start(plan, work, work / "cell")
(work / "up.json.tmp").write_text(json.dumps({"session": session.id}))
(work / "up.json.tmp").rename(work / "up.json")
threading.Event().wait()
"""


def _watchdogs_of(client: docker.DockerClient, session_id: str) -> list[str]:
    label = f"{LABEL_WATCHDOG_SESSION}={session_id}"
    return [c.name for c in client.containers.list(all=True, filters={"label": label}, ignore_removed=True)]


# Regression (issue 12): a killed session's containers and networks stayed until a later run's reaper.
def test_a_sigkilled_owners_containers_and_network_go_without_a_reaper(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    (tmp_path / "cell.json").write_text(cell_to_json(fakes.plan({"web": 1, "peer": 1}, image)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path())}
    env.pop(NO_WATCHDOG_ENV, None)
    with isolated_sessions() as sessions:
        owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(tmp_path), str(sessions)], env=env)
        session_id = ""
        try:
            eventually(lambda: (tmp_path / "up.json").exists() or owner.poll() is not None, 120.0, "the owner's cell up")
            assert owner.poll() is None, f"the owner exited: {owner.returncode}"
            session_id = json.loads((tmp_path / "up.json").read_text())["session"]
            containers, networks = labelled(client, session_id)
            assert len(containers) == 2 and len(networks) == 1
            assert len(_watchdogs_of(client, session_id)) == 1
            owner.kill()
            owner.wait()
            eventually(
                lambda: labelled(client, session_id) == ([], []),
                20.0,
                f"session {session_id}'s containers and network removed after its owner was SIGKILLed",
            )
            eventually(lambda: _watchdogs_of(client, session_id) == [], 20.0, "the watchdog gone after its work")
            # Regression (issue 24): the session's host-isolation rules and its record stayed until
            # the next run's reaper; the session's process watchdog on the host removes them.
            comment = f"{RULE_COMMENT_PREFIX}{session_id}"
            eventually(
                lambda: not [w for _, w in Firewall.detect().our_rules() if comment in w] and not list_sessions(sessions),
                40.0,
                f"session {session_id}'s firewall rules and record removed after its owner was SIGKILLed",
            )
        finally:
            if owner.poll() is None:
                owner.kill()
                owner.wait()
            if session_id:  # only if the watchdog failed: this test's own containers
                label = f"{LABEL_SESSION}={session_id}"
                for container in client.containers.list(all=True, filters={"label": label}, ignore_removed=True):
                    remove_container(container)


# Regression (issue 12): a reaper in another pid namespace (a CI job in a container sharing the
# engine) judged a live session dead by its owner's pid label and removed its containers.
def test_a_reaper_in_another_pid_namespace_leaves_a_live_session_alone(
    client: docker.DockerClient, deployment: DockerDeployment, tmp_path: Path
) -> None:
    system_path = "/usr/sbin:/usr/bin:/sbin:/bin"
    unshare, mount = shutil.which("unshare", path=system_path), shutil.which("mount", path=system_path)
    if unshare is None or mount is None or os.geteuid() != 0:
        pytest.skip("needs root and util-linux's unshare and mount to make another pid namespace")
    assert deployment.session.id in running_watchdogs(client)
    before = labelled(client, deployment.session.id)
    # Another pid namespace, and a mount namespace in which this session's records are not
    # visible (a container does not share our filesystem): only the engine is shared.
    records = str(deployment.session.path.parent)
    script = "from compat_matrix.reaper import reap; print(reap().removed)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path()), "COMPAT_MATRIX_SESSIONS_DIR": str(tmp_path)}
    run = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", f'{mount} -t tmpfs none "$0" && exec "$@"',
         records, sys.executable, "-c", script],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert deployment.session.id not in run.stdout, run.stdout
    assert labelled(client, deployment.session.id) == before
    assert check_once(TcpProbe("tcp"), deployment.endpoint("peer-0", "tcp")).ready


def test_a_kept_sessions_watchdog_stands_by_until_down(client: docker.DockerClient, image: str, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    session = Session.create("kept docker session", directory=sessions)
    DockerBackend(session=session).start(fakes.plan({"web": 1}, image), tmp_path, tmp_path / "work")
    try:
        session.keep()
        session.close()  # the owner is done; the session is kept
        [watchdog] = _watchdogs_of(client, session.id)
        assert client.containers.get(watchdog).status == "running"
        assert len(labelled(client, session.id)[0]) == 1
        assert not reap(sessions, reapers=[RESOURCE_REAPER]).sessions  # kept: alive
        from compat_matrix.reaper import down

        result = down([session.id], sessions, reapers=[RESOURCE_REAPER])
        assert any("watchdog" in line for line in result.removed), result
        assert labelled(client, session.id) == ([], []) and _watchdogs_of(client, session.id) == []
    finally:
        for name in _watchdogs_of(client, session.id) + labelled(client, session.id)[0]:
            try:
                remove_container(client.containers.get(name))
            except docker.errors.NotFound:
                pass
