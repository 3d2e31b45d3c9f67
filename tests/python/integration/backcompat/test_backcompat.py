"""Backcompat: the server and the user-code server work together across versions.

Each test runs in every cell of the suite (see BUILD): one side on branch, the other on the
earliest or latest pinned release. The tests drive the system from outside, as a user would,
with the branch's client through the server's HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import conveyor
from compat_core.cell_plan import CellPlan
from compat_core.model import BRANCH
from compat_matrix.backends.base import Deployment
from conveyor.client import Client

RUN_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> Iterator[Client]:
    """One client per running cell, as a user would keep one."""
    with Client(deployment.first("server", "http").url()) as shared:
        yield shared


def _expected_version(cell: CellPlan, role: str) -> str:
    (version,) = {inst.version for inst in cell.instances if inst.role == role}
    return conveyor.__version__ if version == BRANCH else version


def test_server_lists_the_code_locations_jobs(client: Client) -> None:
    names = {job["name"] for job in client.jobs()}
    # Jobs every release ships in conveyor.examples.
    assert {"add", "sum_squares", "where", "fail"} <= names


def test_submitted_job_returns_its_result(client: Client) -> None:
    run = client.wait(client.submit("add", {"a": 19, "b": 23}), timeout=RUN_TIMEOUT)
    assert run["status"] == "SUCCESS", run
    assert run["result"] == 42


def test_fan_out_job_returns_its_result(client: Client) -> None:
    run = client.wait(client.submit("sum_squares", {"n": 12}), timeout=RUN_TIMEOUT)
    assert run["status"] == "SUCCESS", run
    assert run["result"] == sum(i * i for i in range(12))


def test_server_info_reports_both_versions(client: Client, cell: CellPlan) -> None:
    info = client.info()
    assert info["server"]["version"] == _expected_version(cell, "server")
    location = info["code_location"]
    assert location["status"] == "ok", location
    assert location["version"] == _expected_version(cell, "user-code")


def test_failing_job_is_reported_as_failed(client: Client) -> None:
    run = client.wait(client.submit("fail", {"message": "backcompat-boom-7"}), timeout=RUN_TIMEOUT)
    assert run["status"] == "FAILURE", run
    assert "backcompat-boom-7" in (run["error"] or "")
    # The servers keep serving after a failed run.
    after = client.wait(client.submit("add", {"a": 1, "b": 1}), timeout=RUN_TIMEOUT)
    assert after["status"] == "SUCCESS", after
