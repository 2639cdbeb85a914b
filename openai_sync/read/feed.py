"""The change feed of a run (issue 20): which listings of the organization's tables this run reads.

A table fed by the feed (an Admin-key listing, fan-out or settings table) is read in one of three ways:
- whole (a complete listing, as before): on its first run, when the run before did not finish it, on its
  reconciliation schedule (`reconcile_every`) or `sync --reconcile`, when the audit log cannot be trusted for the
  run (audit logging off, an unreadable page, an event type nobody mapped, more events than pages allowed);
- some parents only: those the audit events first seen by this run touch (changes.py), plus those that failed in
  the run before (`pending`); for a top-level listing, some objects only, each retrieved by its id
  (changes.RETRIEVE), when they are fewer than the listing's pages;
- not at all: nothing touched it. A table the audit log says nothing about (spend alerts) and one with volatile
  columns (`last_used_at`) are also read whole on their own cadence (`volatile_every`).

The feed's own state (dlt source state, committed with the load) is where the audit log was read to and which of
its recent events were seen; each table's (its dlt resource state, moved only when its reader finished) which run
it last finished, when it was last read whole, and the parents to retry. A run killed before its load commits
neither: the next run sees the same events as new.

The audit log is written asynchronously: an event may be listed minutes after its effective_at. Events are
therefore acted on when first seen, whatever their effective_at: the listing that follows comes after the change.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import changes
from ..api.errors import SyncError
from ..api.pagination import page_data
from ..catalog import PARENTS, TABLES, Table, crosses_keys

STATE_KEY = "change_feed"  # the feed's state in dlt's source state
TABLE_KEY = "feed"  # a table's feed state in its resource state
SLACK = 120  # seconds: a parent added this long before the last run counts as new (clocks, the same second)
# seconds before the audit window's start for which a parent listed alone is remembered (`recent`): a change an
# event announces later happened after the window's start, and a run lists its parents within this after it began
RECENT = 3600
MAX_PAGES = 50  # more events than this many pages since the last run: complete listings are cheaper
STRATEGIES = ("listing", "fanout", "settings")

RECONCILIATION = ("reconciliation requested", "scheduled reconciliation")
# table, column, value, and for changes.ALIKE (one holder listed may tell for all) the parents that cannot tell
# (`recent`; None: every holder is listed) -> the scopes to list again
Holders = Callable[[Table, str, str, "frozenset[str] | None"], "set[str] | None"]
# an accepted invite's id -> (the members with its email, its projects), None when it cannot be read (changes.INVITED)
Invitee = Callable[[str], "tuple[tuple[str, ...], tuple[str, ...]] | None"]


@dataclass(frozen=True)
class Settings:
    reconcile: bool = False  # this run reads every table whole
    reconcile_every: int = 86400  # seconds between complete listings; 0: every run (no feed)
    volatile_every: int = 86400  # seconds between complete listings of what the audit log does not record
    resync: bool = False  # the tables are read from scratch
    retrieve: frozenset[str] = frozenset()  # top-level tables whose changed objects may be retrieved one by one


def fed(table: Table) -> bool:
    return table.key == "admin" and table.strategy in STRATEGIES and not crosses_keys(table)


def unrecorded(table: Table) -> bool:
    """Changes the audit log does not record, read on their own cadence: volatile columns, spend alerts."""
    return table.name in changes.VOLATILE or table.name in changes.UNRECORDED


def scope_id(scope: Iterable[tuple[str, str]]) -> str:
    return "/".join(v for _c, v in scope)


@dataclass
class Feed:
    """Filled before the readers run (`prepare`); read by them. `plans[table]`: None for a complete listing, else
    the parent ids to read (`P`, `P/U` below a fan-out, changes.NEW); a table not in `plans` is read whole."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    previous: str = ""  # the last run that committed the feed: a table continues only from it
    now: int = 0
    plans: dict[str, frozenset[str] | None] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)  # why a fed table is read whole this run
    touched: dict[str, set[str]] = field(default_factory=dict)  # what this run's new events named, per table
    since: dict[str, int] = field(default_factory=dict)  # where "added since the last run" begins, per table
    events: list[dict[str, Any]] | None = None  # every audit event from `lo` on, as read (the audit table's too)
    lo: int | None = None
    next_state: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def plan(self, name: str) -> frozenset[str] | None:
        return self.plans.get(name)

    def reconciling(self, name: str) -> bool:
        return self.why.get(name) in RECONCILIATION

    def describe(self, name: str) -> str:
        """How the run read a fed table: whole (and why), some parents, or not at all ("" if not fed)."""
        if name not in self.plans:
            return ""
        plan = self.plans[name]
        if plan is None:
            return f"whole: {self.why.get(name, 'not fed')}"
        what = "parent" if TABLES[name].parent else "object"
        return f"changes: {len(plan)} {what}{'s' if len(plan) != 1 else ''}" if plan else "unchanged"

    def list_whole(self, name: str, why: str) -> None:
        """A reader found, during the run, that a table it was to read in part must be listed whole."""
        with self._lock:
            self.plans[name], self.why[name] = None, why

    def done(self, table: Table, state: dict[str, Any], failed: Iterable[str] = (), rows: int | None = None,
             listed: Iterable[str] = ()) -> None:
        """The table's reader finished: its state for the next run (the parents that failed are retried; `rows`:
        how many objects a complete listing had, which says when retrieving some by id is cheaper; `listed`: the
        parents a listing for some parents read, which `recent` keeps)."""
        if not fed(table):
            return
        old = state.get(TABLE_KEY) or {}
        pending = sorted(set(failed))
        whole = self.plans.get(table.name) is None
        # parents listed alone since the table was last read whole, lately: their rows may be newer than the rest
        kept: dict[str, int] = {}
        if not whole:
            since = (self.lo if self.lo is not None else self.now) - RECENT
            kept = {p: at for p, at in (old.get("listed") or {}).items() if at >= since}
            kept |= dict.fromkeys(listed, self.now)
        state[TABLE_KEY] = {"run": self.run, "at": self.now, "pending": pending,
                            "reconciled": self.now if whole and not pending else old.get("reconciled"),
                            "volatile": self.now if whole and not pending else old.get("volatile"),
                            **({"rows": rows} if whole and rows is not None else
                               {"rows": old["rows"]} if "rows" in old else {}),
                            **({"listed": kept} if kept else {})}


