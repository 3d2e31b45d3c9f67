"""SQLite run storage: runs and their events survive a server restart."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

QUEUED = "QUEUED"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
CANCELING = "CANCELING"
CANCELED = "CANCELED"

TERMINAL_STATUSES = frozenset({SUCCESS, FAILURE, CANCELED})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    config_json TEXT NOT NULL,
    status TEXT NOT NULL,
    result_json TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    timestamp REAL NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run_id ON events (run_id, id);
"""


class StorageError(Exception):
    """The database cannot be opened or used; the message names the file."""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    job: str
    config: dict[str, Any]
    status: str
    result: Any
    error: str | None
    created_at: float
    finished_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "config": self.config,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "created_at": iso(self.created_at),
            "finished_at": iso(self.finished_at),
        }


class RunStorage:
    """Thread-safe access to one SQLite file (one connection, serialized by a lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            parent = Path(path).resolve().parent
            if not parent.is_dir():
                raise StorageError(
                    f"cannot open run database {path!r}: directory {str(parent)!r} does not exist; create it or fix --db"
                )
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open run database {path!r}: {exc}; check --db") from exc
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create_run(self, run_id: str, job: str, config: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, job, config_json, status, created_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, job, json.dumps(config), QUEUED, time.time()),
            )

    def delete_run(self, run_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    def add_event(self, run_id: str, kind: str, message: str, timestamp: float | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO events (run_id, timestamp, kind, message) VALUES (?, ?, ?, ?)",
                (run_id, timestamp if timestamp is not None else time.time(), kind, message),
            )

    def set_status(self, run_id: str, status: str, *, only_from: tuple[str, ...] | None = None) -> bool:
        """Sets a non-terminal status; returns False if the run was not in one of `only_from`."""
        with self._tx() as conn:
            if only_from:
                marks = ",".join("?" * len(only_from))
                cur = conn.execute(
                    f"UPDATE runs SET status = ? WHERE run_id = ? AND status IN ({marks})",
                    (status, run_id, *only_from),
                )
            else:
                cur = conn.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))
            return cur.rowcount > 0

    def finish_run(self, run_id: str, status: str, *, result: Any = None, error: str | None = None) -> bool:
        """Records a terminal status once; returns False if the run had already finished."""
        assert status in TERMINAL_STATUSES, status
        marks = ",".join("?" * len(TERMINAL_STATUSES))
        with self._tx() as conn:
            cur = conn.execute(
                f"UPDATE runs SET status = ?, result_json = ?, error = ?, finished_at = ?"
                f" WHERE run_id = ? AND status NOT IN ({marks})",
                (status, json.dumps(result), error, time.time(), run_id, *sorted(TERMINAL_STATUSES)),
            )
            return cur.rowcount > 0

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT run_id, job, config_json, status, result_json, error, created_at, finished_at"
                " FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        return _record(row) if row else None

    def get_events(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT timestamp, kind, message FROM events WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        return [{"timestamp": iso(ts), "kind": kind, "message": message} for ts, kind, message in rows]

    def list_runs(self, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        query = (
            "SELECT run_id, job, config_json, status, result_json, error, created_at, finished_at FROM runs"
        )
        params: list[Any] = []
        if status:
            query += " WHERE status = ?"
            params.append(status)
        query += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [_record(row) for row in rows]

    def fail_unfinished(self, reason: str) -> list[str]:
        """At startup: runs a previous server process left unfinished cannot be followed any more."""
        marks = ",".join("?" * len(TERMINAL_STATUSES))
        with self._lock:
            ids = [
                r[0]
                for r in self._conn.execute(
                    f"SELECT run_id FROM runs WHERE status NOT IN ({marks})", sorted(TERMINAL_STATUSES)
                ).fetchall()
            ]
        for run_id in ids:
            self.add_event(run_id, FAILURE, reason)
            self.finish_run(run_id, FAILURE, error=reason)
        return ids


def _stored_json(text: str | None) -> Any:
    """A stored JSON column; None when it cannot be read back.

    One unreadable row (written by another program, or nested deeper than the parser's
    recursion) must not make every listing fail.
    """
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, job, config_json, status, result_json, error, created_at, finished_at = row
    config = _stored_json(config_json)
    return RunRecord(
        run_id=run_id,
        job=job,
        config=config if isinstance(config, dict) else {},
        status=status,
        result=_stored_json(result_json),
        error=error,
        created_at=created_at,
        finished_at=finished_at,
    )
