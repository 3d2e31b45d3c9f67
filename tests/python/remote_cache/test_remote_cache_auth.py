"""Only CI writes to the remote cache: BuildGrid as build-support/ci/remote-cache.sh starts it.

Regression: BuildGrid ran with `authorization: none` and Redis without a password, so any user of
the machine could store an ActionResult with exit code 0 for any action digest, and cell cache keys
are the same in every checkout: a forged green remote hit for a failing cell.

The real script, configuration and ACL start a real BuildGrid and Redis on free loopback ports;
every request below is a real REAPI call over gRPC.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.bytestream import bytestream_pb2, bytestream_pb2_grpc

SCRIPT = Path("build-support/ci/remote-cache.sh").resolve()
CI = "ci"  # the instance CI reads and writes (buildgrid.yml)
READ_ONLY = ""  # the instance developers read


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cache:
    port: int
    redis_port: int
    directory: Path
    token: str  # CI's credential, as `remote-cache.sh token` mints it
    wrong_token: str  # a well-formed token signed with another cache's secret


def remote_cache(command: str, env: dict[str, str]) -> str:
    out = subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, env=env)
    assert out.returncode == 0, f"remote-cache.sh {command} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout.strip()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cache]:
    work = tmp_path_factory.mktemp("remote-cache")
    env = {
        # The script's logs (and a redis-server link) go to a cache directory of the test's own.
        "COMPAT_MATRIX_CACHE_DIR": str(work / "cache"),
        "HOME": str(work),
        "PATH": os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/bin", "/usr/bin", "/bin"]),
        # BuildGrid from this test's own resolve (the same pin remote-cache.sh installs).
        "BUILDGRID_VENV": sys.prefix,
        "BUILDGRID_DIR": str(work / "buildgrid"),
        "BUILDGRID_PORT": str(free_port()),
        "BUILDGRID_REDIS_PORT": str(free_port()),
    }
    # A second storage whose secret signs the wrong token: well-formed, not this cache's.
    other = dict(env, BUILDGRID_DIR=str(work / "other"))
    (work / "other" / "private").mkdir(parents=True)
    (work / "other" / "private" / "jwt-secret").write_text(hashlib.sha256(b"another cache").hexdigest())
    try:
        remote_cache("start", env)
        yield Cache(
            port=int(env["BUILDGRID_PORT"]),
            redis_port=int(env["BUILDGRID_REDIS_PORT"]),
            directory=Path(env["BUILDGRID_DIR"]),
            token=Path(remote_cache("token", env)).read_text().strip(),
            wrong_token=Path(remote_cache("token", other)).read_text().strip(),
        )
    finally:
        remote_cache("stop", env)


def digest(data: bytes) -> re_pb2.Digest:
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def metadata(token: str | None) -> list[tuple[str, str]]:
    return [] if token is None else [("authorization", f"Bearer {token}")]


class Client:
    """REAPI calls as Pants makes them: the action cache, the CAS and ByteStream."""

    def __init__(self, cache: Cache, instance: str, token: str | None) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{cache.port}")
        self.instance = instance
        self.metadata = metadata(token)

    def close(self) -> None:
        self.channel.close()

    def update_action_result(self, action: re_pb2.Digest, result: re_pb2.ActionResult) -> re_pb2.ActionResult:
        request = re_pb2.UpdateActionResultRequest(
            instance_name=self.instance, action_digest=action, action_result=result
        )
        return re_grpc.ActionCacheStub(self.channel).UpdateActionResult(request, metadata=self.metadata, timeout=30)

    def get_action_result(self, action: re_pb2.Digest) -> re_pb2.ActionResult:
        request = re_pb2.GetActionResultRequest(instance_name=self.instance, action_digest=action)
        return re_grpc.ActionCacheStub(self.channel).GetActionResult(request, metadata=self.metadata, timeout=30)

    def batch_update(self, data: bytes) -> re_pb2.BatchUpdateBlobsResponse:
        request = re_pb2.BatchUpdateBlobsRequest(
            instance_name=self.instance,
            requests=[re_pb2.BatchUpdateBlobsRequest.Request(digest=digest(data), data=data)],
        )
        stub = re_grpc.ContentAddressableStorageStub(self.channel)
        return stub.BatchUpdateBlobs(request, metadata=self.metadata, timeout=30)

    def batch_read(self, data: bytes) -> bytes:
        request = re_pb2.BatchReadBlobsRequest(instance_name=self.instance, digests=[digest(data)])
        stub = re_grpc.ContentAddressableStorageStub(self.channel)
        (response,) = stub.BatchReadBlobs(request, metadata=self.metadata, timeout=30).responses
        assert response.status.code == grpc.StatusCode.OK.value[0], response.status
        return bytes(response.data)

    def write(self, data: bytes) -> bytestream_pb2.WriteResponse:
        d = digest(data)
        prefix = f"{self.instance}/" if self.instance else ""
        name = f"{prefix}uploads/{uuid.uuid4()}/blobs/{d.hash}/{d.size_bytes}"
        request = bytestream_pb2.WriteRequest(resource_name=name, write_offset=0, finish_write=True, data=data)
        stub = bytestream_pb2_grpc.ByteStreamStub(self.channel)
        return stub.Write(iter([request]), metadata=self.metadata, timeout=30)

    def read(self, data: bytes) -> bytes:
        d = digest(data)
        prefix = f"{self.instance}/" if self.instance else ""
        request = bytestream_pb2.ReadRequest(resource_name=f"{prefix}blobs/{d.hash}/{d.size_bytes}")
        stub = bytestream_pb2_grpc.ByteStreamStub(self.channel)
        return b"".join(r.data for r in stub.Read(request, metadata=self.metadata, timeout=30))


# client(INSTANCE, TOKEN): a client of one instance, with that credential (None: none).
Connect = Callable[[str, "str | None"], Client]


@pytest.fixture
def client(cache: Cache) -> Iterator[Connect]:
    clients: list[Client] = []

    def make(instance: str, token: str | None) -> Client:
        clients.append(Client(cache, instance, token))
        return clients[-1]

    yield make
    for c in clients:
        c.close()


def green(stdout: bytes) -> re_pb2.ActionResult:
    """A passing test's result: exit code 0, its output in the CAS."""
    return re_pb2.ActionResult(exit_code=0, stdout_digest=digest(stdout))


