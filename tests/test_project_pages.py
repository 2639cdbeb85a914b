"""What a project table holds at once: a page, or one parent object's children, never a project's whole list."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from conftest import NOW

from openai_sync.access import ProjectAccess
from openai_sync.api.client import Client
from openai_sync.api.throttle import Gate
from openai_sync.catalog import TABLES
from openai_sync.read.context import ReadContext
from openai_sync.read.ledger import Ledger, PartialFailure
from openai_sync.read.projects import read_project_table
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.faults import Rule


def _context(s: Simulator) -> ReadContext:
    gate = Gate(4)
    projects = tuple(ProjectAccess(p, Client(s.base_url, k, admin=False, gate=gate, project=p))
                     for p, k in sorted(s.world.project_keys.items()))
    return ReadContext(admin=None, projects=projects, primary=projects[0].client, ledger=Ledger(), concurrency=4,
                       now=s.world.now, synced_at=datetime.now(UTC), start_date=0, lookback_seconds=0)


def test_a_projects_objects_pass_a_page_at_a_time_and_each_scope_is_recorded_once_read():
    # up to 250 stored completions a project (three pages)
    world = World(seed=3, size="small", now=NOW, chat_completions_per_project=250)
    with Simulator(world) as s:
        ctx = _context(s)
        pages = list(read_project_table(ctx, TABLES["chat_completions"], {}))
        assert all(len({r["project_id"] for r in p}) == 1 for p in pages)
        pages_of = Counter(p[0]["project_id"] for p in pages)
        rows_of = Counter(r["project_id"] for p in pages for r in p)
        assert max(rows_of.values()) > 200  # 100 + 100 + the rest, never one list of them all
        assert all(pages_of[p] == -(-n // 100) for p, n in rows_of.items()), (pages_of, rows_of)
        # the first sync lists every completion: each project's listing is complete, and its next state is kept
        listed = ctx.ledger.complete("chat_completions")
        assert {dict(s)["project_id"]: v.rows for s, v in listed.items()} == dict(rows_of)
        states = ctx.ledger.next_states()
        assert len([k for k in states if k[0] == "chat_completions"]) == len(ctx.projects)

        pages = list(read_project_table(ctx, TABLES["vector_store_files"], {}))
        stores = Counter(r["vector_store_id"] for p in pages for r in p)
        assert all(len({r["vector_store_id"] for r in p}) == 1 for p in pages)  # one store's files a page
        assert len(pages) == len(stores) >= len(ctx.projects)  # one store's listing at a time
        scopes = ctx.ledger.complete("vector_store_files")
        assert {dict(s)["vector_store_id"]: v.rows for s, v in scopes.items()} == dict(stores)


def test_a_project_whose_parents_cannot_be_listed_fails_alone(sim):
    ctx = _context(sim)
    broken = ctx.projects[0]
    sim.set_faults([Rule("403", endpoint="/vector_stores", key=broken.client.key, skip=0)])
    pages = []
    with pytest.raises(PartialFailure, match=f"1 of {len(ctx.projects)} projects failed; {broken.project_id}"):
        for page in read_project_table(ctx, TABLES["vector_store_files"], {}):
            pages.append(page)
    read = {r["project_id"] for p in pages for r in p}
    assert read == {a.project_id for a in ctx.projects[1:]}
    assert ctx.ledger.failed_projects(["vector_store_files"]) == {broken.project_id}
    assert all(dict(s)["project_id"] != broken.project_id for s in ctx.ledger.complete("vector_store_files"))


def _never() -> list:
    raise AssertionError("read again: the listing should have been kept")


@pytest.mark.parametrize("children_first", [False, True])
def test_a_parents_table_takes_its_objects_whole_and_the_cache_keeps_what_the_children_need(sim, children_first):
    ctx = _context(sim)
    pid = ctx.projects[0].project_id
    if children_first:
        items = [r for p in read_project_table(ctx, TABLES["eval_run_output_items"], {}) for r in p]
    runs = [r for p in read_project_table(ctx, TABLES["eval_runs"], {}) for r in p]
    assert runs and all(r.get("data_source") and r.get("status") for r in runs)  # whole objects, whoever asked first
    kept = ctx.parents.get(("eval_runs", pid), _never)
    # what /evals/{eval_id}/runs/{run_id}/output_items needs of a run
    assert kept and all(set(r) == {"id", "eval_id"} for r in kept)
    if not children_first:
        items = [r for p in read_project_table(ctx, TABLES["eval_run_output_items"], {}) for r in p]
    assert {(r["project_id"], r["run_id"]) for r in items} == {(r["project_id"], r["id"]) for r in runs}
    assert len(items) == sum(v.rows for v in ctx.ledger.complete("eval_run_output_items").values())
    requests = sum(sum(p.client.requests.values()) for p in ctx.projects)
    ctx.done_reading()  # extraction is over: the parents' listings and every key's connections go
    assert ctx.parents.get(("eval_runs", pid), lambda: ["read again"]) == ["read again"]
    assert all(p.client.sdk.is_closed() for p in ctx.projects)
    assert sum(sum(p.client.requests.values()) for p in ctx.projects) == requests  # the run's report reads them
    assert len(ctx.ledger.complete("eval_run_output_items")) == len(runs)  # the ledger stays
