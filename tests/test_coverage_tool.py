"""bench/coverage.py reads the SDK's list endpoints and types from its source: it finds the endpoints and types
we know, and narrows a usage bucket's results to the kind its endpoint returns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from openai_sync.catalog import TABLES

# by its path: `import coverage` could be the coverage.py package, already imported by a plugin
_spec = importlib.util.spec_from_file_location("bench_coverage", Path(__file__).resolve().parent.parent / "bench"
                                               / "coverage.py")
assert _spec and _spec.loader
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def test_it_finds_the_sdk_list_endpoints_and_their_types():
    endpoints = tool.sdk_list_endpoints()
    assert {"/organization/users", "/organization/users/{}/roles", "/organization/costs",
            "/organization/usage/completions", "/evals/{}/runs/{}/output_items"} <= endpoints
    assert "/organization/certificates/activate" not in endpoints  # a POST that returns a page
    models = tool.sdk_models()
    users = tool.declared(models["/organization/users"])
    assert {"id", "email", "role", "added_at"} <= users


def test_each_usage_and_cost_table_maps_to_its_own_kind_of_result():
    models = tool.sdk_models()
    for t in TABLES.values():
        if t.strategy != "buckets" or tool.shape(t.path) not in models:
            continue
        whole = tool.declared(models[tool.shape(t.path)])
        own = tool.declared(models[tool.shape(t.path)], result=tool.result_object(tool.shape(t.path)))
        assert own <= whole and "results[].object" in own, t.name
        if t.name in ("usage_completions", "costs"):  # typed as a union of every kind of result: narrowed
            assert own < whole, t.name
            assert ("results[].amount" in own) == (t.name == "costs"), t.name
            assert ("results[].input_tokens" in own) == (t.name == "usage_completions"), t.name
