"""The change feed's decisions (read/feed.py), without a server: which listings a run reads, given the audit events
it sees first, each table's state and the schedule; the fallbacks when the audit log cannot be trusted."""

from __future__ import annotations

from typing import Any

import pytest

from openai_sync import changes
from openai_sync.api.errors import SyncError
from openai_sync.catalog import ORG_TABLES
from openai_sync.read import feed
from openai_sync.read.feed import Feed, Settings, prepare

NOW = 1767571200
HOUR = 3600
TABLES = [t for t in ORG_TABLES if feed.fed(t)]


class Log:
    """The audit log endpoint: newest first, `effective_at[gte]`, cursor pages (`after`)."""

    def __init__(self, events: list[dict[str, Any]], fail: str | None = None) -> None:
        self.events = sorted(events, key=lambda e: -e["effective_at"])
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def get(self, path: str, params: dict[str, Any] | None = None, label: str = "") -> dict[str, Any]:
        params = params or {}
        self.calls.append(params)
        if self.fail:
            raise SyncError(self.fail)
        lo = (params.get("effective_at") or {}).get("gte")
        evs = [e for e in self.events if lo is None or e["effective_at"] >= lo]
        start = next((i + 1 for i, e in enumerate(evs) if e["id"] == params.get("after")), 0)
        page = evs[start:start + params["limit"]]
        return {"object": "list", "data": page, "has_more": start + len(page) < len(evs),
                "last_id": page[-1]["id"] if page else None}


def event(i: int, kind: str, t: int = NOW - 60, project: str | None = None, **detail: Any) -> dict[str, Any]:
    scope = {"project": {"id": project}} if project else {}
    return {"id": f"audit_log-{i}", "type": kind, "effective_at": t, **scope, kind: detail}


OLD = [event(i, "login.succeeded", NOW - 2 * HOUR + i) for i in range(3)]


def states(**mine: Any) -> dict[str, dict[str, Any]]:
    base = {"run": mine.pop("run", "r0"), "at": NOW - HOUR, "reconciled": NOW - HOUR, "volatile": NOW - HOUR,
            "pending": []}
    return {t.name: {feed.TABLE_KEY: {**base, **mine.get(t.name, {})}} for t in TABLES}


def decide(log: Log, table_states: dict[str, Any] | None = None, settings: Settings | None = None,
           seen: list[str] | None = None, holders: Any = None) -> Feed:
    f, settings = Feed(), settings or Settings()
    state = {"run": "r0", "watermark": NOW - HOUR, "seen": [e["id"] for e in OLD] if seen is None else seen}
    prepare(f, log, NOW, HOUR, TABLES, state, states() if table_states is None else table_states, settings, holders)
    return f


def test_nothing_new_reads_no_listing_and_keeps_what_it_saw():
    log = Log(OLD)
    f = decide(log)
    assert all(f.plan(t.name) == frozenset() for t in TABLES)
    assert {f.describe(t.name) for t in TABLES} == {"unchanged"}
    assert len(log.calls) == 1 and log.calls[0]["effective_at"] == {"gte": NOW - 2 * HOUR}
    assert f.events == log.events and f.lo == NOW - 2 * HOUR  # the audit table reads these, not the API again
    assert f.next_state["run"] == f.run and set(f.next_state["seen"]) == {e["id"] for e in OLD}
    assert not f.notes


def test_an_event_seen_first_names_its_listings_and_their_parents():
    new = event(9, "role.assignment.created", project="proj_a", principal_type="user", principal_id="user-1",
                resource_type="api.project", resource_id="proj_a")
    f = decide(Log([*OLD, new]))
    assert f.plan("project_user_roles") == {"proj_a/user-1"}
    assert f.plan("project_users") == {"proj_a"}  # the parent listing its roles are read below
    assert f.plan("users") == frozenset() and f.plan("user_roles") == frozenset()
    # seen by this run: the next one does not act on it again
    again = decide(Log([*OLD, new]), seen=f.next_state["seen"])
    assert again.plan("project_user_roles") == frozenset()