def read_events(client: Any, path: str, lo: int, limit: int) -> list[dict[str, Any]] | str:
    """Every audit event with effective_at >= lo, newest first; or why the log cannot serve as the feed."""
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"effective_at": {"gte": lo}, "limit": limit}
    try:
        for _ in range(MAX_PAGES):
            page = client.get(path, params, label="audit_logs")
            data = page_data(page, path)
            events.extend(data)
            if not page.get("has_more") or not data:
                break
            params = {**params, "after": page.get("last_id") or data[-1].get("id")}
        else:
            return f"the audit log holds more than {MAX_PAGES * limit} events since the last run"
        if not events:  # a quiet hour, or no log at all: an organization's log is never empty once it is on
            probe = page_data(client.get(path, {"limit": 1}, label="audit_logs"), path)
            if not probe:
                return "the audit log is empty: audit logging seems to be off for this organization"
    except SyncError as e:
        return f"the audit log could not be read ({e})"
    return events


def prepare(feed: Feed, client: Any, now: int, lookback: int, tables: list[Table], feed_state: dict[str, Any],
            table_states: dict[str, dict[str, Any]], settings: Settings, holders: Holders | None,
            invitee: Invitee | None = None) -> None:
    """Decide each fed table's plan for this run and the feed's next state."""
    feed.now, feed.previous = now, str(feed_state.get("run") or "")
    mine = [t for t in tables if fed(t)]
    seen = set(feed_state.get("seen") or ())
    watermark = feed_state.get("watermark")
    broken = ""
    new: list[dict[str, Any]] = []
    if settings.reconcile_every <= 0:
        broken = "reconcile_every is 0"
    elif not mine:
        return
    else:  # on the feed's first run too: the events seen now are not news to the next run
        audit = TABLES["audit_logs"]
        lo = int(watermark) - lookback if watermark is not None else now - lookback
        got = read_events(client, audit.path, lo, audit.page_limit)
        if isinstance(got, str):
            broken = got
        else:
            feed.events, feed.lo = got, lo
            floor = int(feed_state.get("floor") or 0)  # changes before it were in complete listings already
            new = [ev for ev in got if ev.get("id") not in seen and int(ev.get("effective_at") or 0) >= floor]
        if watermark is None:
            broken, new = "first run of the change feed", []
        elif feed_state.get("unfinished"):
            broken = "the last run was stopped before it finished (its deletions may not be marked)"
    touched, unknown = changes.affected(new)
    if unknown and not broken:
        broken = f"audit events of types openai-sync does not know ({', '.join(sorted(unknown)[:3])})"
    if broken and watermark is not None and settings.reconcile_every > 0:
        feed.notes.append(f"every organization table was listed in full: {broken}")
    for t in mine:
        _decide(feed, t, table_states.get(t.name, {}).get(TABLE_KEY), touched.get(t.name, set()), broken, settings,
                (holders, invitee))
    _close(feed, mine)
    stamps = [ev["effective_at"] for ev in feed.events or () if isinstance(ev.get("effective_at"), int)]
    top = max([*stamps, *([int(watermark)] if watermark is not None else [])], default=now)
    every = all(feed.plans.get(t.name, None) is None for t in mine)  # a run that lists everything whole
    floor = now if every else feed_state.get("floor")
    seen_now = sorted(str(ev.get("id")) for ev in feed.events or () if (ev.get("effective_at") or 0) >= top - lookback)
    feed.next_state = {"run": feed.run, "watermark": top, **({"floor": floor} if floor else {}), "seen": seen_now}


