"""What a reconciliation found that the change feed missed (read/feed.py).

Every row of a table under the change feed carries `_content_hash`: a hash of what the API said of the object, its
volatile columns aside (changes.VOLATILE). A reconciliation (a table read whole on its schedule or by `sync
--reconcile`) compares each row it reads with the row the destination holds: an object that changed, appeared or
went, where no audit event seen since the last run named it, is a difference the feed missed. Each is reported as a
note, with its table and object, so that a gap in the feed is seen, not hidden.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

import orjson

from .. import changes
from ..catalog import Table, scope_columns
from ..read.feed import Feed
from ..read.ledger import Ledger
from .store import Live, Rows, Store

CONTENT = "_content_hash"
BOOKKEEPING = {"_synced_at", "_deleted", "_deleted_at", CONTENT}
SHOWN = 20  # objects named per table; the count says how many more


def content_hash(table: Table, row: dict[str, Any], ignore: Iterable[str] = ()) -> str:
    """What the API said of the object, its volatile columns and the connector's bookkeeping aside."""
    skip = BOOKKEEPING | set(changes.VOLATILE.get(table.name, ())) | set(ignore)
    body = {k: v for k, v in row.items() if k not in skip and not k.startswith("_valid")}
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z, default=str),
                           digest_size=12).hexdigest()


class Reconciliation:
    """The destination's hashes of the tables this run reconciles, and what their listings differ in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.before: dict[str, dict[tuple[Any, ...], str | None]] = {}
        self.keys: dict[str, tuple[str, ...]] = {}
        self.seen: dict[str, set[tuple[Any, ...]]] = {}
        self.found: dict[str, list[str]] = {}

    def load(self, store: Store, table: Table, key: tuple[str, ...], org: str | None, live: Live) -> None:
        """Read the destination's hashes of a table about to be reconciled (a table without them is left out)."""
        held = store.content(table, Rows(live, org), key, CONTENT)
        if held is not None:
            self.before[table.name], self.keys[table.name], self.seen[table.name] = held, key, set()

    def see(self, table: Table, row: dict[str, Any], feed: Feed) -> None:
        before = self.before.get(table.name)
        if before is None:
            return
        key = tuple(row.get(c) for c in self.keys[table.name])
        with self._lock:
            self.seen[table.name].add(key)
        if key not in before:
            what = "appeared"
        elif before[key] is not None and before[key] != row.get(CONTENT):
            what = "changed"
        else:
            return
        if not _explained(table, feed, [row.get(c) for c in scope_columns(table)]):
            with self._lock:
                self.found.setdefault(table.name, []).append(f"{self._shown(table.name, key)} {what}")

    def _shown(self, name: str, key: tuple[Any, ...]) -> str:
        """An object as its key, the organization aside."""
        return "/".join(str(v) for c, v in zip(self.keys[name], key, strict=True) if c != "organization_id")

    def notes(self, tables: list[Table], feed: Feed, ledger: Ledger) -> list[str]:
        """One note per table with differences; one saying nothing was missed when the reconciliation was clean."""
        out, clean = [], []
        for t in tables:
            if t.name not in self.before or ledger.error(t.name):
                continue  # a listing that failed says nothing of what is gone
            found = list(self.found.get(t.name, []))
            columns = self.keys[t.name]
            for key in set(self.before[t.name]) - self.seen[t.name]:
                named = dict(zip(columns, key, strict=True))
                if not _explained(t, feed, [named.get(c) for c in scope_columns(t)]):
                    found.append(f"{self._shown(t.name, key)} gone")
            if found:
                found.sort()
                more = f", and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
                out.append(f"{t.name}: {len(found)} difference{'s' if len(found) != 1 else ''} that no audit event "
                           f"announced (the change feed missed {'them' if len(found) != 1 else 'it'}), found by the "
                           f"reconciliation and loaded now: {', '.join(found[:SHOWN])}{more}")
            else:
                clean.append(t.name)
        if clean and not out:
            out.append(f"reconciliation: {len(clean)} table{'s' if len(clean) != 1 else ''} listed whole, and the "
                       "change feed had missed nothing")
        return out


def _explained(table: Table, feed: Feed, scope: list[Any]) -> bool:
    """Whether the audit events this run saw first would have had this object's listing read anyway."""
    touched = feed.touched.get(table.name, set())
    if changes.WHOLE in touched or (touched and not table.parent):
        return True
    ids = [str(v) for v in scope]
    return any("/".join(ids[:n]) in touched for n in range(1, len(ids) + 1))


