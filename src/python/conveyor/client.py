"""A Python client for the conveyor server's HTTP API (httpx; no server-side imports)."""

from __future__ import annotations

import time
from typing import Any

import httpx

TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


class ConveyorError(Exception):
    """The server answered with an error (status_code > 0) or could not be reached (0)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}" if status_code else message)
        self.status_code = status_code
        self.message = message


class Client:
    """Talks to one conveyor server: ``Client("http://127.0.0.1:8080")``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"server URL {url!r} must start with http:// or https://, e.g. http://127.0.0.1:8080"
            )
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConveyorError(0, f"cannot reach the conveyor server at {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error:
            message = body.get("error") if isinstance(body, dict) else None
            raise ConveyorError(response.status_code, str(message or response.text or response.reason_phrase))
        if body is None:
            raise ConveyorError(
                response.status_code, f"{method} {path} answered a non-JSON body: {response.text[:200]!r}"
            )
        return body

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/health")
        return result

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/info")
        return result

    def jobs(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/jobs")["jobs"]
        return result

    def submit(self, job: str, config: dict[str, Any] | None = None) -> str:
        """Starts a run of `job`; returns its run id."""
        return str(self._request("POST", "/runs", json={"job": job, "config": config or {}})["run_id"])

    def run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/runs/{run_id}")
        return result

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/runs", params={"limit": limit})["runs"]
        return result

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Asks the server to cancel a run; returns ``{"run_id", "status"}`` (0.2.0 servers on).

        Cancellation is cooperative: ``wait`` then returns CANCELED, or SUCCESS/FAILURE if the
        job finished first. A 409 ConveyorError says the run finished or the code location
        cannot cancel (an older code server).
        """
        result: dict[str, Any] = self._request("POST", f"/runs/{run_id}/cancel")
        return result

    def wait(
        self, run_id: str, timeout: float = 60.0, poll: float = 0.05, max_poll: float = 0.25
    ) -> dict[str, Any]:
        """Polls until the run finishes; returns the final run. Raises ConveyorError on timeout.

        The first poll comes ``poll`` seconds after the first look, and each next one half again
        later, up to ``max_poll``: a short run is seen finished soon after it is, and a long one
        costs the server (and this process) a few requests a second, not twenty.
        """
        if poll <= 0 or max_poll < poll:
            raise ValueError(f"poll={poll!r} and max_poll={max_poll!r}: use 0 < poll <= max_poll (seconds)")
        deadline = time.monotonic() + timeout
        interval = poll
        while True:
            run = self.run(run_id)
            if run["status"] in TERMINAL_STATUSES:
                return run
            if time.monotonic() >= deadline:
                raise ConveyorError(
                    0, f"run {run_id} is still {run['status']} after {timeout}s; wait longer (timeout=...)"
                )
            time.sleep(interval)
            interval = min(interval * 1.5, max_poll)