def _decide(feed: Feed, t: Table, mine: dict[str, Any] | None, touched: set[str], broken: str, settings: Settings,
            lookups: tuple[Holders | None, Invitee | None]) -> None:
    feed.touched[t.name] = resolve(t, touched, *lookups, mine) if touched else set()
    whole = ("resync" if settings.resync else "reconciliation requested" if settings.reconcile else broken or
             ("first run" if not mine else "" if mine.get("run") == feed.previous else
              "the run before did not finish it"))
    if not whole and t.name not in changes.TOUCHED and t.name not in changes.UNRECORDED:
        whole = "no audit event records its changes"
    if not whole and mine:
        if feed.now - int(mine.get("reconciled") or 0) >= settings.reconcile_every:
            whole = "scheduled reconciliation"
        elif unrecorded(t) and feed.now - int(mine.get("volatile") or 0) >= settings.volatile_every:
            whole = "volatile_every"
    if whole:
        feed.plans[t.name], feed.why[t.name] = None, whole
        return
    assert mine is not None
    feed.since[t.name] = int(mine.get("at") or 0) - SLACK
    ids = set(mine.get("pending") or ()) | feed.touched[t.name]
    listed = ids and not t.parent and not _retrievable(t, ids, mine, settings)  # a top-level table: listed again
    feed.plans[t.name] = None if changes.WHOLE in ids or listed else frozenset(ids)
    if feed.plans[t.name] is None:
        feed.why[t.name] = "changed"


def _retrievable(t: Table, ids: set[str], mine: dict[str, Any], settings: Settings) -> bool:
    """Fewer objects to retrieve one by one than the pages of the table's last complete listing."""
    rows = mine.get("rows")
    if t.name not in settings.retrieve or changes.NEW in ids or not isinstance(rows, int) or not t.page_limit:
        return False
    return len(ids) < -(-rows // t.page_limit)


def recent(mine: dict[str, Any] | None) -> frozenset[str]:
    """The parents listed alone since the table was last read whole, lately (`Feed.done`): after a change whose
    event this run sees first, some may have been, so none of them can tell for the others (changes.ALIKE)."""
    return frozenset(((mine or {}).get("listed") or {}).keys())


def resolve(t: Table, touched: set[str], holders: Holders | None, invitee: Invitee | None = None,
            mine: dict[str, Any] | None = None) -> set[str]:
    """The touched parents, with "rows naming this object" (changes.HOLDER) looked up in the destination and an
    accepted invite's member (changes.INVITEE) in the API."""
    out: set[str] = set()
    for one in touched:
        if one.startswith(changes.INVITEE):
            out |= changes.invited(t.name, invitee(one[len(changes.INVITEE):]) if invitee is not None else None)
            continue
        if not one.startswith(changes.HOLDER):
            out.add(one)
            continue
        alike = one.startswith(changes.ALIKE)
        column, _, value = one[len(changes.ALIKE if alike else changes.HOLDER):].partition("=")
        found = holders(t, column, value, recent(mine) if alike else None) if holders is not None else None
        out |= {changes.WHOLE} if found is None else found
    return out


def _close(feed: Feed, mine: list[Table]) -> None:
    """A parent listing read for a child is loaded too: a fan-out read whole, or for new parents, reads its
    parent whole; one read for some parents reads its parent (a fan-out) for at least those."""
    names = {t.name for t in mine}
    changed = True
    while changed:
        changed = False
        for t in mine:
            if not t.parent or t.parent not in names or t.parent not in PARENTS:
                continue
            plan, parent = feed.plans.get(t.name), feed.plans.get(t.parent)
            if parent is None:
                continue
            if plan is None or changes.NEW in plan or not TABLES[t.parent].parent:
                if plan is None or changes.NEW in plan:
                    feed.plans[t.parent], feed.why[t.parent] = None, f"{t.name} needs its listing"
                    changed = True
                continue
            outer = {i.split("/")[0] for i in plan}
            if not outer <= parent:
                feed.plans[t.parent] = parent | outer
                changed = True
