"""End-to-end: project tables with project keys (several projects), against the simulator's ground truth."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import NOW, empty_config
from destinations_support import Dest

from openai_sync.catalog import PROJECT_TABLES, TABLES
from openai_sync.config import ProjectKey
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Rule, Simulator, World


def config(sim: Simulator, dest: Dest, *, admin: bool = True, explicit: bool = False, **kw: Any) -> SyncConfig:
    keys = [ProjectKey(k, pid if explicit else None) for pid, k in sim.world.project_keys.items()]
    return SyncConfig(admin_key=sim.world.admin_key if admin else None, base_url=sim.base_url,
                      destination=dest.destination, schema=dest.schema, pipelines_dir=str(dest.tmp / "state"),
                      project_keys=keys, **kw)



def tables_in(dest: Dest) -> set[str]:
    return {r[0] for r in dest.q("SELECT table_name FROM information_schema.tables WHERE table_schema = 'openai'")}


def active(w: World) -> list[str]:
    return [p for p in w.project_keys
            if not (w.project_by_id[p].archived_at and w.project_by_id[p].archived_at <= w.now)]


def truth(w: World, pids: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Live objects per table and project, as the API shows them at the world's clock."""
    now = w.now
    out: dict[str, dict[str, int]] = {t.name: {} for t in PROJECT_TABLES}
    for pid in pids or list(w.project_keys):
        pd = w.project_data(pid)

        def n(seq) -> int:
            return len(seq.alive(now)) if seq is not None else 0

        evals = [e["id"] for e in (it.render(now) for it in pd.evals_seq.alive(now))]
        runs = [(e, r.render(now)) for e in evals for r in pd.runs_seq(e).alive(now)]
        jobs = [j.id for j in pd.ft_jobs_seq.alive(now)]
        stores = [v.id for v in pd.vector_stores_seq.alive(now)]
        containers = [c.id for c in pd.containers_seq.alive(now)]
        skills = [s.id for s in pd.skills_seq.alive(now)]
        counts = {
            "files": n(pd.files_seq), "batches": n(pd.batches_seq), "evals": len(evals), "eval_runs": len(runs),
            "eval_run_output_items": sum(n(pd.output_items_seq(e, r["id"])) for e, r in runs),
            "skills": len(skills), "skill_versions": sum(n(pd.skill_versions_seq(s)) for s in skills),
            "fine_tuning_jobs": len(jobs), "fine_tuning_job_events": sum(n(pd.ft_events_seq(j)) for j in jobs),
            "fine_tuning_job_checkpoints": sum(n(pd.ft_checkpoints_seq(j)) for j in jobs),
            "vector_stores": len(stores), "vector_store_files": sum(n(pd.vector_store_files_seq(v)) for v in stores),
            "containers": len(containers), "container_files": sum(n(pd.container_files_seq(c)) for c in containers),
            "assistants": n(pd.assistants_seq), "models": len(pd.models_json(now)), "chat_completions": n(pd.chat_seq),
            "webhook_endpoints": n(w.security.webhooks_seq(w.project_by_id[pid])), "videos": n(pd.videos_seq),
        }
        for table, c in counts.items():
            out[table][pid] = c
    return out


def loaded(dest: Dest, table: str) -> dict[str, int]:
    live = "NOT _deleted" if TABLES[table].soft_delete else "true"
    return dict(dest.q(f"SELECT project_id, count(*) FROM openai.{table} WHERE {live} GROUP BY 1"))


def assert_equals_truth(dest: Dest, w: World, pids: list[str] | None = None) -> None:
    want = truth(w, pids)
    have = tables_in(dest)
    for table, per_project in want.items():
        expected = {p: c for p, c in per_project.items() if c}
        got = loaded(dest, table) if table in have else {}
        got = {p: c for p, c in got.items() if p in per_project}
        assert got == expected, table


@pytest.fixture
def world() -> World:
    return World(seed=7, size="small", now=NOW)


