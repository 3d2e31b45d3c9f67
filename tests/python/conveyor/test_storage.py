from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.server import storage as st


def test_run_lifecycle_and_events(tmp_path: Path) -> None:
    db = st.RunStorage(str(tmp_path / "runs.sqlite"))
    db.create_run("r1", "add", {"a": 1, "b": 2})
    run = db.get_run("r1")
    assert run is not None and run.status == st.QUEUED and run.finished_at is None
    assert db.set_status("r1", st.STARTED, only_from=(st.QUEUED,))
    db.add_event("r1", "STARTED", "started")
    assert db.finish_run("r1", st.SUCCESS, result=3)
    # A terminal status is recorded once.
    assert not db.finish_run("r1", st.FAILURE, error="late")
    run = db.get_run("r1")
    assert run is not None
    assert (run.status, run.result, run.error) == (st.SUCCESS, 3, None)
    assert run.to_json()["finished_at"] is not None
    assert [e["kind"] for e in db.get_events("r1")] == ["STARTED"]


def test_history_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.sqlite")
    first = st.RunStorage(path)
    first.create_run("r1", "fail", {})
    first.finish_run("r1", st.FAILURE, error="RuntimeError: boom")
    first.close()
    second = st.RunStorage(path)
    run = second.get_run("r1")
    assert run is not None and run.error == "RuntimeError: boom"
    assert [r.run_id for r in second.list_runs()] == ["r1"]


def test_fail_unfinished_marks_abandoned_runs(tmp_path: Path) -> None:
    db = st.RunStorage(str(tmp_path / "runs.sqlite"))
    db.create_run("done", "add", {})
    db.finish_run("done", st.SUCCESS, result=1)
    db.create_run("left", "sleep", {})
    db.set_status("left", st.STARTED)
    assert db.fail_unfinished("server stopped") == ["left"]
    left = db.get_run("left")
    assert left is not None and left.status == st.FAILURE and left.error == "server stopped"


def test_list_runs_newest_first_with_limit_and_status(tmp_path: Path) -> None:
    db = st.RunStorage(str(tmp_path / "runs.sqlite"))
    for i in range(5):
        db.create_run(f"r{i}", "add", {})
    db.finish_run("r3", st.SUCCESS, result=None)
    assert [r.run_id for r in db.list_runs(limit=2)] == ["r4", "r3"]
    assert [r.run_id for r in db.list_runs(status=st.SUCCESS)] == ["r3"]


def test_delete_run(tmp_path: Path) -> None:
    db = st.RunStorage(str(tmp_path / "runs.sqlite"))
    db.create_run("r1", "add", {})
    db.add_event("r1", "LOG", "x")
    db.delete_run("r1")
    assert db.get_run("r1") is None and db.get_events("r1") == []


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(st.StorageError, match="does not exist; create it or fix --db"):
        st.RunStorage(str(tmp_path / "nope" / "runs.sqlite"))
