"""conveyor's Python client without a server: how ``wait`` paces its polls."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import client as client_module
from conveyor.client import Client, ConveyorError


def _waiting(monkeypatch: pytest.MonkeyPatch, statuses: list[str]) -> tuple[Client, list[float]]:
    """A client whose run goes through ``statuses``, and the sleeps ``wait`` asks for (no time passes)."""
    answers = iter(statuses)
    clock = _Clock()

    def run(self: Client, run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "status": next(answers)}

    monkeypatch.setattr(Client, "run", run)
    monkeypatch.setattr(client_module, "time", clock)  # the module's clock only
    return Client("http://127.0.0.1:1"), clock.sleeps


class _Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_long_wait_polls_less_and_less_often_up_to_max_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    client, sleeps = _waiting(monkeypatch, ["RUNNING"] * 9 + ["SUCCESS"])
    assert client.wait("r1", poll=0.05, max_poll=0.25)["status"] == "SUCCESS"
    assert sleeps == pytest.approx([0.05, 0.075, 0.1125, 0.16875, 0.25, 0.25, 0.25, 0.25, 0.25])


def test_a_finished_run_is_returned_without_a_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    client, sleeps = _waiting(monkeypatch, ["FAILURE"])
    assert client.wait("r1")["status"] == "FAILURE"
    assert sleeps == []


def test_the_timeout_still_ends_a_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    client, sleeps = _waiting(monkeypatch, ["RUNNING"] * 1000)
    with pytest.raises(ConveyorError, match=r"run r1 is still RUNNING after 2.0s; wait longer"):
        client.wait("r1", timeout=2.0)
    assert sum(sleeps) >= 2.0 and max(sleeps) == 0.25


@pytest.mark.parametrize(("poll", "max_poll"), [(0, 0.25), (-1, 0.25), (0.5, 0.25)])
def test_bad_poll_intervals_are_refused_naming_them(poll: float, max_poll: float) -> None:
    with pytest.raises(ValueError, match=rf"poll={poll!r} and max_poll={max_poll!r}: use 0 < poll <= max_poll"):
        Client("http://127.0.0.1:1").wait("r1", poll=poll, max_poll=max_poll)