def test_project_tables_equal_ground_truth(world, dest):
    with Simulator(world) as sim:
        results, run = sync(config(sim, dest))
    assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results if r.error]
    assert run.key_problems == []
    assert_equals_truth(dest, world)
    for t in PROJECT_TABLES:
        if t.name in tables_in(dest):
            pk = ", ".join(t.primary_key)
            assert dest.one(f"SELECT count(*) - count(DISTINCT ({pk})) FROM openai.{t.name}") == 0, t.name
            assert dest.one(f"SELECT count(*) FROM openai.{t.name} WHERE project_id IS NULL") == 0
    # sampled values: a batch's status and counts, as the API renders them
    pid = next(iter(world.project_keys))
    b = world.project_data(pid).batches_seq.alive(world.now)[0].render(world.now)
    assert dest.q(f"SELECT status, request_counts__total FROM openai.batches WHERE id = '{b['id']}'") == [
        (b["status"], b["request_counts"]["total"])]
    # stored completions: metadata and usage, never the message content unless asked
    cols = {r[0] for r in dest.q("SELECT column_name FROM information_schema.columns "
                                 "WHERE table_schema = 'openai' AND table_name = 'chat_completions'")}
    assert "usage__total_tokens" in cols and "model" in cols and not any(c.startswith("choices") for c in cols)


def test_message_content_is_opt_in(world, dest):
    with Simulator(world) as sim:
        sync(config(sim, dest, tables=["chat_completions"], chat_completion_content=True))
    cols = {r[0] for r in dest.q("SELECT column_name FROM information_schema.columns "
                                 "WHERE table_schema = 'openai' AND table_name = 'chat_completions'")}
    assert "choices" in cols


def test_the_next_sync_converges_with_few_requests(world, dest, capsys):
    with Simulator(world) as sim:
        cfg = config(sim, dest)
        sync(cfg)
        open_batches = dest.one("SELECT count(*) FROM openai.batches WHERE status = 'in_progress'")
        sim.advance(48)  # batches finish, runs complete, files are deleted, skills get new versions
        gone = set(world.project_keys) - set(active(world))
        assert gone, "a project is archived within two days"
        results, run = sync(cfg)
        assert all(r.status == "ok" for r in results), [(r.name, r.error) for r in results if r.error]
        assert [w for w in run.warnings if "archived" in w] and all(p in " ".join(run.warnings) for p in gone)
        assert not any("archived" in n for n in run.notes)
        assert_equals_truth(dest, world, active(world))
        # every batch now shows its status at the new clock
        for pid in active(world):
            for it in world.project_data(pid).batches_seq.alive(world.now):
                b = it.render(world.now)
                assert dest.q(f"SELECT status FROM openai.batches WHERE id = '{b['id']}'") == [(b["status"],)]
        assert dest.one("SELECT count(*) FROM openai.files WHERE _deleted") >= 1
        # a third sync with nothing changed: one listing per project (and parent), no re-read of finished work
        before = sim.stats()["by_endpoint"]
        results, _ = sync(cfg)
        after = sim.stats()["by_endpoint"]
    made = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}
    with capsys.disabled():
        print(f"\nno-change sync of 3 projects: {made}")
    n = len(active(world))
    assert made.get("GET /batches", 0) == n and made.get("GET /batches/{batch_id}", 0) == 0
    assert made.get("GET /fine_tuning/jobs", 0) == n and made.get("GET /fine_tuning/jobs/{fine_tuning_job_id}", 0) == 0
    assert made.get("GET /evals/{eval_id}/runs/{run_id}/output_items", 0) == 0  # finished runs are not re-read
    assert made.get("GET /fine_tuning/jobs/{fine_tuning_job_id}/events", 0) == 0
    assert made.get("GET /chat/completions", 0) == n
    assert open_batches >= 0


def test_project_keys_alone_give_the_project_tables_only(world, dest):
    with Simulator(world) as sim:
        results, _ = sync(config(sim, dest, admin=False, explicit=True))
    assert {r.name for r in results} == {t.name for t in PROJECT_TABLES}
    assert_equals_truth(dest, world)
    assert "users" not in tables_in(dest)


