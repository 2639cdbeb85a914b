"""Every dimension the SDK documents is requested; costs' groupings that the API accepts only for some
ranges are cut around, never lost silently; a table whose dimensions change is reloaded without duplicates."""

from __future__ import annotations

import importlib
import typing
from dataclasses import replace

import pytest
from conftest import NOW
from destinations_support import Dest
from test_sync import config, loaded_per_day, truth_costs_per_day

from openai_sync import catalog
from openai_sync.runner import sync
from openai_sync.simulator import Simulator, World
from openai_sync.simulator.world import DAY


def documented_dimensions(table: catalog.Table) -> set[str]:
    """The group_by values the installed SDK declares for the table's endpoint."""
    endpoint = table.path.rsplit("/", 1)[-1]
    name = "usage_costs_params" if endpoint == "costs" else f"usage_{endpoint}_params"
    module = importlib.import_module(f"openai.types.admin.organization.{name}")
    params = next(v for k, v in vars(module).items() if k.endswith("Params") and isinstance(v, type))
    group_by = typing.get_type_hints(params)["group_by"]  # List[Literal[...]], maybe Optional
    while typing.get_origin(group_by) is not list:
        group_by = next(a for a in typing.get_args(group_by) if a is not type(None))
    return set(typing.get_args(typing.get_args(group_by)[0]))


@pytest.mark.parametrize("table", [t for t in catalog.ORG_TABLES if t.strategy == "buckets"], ids=lambda t: t.name)
def test_every_documented_dimension_is_requested(table):
    assert set(table.group_by) == documented_dimensions(table)


def costs_config(sim: Simulator, dest: Dest, **kw):
    return config(sim, dest, tables=["costs"], **kw)


def costs_by_day(dest: Dest) -> dict[int, tuple[int, int]]:
    """Per day: (rows, rows with a user_id)."""
    return {int(d): (n, u) for d, n, u in dest.q(
        "SELECT epoch(start_time)::BIGINT, count(*), count(user_id) FROM openai.costs GROUP BY 1")}


def test_costs_get_user_id_from_the_day_the_api_groups_it_with_project_id(dest):
    world = World(seed=7, size="small", now=NOW, costs_user_with_project_from="seed")
    world.costs_user_with_project_from = since = world.start + 12 * DAY  # within the history, for certain
    with Simulator(world) as sim:
        results, run = sync(costs_config(sim, dest))
        assert results[0].status == "ok", results[0].error
        refused = sim.stats()["by_status"].get("400", 0)
        assert 1 <= refused <= 6  # the binary search over 30 days, a handful of one-day requests
        assert any("from" in n and "user_id" in n for n in run.notes), run.notes
        days = costs_by_day(dest)
        assert all(u == 0 for d, (_n, u) in days.items() if d < since)  # no user_id before the API has it
        assert any(u > 0 for d, (_n, u) in days.items() if d >= since)  # with it after
        got, want = loaded_per_day(dest, "costs", "amount"), truth_costs_per_day(sim, world.start)
        assert got.keys() == want.keys() and all(abs(float(got[d]) - v) < 1e-6 for d, v in want.items())
        sim.advance(24)
        before = sim.stats()["total"]
        results, run = sync(costs_config(sim, dest))
        assert results[0].status == "ok" and sim.stats()["by_status"].get("400", 0) == refused  # learned: no probe
        assert sim.stats()["total"] - before <= 5
        assert not [n for n in run.notes if "user_id" in n]
    assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.costs") == 0


def test_costs_of_an_organization_without_user_grouping_say_so(tmp_path):
    dest = Dest("duckdb", tmp_path)
    world = World(seed=7, size="small", now=NOW, costs_user_with_project_from=None)
    with Simulator(world) as sim:
        results, run = sync(costs_config(sim, dest))
        assert results[0].status == "ok"
        assert any("does not group costs by user_id" in n for n in run.notes)
        assert dest.one("SELECT count(user_id) FROM openai.costs") == 0
        got, want = loaded_per_day(dest, "costs", "amount"), truth_costs_per_day(sim, world.start)
        assert got.keys() == want.keys()


def test_a_table_whose_dimensions_changed_is_reloaded_without_duplicates(dest, monkeypatch):
    world = World(seed=7, size="small", now=NOW, costs_user_with_project_from=None)
    old = replace(catalog.TABLES["costs"], group_by=("project_id", "line_item", "api_key_id"))
    with Simulator(world) as sim:
        monkeypatch.setitem(catalog.TABLES, "costs", old)  # as an earlier version read it
        sync(costs_config(sim, dest))
        monkeypatch.undo()
        n_old = dest.one("SELECT count(*) FROM openai.costs")
        sim.advance(24)
        results, run = sync(costs_config(sim, dest))
        assert results[0].status == "ok"
        assert any("dimensions changed" in n for n in run.notes), run.notes
        got, want = loaded_per_day(dest, "costs", "amount"), truth_costs_per_day(sim, world.start)
    assert got.keys() == want.keys() and all(abs(float(got[d]) - v) < 1e-6 for d, v in want.items())
    assert dest.one("SELECT count(*) - count(DISTINCT id) FROM openai.costs") == 0
    assert dest.one("SELECT count(api_source) FROM openai.costs") > 0 and n_old > 0


USAGE_RESULTS = {"file_search_calls": "file_searches", "web_search_calls": "web_searches"}


def sdk_result_fields(table: catalog.Table) -> dict[str, type]:
    """The fields of the SDK's result model of a usage table (by its `object` literal), with their types."""
    endpoint = table.path.rsplit("/", 1)[-1]
    want = f"organization.usage.{USAGE_RESULTS.get(endpoint, endpoint)}.result"
    for name in ("usage_completions_response", "usage_decisions_response"):
        module = importlib.import_module(f"openai.types.admin.organization.{name}")
        for cls in vars(module).values():
            fields = getattr(cls, "model_fields", {})
            if "object" in fields and typing.get_args(fields["object"].annotation) == (want,):
                return {k: f.annotation for k, f in fields.items() if k != "object"}
    raise AssertionError(f"no SDK result model for {table.name}")


@pytest.mark.parametrize("table", [t for t in catalog.ORG_TABLES if t.mode == "usage"], ids=lambda t: t.name)
def test_every_metric_the_sdk_declares_is_a_typed_column(table):
    fields = sdk_result_fields(table)
    ints = {k for k, tp in fields.items() if int in (tp, *typing.get_args(tp))}
    assert set(table.metrics) == ints
    assert set(fields) - ints == set(table.group_by)  # every other field is a dimension
