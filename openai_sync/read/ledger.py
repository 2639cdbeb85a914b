"""The ledger: what one run read, table by table. Readers write facts into it; loading reads them.

For each table: its rows, its time, what stopped it; and per scope (the whole table, one parent object,
one project, one project's parent object) whether it was listed completely, or failed. It is the single
source of soft deletes and history retirement: a scope is retired only where a complete listing says so,
and nothing of a table whose reading stopped. Project tables' next state (recent watermarks) is kept here
until the run knows which projects fully succeeded.
"""

from __future__ import annotations

import io
import pickle
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..api.errors import SyncError

Scope = tuple[tuple[str, str], ...]  # (column, value) pairs that select a scope's rows; () is the whole table
WHOLE: Scope = ()


def scope_of(**columns: str) -> Scope:
    return tuple(columns.items())


class PartialFailure(SyncError):
    """Some scopes of a table failed (each is in the ledger); every other scope was read."""


@dataclass(frozen=True)
class Listing:
    rows: int
    ids: tuple[str, ...] | None = None  # kept for parent tables: their children elsewhere are gone
    before: datetime | None = None  # the complete listing was an earlier run's, which synced at this time


@dataclass
class _Facts:
    """The per-scope facts as read back from the log: a later fact of the same scope replaces an earlier one."""

    listed: dict[str, dict[Scope, Listing]] = field(default_factory=dict)
    failed: dict[str, dict[Scope, str]] = field(default_factory=dict)
    next_state: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    latest: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = field(default_factory=dict)
    gone: dict[str, set[str]] = field(default_factory=dict)