def refused(call: Callable[[], object]) -> None:
    with pytest.raises(grpc.RpcError) as error:
        call()
    assert error.value.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED), error.value


def unique(what: str) -> bytes:
    return f"{what} {uuid.uuid4()}".encode()


@pytest.mark.parametrize("credential", ["none", "garbage", "another cache's"])
def test_writes_without_the_credential_are_refused(cache: Cache, client: Connect, credential: str) -> None:
    token = {"none": None, "garbage": "not-a-jwt", "another cache's": cache.wrong_token}[credential]
    writer = client(CI, token)
    forged_action, stdout = digest(unique("a failing cell's action")), unique("passed")
    refused(lambda: writer.batch_update(stdout))
    refused(lambda: writer.write(stdout))
    refused(lambda: writer.update_action_result(forged_action, green(stdout)))
    # Nothing was stored: CI's own lookup of that action misses.
    with pytest.raises(grpc.RpcError) as miss:
        client(CI, cache.token).get_action_result(forged_action)
    assert miss.value.code() == grpc.StatusCode.NOT_FOUND
    # Reads on CI's instance need the credential too.
    refused(lambda: writer.get_action_result(forged_action))


def test_ci_writes_with_the_credential_and_developers_read_what_it_wrote(cache: Cache, client: Connect) -> None:
    ci = client(CI, cache.token)
    action, stdout, blob = digest(unique("an action")), unique("passed"), unique("a streamed blob")
    (stored,) = ci.batch_update(stdout).responses
    assert stored.status.code == grpc.StatusCode.OK.value[0], stored.status
    assert ci.write(blob).committed_size == len(blob)
    ci.update_action_result(action, green(stdout))
    assert ci.get_action_result(action).exit_code == 0

    developer = client(READ_ONLY, None)
    assert developer.get_action_result(action).stdout_digest == digest(stdout)
    assert developer.batch_read(stdout) == stdout
    assert developer.read(blob) == blob


@pytest.mark.parametrize("credential", ["none", "CI's"])
def test_the_read_only_instance_refuses_every_write(cache: Cache, client: Connect, credential: str) -> None:
    developer = client(READ_ONLY, None if credential == "none" else cache.token)
    forged_action, stdout = digest(unique("a failing cell's action")), unique("passed")
    refused(lambda: developer.batch_update(stdout))
    refused(lambda: developer.write(stdout))
    refused(lambda: developer.update_action_result(forged_action, green(stdout)))
    with pytest.raises(grpc.RpcError) as miss:
        client(READ_ONLY, None).get_action_result(forged_action)
    assert miss.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_action_cache_store_needs_its_password(cache: Cache) -> None:
    # Redis would otherwise take an entry from any local user, around BuildGrid's checks.
    with socket.create_connection(("127.0.0.1", cache.redis_port), timeout=10) as redis:
        redis.sendall(b"SET action-cache.forged x\r\n")
        reply = redis.recv(200)
    assert reply.startswith(b"-NOAUTH"), reply


def redis_commands(port: int, *commands: list[bytes]) -> list[bytes]:
    """Each command's one-line reply, over Redis' wire protocol."""
    wire = b"".join(
        b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in c) for c in commands
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as redis:
        redis.sendall(wire)
        replies = b""
        while replies.count(b"\r\n") < len(commands):
            chunk = redis.recv(4096)
            assert chunk, replies
            replies += chunk
    return replies.splitlines()


def test_entries_from_before_writes_needed_a_credential_are_not_read(cache: Cache, client: Connect) -> None:
    # An entry as BuildGrid stored it before (anyone's, unsalted key), already in a storage that
    # outlives restarts: a hit on neither instance.
    action, stdout = digest(unique("a failing cell's action")), unique("passed")
    client(CI, cache.token).batch_update(stdout)  # what the entry names is there
    password = (cache.directory / "private" / "redis-password").read_bytes().strip()
    key = f"action-cache.{action.hash}_{action.size_bytes}".encode()
    replies = redis_commands(cache.redis_port, [b"AUTH", password], [b"SET", key, green(stdout).SerializeToString()])
    assert replies == [b"+OK", b"+OK"]
    for instance, token in ((READ_ONLY, None), (CI, cache.token)):
        with pytest.raises(grpc.RpcError) as miss:
            client(instance, token).get_action_result(action)
        assert miss.value.code() == grpc.StatusCode.NOT_FOUND, instance


def test_the_credentials_and_storage_are_the_owners_only(cache: Cache) -> None:
    assert cache.directory.stat().st_mode & 0o777 == 0o700
    private = cache.directory / "private"
    assert private.stat().st_mode & 0o777 == 0o700
    for name in ("jwt-secret", "redis-password", "redis.conf", "ci-token"):
        assert (private / name).stat().st_mode & 0o777 == 0o600, name
