"""End-to-end: real syncs of simulated organizations into DuckDB, checked against the simulator's ground truth."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NOW
from destinations_support import Dest

from openai_sync.catalog import COSTS_API_KEY_GROUPING_FROM, ORG_TABLES, TABLES, USAGE_PAGE, crosses_keys
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.usage import USAGE_TYPES

DAY = 86400


def config(sim: Simulator, dest: Dest, **kw: Any) -> SyncConfig:
    return SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url, destination=dest.destination,
                      schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), **kw)



# ---- ground truth, straight from the simulator's world ----------------------------------------------
def truth_counts(w: World) -> dict[str, int]:
    now = w.now
    projects = w.projects
    return {
        "users": len(w.users_seq.alive(now)),
        "invites": len(w.invites_seq.alive(now)),
        "projects": len(projects),
        "project_users": sum(len(w.project_users_seq(p).alive(now)) for p in projects),
        "project_service_accounts": sum(len(w.project_service_accounts_seq(p).alive(now)) for p in projects),
        "project_api_keys": sum(len(w.project_api_keys_seq(p).alive(now)) for p in projects),
        "project_rate_limits": sum(len(w.project_rate_limits_seq(p).alive(now)) for p in projects),
        "project_groups": sum(len(w.project_groups_seq(p).alive(now)) for p in projects),
        "project_roles": sum(len(w.project_roles_seq(p).alive(now)) for p in projects),
        "project_certificates": sum(len(w.project_certificates_seq(p).alive(now)) for p in projects),
        "project_spend_alerts": sum(len(w.project_spend_alerts_seq(p).alive(now)) for p in projects),
        "project_settings": len(projects),
        "organization_settings": 1,
        "admin_api_keys": len(w.admin_api_keys_seq.alive(now)),
        "certificates": len(w.certificates_seq.alive(now)),
        "groups": len(w.groups_seq.alive(now)),
        "group_users": sum(len(w.group_users_seq(g[0]).alive(now)) for g in w.groups),
        "roles": len(w.roles_seq.alive(now)),
        "spend_alerts": len(w.spend_alerts_seq.alive(now)),
        "user_roles": sum(len(w.user_roles_seq(u.id).alive(now)) for u in w.users
                          if u.added_at <= now and (u.removed_at is None or now < u.removed_at)),
        "group_roles": sum(len(w.group_roles_seq(g[0]).alive(now)) for g in w.groups),
        # a project's roles of its members and groups as they are now (a member who left has none)
        "project_user_roles": sum(len(w.project_user_roles_seq(p, it.id).alive(now)) for p in projects
                                  for it in w.project_users_seq(p).alive(now)),
        "project_group_roles": sum(len(w.project_group_roles_seq(p, it.id).alive(now)) for p in projects
                                   for it in w.project_groups_seq(p).alive(now)),
        "audit_logs": w.audit_seq.bound(now),
        "workload_identity_providers": len(w.security.providers_seq.alive(now)),
        "workload_identity_provider_rules": sum(len(w.security.rules_seq(it.id).alive(now))
                                                for it in w.security.providers_seq.alive(now)),
        "external_keys": len(w.security.external_keys_seq.alive(now)),
        "external_storage": len(w.security.storage_seq.alive(now)),
    }


def truth_usage_per_day(sim: Simulator, kind: str, metric: str, start: int) -> dict[int, int]:
    eng = sim.app.usage
    starts = eng.bucket_starts(start, None, DAY, sim.world.now)
    out = {}
    for b in eng.usage_buckets(kind, starts, DAY, (), {}, sim.world.now):
        total = sum(r[metric] for r in b["results"])
        if total:
            out[b["start_time"]] = total
    return out


def truth_costs_per_day(sim: Simulator, start: int) -> dict[int, float]:
    eng = sim.app.usage
    starts = eng.bucket_starts(start, None, DAY, sim.world.now)
    return {b["start_time"]: sum(r["amount"]["value"] for r in b["results"])
            for b in eng.cost_buckets(starts, (), {}, sim.world.now) if b["results"]}


def loaded_per_day(dest: Dest, table: str, metric: str) -> dict[int, float]:
    rows = dest.q(f"SELECT epoch(start_time)::BIGINT, sum({metric}) FROM openai.{table} GROUP BY 1")
    return {int(t): v for t, v in rows if v}


@pytest.fixture
def world() -> World:
    return World(seed=7, size="small", now=NOW)


# ---- the first sync --------------------------------------------------------------------------------------
def test_first_sync_equals_ground_truth(world, dest):
    with Simulator(world) as sim:
        results, _run = sync(config(sim, dest))
        # every organization table but the one that needs project keys as well
        assert {r.name: r.status for r in results} == {t.name: "ok" for t in ORG_TABLES if not crosses_keys(t)}
        want = truth_counts(world)
        for table, n in want.items():
            live = "NOT _deleted" if TABLES[table].soft_delete else "true"
            got = dest.one(f"SELECT count(*) FROM openai.{table} WHERE {live}")
            assert got == n, table
        # every primary key is unique: no duplicates anywhere
        for t in ORG_TABLES:
            if crosses_keys(t):
                continue
            if t.name in ("usage_code_interpreter_sessions",) and not dest.one(
                    f"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'openai' "
                    f"AND table_name = '{t.name}'"):
                continue
            pk = ", ".join(t.primary_key)
            assert dest.one(f"SELECT count(*) - count(DISTINCT ({pk})) FROM openai.{t.name}") == 0, t.name
        # usage: token sums per day equal the simulator's, for every usage table and its first metric
        for kind, ut in USAGE_TYPES.items():
            table = f"usage_{kind}"
            metric = ut.metrics[0]
            want_days = truth_usage_per_day(sim, kind, metric, world.start)
            if not want_days:
                continue
            assert loaded_per_day(dest, table, metric) == want_days, table
        # costs: per day, as decimals, equal to the simulator's within a micro-dollar
        want_costs = truth_costs_per_day(sim, world.start)
        got_costs = loaded_per_day(dest, "costs", "amount")
        assert got_costs.keys() == want_costs.keys()
        for day, v in want_costs.items():
            assert abs(float(got_costs[day]) - v) < 1e-6
        # sampled values: a user row, an archived project, an audit event's folded detail
        u = world.users_seq.alive(world.now)[1].render(world.now)
        assert dest.q(f"SELECT email, role, epoch(added_at)::BIGINT FROM openai.users WHERE id = '{u['id']}'") \
            == [(u["email"], u["role"], u["added_at"])]
        assert dest.one("SELECT count(*) FROM openai.projects WHERE status = 'archived'") >= 1
        assert dest.one("SELECT count(*) FROM openai.audit_logs WHERE event_data IS NOT NULL") > 0
        assert dest.one("SELECT count(DISTINCT organization_id) FROM openai.users") == 1
        assert dest.one("SELECT organization_id FROM openai.costs LIMIT 1") == world.org_id


def test_types_are_warehouse_types(world, dest):
    with Simulator(world) as sim:
        sync(config(sim, dest, tables=["users", "costs", "usage_completions", "audit_logs", "projects"]))
    types = dict(((t, c), d) for t, c, d in dest.q("SELECT table_name, column_name, data_type FROM "
                                                        "information_schema.columns WHERE table_schema = 'openai'"))
    want = {("users", "added_at"): "TIMESTAMP WITH TIME ZONE", ("users", "id"): "VARCHAR",
            ("users", "_synced_at"): "TIMESTAMP WITH TIME ZONE", ("users", "_deleted"): "BOOLEAN",
            ("costs", "amount"): "DECIMAL", ("usage_completions", "start_time"): "TIMESTAMP WITH TIME ZONE",
            ("usage_completions", "input_tokens"): "BIGINT", ("usage_completions", "final"): "BOOLEAN",
            ("audit_logs", "effective_at"): "TIMESTAMP WITH TIME ZONE", ("audit_logs", "event_data"): "JSON",
            ("projects", "archived_at"): "TIMESTAMP WITH TIME ZONE"}
    for col, t in want.items():
        assert types[col].split("(")[0] == dest.type_name(t), col


# ---- the next syncs -----------------------------------------------------------------------------------
def test_incremental_sync_after_the_clock_advances(world, dest):
    with Simulator(world) as sim:
        cfg = config(sim, dest)
        sync(cfg)
        n_buckets = dest.one("SELECT count(DISTINCT start_time) FROM openai.usage_completions")
        n_events = dest.one("SELECT count(*) FROM openai.audit_logs")
        hours = 49  # a departure is scheduled within a day, project 1's archive within two
        leaving = [u for u in world.users if u.removed_at and world.now < u.removed_at <= world.now + hours * 3600]
        archiving = [p for p in world.projects
                     if p.archived_at and world.now < p.archived_at <= world.now + hours * 3600]
        assert leaving and archiving
        sim.advance(hours)
        results, _run = sync(cfg)
        assert all(r.status == "ok" for r in results)
        # new buckets, restated ones updated in place: sums equal ground truth, with no duplicate ids
        assert dest.one("SELECT count(DISTINCT start_time) FROM openai.usage_completions") > n_buckets
        assert loaded_per_day(dest, "usage_completions", "input_tokens") == truth_usage_per_day(
            sim, "completions", "input_tokens", world.start)
        assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.usage_completions") == 0
        want_costs = truth_costs_per_day(sim, world.start)
        got_costs = loaded_per_day(dest, "costs", "amount")
        assert got_costs.keys() == want_costs.keys()
        assert all(abs(float(got_costs[d]) - v) < 1e-6 for d, v in want_costs.items())
        # final: buckets that ended more than the lookback before the run
        assert dest.one(f"SELECT bool_and(final) FROM openai.usage_completions WHERE epoch(end_time) <= "
                             f"{world.now - DAY}")
        assert not dest.one(f"SELECT bool_or(final) FROM openai.usage_completions WHERE epoch(end_time) > "
                                 f"{world.now - DAY}")
        # new audit events, each exactly once
        assert dest.one("SELECT count(*) FROM openai.audit_logs") == world.audit_seq.bound(world.now) > n_events
        assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.audit_logs") == 0
        # removed users are kept and marked deleted; archived projects are kept
        for u in leaving:
            assert dest.q(f"SELECT _deleted FROM openai.users WHERE id = '{u.id}'") == [(True,)]
            assert dest.one(f"SELECT bool_and(_deleted) FROM openai.project_users WHERE id = '{u.id}'")
        alive = len(world.users_seq.alive(world.now))
        assert dest.one("SELECT count(*) FROM openai.users WHERE NOT _deleted") == alive
        for p in archiving:
            got = dest.q(f"SELECT status, _deleted FROM openai.projects WHERE id = '{p.id}'")
            assert got == [("archived", False)]
        assert {r.name: r.deleted for r in results}["users"] == len(leaving)


def test_a_sync_with_nothing_changed_makes_few_requests(world, dest, capsys):
    """With nothing changed, the change feed (one page of the audit log, which the audit table reuses) leaves every
    organization listing unread; usage and costs read their lookback window, one page each."""
    with Simulator(world) as sim:
        cfg = config(sim, dest)
        sync(cfg)
        before = sim.stats()["total"]
        results, _ = sync(cfg)
        made = sim.stats()["total"] - before
    per_table = {r.name: r.requests for r in results}
    with capsys.disabled():
        print(f"\nno-change sync: {made} requests in all; per table: {per_table}")
    for r in results:
        t = TABLES[r.name]
        if crosses_keys(t):
            continue  # needs project keys too; this sync has none
        if t.mode in ("usage", "costs"):
            assert r.requests == 1, t.name  # the lookback window fits in one page, not followed past the clock
        elif t.mode == "audit":
            assert r.requests == 1  # one page: only events since the watermark (the change feed's, reused)
        else:
            assert (r.requests, r.read) == (0, "unchanged"), (t.name, r.read)
    assert made == sum(per_table.values()) + 3  # and 3 preflight requests checking the key's permissions


def test_full_sync_request_count_is_near_the_minimum(dest, capsys):
    """Count the requests of a first sync against the pages that the limits make unavoidable."""
    world = World(seed=3, size="medium", now=NOW)
    with Simulator(world) as sim:
        results, _run = sync(config(sim, dest))
    by_table = {r.name: r.requests for r in results}
    now = world.now
    n_proj = len(world.projects)

    def pages(n: int, limit: int) -> int:
        return max(1, -(-n // limit))

    org_start = min(p.created_at for p in world.projects) // DAY * DAY
    days = (now - org_start) // DAY + 1
    # costs are read in ranges cut where api_key_id grouping begins, and where user_id with project_id does
    from openai_sync.read.costs import split_by_availability

    ranges = split_by_availability(org_start, TABLES["costs"].group_by, {
        "api_key_id": COSTS_API_KEY_GROUPING_FROM, "user_id": world.costs_user_with_project_from})
    range_days = [((b or now // DAY * DAY + DAY) - a) // DAY for a, b, _g in ranges]
    minimum = {"audit_logs": pages(world.audit_seq.bound(now), 100),
               **{f"usage_{k}": pages(days, USAGE_PAGE["1d"]) for k in USAGE_TYPES},
               "costs": sum(pages(n, 180) for n in range_days)}
    user_probes = sum(1 for e in sim.app.stats.snapshot(with_log=True)["log"]
                      if e["path"] == "/v1/organization/costs" and "group_by%5B%5D=user_id&limit=1" in e["query"])
    with capsys.disabled():
        print(f"\nfull sync of a medium org: {sum(by_table.values())} requests; "
              f"audit {by_table['audit_logs']} (minimum {minimum['audit_logs']}), "
              f"usage_completions {by_table['usage_completions']} (minimum {minimum['usage_completions']}), "
              f"costs {by_table['costs']} (minimum {minimum['costs']}), "
              f"fan-out per project {by_table['project_users']} for {n_proj} projects")
    # the audit log is read in parallel time windows of about 16 pages, each ending on a partial page
    assert minimum["audit_logs"] <= by_table["audit_logs"] <= minimum["audit_logs"] * 17 // 16 + 2
    # a first sync asks once per range how many results a bucket holds (the memory bound sizes its pages);
    # the next runs remember it
    for k in USAGE_TYPES:
        assert by_table[f"usage_{k}"] == minimum[f"usage_{k}"] + 1, k
    # and, once, the day from which costs group user_id with project_id: a binary search of one-day requests
    assert 1 <= user_probes <= days.bit_length() + 2
    assert by_table["costs"] == minimum["costs"] + sum(n > 1 for n in range_days) + user_probes
    assert by_table["project_users"] == n_proj


def test_concurrency_is_bounded(world, dest):
    with Simulator(world, latency_ms=20) as sim:
        results, run = sync(config(sim, dest, concurrency=3))
    assert all(r.status == "ok" for r in results)
    assert 1 < run.client.gate.max_in_flight <= 3


def test_bucket_width_and_lookback_are_configurable(world, dest):
    with Simulator(world) as sim:
        sync(config(sim, dest, tables=["usage_completions"], bucket_widths={"usage_completions": "1h"},
                    lookback_seconds=6 * 3600))
        assert dest.one("SELECT DISTINCT bucket_width FROM openai.usage_completions") == "1h"
        assert dest.one("SELECT min(epoch(end_time) - epoch(start_time)) FROM openai.usage_completions") == 3600
        want = truth_usage_per_day(sim, "completions", "input_tokens", world.start)
        got = dest.q("SELECT sum(input_tokens) FROM openai.usage_completions")[0][0]
        assert got == sum(want.values())
        assert not dest.one(f"SELECT bool_or(final) FROM openai.usage_completions WHERE epoch(end_time) > "
                                 f"{world.now - 6 * 3600}")


def test_a_new_destination_gets_the_full_history_even_with_old_local_state(world, dest):
    """Local dlt state must not make a fresh destination receive only increments."""
    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=["audit_logs", "usage_completions", "users"])
        sync(cfg)
        full = dest.one("SELECT count(*) FROM openai.audit_logs")
        dest.wipe()
        sim.advance(2)
        sync(cfg)
        assert dest.one("SELECT count(*) FROM openai.audit_logs") == world.audit_seq.bound(world.now) > full
        assert loaded_per_day(dest, "usage_completions", "input_tokens") == truth_usage_per_day(
            sim, "completions", "input_tokens", world.start)


def test_a_failure_midway_through_the_audit_log_does_not_move_the_watermark(world, dest):
    from openai_sync.simulator import Rule

    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=["audit_logs"])
        sync(cfg)
        sim.advance(7 * 24)  # 20 events a day: 140 new events, two pages of 100
        before = dest.one("SELECT count(*) FROM openai.audit_logs")
        assert world.audit_seq.bound(world.now) - before > 100
        # let the preflight and the first page (the newest events) through; the second page is malformed
        sim.set_faults([Rule("malformed", endpoint="/organization/audit_logs", skip=2, times=1)])
        results, _ = sync(cfg)
        assert results[0].status == "failed" and "not JSON" in results[0].error
        partial = dest.one("SELECT count(*) FROM openai.audit_logs")
        assert before + 100 == partial < world.audit_seq.bound(world.now)
        # the next run reads down to the old watermark again: no gap, no duplicate
        sim.set_faults([])
        results, _ = sync(cfg)
        assert results[0].status == "ok"
        assert dest.one("SELECT count(*) FROM openai.audit_logs") == world.audit_seq.bound(world.now)
        assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.audit_logs") == 0


def test_the_key_is_never_written_to_the_destination_or_the_state(world, dest):
    with Simulator(world) as sim:
        sync(config(sim, dest))
    key = world.admin_key.encode()
    hits = [p for p in dest.tmp.rglob("*") if p.is_file() and (key in p.read_bytes() or key[-12:] in p.read_bytes())]
    assert hits == []
    # files may be compressed, and PostgreSQL keeps no file here: search every text column of every table
    text = [dest.type_name("VARCHAR"), dest.type_name("JSON")]
    cols = dest.q("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'openai' "
                  f"AND data_type IN ('{text[0]}', '{text[1]}')")
    assert len(cols) > 50
    needle = world.admin_key[-12:]
    where = " OR ".join(f'"{c}"::VARCHAR LIKE \'%{needle}%\'' for t, c in cols)
    for table in sorted({t for t, _ in cols}):
        mine = " OR ".join(f'"{c}"::VARCHAR LIKE \'%{needle}%\'' for t, c in cols if t == table)
        assert dest.one(f'SELECT count(*) FROM openai."{table}" WHERE {mine}') == 0, table
    assert where


def test_ungrouped_dimensions_are_text_columns(world, dest):
    """Costs results carry user_id and api_source (null: not grouped by); they must not become numbers."""
    with Simulator(world) as sim:
        sync(config(sim, dest, tables=["costs"]))
    types = dict(dest.q("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'openai' AND table_name = 'costs'"))
    assert types["user_id"] == dest.type_name("VARCHAR") and types["api_source"] == dest.type_name("VARCHAR")


def test_bucket_pages_are_sized_to_the_memory_bound(world, dest, monkeypatch):
    """A usage or cost page holds about RESULTS_PER_PAGE results at most, however many a bucket has: a first sync
    asks how full the newest bucket is, the next runs remember the fullest bucket they read (no further probe)."""
    import urllib.parse

    import httpx2 as httpx

    import openai_sync.read.buckets as pl

    monkeypatch.setattr(pl, "RESULTS_PER_PAGE", 60)
    tables = ["usage_completions", "costs"]
    probes = [0]
    sizer = pl._newest_bucket_results

    def counted(*a: Any) -> int:
        probes[-1] += 1
        return sizer(*a)

    monkeypatch.setattr(pl, "_newest_bucket_results", counted)

    def pages_read(sim: Simulator, since: int) -> list[tuple[str, dict[str, list[str]], int]]:
        """(path, query, results on the page) of every bucket request after the `since`-th, asked again."""
        out = []
        for e in sim.app.stats.snapshot(with_log=True)["log"][since:]:
            if e["path"].endswith(("/usage/completions", "/costs")):
                q = urllib.parse.parse_qs(e["query"])
                r = httpx.get(f"{sim.base_url}{e['path'].removeprefix('/v1')}?{e['query']}",
                              headers={"Authorization": f"Bearer {world.admin_key}"})
                if e["status"] == 400:  # where costs group user_id with project_id: found by asking (read/costs.py)
                    continue
                out.append((e["path"], q, sum(len(b["results"]) for b in r.json()["data"])))
        return out

    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=tables)
        results, _ = sync(cfg)
        assert all(r.status == "ok" for r in results)
        first = pages_read(sim, 0)
        rows = {t: dest.one(f"SELECT count(*) FROM openai.{t}") for t in tables}
        sim.advance(72)
        probes.append(0)
        seen = len(sim.app.stats.snapshot(with_log=True)["log"])
        results, _ = sync(cfg)
        assert all(r.status == "ok" for r in results)
        later = pages_read(sim, seen)
    pages = [(p, q, n) for p, q, n in first + later if "bucket_width" in q]
    assert max(n for _p, _q, n in pages) <= 2 * 60  # the newest bucket predicts the others within 2x here
    assert max(int(q["limit"][0]) for _p, q, _n in pages) < 31  # cut below the API's largest (31 days, 180)
    start = min(p.created_at for p in world.projects) // DAY * DAY
    from openai_sync.read.costs import split_by_availability

    # split where api_key_id grouping begins, and where user_id with project_id does (read/costs.py)
    cost_ranges = len(split_by_availability(start, TABLES["costs"].group_by, {
        "api_key_id": COSTS_API_KEY_GROUPING_FROM, "user_id": world.costs_user_with_project_from}))
    assert probes == [1 + cost_ranges, 0]  # one per range of the first sync; then none
    assert all(rows[t] > 0 for t in tables)


def users_leaving(world: World, hours: int) -> list[str]:
    """The users the simulator removes from the organization within the next `hours`."""
    return [u.id for u in world.users if u.removed_at and world.now < u.removed_at <= world.now + hours * 3600]


@pytest.mark.parametrize("history", [False, True])
def test_children_of_a_parent_that_left_are_marked_deleted(world, dest, history):
    """A user who leaves the organization no longer has roles: their user_roles rows are marked deleted (in
    history mode, retired), while the other users' roles stay as they are."""
    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=["users", "user_roles"],
                     history_tables=["users", "user_roles"] if history else [])
        sync(cfg)
        hours = 49
        leaving = users_leaving(world, hours)
        assert leaving
        live = "_valid_to IS NULL" if history else "NOT _deleted"
        ids = ", ".join(f"'{u}'" for u in leaving)
        assert dest.one(f"SELECT count(*) FROM openai.user_roles WHERE {live} AND user_id IN ({ids})") > 0
        sim.advance(hours)
        results, _ = sync(cfg)
        assert all(r.status == "ok" for r in results)
    assert dest.one(f"SELECT count(*) FROM openai.user_roles WHERE {live} AND user_id IN ({ids})") == 0
    assert dest.one(f"SELECT count(*) FROM openai.user_roles WHERE {live}") == truth_counts(world)["user_roles"]
    if not history:  # when each deletion was seen: the run that marked it; null on the live rows
        for t in ("users", "user_roles"):
            assert dest.one(f"SELECT count(*) FROM openai.{t} WHERE _deleted AND _deleted_at IS NULL") == 0, t
            assert dest.one(f"SELECT count(*) FROM openai.{t} WHERE NOT _deleted AND _deleted_at IS NOT NULL") == 0
            assert dest.one(f"SELECT count(DISTINCT _deleted_at) FROM openai.{t} WHERE _deleted") == 1, t
        assert dest.one("SELECT count(*) FROM openai.users WHERE _deleted AND _deleted_at = "
                        "(SELECT max(_synced_at) FROM openai.users)") > 0


