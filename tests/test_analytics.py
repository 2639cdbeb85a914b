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
            check_key_inventory(sim, dest, a)
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
