"""The service's own state, on the machine it runs on (SQLite, in the state folder): each connection's schedule
(next run, failures in a row, paused and why, last Save & Test), its runs (the copy the console reads; the
durable history is also written to the destination), and each table's rows and last sync.

Nothing here holds a key: runs are recorded from the child's result, whose messages are scrubbed."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS connections (
    name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0, pause_reason TEXT, next_due REAL,
    failures INTEGER NOT NULL DEFAULT 0, last_success REAL, last_start REAL, health TEXT NOT NULL DEFAULT 'new',
    checks TEXT, checks_at REAL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, connection TEXT NOT NULL, trigger TEXT NOT NULL, started REAL NOT NULL, ended REAL,
    status TEXT NOT NULL, exit_code INTEGER, rows INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0,
    rate_limited INTEGER NOT NULL DEFAULT 0, error TEXT, result TEXT, recorded INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS runs_by_connection ON runs (connection, started);
CREATE TABLE IF NOT EXISTS tables (
    connection TEXT NOT NULL, name TEXT NOT NULL, rows INTEGER, status TEXT, error TEXT, last_synced REAL,
    last_run TEXT, PRIMARY KEY (connection, name));
"""
FINISHED = ("ok", "partial", "failed", "error", "killed", "timeout", "interrupted", "skipped")


@dataclass
class Run:
    run_id: str
    connection: str
    trigger: str  # startup | schedule | retry | manual | resync
    started: float
    ended: float | None = None
    status: str = "running"  # running, then one of FINISHED
    exit_code: int | None = None
    rows: int = 0
    requests: int = 0
    rate_limited: int = 0
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)  # the object `sync --json` prints
    recorded: bool = False  # written to the destination's _openai_sync_runs

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else round(self.ended - self.started, 3)

    @classmethod
    def started_from(cls, public: dict[str, Any]) -> Run:
        """The run as `public()` gave it to a child process, at its start."""
        return cls(public["run_id"], public["connection"], public["trigger"], public["started_at"])

    def finish(self, result: dict[str, Any], ended: float) -> None:
        """The run's end from its child's result (what `sync --json` prints): one mapping, for the local state and
        the destination's history alike. Another sync holding the lock: skipped; an error: failed."""
        self.ended, self.result = ended, result
        status = result.get("status", "failed")
        self.status = "skipped" if result.get("error_kind") == "busy" else "failed" if status == "error" else status
        self.exit_code = result.get("exit_code")
        self.rows, self.requests = result.get("rows", 0), result.get("requests", 0)
        self.rate_limited = result.get("rate_limited", 0)
        self.error = result.get("error") or _failing_tables(result)

    def public(self) -> dict[str, Any]:
        """The run as the JSON API and the destination show it."""
        return {"run_id": self.run_id, "connection": self.connection, "trigger": self.trigger,
                "started_at": self.started, "ended_at": self.ended, "seconds": self.seconds, "status": self.status,
                "exit_code": self.exit_code, "rows": self.rows, "requests": self.requests,
                "rate_limited": self.rate_limited, "error": self.error, "result": self.result}


@dataclass
class ConnectionState:
    name: str
    paused: bool = False
    pause_reason: str | None = None
    next_due: float | None = None
    failures: int = 0
    last_success: float | None = None
    last_start: float | None = None
    health: str = "new"  # new | healthy | failing
    checks: list[dict[str, str]] | None = None  # the last Save & Test: [{name, status, message}]
    checks_at: float | None = None


class State:
    """One SQLite file; every call its own short transaction, so threads and a restart see the same thing."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "service.sqlite"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        os.chmod(self.path, 0o600)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def connection(self, name: str) -> ConnectionState:
        with self._lock:
            row = self._db.execute("SELECT * FROM connections WHERE name = ?", (name,)).fetchone()
        if row is None:
            return ConnectionState(name)
        d = dict(row)
        d["paused"] = bool(d["paused"])
        d["checks"] = json.loads(d["checks"]) if d["checks"] else None
        return ConnectionState(**d)

    def save_connection(self, c: ConnectionState) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO connections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (c.name, int(c.paused), c.pause_reason, c.next_due, c.failures, c.last_success, c.last_start,
                        c.health, json.dumps(c.checks) if c.checks is not None else None, c.checks_at))

    def save_run(self, r: Run) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (r.run_id, r.connection, r.trigger, r.started, r.ended, r.status, r.exit_code, r.rows,
                        r.requests, r.rate_limited, r.error, json.dumps(r.result), int(r.recorded)))

    def runs(self, connection: str | None = None, limit: int = 50, unrecorded: bool = False) -> list[Run]:
        where, args = [], []
        if connection:
            where.append("connection = ?")
            args.append(connection)
        if unrecorded:
            where.append(f"recorded = 0 AND status IN ({', '.join('?' * len(FINISHED))})")
            args.extend(FINISHED)
        sql = "SELECT * FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "") + \
            " ORDER BY started DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_run(row) for row in rows]

    def run(self, run_id: str) -> Run | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def mark_recorded(self, run_ids: list[str]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE runs SET recorded = 1 WHERE run_id = ?", [(i,) for i in run_ids])

    def run_counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            rows = self._db.execute("SELECT connection, status, count(*) FROM runs GROUP BY 1, 2").fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def totals(self) -> dict[str, dict[str, int]]:
        """Per connection, the rows, requests and 429s of all its recorded runs (the counters of /metrics)."""
        with self._lock:
            rows = self._db.execute("SELECT connection, sum(rows), sum(requests), sum(rate_limited) FROM runs "
                                    "GROUP BY 1").fetchall()
        return {r[0]: {"rows": r[1] or 0, "requests": r[2] or 0, "rate_limited": r[3] or 0} for r in rows}

    def save_tables(self, connection: str, run: Run, counts: dict[str, int]) -> None:
        """Each table's outcome in `run`, and its rows in the destination after it (where counted)."""
        with self._tx() as db:
            for t in run.result.get("tables", []):
                ok = t["status"] == "ok"
                db.execute("INSERT INTO tables VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connection, name) DO UPDATE "
                           "SET rows = coalesce(excluded.rows, tables.rows), status = excluded.status, "
                           "error = excluded.error, last_synced = coalesce(excluded.last_synced, tables.last_synced),"
                           " last_run = excluded.last_run",
                           (connection, t["table"], counts.get(t["table"]), t["status"], t.get("error"),
                            run.ended if ok else None, run.run_id))

    def tables(self, connection: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM tables WHERE connection = ?", (connection,)).fetchall()
        return {r["name"]: dict(r) for r in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _run(row: sqlite3.Row) -> Run:
    d = dict(row)
    d["result"] = json.loads(d["result"]) if d["result"] else {}
    d["recorded"] = bool(d["recorded"])
    return Run(**d)


def _failing_tables(result: dict[str, Any]) -> str | None:
    failed = [t for t in result.get("tables", []) if t.get("status") != "ok"]
    if not failed:
        return None
    return "; ".join(f"{t['table']}: {t.get('error') or t['status']}" for t in failed[:5]) + (
        f"; and {len(failed) - 5} more tables" if len(failed) > 5 else "")