def test_a_top_level_table_touched_is_read_whole_and_its_children_only_where_named():
    f = decide(Log([*OLD, event(9, "user.added", id="user-7")]))
    assert f.plan("users") is None and f.describe("users") == "whole: changed"
    assert f.plan("user_roles") == {"user-7"}
    f = decide(Log([*OLD, event(9, "invite.accepted", id="invite-1")]))  # the event names the invite, not the user
    assert f.plan("user_roles") == {changes.NEW} and f.plan("users") is None  # new users, from the users listing
    assert f.plan("project_users") is None  # the invite's projects are not in the event


@pytest.mark.parametrize(("log", "why"), [
    (Log([*OLD, event(9, "something.new")]), "audit events of types openai-sync does not know (something.new)"),
    (Log([], ), "the audit log is empty: audit logging seems to be off for this organization"),
    (Log(OLD, fail="403 audit logging is not enabled"), "the audit log could not be read"),
    (Log([*OLD, *(event(100 + i, "login.failed", NOW - 30) for i in range(feed.MAX_PAGES * 100))]),
     f"the audit log holds more than {feed.MAX_PAGES * 100} events since the last run"),
])
def test_a_log_that_cannot_be_trusted_reads_everything_with_a_note(log, why):
    f = decide(log)
    assert all(f.plan(t.name) is None for t in TABLES)
    assert len(f.notes) == 1 and why in f.notes[0] and "listed in full" in f.notes[0]
    assert why in f.describe("users")


def test_a_table_the_run_before_did_not_finish_is_read_whole():
    f = decide(Log(OLD), states(users={"run": "r-killed"}))
    assert f.plan("users") is None and f.describe("users") == "whole: the run before did not finish it"
    assert f.plan("user_roles") == frozenset()  # a child needs its parent listing only for new parents
    f = decide(Log(OLD), {**states(), "groups": {}})
    assert f.plan("groups") is None and f.describe("groups") == "whole: first run"


def test_schedules_reconcile_and_read_what_the_log_does_not_record():
    day = Settings(reconcile_every=86400, volatile_every=6 * HOUR)
    f = decide(Log(OLD), states(users={"volatile": NOW - 7 * HOUR}, spend_alerts={"volatile": NOW - 7 * HOUR},
                                groups={"volatile": NOW - 7 * HOUR}, roles={"reconciled": NOW - 25 * HOUR}), day)
    assert f.describe("users") == f.describe("spend_alerts") == "whole: volatile_every"  # last_used_at; no event
    assert f.plan("groups") == frozenset()  # every change of a group is in the log
    assert f.describe("roles") == "whole: scheduled reconciliation" and f.reconciling("roles")
    f = decide(Log(OLD), settings=Settings(reconcile=True))
    assert all(f.reconciling(t.name) for t in TABLES)
    f = decide(Log(OLD), settings=Settings(reconcile_every=0))
    assert all(f.plan(t.name) is None for t in TABLES) and not f.notes


def test_parents_that_failed_are_read_again():
    f = decide(Log(OLD), states(user_roles={"pending": ["user-3"]}, project_user_roles={"pending": ["proj_b"]}))
    assert f.plan("user_roles") == {"user-3"}
    assert f.plan("project_user_roles") == {"proj_b"} and f.plan("project_users") == {"proj_b"}


def test_rows_naming_an_object_are_found_in_the_destination():
    update = event(9, "role.updated", id="role_1", changes_requested={"permissions_added": ["api.files.read"]})
    deleted = event(9, "role.deleted", id="role_1")
    asked: list[tuple[str, str, str, bool]] = []

    def holders(t, column, value, recent):
        asked.append((t.name, column, value, recent is not None))
        return {"user-1", "user-2"} if t.name == "user_roles" else set()

    f = decide(Log([*OLD, update]), holders=holders)
    assert f.plan("user_roles") == {"user-1", "user-2"} and f.plan("project_user_roles") == frozenset()
    assert ("user_roles", "id", "role_1", True) in asked  # an update: one holder may tell for all
    decide(Log([*OLD, deleted]), holders=holders)
    assert ("user_roles", "id", "role_1", False) in asked
    f = decide(Log([*OLD, update]), holders=lambda t, c, v, r: None)  # the destination cannot say: read whole
    assert f.plan("user_roles") is None