def test_an_admin_key_alone_gives_the_organization_tables_only(world, dest):
    with Simulator(world) as sim:
        cfg = replace(config(sim, dest), project_keys=[])
        results, _ = sync(cfg)
    assert "files" not in {r.name for r in results} and "users" in {r.name for r in results}


def test_without_an_admin_key_a_project_key_needs_its_project_id(world, dest):
    with Simulator(world) as sim:
        cfg = config(sim, dest, admin=False)
        first = replace(cfg.project_keys[0], project_id=next(iter(world.project_keys)))
        cfg = replace(cfg, project_keys=[first, *cfg.project_keys[1:]])
        _results, run = sync(cfg)
    assert len(run.key_problems) == len(world.project_keys) - 1
    assert all("PROJECT_ID=KEY" in p for p in run.key_problems)


def test_a_key_given_for_another_project_is_refused_while_the_others_sync(world, dest):
    """Keys are looked up (one of them has no project): the wrong PROJECT_ID is caught before reading."""
    pids = list(world.project_keys)
    with Simulator(world) as sim:
        cfg = config(sim, dest, explicit=True)
        first = replace(cfg.project_keys[0], project_id=pids[1])  # the first key claims to be the second project's
        last = replace(cfg.project_keys[-1], project_id=None)  # and one key is given alone: keys are looked up
        cfg = replace(cfg, project_keys=[first, *cfg.project_keys[1:-1], last])
        _results, run = sync(cfg)
    assert len(run.key_problems) == 1 and "belongs to" in run.key_problems[0] and pids[0] in run.key_problems[0]
    assert world.project_keys[pids[0]] not in run.key_problems[0]
    got = loaded(dest, "files")
    assert pids[0] not in got and set(got) == set(pids[1:])


def test_keys_saved_with_their_projects_are_not_looked_up_and_a_wrong_one_is_refused_by_the_api(world, dest):
    """Every key given as PROJECT_ID=KEY (as setup saves them): no listing of the projects' keys; each key is sent
    with its project, so one given for another project fails that project's tables, with a sentence."""
    pids = list(world.project_keys)
    with Simulator(world) as sim:
        results, run = sync(config(sim, dest, explicit=True))
        assert all(r.status == "ok" for r in results) and run.key_problems == []
        looked_up = sum(c.requests["identify project keys"] for c in run.clients)
        assert looked_up == 1  # no listing of each project's keys: only the projects (which are archived)
        wrong = [ProjectKey(world.project_keys[pids[0]], pids[1]),  # the first key, given for the second project
                 *[ProjectKey(world.project_keys[p], p) for p in pids[2:]]]
        results, run = sync(replace(config(sim, dest), project_keys=wrong))
    failed = {r.name: r.error for r in results if r.status != "ok"}
    assert failed and all(f"does not belong to project {pids[1]}" in e for e in failed.values()), failed
    assert all(world.project_keys[pids[0]] not in e for e in failed.values())
    assert set(loaded(dest, "files")) >= set(pids[2:])


def test_a_key_revoked_mid_sync_fails_its_project_only(world, dest):
    pids = list(world.project_keys)
    victim = world.project_keys[pids[0]]
    with Simulator(world) as sim:
        sim.set_faults([Rule("revoke", key=victim, skip=3)])
        results, _run = sync(config(sim, dest, explicit=True))
        failed = {r.name: r.error for r in results if r.status != "ok"}
        assert failed, "some table of the revoked project fails"
        assert all(pids[0] in e and "401" in e for e in failed.values())
        assert victim not in " ".join(failed.values())
        # the other projects' tables are complete
        want = truth(world)
        for table in ("files", "batches", "models"):
            got = loaded(dest, table) if table in tables_in(dest) else {}
            for pid in pids[1:]:
                assert got.get(pid, 0) == want[table][pid], (table, pid)


def test_concurrency_is_bounded_across_every_key(world, dest):
    with Simulator(world, latency_ms=15) as sim:
        results, run = sync(config(sim, dest, concurrency=4))
    assert all(r.status == "ok" for r in results)
    assert len(run.clients) == 1 + len(world.project_keys)
    assert 1 < run.client.gate.max_in_flight <= 4


