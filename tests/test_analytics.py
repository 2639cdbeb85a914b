"""The analytics views (`<schema>_analytics`), made after every sync on DuckDB and PostgreSQL, against the
simulator's ground truth: spend per day equal to the simulator's costs and to the costs table to the cent, usage
per day equal to the usage tables, the key inventory's keys, owners and stale flags equal to what the API lists."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from conftest import NOW
from destinations_support import Dest
from test_sync import config, truth_costs_per_day

from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World


def listing(sim: Simulator, path: str) -> list[dict]:
    out, after = [], None
    while True:
        url = f"{sim.base_url}{path}{'&' if '?' in path else '?'}limit=100" + (f"&after={after}" if after else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {sim.world.admin_key}"})
        page = json.loads(urllib.request.urlopen(req).read())
        out += page["data"]
        if not page.get("has_more"):
            return out
        after = page["last_id"]


def test_views_against_ground_truth(dest: Dest) -> None:
    with Simulator(World(seed=3, size="small", now=NOW)) as sim:
        results, _ = sync(config(sim, dest))
        assert all(r.status == "ok" for r in results)
        a = f"{dest.schema}_analytics"
        try:
            spend = {int(datetime.combine(d, datetime.min.time(), UTC).timestamp()): v for d, v in dest.q(
                f"SELECT day, sum(amount) FROM {a}.spend_daily GROUP BY day")}
            truth = truth_costs_per_day(sim, min(spend))
            assert set(spend) == {d for d, v in truth.items() if v}
            assert all(abs(float(spend[d]) - truth[d]) < 0.005 for d in spend)  # to the cent, each day
            total, costs = dest.q(f"SELECT (SELECT sum(amount) FROM {a}.spend_daily), "
                                  "(SELECT sum(amount) FROM openai.costs)")[0]
            assert Decimal(total) == Decimal(costs)  # exactly the costs table
            by_model = dict(dest.q(f"SELECT model, sum(amount) FROM {a}.spend_daily WHERE model IS NOT NULL "
                                   "GROUP BY model"))
            assert by_model and all("," not in m for m in by_model)
            usage = dest.one(f"SELECT sum(input_tokens) FROM {a}.usage_daily WHERE source = 'completions'")
            assert usage == dest.one("SELECT sum(input_tokens) FROM openai.usage_completions")
            for table, metric, column in (("images", "images", "images"),
                                          ("web_search_calls", "num_requests", "tool_calls"),
                                          ("code_interpreter_sessions", "num_sessions", "sessions"),
                                          ("vector_stores", "usage_bytes", "usage_bytes")):
                mine = dest.one(f"SELECT sum({column}) FROM {a}.usage_daily WHERE source = '{table}'")
                assert mine == dest.one(f"SELECT sum({metric}) FROM openai.usage_{table}"), table
                assert mine, table
            # where usage and cost meet: an embedding model's spend per million tokens is its price, every day
            prices = {r[0] for r in dest.q(f"SELECT DISTINCT CAST(usd_per_million_tokens AS DECIMAL(18, 9)) FROM "
                                           f"{a}.usage_daily WHERE model = 'text-embedding-3-small'")}
            assert prices == {Decimal("0.02")}
            check_key_inventory(sim, dest, a)
            mtd, month, as_of = dest.q(f"SELECT month_to_date, month, as_of FROM {a}.spend_forecast "
                                       "WHERE scope = 'organization'")[0]
            assert as_of == max(datetime.fromtimestamp(d, UTC).date() for d in spend)
            assert Decimal(mtd) == Decimal(dest.one(f"SELECT sum(amount) FROM {a}.spend_daily WHERE day >= "
                                                    f"DATE '{month}'"))
            projects = dest.one(f"SELECT count(*) FROM {a}.spend_forecast WHERE scope = 'project'")
            assert projects == dest.one(f"SELECT count(DISTINCT project_id) FROM {a}.spend_daily")
            days, least = dest.q(f"SELECT count(*), min(history_days) FROM {a}.spend_anomalies "
                                 "WHERE dimension = 'project'")[0]
            spend_days = dest.one(f"SELECT count(*) FROM (SELECT DISTINCT project_id, day FROM {a}.spend_daily) d")
            assert 0 < days < spend_days and least >= 1  # each day with earlier spend days in its window
        finally:
            if dest.kind == "postgres":
                dest.exec(f"DROP SCHEMA IF EXISTS {a} CASCADE")


def check_key_inventory(sim: Simulator, dest: Dest, a: str) -> None:
    now = datetime.now(UTC)
    users = {u["id"] for u in listing(sim, "/organization/users")}
    want = {}
    for p in listing(sim, "/organization/projects?include_archived=true"):  # archived projects' keys are keys
        for k in listing(sim, f"/organization/projects/{p['id']}/api_keys"):
            used = k.get("last_used_at") or k["created_at"]
            owner = (k.get("owner") or {}).get("user") or {}
            want[k["id"]] = (datetime.fromtimestamp(used, UTC) < now - timedelta(days=90),
                             bool(owner) and owner["id"] not in users)
    got = {r[0]: (r[1], r[2]) for r in dest.q(f"SELECT id, unused_90_days, owner_removed FROM {a}.key_inventory "
                                               "WHERE kind = 'project_key'")}
    assert got == want
    admins = dest.q(f"SELECT count(*) FROM {a}.key_inventory WHERE kind = 'admin_key'")[0][0]
    assert admins == len(listing(sim, "/organization/admin_api_keys"))


def test_audit_activity_and_access_review(dest: Dest) -> None:
    with Simulator(World(seed=5, size="small", now=NOW)) as sim:
        sync(config(sim, dest))
    a = f"{dest.schema}_analytics"
    try:
        failures = dest.one(f"SELECT sum(events) FROM {a}.audit_activity WHERE category = 'login_failures'")
        assert failures == dest.one("SELECT count(*) FROM openai.audit_logs WHERE type IN ('login.failed', "
                                    "'logout.failed')") > 0
        by_type = dict(dest.q(f"SELECT type, max(category) FROM {a}.audit_activity GROUP BY type"))
        assert by_type["api_key.created"] == "keys" and by_type["role.assignment.created"] == "roles"
        assert by_type["user.added"] == "members" and by_type["organization.updated"] == "settings"
        assert "login.succeeded" not in by_type  # not a sensitive event
        sensitive = dest.one(f"SELECT sum(events) FROM {a}.audit_activity")
        assert sensitive == dest.one("SELECT count(*) FROM openai.audit_logs WHERE type IN (" + ", ".join(
            f"'{t}'" for t in by_type) + ")")
        review = dict(dest.q(f"SELECT scope || '/' || source || '/' || principal_type, count(*) FROM {a}.access_review "
                             "GROUP BY 1"))
        assert review["organization/membership/user"] == dest.one("SELECT count(*) FROM openai.users WHERE NOT "
                                                                  "coalesce(_deleted, false)")
        assert review["project/membership/user"] == dest.one("SELECT count(*) FROM openai.project_users WHERE NOT "
                                                             "coalesce(_deleted, false)")
        assert review["project/membership/service_account"] == dest.one(
            "SELECT count(*) FROM openai.project_service_accounts WHERE NOT coalesce(_deleted, false)")
        assert review.get("organization/role assignment/user", 0) == dest.one(
            "SELECT count(*) FROM openai.user_roles WHERE NOT coalesce(_deleted, false)")
    finally:
        if dest.kind == "postgres":
            dest.exec(f"DROP SCHEMA IF EXISTS {a} CASCADE")


class DuckSql:
    """A DuckDB connection with the two calls `analytics.refresh` makes of a dlt SQL client."""

    def __init__(self, con) -> None:
        self.con = con

    def execute_sql(self, sql: str, *args):
        cur = self.con.execute(sql.replace("%s", "?"), list(args))
        return cur.fetchall() if cur.description else None

    def begin_transaction(self):
        import contextlib

        @contextlib.contextmanager
        def tx():
            self.con.begin()
            try:
                yield
            except BaseException:
                self.con.rollback()  # as dlt's clients do
                raise
            self.con.commit()

        return tx()


def test_forecast_and_anomalies_on_a_constructed_series() -> None:
    """p1 spends 10 a day from January 1 to 20: 200 to date, 10 a day, 11 days left, 310 forecast against a 300
    threshold. p2 spends about 10 a day, then 100 on the 20th: that day alone is an anomaly."""
    import duckdb

    from openai_sync import analytics

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA openai")
    con.execute("CREATE TABLE openai.costs (start_time TIMESTAMPTZ, organization_id VARCHAR, project_id VARCHAR, "
                "line_item VARCHAR, api_key_id VARCHAR, user_id VARCHAR, currency VARCHAR, amount DECIMAL(38, 12), "
                "quantity DOUBLE)")
    rows = []
    for day in range(1, 21):
        rows.append((f"2026-01-{day:02d}", "p1", 10))
        rows.append((f"2026-01-{day:02d}", "p2", 100 if day == 20 else 10 + (day % 3) * 0.5))
    con.executemany("INSERT INTO openai.costs VALUES (CAST(? AS TIMESTAMPTZ), 'org', ?, 'gpt-4o, input', NULL, NULL, "
                    "'usd', ?, 1)", rows)
    for t in ("projects", "project_api_keys"):
        con.execute(f"CREATE TABLE openai.{t} (id VARCHAR, name VARCHAR, _deleted BOOLEAN)")
    con.execute("INSERT INTO openai.projects VALUES ('p1', 'one', false), ('p2', 'two', false)")
    con.execute("CREATE TABLE openai.project_spend_alerts (organization_id VARCHAR, project_id VARCHAR, "
                "threshold_amount DECIMAL(38, 12), \"interval\" VARCHAR, _deleted BOOLEAN)")
    con.execute("INSERT INTO openai.project_spend_alerts VALUES ('org', 'p1', 300, 'month', false), "
                "('org', 'p1', 500, 'month', false), ('org', 'p1', 50, 'day', false)")
    con.execute("CREATE TABLE openai.spend_alerts (organization_id VARCHAR, threshold_amount DECIMAL(38, 12), "
                "\"interval\" VARCHAR, _deleted BOOLEAN)")
    con.execute("INSERT INTO openai.spend_alerts VALUES ('org', 1000, 'month', false), "
                "('other-org', 10, 'month', false)")  # another organization's threshold is not this one's
    done = analytics.refresh(DuckSql(con), "openai", "duckdb")
    assert {"spend_daily", "spend_forecast", "spend_anomalies"} <= set(done.views)
    assert "key_inventory" in done.skipped and "users" in done.skipped["access_review"]
    # the constructed costs table lacks columns focus_costs reads: that view alone is left out, with the error
    assert "focus_costs" in done.refused and "end_time" in done.refused["focus_costs"] and not set(done.refused) - {
        "focus_costs"}
    p1 = con.execute("SELECT month_to_date, daily_run_rate, days_left, forecast, alert_threshold, will_exceed "
                     "FROM openai_analytics.spend_forecast WHERE project_id = 'p1'").fetchall()[0]
    assert [float(v) for v in p1[:5]] == [200, 10, 11, 310, 300] and p1[5] is True
    org = con.execute("SELECT month_to_date, alert_threshold, will_exceed FROM openai_analytics.spend_forecast "
                      "WHERE scope = 'organization'").fetchall()[0]
    p2_total = sum(float(v) for _, p, v in rows if p == "p2")
    assert float(org[0]) == 200 + p2_total and float(org[1]) == 1000 and org[2] is False
    flagged = con.execute("SELECT value, CAST(day AS VARCHAR) FROM openai_analytics.spend_anomalies "
                          "WHERE anomaly").fetchall()
    assert flagged == [("p2", "2026-01-20")]
