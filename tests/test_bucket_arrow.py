"""Usage pages parsed straight into Arrow (read/bucket_arrow.py) make the rows the general way makes
(read/bucket_rows.py), and hand back to it every page they cannot take exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openai_sync.catalog import TABLES, bucket_columns
from openai_sync.read.bucket_arrow import usage_page
from openai_sync.read.bucket_rows import buckets_to_arrow

SYNCED = datetime(2026, 12, 1, tzinfo=UTC)
DAY = 86400
USAGE = [t for t in TABLES.values() if t.mode == "usage"]


def general(table, body: bytes, final_before: int) -> Any:
    page = orjson.loads(body)
    return buckets_to_arrow(table, page["data"], width="1d", dims=table.group_by, final_before=final_before,
                            organization_id="org-1", synced_at=SYNCED)


def fast(table, body: bytes, final_before: int) -> Any:
    return usage_page(table, body, width="1d", dims=table.group_by, final_before=final_before,
                      organization_id="org-1", synced_at=SYNCED)


def rows(tbl) -> list[dict[str, Any]]:
    return sorted(tbl.to_pylist(), key=lambda r: r["id"])


def value(kind: str) -> st.SearchStrategy[Any]:
    return {"text": st.one_of(st.none(), st.sampled_from(["p1", "gpt-4o", "", "a=b", "ünï"])),
            "bigint": st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
            "bool": st.one_of(st.none(), st.booleans())}[kind]


@st.composite
def pages(draw: Any) -> tuple[Any, dict[str, Any]]:
    table = draw(st.sampled_from(USAGE))
    fields = {k: kind for k, kind in bucket_columns(table).items()
              if k not in ("start_time", "end_time", "bucket_width", "final")}
    extra = draw(st.sampled_from([{}, {"tokens_extra": st.integers(0, 10)},
                                  {"ratio": st.one_of(st.integers(0, 3), st.floats(0, 1))},
                                  {"note": st.one_of(st.none(), st.text(max_size=5))}, {"gone": st.none()}]))
    buckets = []
    for i in range(draw(st.integers(0, 4))):
        results = []
        for _ in range(draw(st.integers(0, 5))):
            r: dict[str, Any] = {"object": f"organization.usage.{table.name}.result"}
            for k, kind in fields.items():
                if draw(st.booleans()) or k in table.group_by:
                    r[k] = draw(value(kind))
            r |= {k: draw(s) for k, s in extra.items()}
            results.append(r)
        bucket: dict[str, Any] = {"object": "bucket", "start_time": 1_700_000_000 + i * DAY,
                                  "end_time": 1_700_000_000 + (i + 1) * DAY}
        if results or draw(st.booleans()):
            bucket["results"] = results
        buckets.append(bucket)
    return table, {"object": "page", "data": buckets, "has_more": draw(st.booleans()),
                   "next_page": draw(st.one_of(st.none(), st.just("page_2")))}


@settings(max_examples=300, deadline=None)
@given(pages(), st.booleans())
def test_a_usage_page_makes_the_rows_the_general_way_makes(drawn, indent):
    table, page = drawn
    body = orjson.dumps(page, option=orjson.OPT_INDENT_2 if indent else 0)
    final_before = 1_700_000_000 + 2 * DAY
    got, want = fast(table, body, final_before), general(table, body, final_before)
    assert got is not None, page
    assert (got.has_more, got.next_page, got.any_data) == (page["has_more"], page["next_page"], bool(page["data"]))
    assert got.last_end == (page["data"][-1]["end_time"] if page["data"] else None)
    assert got.most == max((len(b.get("results") or []) for b in page["data"]), default=0)
    if want is None:
        assert got.rows is None
        return
    assert got.rows.schema.names and set(got.rows.schema.names) == set(want.schema.names)
    assert {f.name: f.type for f in got.rows.schema} == {f.name: f.type for f in want.schema}
    assert rows(got.rows) == rows(want)


@pytest.mark.parametrize("result", [
    {"project_id": 12},  # a number in a text column: the general way makes a variant column
    {"input_tokens": "12"},  # text in a count
    {"input_tokens": 1.5},  # a fraction in a count
    {"input_tokens": "2**64"},  # beyond 64 bits: the general way refuses the page with a sentence
    {"input_tokens": True},
    {"breakdown": {"a": 1}},  # undeclared and nested: the general way keeps it as JSON text
    {"tags": ["a"]},
    {"seen_at": "2026-01-01T00:00:00"},  # Arrow's reader would make it a timestamp; the general way keeps text
    {"id": "mine"},  # a name the row makes itself
])
def test_what_the_reader_cannot_take_exactly_goes_the_general_way(result):
    table = TABLES["usage_completions"]
    page = {"object": "page", "data": [{"start_time": 0, "end_time": DAY, "results": [result]}], "has_more": False,
            "next_page": None}
    body = orjson.dumps(page).replace(b'"2**64"', str(2**64).encode())
    assert fast(table, body, DAY) is None


@pytest.mark.parametrize("body", [b"", b"[]", b"not json", b'{"data": [1, 2]}', b'{"data": [null]}',
                                  b'{"data": [{"end_time": 5, "results": []}]}', b'{"data": [{"start_time": 0, '
                                  b'"end_time": 5, "results": [null]}]}', b'{"data": null}', b'{"a": 1}\n{"a": 2}'])
def test_an_unexpected_body_goes_the_general_way(body):
    assert fast(TABLES["usage_completions"], body, 0) is None


def test_costs_always_go_the_general_way():
    page = {"data": [{"start_time": 0, "end_time": DAY, "results": [{"amount": {"value": 0.1, "currency": "usd"}}]}]}
    assert fast(TABLES["costs"], orjson.dumps(page), DAY) is None


def test_a_sync_loads_the_same_usage_either_way(tmp_path, monkeypatch):
    """The simulated organization's usage, synced with pages parsed straight into Arrow and the general way:
    the same rows in every usage table (the run's own columns aside), and the straight way was the one taken."""
    from conftest import NOW
    from destinations_support import Dest
    from test_sync import config

    from openai_sync.read import buckets
    from openai_sync.runner import sync
    from openai_sync.simulator import Simulator, World

    taken: list[bool] = []
    straight = buckets.usage_page

    def counted(*args: Any, **kwargs: Any) -> Any:
        got = straight(*args, **kwargs)
        taken.append(got is not None)
        return got

    dests = {"straight": Dest("duckdb", tmp_path / "straight"), "general": Dest("duckdb", tmp_path / "general")}
    with Simulator(World(seed=8, size="small", now=NOW)) as sim:
        monkeypatch.setattr(buckets, "usage_page", counted)
        sync(config(sim, dests["straight"], tables=[t.name for t in USAGE]))
        assert taken and all(taken)
        monkeypatch.setattr(buckets, "usage_page", lambda *a, **k: None)
        sync(config(sim, dests["general"], tables=[t.name for t in USAGE]))
    for t in USAGE:
        got = {}
        for name, dest in dests.items():
            cols = [r[0] for r in dest.q("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                         f"'openai' AND table_name = '{t.name}' ORDER BY column_name")]
            kept = ", ".join(c for c in cols if c not in ("_dlt_id", "_dlt_load_id", "_synced_at"))
            got[name] = (cols, sorted(dest.q(f"SELECT {kept} FROM openai.{t.name}"), key=repr))
        assert got["straight"] == got["general"], t.name
        assert got["straight"][1], t.name
