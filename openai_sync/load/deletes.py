"""After a load: what complete listings no longer have is marked `_deleted` (or, in history mode, retired).

Everything here comes from the ledger (read/ledger.py): a scope is touched only where this run listed it
completely, nothing of a table whose reading stopped, and never another organization's rows.
- a top-level table listed completely: rows this run did not write (`_synced_at` older than the run's);
- a fan-out: the same, per parent listed completely; a failed parent's rows stay as they are;
- a project table: per project (and per parent object) listed completely;
- a child table (a fan-out, a project's child): the children of parent objects that the parent's complete
  listing no longer has are gone too (the roles of a user who left, a deleted vector store's files);
- a row naming an object that its table's complete listing no longer has (changes.REFERENCES: a project member who
  left the organization), unless this run wrote it;
- objects of a top-level table retrieved by id and found gone (`Ledger.gone`: a user the audit log says was
  deleted), their children and the rows naming them, as if a complete listing lacked them;
- history mode: complete listings that came back empty, and children of parents that no longer exist, are
  retired (`_valid_to`); dlt's scd2 retires the rest within each parent it received rows for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..catalog import Table, crosses_keys
from ..changes import REFERENCES
from ..read.ledger import WHOLE, Ledger, Scope
from .history import VALID_TO
from .store import DELETED_AT, Live, Rows, Store


def soft_delete(store: Store, t: Table, ledger: Ledger, synced_at: datetime, org: str | None) -> int:
    if ledger.stopped(t.name):
        return 0
    complete = ledger.complete(t.name)
    if t.key == "project":
        failed = ledger.failed_projects([t.name])
        scopes = [s for s in complete if dict(s)["project_id"] not in failed]
    else:
        scopes = list(complete)
    # a parent read with another key says nothing of these rows (a model no project key lists any more)
    n = _cascade(store, t, ledger, org, synced_at) if t.parent and not crosses_keys(t) else 0
    n += _referenced(store, t, ledger, org, synced_at, "deleted", deleted(synced_at))
    n += _gone(store, t, ledger, org, synced_at, "deleted", deleted(synced_at))
    by_time: dict[datetime, list[Scope]] = {}  # rows older than the complete listing that saw the scope
    for s in scopes:
        by_time.setdefault(complete[s].before or synced_at, []).append(s)
    for before, group in by_time.items():
        n += store.mark(t, Rows("deleted", org, tuple(group), synced_before=before), deleted(synced_at))
    return n


def deleted(synced_at: datetime) -> dict[str, Any]:
    """What marking a row deleted sets: when the deletion was seen, so that a user can tell (a row that comes
    back is written whole again, with `_deleted_at` null)."""
    return {"_deleted": True, DELETED_AT: synced_at}


def _cascade(store: Store, t: Table, ledger: Ledger, org: str | None, synced_at: datetime) -> int:
    """Children of parent objects that the parent's complete listing no longer has are gone: the roles of a user
    who left the organization, a deleted vector store's files (per project)."""
    assert t.parent and t.parent_column
    failed = ledger.failed_projects([t.parent])
    n = 0
    for scope, listing in ledger.listings(t.parent).items():
        if listing.ids is None or dict(scope).get("project_id") in failed:
            continue
        n += store.mark(t, Rows("deleted", org, (scope,), outside=(t.parent_column, listing.ids)),
                        deleted(synced_at))
    return n


def _referenced(store: Store, t: Table, ledger: Ledger, org: str | None, synced_at: datetime,
                live: Live, values: dict[str, Any]) -> int:
    """Rows naming an object that another table's complete listing no longer has (a project member who left the
    organization: changes.REFERENCES), unless this run wrote them."""
    ref = REFERENCES.get(t.name)
    listing = ledger.listings(ref[1]).get(WHOLE) if ref else None
    if ref is None or listing is None or not listing.ids or ledger.stopped(ref[1]):
        return 0
    return store.mark(t, Rows(live, org, None, outside=(ref[0], listing.ids), synced_before=synced_at), values)


def _gone(store: Store, t: Table, ledger: Ledger, org: str | None, synced_at: datetime, live: Live,
          values: dict[str, Any]) -> int:
    """Objects found gone one by one (`Ledger.gone`): their own rows, their children's (a deleted user's roles),
    and the rows naming them (changes.REFERENCES), unless this run wrote them."""
    n = 0
    named = [(t.primary_key[-1], t.name)] if not t.parent else []
    if t.parent and t.parent_column and not crosses_keys(t):
        named.append((t.parent_column, t.parent))
    if t.name in REFERENCES:
        named.append(REFERENCES[t.name])
    for column, table in named:
        ids = ledger.gone_ids(table)
        if ids:
            n += store.mark(t, Rows(live, org, tuple(((column, i),) for i in sorted(ids)), synced_before=synced_at),
                            values)
    return n


def retire(store: Store, t: Table, ledger: Ledger, boundary: datetime, org: str | None) -> None:
    """History mode: retire the current versions no row of this run replaced, where a listing was complete."""
    if ledger.stopped(t.name):
        return
    _referenced(store, t, ledger, org, boundary, "history", {VALID_TO: boundary})
    _gone(store, t, ledger, org, boundary, "history", {VALID_TO: boundary})
    complete = ledger.complete(t.name)
    if not t.parent:
        whole = complete.get(WHOLE)
        if whole is not None and whole.rows == 0:
            store.mark(t, Rows("history", org), {VALID_TO: boundary})
        return
    assert t.parent_column
    empty = tuple(s for s, listing in complete.items() if listing.rows == 0)
    if empty:
        store.mark(t, Rows("history", org, empty), {VALID_TO: boundary})
    # children of parents that no longer exist (below a fan-out: per scope of the parent, a project's users)
    if crosses_keys(t):  # a parent read with another key says nothing of these rows
        return
    for scope, parents in ledger.listings(t.parent).items():
        if parents.ids is not None:
            store.mark(t, Rows("history", org, (scope,) if scope else None, outside=(t.parent_column, parents.ids)),
                       {VALID_TO: boundary})