@pytest.mark.parametrize("history", [False, True])
def test_roles_of_groups_and_project_members_follow_their_parents(world, dest, history):
    """group_roles, project_user_roles and project_group_roles, synced alone (their parents are read, not
    loaded): a role a group loses is marked deleted, and so are the project roles of a user who left; what
    stays equals ground truth. In history mode, retired instead."""
    tables = ["group_roles", "project_user_roles", "project_group_roles"]
    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=tables, history_tables=tables if history else [])
        results, _ = sync(cfg)
        assert {r.name: r.status for r in results} == dict.fromkeys(tables, "ok")
        hours = 49
        roles = [(g[0], seq.make(i)) for g in world.groups for seq in [world.group_roles_seq(g[0])]
                 for i in range(len(seq))]
        lost = [(gid, it.id) for gid, it in roles if it.gone and world.now < it.gone <= world.now + hours * 3600]
        leaving = users_leaving(world, hours)
        assert lost and leaving
        live = "_valid_to IS NULL" if history else "NOT _deleted"
        ids = ", ".join(f"'{u}'" for u in leaving)
        assert dest.one(f"SELECT count(*) FROM openai.project_user_roles WHERE {live} AND user_id IN ({ids})") > 0
        sim.advance(hours)
        results, _ = sync(cfg)
        assert all(r.status == "ok" for r in results)
        want = truth_counts(world)
    for t in tables:
        assert dest.one(f"SELECT count(*) FROM openai.{t} WHERE {live}") == want[t], t
        pk = ", ".join(TABLES[t].primary_key)
        if not history:
            assert dest.one(f"SELECT count(*) - count(DISTINCT ({pk})) FROM openai.{t}") == 0, t
    for gid, rid in lost:
        assert dest.one(f"SELECT count(*) FROM openai.group_roles WHERE {live} AND group_id = '{gid}' "
                        f"AND id = '{rid}'") == 0
    assert dest.one(f"SELECT count(*) FROM openai.project_user_roles WHERE {live} AND user_id IN ({ids})") == 0
    if not history:
        assert dest.one(f"SELECT count(*) FROM openai.project_user_roles WHERE _deleted AND user_id IN ({ids})") > 0


