"""Change-driven syncs end to end (issue 20): after hours of the simulated organization's changes, a sync that reads
only what the audit log says changed leaves every table as a full listing would; audit logging off falls back to
full listings; a reconciliation names what the feed missed."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from conftest import NOW
from destinations_support import Dest
from test_sync import config
from test_sync_cli import run_sync

from openai_sync import changes
from openai_sync.catalog import ORG_TABLES
from openai_sync.read.feed import fed
from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.faults import Rule

# what the audit log records (a group's members only in part: read on the volatile cadence, changes.UNRECORDED)
COMPARED = [t for t in ORG_TABLES if fed(t) and t.name in changes.TOUCHED and t.name not in changes.UNRECORDED]


def current(dest: Dest, table: str) -> set[tuple[Any, ...]]:
    """A table's current rows, the connector's bookkeeping and volatile columns aside."""
    skip = {"_synced_at", "_deleted_at", "_dlt_id", "_dlt_load_id", "_deleted", *changes.VOLATILE.get(table, ())}
    cols = [r[0] for r in dest.q("SELECT column_name FROM information_schema.columns WHERE table_schema = 'openai' "
                                 f"AND table_name = '{table}'")]
    kept = ", ".join(c for c in cols if c not in skip)
    live = "WHERE _deleted IS NOT TRUE" if "_deleted" in cols else ""
    return set(dest.q(f"SELECT {kept} FROM openai.{table} {live}"))


def differences(a: Dest, b: Dest) -> dict[str, tuple[int, int]]:
    out = {}
    for t in COMPARED:
        x, y = current(a, t.name), current(b, t.name)
        if x != y:
            out[t.name] = (len(x - y), len(y - x))
    return out


def test_hours_of_changes_read_from_the_feed_equal_full_listings(tmp_path):
    world = World(seed=2, size="medium", now=NOW)
    fed_dest = Dest("duckdb", tmp_path / "fed")
    with Simulator(world) as sim:
        cfg = config(sim, fed_dest)
        full = sim.stats()["total"]
        sync(cfg)
        full = sim.stats()["total"] - full
        # the next change lands in the very second the sync begins
        nxt = min(t for t in world.audit.times if t > world.now)
        sim.advance((nxt - world.now) / 3600)
        assert world.now == nxt
        for hour in range(3):
            before = sim.stats()["total"]
            results, _ = sync(cfg)
            made = sim.stats()["total"] - before
            assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results]
            reads = {r.name: r.read for r in results if r.read}
            assert all(not r.startswith("whole") or r == "whole: changed" or "needs its listing" in r
                       for r in reads.values()), reads
            assert made < full / 4, (made, full, reads)
            truth = Dest("duckdb", tmp_path / f"truth{hour}")
            sync(replace(config(sim, truth), reconcile=True))
            assert differences(fed_dest, truth) == {}, hour
            sim.advance(1)


def test_audit_logging_off_reads_every_listing_with_a_note(tmp_path):
    world = World(seed=3, size="small", now=NOW, audit_logging=False)
    dest = Dest("duckdb", tmp_path)
    with Simulator(world) as sim:
        sync(config(sim, dest))
        results, report = sync(config(sim, dest))
    reads = {r.read for r in results if r.read}
    assert reads == {"whole: the audit log is empty: audit logging seems to be off for this organization"}
    assert any("every organization table was listed in full" in n and "audit logging" in n for n in report.notes)


def test_a_reconciliation_names_what_the_feed_missed(tmp_path):
    world = World(seed=4, size="small", now=NOW)
    dest = Dest("duckdb", tmp_path)
    with Simulator(world) as sim:
        sync(config(sim, dest))
        # as if the API had changed without an audit event: a user changed, a key appeared, a group went
        user = dest.q("SELECT min(id) FROM openai.users")[0][0]
        dest.exec(f"UPDATE openai.users SET _content_hash = 'stale' WHERE id = '{user}'")
        key = dest.q("SELECT project_id, id FROM openai.project_api_keys ORDER BY id LIMIT 1")[0]
        dest.exec(f"DELETE FROM openai.project_api_keys WHERE id = '{key[1]}'")
        dest.exec("INSERT INTO openai.groups SELECT * REPLACE ('group_gone' AS id) FROM openai.groups LIMIT 1")
        out = run_sync(sim, tmp_path, world.admin_key, "--reconcile", "--json")
        again = run_sync(sim, tmp_path, world.admin_key, "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert {t["read"] for t in result["tables"] if "read" in t} == {"whole: reconciliation requested"}
    notes = " ".join(result["notes"])
    assert "users: 1 difference that no audit event announced" in notes and f"{user} changed" in notes
    assert f"{key[0]}/{key[1]} appeared" in notes and "group_gone gone" in notes
    assert dest.q("SELECT _deleted FROM openai.groups WHERE id = 'group_gone'") == [(True,)]
    assert dest.q(f"SELECT count(*) FROM openai.project_api_keys WHERE id = '{key[1]}'") == [(1,)]
    later = json.loads(again.stdout)
    assert not any("difference" in n for n in later["notes"])
    assert {t.get("read") for t in later["tables"] if t.get("read")} == {"unchanged"}


def test_a_few_changed_users_of_a_long_listing_are_retrieved_by_id(tmp_path):
    """Users that fill three pages, one of them deleted, then one added: each is retrieved by id (one request, not
    the listing; the deleted one's 404, once the server shows it serves users one by one, marks them, their roles
    and memberships gone); where the server answers 404 for every single object, the listing is read instead;
    both equal a full listing."""
    world = World(seed=5, size="small", now=NOW, users=250)
    by_id, fallback, truth = (Dest("duckdb", tmp_path / n) for n in ("by_id", "fallback", "truth"))
    added = next(c for c in world.audit.changes if c.t > world.now and c.type == "user.added")
    gone = next(c for c in world.audit.changes if world.now < c.t < added.t and c.type == "user.deleted")
    with Simulator(world) as sim:
        for dest in (by_id, fallback):
            sync(config(sim, dest))
        sim.advance((added.t - world.now) / 3600 - 0.1)  # the hours before it: a user deleted
        before = sim.stats()["by_endpoint"]
        results, _ = sync(config(sim, by_id))
        made = {k: v - before.get(k, 0) for k, v in sim.stats()["by_endpoint"].items() if v != before.get(k, 0)}
        assert {r.name: r.read for r in results}["users"] == "changes: 1 object"
        # the deleted user (404), then one user listed and retrieved: the server serves users one by one
        assert made["GET /organization/users/{user_id}"] == 2 and made["GET /organization/users"] == 1, made
        sim.set_faults([Rule("404", endpoint="/organization/users/{user_id}")])
        results, _ = sync(config(sim, fallback))
        sim.set_faults([])
        assert {r.name: r.read for r in results}["users"] == "whole: 1 object named by the audit log gone"
        for dest in (by_id, fallback):
            who = gone.detail["id"]
            assert dest.q(f"SELECT _deleted FROM openai.users WHERE id = '{who}'") == [(True,)]
            assert dest.q(f"SELECT count(*) FROM openai.user_roles WHERE user_id = '{who}' AND NOT _deleted") == [(0,)]
            assert dest.q(f"SELECT count(*) FROM openai.project_users WHERE id = '{who}' AND NOT _deleted") == [(0,)]
        sim.advance(0.2)
        before = sim.stats()["by_endpoint"]
        results, _ = sync(config(sim, by_id))
        made = {k: v - before.get(k, 0) for k, v in sim.stats()["by_endpoint"].items() if v != before.get(k, 0)}
        read = {r.name: r.read for r in results}
        assert read["users"] == "changes: 1 object" and read["user_roles"] == "changes: 1 parent", read
        assert "GET /organization/users" not in made and made["GET /organization/users/{user_id}"] == 1, made
        sim.set_faults([Rule("404", endpoint="/organization/users/{user_id}")])
        results, _ = sync(config(sim, fallback))
        sim.set_faults([])
        assert {r.name: r.read for r in results}["users"] == "whole: 1 object named by the audit log gone"
        assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results]
        sync(replace(config(sim, truth), reconcile=True))
    assert by_id.q(f"SELECT count(*) FROM openai.users WHERE id = '{added.detail['id']}'") == [(1,)]
    assert differences(by_id, truth) == {} and differences(fallback, truth) == {}


def _next_activity(world: World, kind: str, after: int) -> int:
    """When the simulated log's next activity event of a type falls (the simulator's own slotting)."""
    from openai_sync.simulator import rng
    from openai_sync.simulator.audit import ACTIVITY

    log = world.audit
    j = next(j for j in range(log._activity_bound(after), log.n_activity)
             if rng.choice(ACTIVITY, world.seed, "alt", j) == kind)
    return log._activity_at(j)


def test_an_updated_role_is_checked_on_one_holder_and_read_for_all_only_when_it_changed(tmp_path):
    """role.updated may change every assignment row of the role: one holder's listing tells whether it did. An
    update that changed nothing costs that one listing; one that did re-lists every holder, and the result equals
    a full reconciliation."""
    world = World(seed=6, size="small", now=NOW)
    role = world.roles[2]
    fed_dest, truth = Dest("duckdb", tmp_path / "fed"), Dest("duckdb", tmp_path / "truth")
    roles_of_users = "GET /organization/users/{user_id}/roles"
    with Simulator(world) as sim:
        sync(config(sim, fed_dest))

        def around(t: int, description: str | None = None) -> tuple[dict[str, str], dict[str, int], int]:
            """A sync a second before `t`, the event at `t` (with the role's new description, if any), and the
            sync that reads it: its reads and requests."""
            sim.advance((t - 1 - world.now) / 3600)
            sync(config(sim, fed_dest))
            if description is not None:
                role["description"] = description
            holders = fed_dest.q(f"SELECT count(*) FROM openai.user_roles WHERE id = '{role['id']}' "
                              "AND _deleted IS NOT TRUE")[0][0]
            sim.advance(2 / 3600)
            before = sim.stats()["by_endpoint"]
            results, _ = sync(config(sim, fed_dest))
            assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results]
            made = {k: v - before.get(k, 0) for k, v in sim.stats()["by_endpoint"].items()}
            return {r.name: r.read for r in results}, made, holders

        first = _next_activity(world, "role.updated", world.now)
        read, made, holders = around(first)
        assert holders >= 2, "the test needs a role held by several users"
        assert made.get(roles_of_users) == 1, made  # the one holder that tells: unchanged
        assert read["user_roles"] == "unchanged", read
        read, made, holders = around(_next_activity(world, "role.updated", first + 1),
                                     "Reads and writes the fine-tuning jobs")
        assert made.get(roles_of_users) == holders + 1, (made, holders)  # the one that told, then every holder
        sync(replace(config(sim, truth), reconcile=True))
    assert differences(fed_dest, truth) == {}
    assert fed_dest.q(f"SELECT DISTINCT description FROM openai.user_roles WHERE id = '{role['id']}' "
                      "AND _deleted IS NOT TRUE") == [("Reads and writes the fine-tuning jobs",)]


def test_an_accepted_invite_reads_its_member_not_every_listing(tmp_path):
    """invite.accepted names the invite: the invite is retrieved and the users listing filtered by its email,
    not the users listing of three pages and every project's members read again. (The simulated invitees never
    become members: the filtered listing finds nobody, and there is nothing more to read.)"""
    world = World(seed=5, size="small", now=NOW, users=250)
    fed_dest, truth = Dest("duckdb", tmp_path / "fed"), Dest("duckdb", tmp_path / "truth")
    accepted = next(c for c in world.audit.changes if c.t > world.now and c.type == "invite.accepted")
    with Simulator(world) as sim:
        sync(config(sim, fed_dest))
        sim.advance((accepted.t - 1 - world.now) / 3600)
        sync(config(sim, fed_dest))
        sim.advance(2 / 3600)
        before = sim.stats()["by_endpoint"]
        results, _ = sync(config(sim, fed_dest))
        made = {k: v - before.get(k, 0) for k, v in sim.stats()["by_endpoint"].items() if v != before.get(k, 0)}
        sync(replace(config(sim, truth), reconcile=True))
    read = {r.name: r.read for r in results}
    assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results]
    assert read["invites"] == "whole: changed" and made["GET /organization/invites/{invite_id}"] == 1, made
    assert made["GET /organization/users"] == 1, made  # filtered by the invite's email
    assert {read[t] for t in ("users", "user_roles", "project_users", "project_user_roles")} == {"unchanged"}, read
    assert "GET /organization/projects/{project_id}/users" not in made, made
    assert differences(fed_dest, truth) == {}
