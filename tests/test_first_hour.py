"""A new user's first hour: what the README, the demo and the help promise is what happens.

The README's queries are the demo's; the demo says where the data is; hashing as documented leaves no email
readable anywhere (inside JSON too); the summary table says what its time is; the simulator's background
recipe works; the connector's bookkeeping columns come after the API's own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import duckdb
import pytest
from conftest import NOW
from rich.console import Console
from typer.testing import CliRunner

from openai_sync.api.keys import ProjectKey
from openai_sync.catalog import TABLES
from openai_sync.cli import app
from openai_sync.load.privacy import ColumnPolicy, PolicyError, keyed_hash
from openai_sync.report import EXAMPLE_QUERIES, example_sql, summary_table
from openai_sync.runner import SyncConfig, TableResult, sync
from openai_sync.simulator import SIZES, Simulator, World

README = (Path(__file__).parent.parent / "README.md").read_text()
KEY = "a-long-random-hash-key-for-tests"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
runner = CliRunner()


def readme_block(after: str, lang: str) -> str:
    """The first ```lang block of the README after the text `after`."""
    start = README.index(f"```{lang}\n", README.index(after)) + len(lang) + 4
    return README[start:README.index("```", start)]


# ---- the README's example queries are the demo's ---------------------------------------------------------------
def test_the_readme_shows_the_queries_the_demo_runs():
    assert readme_block("**Example queries**", "sql").strip() == example_sql("openai")
    assert len(EXAMPLE_QUERIES) == 3 and all(f"-- {title}" in README for title, _ in EXAMPLE_QUERIES)


def test_keys_and_projects_of_the_same_name_are_not_merged():
    """Key names (and project names) repeat across projects: the queries group by id, the name beside it."""
    con = duckdb.connect()
    con.execute("""
        CREATE SCHEMA openai;
        CREATE TABLE openai.project_api_keys (project_id VARCHAR, id VARCHAR, name VARCHAR);
        INSERT INTO openai.project_api_keys VALUES ('proj_a', 'key_a', 'ci'), ('proj_b', 'key_b', 'ci');
        CREATE TABLE openai.usage_completions (model VARCHAR, api_key_id VARCHAR, input_tokens BIGINT,
                                               output_tokens BIGINT, num_model_requests BIGINT);
        INSERT INTO openai.usage_completions VALUES ('gpt-5', 'key_a', 10, 1, 1), ('gpt-5', 'key_b', 20, 2, 1);
        CREATE TABLE openai.projects (id VARCHAR, name VARCHAR);
        INSERT INTO openai.projects VALUES ('proj_a', 'Bot'), ('proj_b', 'Bot');
        CREATE TABLE openai.costs (project_id VARCHAR, amount DECIMAL(38, 12), start_time TIMESTAMPTZ);
        INSERT INTO openai.costs VALUES ('proj_a', 1.5, '2026-01-01'), ('proj_b', 2.5, '2026-01-01');
    """)
    spend, tokens, _ = example_sql("openai").split(";\n")[:3]
    assert con.sql(tokens).fetchall() == [("gpt-5", "key_b", "ci", 20, 2, 1), ("gpt-5", "key_a", "ci", 10, 1, 1)]
    assert [(p, name, float(usd)) for p, name, usd in con.sql(spend).fetchall()] == [
        ("proj_b", "Bot", 2.5), ("proj_a", "Bot", 1.5)]


# ---- the demo says where the data is ----------------------------------------------------------------------------
def test_the_demo_prints_the_real_path_of_an_absolute_destination(tmp_path):
    target = tmp_path / "demo.duckdb"
    destination = f"duckdb://{target}"  # duckdb:///tmp/...: three slashes, an absolute path
    assert destination.startswith("duckdb:///") and not destination.startswith("duckdb:////")
    r = runner.invoke(app, ["demo", "--size", "small", "--destination", destination,
                            "--state-dir", str(tmp_path / "state")], env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    assert f"The data is in {target}, schema openai" in r.stdout
    assert f"duckdb.connect('{target}')" in r.stdout  # the command to copy is whole, on one line
    assert target.exists()
    for title, _ in EXAMPLE_QUERIES:
        assert title in r.stdout


# ---- hashing as documented: no email readable anywhere ------------------------------------------------------------
def documented_hash_columns() -> list[str]:
    block = readme_block("To hash every email address", "toml")
    return tomllib.loads(block)["hash_columns"]


def test_the_documented_hashing_leaves_no_email_in_any_column_of_any_table(dest):
    world = World(seed=7, size="small", now=NOW)
    entries = documented_hash_columns()
    assert "*.*email*" in entries
    with Simulator(world) as sim:
        results, _ = sync(SyncConfig(admin_key=world.admin_key, base_url=sim.base_url,
                                     destination=dest.destination, schema=dest.schema,
                                     pipelines_dir=str(dest.tmp / "state"),
                                     project_keys=[ProjectKey(k) for k in world.project_keys.values()],
                                     hash_columns=entries, hash_key=KEY))
    assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results if r.error]
    tables = [t for (t,) in dest.q("SELECT DISTINCT table_name FROM information_schema.tables "
                                   "WHERE table_schema = 'openai'")]
    assert "audit_logs" in tables and "users" in tables
    found = {}
    for t in tables:
        for row in dest.q(f"SELECT * FROM openai.{t}"):
            for v in row:
                m = EMAIL.search(v if isinstance(v, str) else json.dumps(v, default=str))
                if m:
                    found.setdefault(t, m.group())
    assert not found, f"emails left readable: {found}"
    # what was hashed still joins: audit actors, spend alert recipients, invite.sent events to users
    user = world.users[0].email
    hashed = keyed_hash(KEY.encode(), user)
    assert dest.one(f"SELECT count(*) FROM openai.users WHERE email = '{hashed}'") == 1
    assert dest.one("SELECT count(*) FROM openai.audit_logs a JOIN openai.users u "
                    "ON u.email = a.actor__session__user__email") > 0
    invites = [json.loads(v) if isinstance(v, str) else v
               for (v,) in dest.q("SELECT event_data FROM openai.audit_logs WHERE type = 'invite.sent'")]
    assert invites and all(re.fullmatch(r"[0-9a-f]{64}", e["data"]["email"]) for e in invites)
    recipients = [json.loads(v) if isinstance(v, str) else v for (v,) in dest.q(
        "SELECT notification_channel__recipients FROM openai.spend_alerts")]
    emails = {keyed_hash(KEY.encode(), u.email) for u in world.users}
    assert recipients and all(isinstance(r, list) and set(r) <= emails for r in recipients)