def test_done_keeps_a_tables_state_for_the_next_run():
    f = decide(Log([*OLD, event(9, "user.added", id="user-7")]))
    users, roles = next(t for t in TABLES if t.name == "users"), next(t for t in TABLES if t.name == "user_roles")
    state: dict[str, Any] = {}
    f.done(users, state)
    assert state[feed.TABLE_KEY] == {"run": f.run, "at": NOW, "pending": [], "reconciled": NOW, "volatile": NOW}
    state = {feed.TABLE_KEY: {"reconciled": NOW - 5, "volatile": NOW - 5}}
    f.done(roles, state, ["user-7"])  # read for some parents only, one of which failed
    assert state[feed.TABLE_KEY]["pending"] == ["user-7"] and state[feed.TABLE_KEY]["reconciled"] == NOW - 5


def test_a_run_stopped_before_its_marks_reads_everything_again():
    """The feed's state moved with a load whose soft deletes were never marked (killed in between): the next run
    cannot trust that what those events said was gone is marked, so it lists everything."""
    f = Feed()
    state = {"run": "r0", "watermark": NOW - HOUR, "seen": [e["id"] for e in OLD], "unfinished": True}
    prepare(f, Log(OLD), NOW, HOUR, TABLES, state, states(), Settings(), None)
    assert all(f.plan(t.name) is None for t in TABLES)
    assert "stopped before it finished" in f.notes[0]


def test_events_older_than_a_complete_listing_are_not_news():
    """The first run reads the last hour only, and lists everything; the next reads from its newest event less
    the lookback, which reaches further back: what lies before the first run's listing is in it already."""
    early = event(7, "user.added", NOW - HOUR - 300, id="user-9")  # before the first run's window, seen by none
    f = Feed()
    prepare(f, Log(OLD), NOW - 600, HOUR, TABLES, {}, {}, Settings(), None)  # the first run
    assert f.next_state["floor"] == NOW - 600
    later = Feed()
    prepare(later, Log([*OLD, early]), NOW, 2 * HOUR, TABLES, f.next_state, states(run=f.run), Settings(), None)
    assert later.plan("users") == frozenset()  # user-9 was added before the complete listing of the first run


def test_a_few_changed_objects_of_a_long_listing_are_retrieved_by_id():
    new = event(9, "user.updated", id="user-1")
    big = states(users={"rows": 3000})  # 30 pages
    retrieve = Settings(retrieve=changes.RETRIEVE)
    f = decide(Log([*OLD, new]), big, retrieve)
    assert f.plan("users") == {"user-1"} and f.describe("users") == "changes: 1 object"
    assert f.plan("user_roles") == {"user-1"}
    # a listing of one page, a table in history mode (not in `retrieve`), a size not known yet: listed whole
    for table_states, settings in ((states(users={"rows": 80}), retrieve), (big, Settings()), (states(), retrieve)):
        f = decide(Log([*OLD, new]), table_states, settings)
        assert f.plan("users") is None and f.describe("users") == "whole: changed"
    # a user deleted is retrieved too: the 404 marks them, their roles and memberships gone (read/context.py)
    f = decide(Log([*OLD, event(9, "user.deleted", id="user-1")]), big, retrieve)
    assert f.plan("users") == {"user-1"}
    # as many objects as pages: the listing, which also sees what no event named
    f = decide(Log([*OLD, *(event(10 + i, "user.updated", id=f"user-{i}") for i in range(30))]), big, retrieve)
    assert f.plan("users") is None


def test_a_complete_listing_records_its_size_and_a_retrieval_keeps_it():
    users = next(t for t in TABLES if t.name == "users")
    f = decide(Log([*OLD, event(9, "user.updated", id="user-1")]), states(users={"rows": 3000}),
               Settings(retrieve=changes.RETRIEVE))
    state = {feed.TABLE_KEY: {"rows": 3000, "reconciled": 5, "volatile": 5}}
    f.done(users, state)  # read by id
    assert state[feed.TABLE_KEY]["rows"] == 3000 and state[feed.TABLE_KEY]["reconciled"] == 5
    f.list_whole("users", "1 object named by the audit log gone")  # found gone: listed whole after all
    f.done(users, state, rows=2999)
    assert state[feed.TABLE_KEY]["rows"] == 2999 and state[feed.TABLE_KEY]["reconciled"] == NOW
    assert f.describe("users") == "whole: 1 object named by the audit log gone"


