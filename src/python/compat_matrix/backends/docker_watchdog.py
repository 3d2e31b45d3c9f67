"""The docker watchdog: a session's containers and networks go away with the session's owner.

In the manner of testcontainers' Ryuk, a session that starts containers first starts one small
watchdog container. It holds the engine's socket and removes everything labelled
``compat-matrix.watchdog=<id>`` once the session's connection to it drops. The connection is the
container's stdin, attached over the engine API (``OpenStdin`` + ``StdinOnce``). When the owner
exits, however it exits (SIGKILL included), the kernel closes the owner's socket, the engine
closes the watchdog's stdin, and the watchdog removes the labelled containers, then the networks,
then itself (``AutoRemove``).

Why stdin and not a TCP port as Ryuk has: no port is published at all (the watchdog has no
network, ``network_mode=none``), and the connection runs wherever the engine API runs, including
a remote ``DOCKER_HOST``. Liveness does not depend on pid namespaces either: the reaper treats a
watched session as alive exactly while its watchdog container runs (``running_watchdogs``), so a
reaper in another pid namespace (a CI job in a container that shares the host's engine) leaves a
live session alone.

No registry is reachable and the base image has no docker SDK, so the watchdog is a stdlib
``python3 -c`` script run from the base image (the ``base_image`` setting) that speaks the
Engine HTTP API over the unix socket. The socket is the one ``DOCKER_HOST`` names
(``unix://...``), else ``/var/run/docker.sock``. ``COMPAT_MATRIX_WATCHDOG_SOCKET`` overrides it
with the socket's path on the engine's host, e.g. for a ``tcp://`` ``DOCKER_HOST``.

Protocol on stdin: ``arm`` (within ``ARM_TIMEOUT`` of the start, else the watchdog cleans up and
exits), then optionally ``keep`` (the session is kept: stand by, without removing anything, as
the session's liveness token until ``compat-matrix down`` removes it), then EOF.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

import docker
import docker.errors

from compat_core.contract import WATCHDOG_SOCKET_ENV
from compat_core.errors import BackendError, CompatMatrixError
from compat_core.labels import LABEL_WATCHDOG_ID, LABEL_WATCHDOG_SESSION, LABEL_WATCHED_BY
from compat_core.settings import Settings
from compat_matrix.backends.docker_engine import present_image
from compat_matrix.session import Session

GUARD_KEY = "docker-watchdog"


DEFAULT_SOCKET = "/var/run/docker.sock"
CONTAINER_SOCKET = "/var/run/docker.sock"
ARM_TIMEOUT = 60

WATCHDOG_SCRIPT = r"""
import http.client, json, select, socket, sys, time, urllib.parse

label, arm_timeout = sys.argv[1], float(sys.argv[2])


class Engine(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=60)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect("/var/run/docker.sock")


def call(method, path, **query):
    conn = Engine()
    try:
        conn.request(method, path + ("?" + urllib.parse.urlencode(query) if query else ""))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def listed(path):
    status, body = call("GET", path, all="1", filters=json.dumps({"label": [label]}))
    return json.loads(body) if status == 200 else []


def prune():
    for container in listed("/containers/json"):
        status, _ = call("DELETE", "/containers/" + container["Id"], force="1", v="1")
        print(f"container {container['Id'][:12]}: {status}", flush=True)
    # A network still has endpoints for a moment after its last container went.
    deadline = time.monotonic() + 30
    while True:
        left = []
        for network in listed("/networks"):
            status, _ = call("DELETE", "/networks/" + network["Id"])
            print(f"network {network['Name']}: {status}", flush=True)
            if status not in (200, 204, 404):
                left.append(network["Id"])
        if not left or time.monotonic() >= deadline:
            return
        time.sleep(0.2)


stdin = sys.stdin.buffer
ready, _, _ = select.select([stdin], [], [], arm_timeout)
kept = False
if ready and stdin.readline().strip() == b"arm":
    print(f"armed for {label}", flush=True)
    for line in stdin:
        kept = kept or line.strip() == b"keep"
if kept:
    print("session kept: standing by", flush=True)
    while True:
        time.sleep(3600)