def test_cli_exit_code_and_json_say_the_failure_was_partial(world, tmp_path):
    import json

    from typer.testing import CliRunner

    from openai_sync.cli import app

    pids = list(world.project_keys)
    with Simulator(world) as sim:
        keys = ",".join(f"{p}={k}" for p, k in world.project_keys.items())
        sim.set_faults([Rule("revoke", key=world.project_keys[pids[0]], skip=2)])
        r = CliRunner().invoke(app, ["sync", "--config", empty_config(tmp_path), "--json", "--destination",
                                     f"duckdb:///{tmp_path}/out.duckdb", "--state-dir", str(tmp_path / "state")],
                               env={"OPENAI_ADMIN_KEY": world.admin_key, "OPENAI_PROJECT_KEYS": keys,
                                    "OPENAI_BASE_URL": sim.base_url})
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["status"] == "partial" and set(out["projects"]) == set(pids)
    failed = [t for t in out["tables"] if t["status"] != "ok"]
    assert failed and all(pids[0] in t["error"] for t in failed)
    assert {t["table"] for t in out["tables"] if t["status"] == "ok"} >= {"users", "costs", "audit_logs"}
    for k in [world.admin_key, *world.project_keys.values()]:
        assert k not in r.output


@pytest.mark.parametrize("table", ["chat_completions", "eval_run_output_items"])
def test_an_unexpected_error_in_a_project_table_moves_no_projects_state(world, dest, monkeypatch, table):
    """A table that stops on something unexpected (not an API error: a value no row can hold, a bug) cannot say
    which projects it finished, so no project's watermark moves: the next run reads everything it missed.
    (eval_run_output_items: its parents' watermark, eval_runs, must not move past runs whose items were lost.)"""
    import openai_sync.read.projects as reader

    shaped = reader.to_row
    crashed = []

    def once(t: Any, item: Any, *a: Any, **kw: Any) -> Any:
        if t.name == table and not crashed:
            crashed.append(t.name)
            raise ValueError("year 33658 is out of range")
        return shaped(t, item, *a, **kw)

    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=[table])
        monkeypatch.setattr(reader, "to_row", once)
        results, _ = sync(cfg)
        assert crashed and [r.status for r in results] == ["failed"] and "unexpectedly" in results[0].error
        monkeypatch.setattr(reader, "to_row", shaped)
        results, _ = sync(cfg)
        assert [r.status for r in results] == ["ok"]
    assert loaded(dest, table) == {p: c for p, c in truth(world)[table].items() if c}


def test_stored_chat_completions_deleted_at_the_source_are_marked_deleted(world, dest):
    """chat_completions is read newest first; once a day the whole listing is read, and what it no longer has
    was deleted at the source (the simulator deletes one stored completion in ten within three days)."""
    with Simulator(world) as sim:
        cfg = config(sim, dest, tables=["chat_completions"])
        sync(cfg)
        first = sim.stats()["by_endpoint"].get("GET /chat/completions", 0)
        sim.advance(2)  # within the day: newest first only, nothing deleted is noticed yet
        sync(cfg)
        sim.advance(70)  # a day has passed: the whole listing
        results, _ = sync(cfg)
    assert results[0].status == "ok"
    gone = {it.id for p in active(world) for it in world.project_data(p).chat_seq.alive(NOW)
            if not world.project_data(p).chat_seq.get(it.id, world.now)}
    assert gone, "the simulator deleted some"
    marked = {r[0] for r in dest.q("SELECT id FROM openai.chat_completions WHERE _deleted")}
    assert marked == gone
    live = active(world)  # a project archived meanwhile keeps the data of its last sync
    got = {p: c for p, c in loaded(dest, "chat_completions").items() if p in live}
    assert got == {p: c for p, c in truth(world, live)["chat_completions"].items() if c}
    assert results[0].deleted == len(gone) and first > 0