def test_parents_listed_alone_lately_are_remembered_and_cannot_tell_for_the_others():
    """A holder listed alone after a change whose event a later run sees first may already show the change: the
    holders of an updated object are checked on one that was not (load/feed.py), so the table remembers which
    parents it listed alone, since its last complete listing and lately."""
    from openai_sync.catalog import TABLES as CATALOG
    from openai_sync.load.feed import _covered

    table = CATALOG["project_group_roles"]
    f = Feed(now=NOW, lo=NOW - 2 * HOUR)
    f.plans[table.name] = frozenset({"proj_a"})
    state = {feed.TABLE_KEY: {"listed": {"proj_old/group_1": NOW - 4 * HOUR, "proj_b/group_2": NOW - 2 * HOUR}}}
    f.done(table, state, listed=["proj_a/group_1", "proj_a/group_3"])
    listed = state[feed.TABLE_KEY]["listed"]
    assert listed == {"proj_b/group_2": NOW - 2 * HOUR, "proj_a/group_1": NOW, "proj_a/group_3": NOW}
    f.plans[table.name] = None  # a complete listing: every holder as of now, none newer than the others
    f.done(table, state, listed=["proj_a/group_1"])
    assert "listed" not in state[feed.TABLE_KEY]
    seen: list[Any] = []
    update = event(9, "group.updated", id="group_1", changes_requested={"group_name": "Platform"})
    mine = {t.name: {} for t in TABLES}
    mine["project_group_roles"] = {"listed": {"proj_a": NOW - HOUR}}
    decide(Log([*OLD, update]), states(**mine), holders=lambda t, c, v, r: seen.append((t.name, r)) or set())
    assert ("project_group_roles", frozenset({"proj_a"})) in seen and ("project_groups", frozenset()) in seen
    assert _covered("proj_a/group_1", frozenset({"proj_a"})) and not _covered("proj_b/group_1", frozenset({"proj_a"}))


def test_an_accepted_invite_reads_the_member_it_made():
    """The event names the invite: its member (by the invite's email) and projects are looked up once, and only
    their listings are read; an invite that cannot be read falls back to the users added since the last run."""
    accepted = event(9, "invite.accepted", id="invite-1")
    asked: list[str] = []

    def invitee(invite_id: str):
        asked.append(invite_id)
        return ("user-9",), ("proj_a",)

    f = Feed()
    prepare(f, Log([*OLD, accepted]), NOW, HOUR, TABLES, {"run": "r0", "watermark": NOW - HOUR,
                                                           "seen": [e["id"] for e in OLD]},
            states(users={"rows": 250}), Settings(retrieve=changes.RETRIEVE), None, invitee)
    assert f.plan("users") == {"user-9"} and f.plan("user_roles") == {"user-9"}
    assert f.plan("project_users") == {"proj_a"} and f.plan("project_user_roles") == {"proj_a/user-9"}
    assert f.plan("invites") is None and set(asked) == {"invite-1"}
    f = decide(Log([*OLD, accepted]))  # nobody to ask: the fallbacks
    assert f.plan("users") is None and f.plan("project_users") is None


def test_an_invite_is_looked_up_once_and_its_trouble_is_a_fallback():
    from openai_sync.api.errors import NotFound
    from openai_sync.load.feed import _invitee

    calls: list[tuple[str, Any]] = []

    class Client:
        def get(self, path: str, params: Any = None, label: str = "") -> dict[str, Any]:
            calls.append((path, params))
            if path.endswith("invite-gone"):
                raise NotFound("GET /organization/invites/invite-gone answered 404 (not found)")
            if path.startswith("/organization/invites/"):
                return {"id": "invite-1", "email": "a@example.com", "projects": [{"id": "proj_a", "role": "member"}]}
            return {"object": "list", "data": [{"id": "user-9", "email": "a@example.com"}], "has_more": False}

    invitee = _invitee(Client())
    assert invitee("invite-1") == (("user-9",), ("proj_a",)) == invitee("invite-1")
    assert calls == [("/organization/invites/invite-1", None),
                     ("/organization/users", {"emails": ["a@example.com"], "limit": 100})]
    assert invitee("invite-gone") is None