class _Log:
    """The per-scope facts of a run, pickled one after the other into one growing buffer, read back once the
    readers are done.

    They are written while pages are parsed, tens of thousands of them with every project key (a listing and a
    next state per project's parent object). Kept as small objects, each would keep alive the 1 MiB block of
    Python's small-object allocator it landed in, among the pages' objects, long after the pages were freed:
    on the large organization with every project key, 8 MB of them held some 300 such blocks through normalize
    and load. The buffer lives in the system heap, in one piece."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._read: tuple[int, _Facts] = (0, _Facts())  # the facts as of the buffer's length then

    def add(self, *fact: Any) -> None:
        self._buf += pickle.dumps(fact, protocol=pickle.HIGHEST_PROTOCOL)

    def facts(self) -> _Facts:
        if self._read[0] != len(self._buf):
            self._read = (len(self._buf), _decode(self._records()))
        return self._read[1]

    def _records(self) -> Iterator[tuple[Any, ...]]:
        f = io.BytesIO(self._buf)
        while f.tell() < len(self._buf):
            yield pickle.load(f)


def _decode(records: Iterable[tuple[Any, ...]]) -> _Facts:
    out = _Facts()
    for kind, table, *fact in records:
        if kind == "listed":
            scope, rows, ids, before = fact
            out.listed.setdefault(table, {})[scope] = Listing(rows, ids, before)
        elif kind == "failed":
            out.failed.setdefault(table, {})[fact[0]] = fact[1]
        elif kind == "advance":
            out.next_state[(table, fact[0])] = fact[1]
        elif kind == "gone":
            out.gone.setdefault(table, set()).update(fact[0])
        else:  # latest
            out.latest.setdefault(table, []).append((fact[0], fact[1]))
    return out


class Ledger:
    """Thread-safe; every method takes the lock for the few operations it does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: Counter[str] = Counter()
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self._log = _Log()
        self._errors: dict[str, str] = {}
        self._stopped: set[str] = set()
        self._unread: set[str] = set()
        self._by_id: set[str] = set()
        self.notes: list[str] = []  # what a reader found that the user should know, though nothing failed

    def _facts(self) -> _Facts:
        with self._lock:
            return self._log.facts()

    # ---- written by readers ----------------------------------------------------------------------------
    def listed(self, table: str, scope: Scope, rows: int, ids: list[str] | None = None,
               before: datetime | None = None) -> None:
        """Every object of this scope was read (by this run, or by the run that synced at `before`): rows the
        destination has beyond them are gone."""
        with self._lock:
            self._log.add("listed", table, scope, rows, None if ids is None else tuple(ids), before)

    def gone(self, table: str, ids: Iterable[str]) -> None:
        """Objects of a top-level table retrieved by id and found gone (404, on a server that serves the table's
        objects one by one): they, their children and the rows naming them are gone, as if a complete listing
        lacked them."""
        with self._lock:
            self._log.add("gone", table, tuple(ids))

    def unread(self, table: str) -> None:
        """The change feed left this table unread: a listing of it made for another table (a parent's, for its
        children) says nothing of its rows."""
        with self._lock:
            self._unread.add(table)

    def retrieved(self, table: str) -> None:
        """Some objects of a top-level table were read one by one (read/listing.py): the table was not listed
        whole this run, whoever else listed it (a first sync's listing of the projects)."""
        with self._lock:
            self._by_id.add(table)

    def failed(self, table: str, scope: Scope, error: str) -> None:
        """This scope could not be read (the table's other scopes may have been)."""
        with self._lock:
            self._log.add("failed", table, scope, error)

    def latest(self, table: str, key: tuple[Any, ...], values: dict[str, Any]) -> None:
        """This run's values of a history table's volatile columns, for one row (by primary key)."""
        with self._lock:
            self._log.add("latest", table, key, values)

    def latest_values(self, table: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return list(self._facts().latest.get(table, []))

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def advance(self, table: str, key: str, state: dict[str, Any]) -> None:
        """A project table's next state for one scope; committed only if its project fully succeeded."""
        with self._lock:
            self._log.add("advance", table, key, state)

    # ---- written while a table's rows pass to the destination ---------------------------------------------
    def start(self, table: str) -> None:
        with self._lock:
            self.started.setdefault(table, time.monotonic())

    def finish(self, table: str) -> None:
        with self._lock:
            self.finished[table] = time.monotonic()

    def count(self, table: str, n: int) -> None:
        with self._lock:
            self.rows[table] += n

    def stop(self, table: str, error: str, *, partial: bool = False) -> None:
        """The table failed: with `partial`, some of its scopes (recorded as failed); else its reading stopped,
        and nothing of it may be marked deleted or retired."""
        with self._lock:
            self._errors.setdefault(table, error)
            if not partial:
                self._stopped.add(table)

    # ---- read after the run -----------------------------------------------------------------------------
    def error(self, table: str) -> str | None:
        return self._errors.get(table)

    def errors(self) -> dict[str, str]:
        return dict(self._errors)

    def complete(self, table: str) -> dict[Scope, Listing]:
        """The scopes of a table listed completely, unless its reading stopped."""
        if table in self._stopped or table in self._unread:
            return {}
        # a table read by id: another table's listing of it (a first sync's projects) was not loaded into it
        return {s: v for s, v in self._facts().listed.get(table, {}).items() if s != WHOLE or table not in self._by_id}

    def listings(self, table: str) -> dict[Scope, Listing]:
        """A parent table's complete listings as read (for its children), whatever became of the table itself."""
        return dict(self._facts().listed.get(table, {}))

    def gone_ids(self, table: str) -> frozenset[str]:
        """The objects of a table found gone one by one (`gone`), whatever became of the table itself."""
        return frozenset(self._facts().gone.get(table, ()))

    def stopped(self, table: str) -> bool:
        return table in self._stopped

    def failures(self, table: str) -> dict[Scope, str]:
        return dict(self._facts().failed.get(table, {}))

    def failed_projects(self, tables: Iterable[str]) -> set[str]:
        """Projects where any of these tables failed."""
        failed = self._facts().failed
        return {v for t in tables for scope in failed.get(t, {}) for c, v in scope if c == "project_id"}

    def next_states(self) -> dict[tuple[str, str], dict[str, Any]]:
        return dict(self._facts().next_state)