def test_every_table_exists_after_the_first_sync_with_its_declared_columns(world, dest):
    """A table whose listing returned no rows (usage_code_interpreter_sessions of a small organization, a project
    without assistants, ...) still exists after a first sync, with the columns the catalog declares, typed."""
    from openai_sync.catalog import ALL_TABLES, bucket_columns
    from openai_sync.config import ProjectKey

    keys = [ProjectKey(k, p) for p, k in world.project_keys.items()]
    with Simulator(world) as sim:
        results, _ = sync(config(sim, dest, project_keys=keys))
    assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results if r.error]
    empty = [r.name for r in results if r.rows == 0]
    assert "usage_code_interpreter_sessions" in empty  # the case the issue names
    columns: dict[str, dict[str, str]] = {}
    for t, c, typ in dest.q("SELECT table_name, column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = 'openai'"):
        columns.setdefault(t, {})[c] = typ
    type_name = {"text": "VARCHAR", "bigint": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE",
                 "timestamp": "TIMESTAMP WITH TIME ZONE", "decimal": "DECIMAL"}
    for t in ALL_TABLES:
        assert t.name in columns, f"{t.name} does not exist"
        want = {c: "VARCHAR" for c in (*t.primary_key, "organization_id")} | {"_synced_at": "TIMESTAMP WITH TIME ZONE"}
        want |= {c: "TIMESTAMP WITH TIME ZONE" for c in t.timestamp_columns}
        if t.strategy == "buckets":
            want |= {c: type_name[k] for c, k in bucket_columns(t).items()}
        for c, typ in want.items():
            got = columns[t.name].get(c)
            assert got is not None and got.startswith(dest.type_name(typ).split("(")[0]), (t.name, c, got, typ)


def test_organization_settings_is_one_row_that_resolves_a_projects_organization_default(world, dest):
    with Simulator(world) as sim:
        results, _ = sync(config(sim, dest, tables=["organization_settings", "project_settings"]))
    assert {r.name: r.status for r in results} == {"organization_settings": "ok", "project_settings": "ok"}
    limit, retention = world.organization_spend_limit(), world.organization_data_retention()
    assert dest.q("SELECT organization_id, spend_limit__threshold_amount, spend_limit__enforcement__status, "
                  "data_retention__type FROM openai.organization_settings") == [
        (world.org_id, limit["threshold_amount"], limit["enforcement"]["status"], retention["type"])]
    resolved = dest.q("SELECT p.project_id, CASE WHEN p.data_retention__type = 'organization_default' THEN "
                      "o.data_retention__type ELSE p.data_retention__type END FROM openai.project_settings p "
                      "JOIN openai.organization_settings o USING (organization_id) ORDER BY 1")
    assert len(resolved) == len(world.projects) and all(t != "organization_default" for _p, t in resolved)
