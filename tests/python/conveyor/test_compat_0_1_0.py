"""Mixed versions: the branch against conveyor 0.1.0, run from its released wheel.

The 0.1.0 wheel (3rdparty/python/releases/wheels) is unpacked into a directory that goes first
on the old role's PYTHONPATH, so that role runs the released code with this environment's
third-party packages. Covers the degrade path of cancellation (docs/compatibility.md).
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from conftest import Launcher, conveyor_source_root, subprocess_env  # pants: no-infer-dep

from conveyor.client import Client, ConveyorError

OLD = "0.1.0"


def _find_wheel(version: str) -> Path:
    name = f"3rdparty/python/releases/wheels/conveyor-{version}-py3-none-any.whl"
    for base in (Path.cwd(), *Path(__file__).resolve().parents):
        if (base / name).is_file():
            return base / name
    raise AssertionError(f"{name} not found; build it as docs/releasing.md says")


@pytest.fixture(scope="module")
def old_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    target = tmp_path_factory.mktemp(f"conveyor-{OLD}")
    with zipfile.ZipFile(_find_wheel(OLD)) as wheel:
        wheel.extractall(target)
    env = subprocess_env([str(target)])
    branch_root = conveyor_source_root()
    # Only the old release's conveyor may be importable in the old role.
    env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p != branch_root)
    return env


def test_old_env_really_runs_the_release(launcher: Launcher, old_env: dict[str, str]) -> None:
    proc = launcher.spawn("old-version", ["version"], env=old_env)
    assert proc.wait_exit() == 0
    assert f"conveyor {OLD} (protocol 1)" in proc.logs()


def test_branch_server_with_0_1_0_code_server(launcher: Launcher, old_env: dict[str, str]) -> None:
    _, address = launcher.code_server(env=old_env, name="code-server-0.1.0")
    _, url = launcher.server(address)
    client = Client(url)
    location = client.info()["code_location"]
    assert (location["status"], location["version"], location["protocol_version"]) == ("ok", OLD, 1)
    assert "cancel" not in location["capabilities"]
    assert client.wait(client.submit("sum_squares", {"n": 5}))["result"] == 30

    # Cancellation degrades to a clear 409; the run itself is untouched and finishes.
    run_id = client.submit("sleep", {"seconds": 0.5})
    with pytest.raises(ConveyorError) as exc:
        client.cancel(run_id)
    assert exc.value.status_code == 409
    assert (
        f"code location 'default' at {address} (conveyor {OLD}, protocol 1) does not support run"
        " cancellation (capability 'cancel'); upgrade its code server to conveyor >= 0.2.0"
    ) in exc.value.message
    run = client.wait(run_id)
    assert run["status"] == "SUCCESS" and "CANCELING" not in [e["kind"] for e in run["events"]]


def test_0_1_0_server_with_branch_code_server(launcher: Launcher, old_env: dict[str, str]) -> None:
    _, address = launcher.code_server()
    server, url = launcher.server(address, name="server-0.1.0", env=old_env)
    server_env_check = httpx.get(f"{url}/info").json()
    assert server_env_check["server"] == {"version": OLD, "protocol_version": 1}
    client = Client(url)
    assert client.wait(client.submit("add", {"a": 1, "b": 2}))["result"] == 3
    run = client.wait(client.submit("fail", {"message": "old server"}))
    assert run["status"] == "FAILURE" and "old server" in run["error"]
    # The 0.1.0 server simply has no cancel endpoint: a JSON 404, not a crash.
    response = httpx.post(f"{url}/runs/{run['run_id']}/cancel")
    assert response.status_code == 404 and "error" in response.json()


def test_0_1_0_server_survives_branch_code_server_shutdown_mid_run(
    launcher: Launcher, old_env: dict[str, str]
) -> None:
    code_server, address = launcher.code_server()
    _, url = launcher.server(address, name="server-0.1.0", env=old_env)
    client = Client(url)
    run_id = client.submit("sleep", {"seconds": 60})
    # The branch code server stops the run on shutdown with a FAILURE the old server understands.
    deadline = time.monotonic() + 30
    while client.run(run_id)["status"] != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert code_server.terminate() == 0
    run = client.wait(run_id, timeout=30)
    assert run["status"] == "FAILURE"
