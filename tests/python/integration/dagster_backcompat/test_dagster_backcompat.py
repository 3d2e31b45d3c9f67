"""Dagster's backcompat checks, through the webserver's GraphQL API over HTTP, as a user would.

Every cell runs a webserver and a user-code gRPC server (``dagster api grpc``) on the versions the
cell names. The webserver loads the code location from the gRPC server; jobs launched through the
webserver (``launchRun``) execute through the user-code server and record to the instance storage
both share. The queries use only fields present in dagster-graphql 1.11.16 .. 1.13.28.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from compat_core.cell_plan import CellPlan
from compat_matrix.backends.base import Deployment

LOCATION = "compat"
OK_JOB, FAIL_JOB = "ok_job", "fail_job"
FAIL_MARKER = "XVERSION_INTENTIONAL_FAILURE_42"  # examples/dagster/compat_dagster_user_code/defs.py
FINAL = {"SUCCESS", "FAILURE", "CANCELED"}

WORKSPACE = """
query Workspace { workspaceOrError { __typename
  ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename
      ... on RepositoryLocation { name dagsterLibraryVersions { name version } repositories { name jobs { name } } }
      ... on PythonError { message } } } }
  ... on PythonError { message } } }"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message }
  ... on Error { message } } }"""

RUN = """
query Run($runId: ID!) { runOrError(runId: $runId) { __typename
  ... on Run { runId status jobName }
  ... on Error { message } } }"""

LOGS = """
query Logs($runId: ID!, $after: String) { logsForRun(runId: $runId, afterCursor: $after) { __typename
  ... on EventConnection { cursor hasMore events { __typename
      ... on ExecutionStepFailureEvent { error { message cause { message } causes { message } } } } }
  ... on PythonError { message } } }"""


class Webserver:
    """The webserver as a user reaches it: GraphQL over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def query(self, text: str, variables: dict[str, Any] | None = None) -> Any:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url + "/graphql", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # GraphQL errors come back as HTTP 400 with a JSON body
            payload = json.loads(exc.read() or b"{}")
        assert not payload.get("errors"), f"GraphQL errors: {json.dumps(payload.get('errors'))[:2000]}"
        return payload["data"]


def expected_version(cell: CellPlan, role: str) -> str:
    """The Dagster release a role runs in this cell (``branch`` is the system's branch release)."""
    instance = next(i for i in cell.instances if i.role == role)
    return instance.runs or instance.version


@pytest.fixture(scope="module")
def webserver(deployment: Deployment) -> Webserver:
    return Webserver(deployment.first("webserver", "http").url())


@pytest.fixture(scope="module")
def location(webserver: Webserver) -> dict[str, Any]:
    """The code location, once the webserver has loaded it from the user-code server."""
    deadline = time.monotonic() + 60
    entry: dict[str, Any] = {}
    while time.monotonic() < deadline:
        workspace = webserver.query(WORKSPACE)["workspaceOrError"]
        assert workspace["__typename"] == "Workspace", workspace
        entry = next(e for e in workspace["locationEntries"] if e["name"] == LOCATION)
        loaded = entry["locationOrLoadError"] or {}
        if entry["loadStatus"] == "LOADED" and loaded.get("__typename") == "RepositoryLocation":
            return loaded
        time.sleep(0.5)  # the webserver polls the code server; a bounded wait for it, not for readiness
    pytest.fail(f"code location {LOCATION!r} did not load: {json.dumps(entry)[:2000]}")


def launch(webserver: Webserver, location: dict[str, Any], job: str) -> tuple[str, str]:
    """Launch ``job`` through the webserver; return its run id and final status."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": location["repositories"][0]["name"],
            "jobName": job,
        },
        "runConfigData": {},
    }
    result = webserver.query(LAUNCH, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", f"launchRun({job}): {json.dumps(result)[:2000]}"
    run_id = result["run"]["runId"]
    status = result["run"]["status"]
    deadline = time.monotonic() + 120
    while status not in FINAL and time.monotonic() < deadline:
        time.sleep(0.5)
        run = webserver.query(RUN, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        status = run["status"]
    return run_id, status


def test_code_location_loads_from_the_grpc_server(location: dict[str, Any]) -> None:
    assert location["name"] == LOCATION


def test_each_side_reports_the_version_the_cell_says(
    webserver: Webserver, location: dict[str, Any], cell: CellPlan
) -> None:
    assert webserver.query("query V { version }")["version"] == expected_version(cell, "webserver")
    assert webserver.get("/server_info")["dagster_webserver_version"] == expected_version(cell, "webserver")
    libraries = {lib["name"]: lib["version"] for lib in location["dagsterLibraryVersions"] or []}
    assert libraries.get("dagster") == expected_version(cell, "user-code")


def test_the_repositorys_jobs_are_listed(location: dict[str, Any]) -> None:
    jobs = {job["name"] for repo in location["repositories"] for job in repo["jobs"]}
    assert {OK_JOB, FAIL_JOB} <= jobs


def test_a_launched_job_succeeds(webserver: Webserver, location: dict[str, Any]) -> None:
    _, status = launch(webserver, location, OK_JOB)
    assert status == "SUCCESS"


def test_a_failing_job_fails_with_its_error(webserver: Webserver, location: dict[str, Any]) -> None:
    run_id, status = launch(webserver, location, FAIL_JOB)
    assert status == "FAILURE"
    logs = webserver.query(LOGS, {"runId": run_id, "after": None})["logsForRun"]
    assert logs["__typename"] == "EventConnection", logs
    errors = [e["error"] for e in logs["events"] if e["__typename"] == "ExecutionStepFailureEvent"]
    texts = [
        text
        for error in errors
        for text in [error["message"], (error.get("cause") or {}).get("message") or ""]
        + [c.get("message") or "" for c in error.get("causes") or []]
    ]
    assert any(FAIL_MARKER in text for text in texts), texts


def test_the_webserver_keeps_serving(webserver: Webserver, cell: CellPlan) -> None:
    assert webserver.query("query V { version }")["version"] == expected_version(cell, "webserver")