def test_patterns_reach_inside_json_and_never_the_bookkeeping():
    policy = ColumnPolicy(hash_=["audit_logs.*email*"], key=KEY)
    row = {"id": "e1", "actor__session__user__email": "a@x.io", "event_data": {"data": {"email": "b@x.io",
           "emails": ["c@x.io"], "role": "reader"}, "list": [{"email": "d@x.io"}]}, "_synced_at": "t",
           "type": "invite.sent"}
    out = policy.row(TABLES["audit_logs"], row)
    h = lambda v: keyed_hash(KEY.encode(), v)  # noqa: E731
    assert out["actor__session__user__email"] == h("a@x.io")
    assert out["event_data"] == {"data": {"email": h("b@x.io"), "emails": [h("c@x.io")], "role": "reader"},
                                 "list": [{"email": h("d@x.io")}]}
    assert out["id"] == "e1" and out["_synced_at"] == "t" and out["type"] == "invite.sent"
    assert ColumnPolicy(hash_=["users.*email*"], key=KEY).row(TABLES["audit_logs"], {"email": "x"}) == {
        "email": "x"}  # another table's entry


@pytest.mark.parametrize(("block", "hash_", "message"), [
    (["*.*id"], [], "part of the primary key"),
    (["nope*.x"], [], "unknown table 'nope\\*'"),
    ([], ["*.*email*"], "hash_columns needs a key"),
])
def test_bad_patterns_are_refused_with_a_sentence(block, hash_, message):
    with pytest.raises(PolicyError, match=message):
        ColumnPolicy(block, hash_, None)


# ---- the summary table says what its time is --------------------------------------------------------------------
def test_the_summary_table_time_column_says_it_overlaps():
    console = Console(record=True, width=200)
    console.print(summary_table([TableResult("users", rows=3, requests=1, seconds=1.25),
                                 TableResult("audit_logs", rows=9, requests=2, seconds=1.5)]))
    text = console.export_text()
    header = next(line for line in text.splitlines() if "table" in line and "status" in line)
    assert "elapsed (s)" in header and "seconds" not in header
    assert "overlap" in text and "1.2" in text and "1.5" in text


# ---- the simulator's help and README recipe ------------------------------------------------------------------------
def test_the_simulator_recipe_reads_its_first_line_while_it_keeps_serving(tmp_path):
    r = runner.invoke(app, ["simulator", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    assert "| jq" not in r.stdout and "& SIM=$!" in r.stdout and "kill $SIM" in r.stdout
    assert "& SIM=$!" in README and "openai-sync simulator | jq" not in README
    out = tmp_path / "sim.json"
    with out.open("w") as f:  # as `openai-sync simulator > sim.json &`
        proc = subprocess.Popen([sys.executable, "-m", "openai_sync.cli", "simulator", "--size", "small"], stdout=f)
    try:
        deadline = time.monotonic() + 60
        while not out.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.1)
        info = json.loads(out.read_text().splitlines()[0])
        req = urllib.request.Request(info["base_url"] + "/organization/users",
                                     headers={"Authorization": f"Bearer {info['admin_key']}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.load(resp)["object"] == "list"
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(10)


def test_every_simulator_size_is_in_the_readme():
    row = next(line for line in README.splitlines() if line.startswith("| `--size` |"))
    table = README[README.index("| size | projects"):]
    for size in SIZES:
        assert f"`{size}`" in row and f"\n| {size} |" in table, size


# ---- bookkeeping columns last ---------------------------------------------------------------------------------------
def test_bookkeeping_columns_come_after_the_apis_own(tmp_path):
    with Simulator(World(seed=7, size="small", now=NOW)) as sim:
        results, _ = sync(SyncConfig(admin_key=sim.world.admin_key, base_url=sim.base_url,
                                     destination=f"duckdb:///{tmp_path}/out.duckdb",
                                     pipelines_dir=str(tmp_path / "state"), history_tables=["projects"],
                                     tables=["users", "audit_logs", "project_api_keys", "projects", "costs",
                                             "usage_audio_speeches"]))
    assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results if r.error]
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        order = dict(con.sql("SELECT table_name, list(column_name ORDER BY ordinal_position) "
                             "FROM information_schema.columns WHERE table_schema = 'openai' "
                             "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' GROUP BY 1").fetchall())
    assert set(order) == {"users", "audit_logs", "project_api_keys", "projects", "costs", "usage_audio_speeches"}
    assert "actor__api_key__user__email" in order["audit_logs"]  # a column that came on a later row
    for table, columns in order.items():  # the API's own, then ours (_synced_at, _deleted, _valid_from...), then dlt's
        ranks = [2 if c.startswith("_dlt_") else 1 if c.startswith("_") else 0 for c in columns]
        assert ranks == sorted(ranks) and "_synced_at" in columns, (table, columns)
    assert {"_deleted", "_dlt_id"} <= set(order["users"]) and {"_valid_from", "_valid_to"} <= set(order["projects"])