print("owner gone: removing its containers and networks", flush=True)
prune()
"""


def engine_socket(settings: Settings) -> str:
    """The engine socket's path on the engine's host, to bind into the watchdog."""
    if settings.watchdog_socket:
        return settings.watchdog_socket
    host = settings.docker_host
    if host.startswith("unix://"):
        return host[len("unix://") :]
    return DEFAULT_SOCKET


class DockerWatchdog:
    """The owner's side: the attached stdin socket and the watchdog container (a ``session.Guard``)."""

    def __init__(self, client: docker.DockerClient, container_id: str, watchdog_id: str, stream: Any) -> None:
        self.client = client
        self.container_id = container_id
        self.id = watchdog_id
        self._stream: Any = stream

    @classmethod
    def start(
        cls,
        session: Session,
        client: docker.DockerClient,
        *,
        image: str | None = None,
        watchdog_id: str | None = None,
    ) -> DockerWatchdog:
        """Start and arm a watchdog for ``session``; it takes ownership of ``client`` (closed on release).

        ``watchdog_id`` defaults to the session id (tests pass their own to share one watchdog).
        """
        settings = Settings.from_env(os.environ)
        socket_path = engine_socket(settings)
        image = image or settings.base_image
        watchdog_id = watchdog_id or session.id
        api = client.api
        try:
            present_image(client, image, "the docker watchdog's image")
        except CompatMatrixError:
            client.close()
            raise
        try:
            host_config = api.create_host_config(
                binds={socket_path: {"bind": CONTAINER_SOCKET, "mode": "rw"}},
                network_mode="none",
                auto_remove=True,
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit="64m",
                pids_limit=16,
            )
            # detach=False is what sets StdinOnce: the engine closes stdin when we disconnect.
            created = api.create_container(
                image,
                ["python3", "-c", WATCHDOG_SCRIPT, f"{LABEL_WATCHED_BY}={watchdog_id}", str(ARM_TIMEOUT)],
                name=f"compat-matrix-watchdog-{watchdog_id[-8:]}-{uuid.uuid4().hex[:6]}",
                labels={LABEL_WATCHDOG_ID: watchdog_id, LABEL_WATCHDOG_SESSION: session.id},
                stdin_open=True,
                detach=False,
                user="0:0",  # the engine socket is root's
                host_config=host_config,
            )
        except docker.errors.APIError as exc:
            client.close()
            raise BackendError(f"cannot create the docker watchdog from {image}: {exc}") from exc
        container_id = str(created["Id"])
        try:
            stream = api.attach_socket(container_id, params={"stdin": 1, "stream": 1})
            api.start(container_id)
            _raw(stream).sendall(b"arm\n")
        except (docker.errors.APIError, OSError) as exc:
            try:
                api.remove_container(container_id, force=True)
            except docker.errors.APIError:
                pass
            client.close()
            raise BackendError(
                f"cannot start the docker watchdog {container_id[:12]} (socket {socket_path}): {exc}; "
                f"set {WATCHDOG_SOCKET_ENV} to the engine socket's path on the engine's host"
            ) from exc
        return cls(client, container_id, watchdog_id, stream)

    def labels(self) -> dict[str, str]:
        """The label every container and network of the session carries."""
        return {LABEL_WATCHED_BY: self.id}

    def release(self, kept: bool) -> None:
        """Disconnect: the watchdog removes what is left (nothing, normally), or stands by if ``kept``."""
        if self._stream is None:
            return
        raw = _raw(self._stream)
        try:
            if kept:
                raw.sendall(b"keep\n")
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raw.close()
        self._stream = None
        if not kept:
            try:  # it removes itself; wait so a clean session leaves a clean engine behind it
                self.client.api.wait(self.container_id, timeout=30)
            except Exception:  # gone already (NotFound), or slow: it finishes on its own
                pass
        self.client.close()


def _raw(stream: Any) -> socket.socket:
    # docker-py returns the hijacked connection's socket.SocketIO (or the socket itself).
    return getattr(stream, "_sock", stream)  # type: ignore[no-any-return]


def guard(session: Session, connect: Callable[[], docker.DockerClient]) -> DockerWatchdog | None:
    """The session's docker watchdog, started with a fresh client on first use (None when off)."""
    return session.guard(GUARD_KEY, lambda s: DockerWatchdog.start(s, connect()))


def running_watchdogs(client: docker.DockerClient) -> frozenset[str]:
    """Ids of the watchdogs whose container is running: the live watched sessions, engine-wide."""
    containers = client.api.containers(filters={"label": LABEL_WATCHDOG_ID, "status": "running"})
    return frozenset(str((c.get("Labels") or {}).get(LABEL_WATCHDOG_ID, "")) for c in containers) - {""}


__all__ = (
    "ARM_TIMEOUT",
    "WATCHDOG_SCRIPT",
    "DockerWatchdog",
    "engine_socket",
    "guard",
    "running_watchdogs",
)
