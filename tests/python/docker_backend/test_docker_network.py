"""Host isolation: containers reach their own deployment only, and the host rules live and die
with the networks (and with the sessions that made them)."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from compat_core.errors import CompatMatrixError
from compat_matrix.backends.docker import DockerBackend
from compat_matrix.backends.docker_container import (
    DockerOptions,
)
from compat_matrix.backends.docker_deployment import DockerDeployment
from compat_matrix.backends.docker_network import (
    RULE_COMMENT_PREFIX,
    Firewall,
    bridge_interface,
    reap_host_rules,
)
from compat_matrix.backends.docker_reaper import DockerResourceReaper
from compat_matrix.reaper import reap
from compat_matrix.session import Session, list_sessions
from compat_matrix.testing_support import eventually
from docker_backend import fakes
from docker_backend.fakes import dead_pid, dial, get

# -- host isolation (issue 12) -----------------------------------------------------------------


class _Listener:
    """A TCP listener on the host, recording the peer address of every connection it accepts."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.peers: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.peers.append(peer[0])
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _gateway(client: docker.DockerClient, deployment: DockerDeployment) -> str:
    config = client.networks.get(deployment.network_name).attrs["IPAM"]["Config"]
    return str(config[0]["Gateway"])


@pytest.mark.parametrize("bind", ["0.0.0.0", "gateway"])
def test_a_container_cannot_connect_to_the_host(
    deployment: DockerDeployment, client: docker.DockerClient, bind: str
) -> None:
    # Regression (issue 12): an internal network still let containers reach a listener on the
    # host's 0.0.0.0 (through the bridge's gateway address).
    gateway = _gateway(client, deployment)
    listener = _Listener(gateway if bind == "gateway" else bind)
    try:
        # The listener is up: the host itself reaches it.
        local = "127.0.0.1" if bind == "0.0.0.0" else gateway
        with socket.create_connection((local, listener.port), timeout=2):
            pass
        eventually(lambda: len(listener.peers) == 1, 5.0, "the host's own connection accepted")
        result = dial(deployment, f"{gateway}:{listener.port}", timeout=2.0)
        assert result["reached"] is False, result
        assert "Connection refused" in result["error"], result  # rejected at once, not timed out
        assert listener.peers == [local], listener.peers  # only the host's own connection
    finally:
        listener.close()
    # ...while the driver on the host still reaches the containers, and they reach each other.
    assert get(deployment.endpoint("web-0", "http"), "/health") == {"ok": True}
    assert dial(deployment, "peer-0:8000")["reached"] is True


def test_the_host_rule_lives_and_dies_with_the_network(
    client: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    session = Session.create("docker isolation test", directory=tmp_path / "sessions")
    try:
        deployment = DockerBackend(session=session).start(fakes.plan({"web": 1}, image), tmp_path, tmp_path / "w")
        bridge = bridge_interface(client.networks.get(deployment.network_name).attrs)
        comment = f"{RULE_COMMENT_PREFIX}{session.id}"
        try:
            rules = [words for _, words in Firewall.detect().our_rules() if comment in words]
            assert rules and all(words[words.index("-i") + 1] == bridge for words in rules), rules
        finally:
            deployment.stop()
        assert not [words for _, words in Firewall.detect().our_rules() if comment in words]
    finally:
        session.close()


def test_the_reaper_removes_host_rules_of_dead_sessions_and_gone_bridges(deployment: DockerDeployment) -> None:
    firewall = Firewall.detect()
    planted = [("br-cmgone00000", "dead-session-x"), ("br-cmgone00001", "unknown-session-y")]
    for bridge, session_id in planted:
        firewall.add(bridge, session_id)
    live = f"{RULE_COMMENT_PREFIX}{deployment.session.id}"
    try:
        lines = reap_host_rules(frozenset({"dead-session-x"}), frozenset({deployment.session.id}))
        remaining = [words for _, words in firewall.our_rules()]
        assert not [w for w in remaining if any("-session-" in x for x in w)], remaining
        assert any("dead-session-x" in line and "removed" in line for line in lines), lines
        # Its bridge is gone: gone whoever removed it (another run's reaper may be first).
        assert not [w for w in remaining if f"{RULE_COMMENT_PREFIX}unknown-session-y" in w], remaining
        assert [w for w in remaining if live in w], "the live deployment's rule must stay"
    finally:
        for bridge, session_id in planted:
            firewall.remove(bridge, session_id)

def test_host_isolation_is_on_unless_switched_off() -> None:
    assert DockerOptions.from_env({}).isolate_host is True
    assert DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_ISOLATE_HOST": "0"}).isolate_host is False
    with pytest.raises(CompatMatrixError, match="COMPAT_MATRIX_DOCKER_ISOLATE_HOST='maybe'"):
        DockerOptions.from_env({"COMPAT_MATRIX_DOCKER_ISOLATE_HOST": "maybe"})


def test_the_bridge_interface_follows_the_engine_naming() -> None:
    network_id = "0123456789abcdef" * 4
    assert bridge_interface({"Id": network_id, "Options": {}}) == "br-0123456789ab"
    named = {"Id": network_id, "Options": {"com.docker.network.bridge.name": "cm-test0"}}
    assert bridge_interface(named) == "cm-test0"

# -- what a killed run leaves on the host (issue 24) --------------------------------------------


def test_the_next_run_removes_a_killed_sessions_record_and_rules_even_without_an_engine(
    client: docker.DockerClient, deployment: DockerDeployment, tmp_path: Path
) -> None:
    # Regression (issue 24): a SIGKILLed docker run left its session record and its REJECT rules;
    # the reaper every run starts with removed the rules only when an engine answered (a killed
    # run's networks also go when the engine is stopped, and its rules then stayed for good).
    firewall = Firewall.detect()
    sessions = tmp_path / "sessions"
    suffix = uuid.uuid4().hex[:8]
    pid, created = dead_pid()
    killed = f"killed-{suffix}"
    (sessions / f"{killed}.json").parent.mkdir(parents=True)
    (sessions / f"{killed}.json").write_text(
        json.dumps({"id": killed, "owner_pid": pid, "owner_create_time": created, "created_at": 0})
    )
    live = Session.create("a live docker session", directory=sessions)
    bridge = bridge_interface(client.networks.get(deployment.network_name).attrs)  # exists
    planted = [(bridge, killed), (f"br-gone{suffix}", f"unknown-{suffix}"), (bridge, live.id)]
    for planted_bridge, session_id in planted:
        firewall.add(planted_bridge, session_id)
    try:
        no_engine = DockerResourceReaper(base_url=f"unix://{tmp_path}/no-such-docker.sock")
        result = reap(sessions, reapers=[no_engine])
        assert result.sessions == (killed,) and not result.problems, result
        assert any(killed in line and "host-isolation rule" in line for line in result.removed), result
        rules = [" ".join(words) for _, words in firewall.our_rules()]
        assert not [r for r in rules if killed in r or f"unknown-{suffix}" in r], rules
        assert [r for r in rules if live.id in r], "a live session's rule must stay"
        assert [r for r in rules if deployment.session.id in r], "the running deployment's rule must stay"
        assert [r.id for r in list_sessions(sessions)] == [live.id]  # the killed session's record is gone
    finally:
        for planted_bridge, session_id in planted:
            firewall.remove(planted_bridge, session_id)
        live.close()
