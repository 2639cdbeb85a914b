"""parallel.interleave and split_range: pure logic."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_sync.api.parallel import interleave, split_range


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 40), st.sampled_from([1, 60, 3600, 86400]))
def test_split_range_covers_the_range_exactly_once(lo, span, parts, align):
    lo = lo // align * align
    hi = lo + span
    ranges = split_range(lo, hi, parts, align)
    if hi <= lo:
        assert ranges == [(lo, hi)]
        return
    assert ranges[0][0] == lo and ranges[-1][1] == hi
    assert all(a < b for a, b in ranges)
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))
    assert all(a % align == 0 for a, _ in ranges)
    assert len(ranges) <= parts


@given(st.lists(st.lists(st.integers(), max_size=30), max_size=12), st.integers(1, 8))
def test_interleave_yields_every_item_once(streams, workers):
    got = list(interleave([lambda s=s: iter(s) for s in streams], workers))
    assert sorted(got) == sorted(x for s in streams for x in s)


def test_interleave_raises_the_first_error_and_stops_the_others():
    stopped = threading.Event()

    def endless():
        try:
            while True:
                yield 1
                time.sleep(0.001)
        finally:
            stopped.set()

    def broken():
        yield 2
        raise ValueError("page 2 failed")

    with pytest.raises(ValueError, match="page 2 failed"):
        for _ in interleave([endless, broken], workers=2):
            pass
    assert stopped.wait(2)


def test_interleave_holds_a_bounded_number_of_items():
    made = []

    def stream():
        for i in range(1000):
            made.append(i)
            yield i

    it = interleave([stream, stream], workers=2)
    next(it)
    time.sleep(0.2)
    assert len(made) <= 2 * 2 + 4  # the queue's bound, plus one in each producer's hand
    it.close()


def test_bucket_pages_follow_the_page_token(sim):
    """Ranges are cut to one page each in a sync, so this is where the connector's token following is proved."""
    from openai_sync.api.client import Client
    from openai_sync.api.pagination import bucket_pages

    client = Client(sim.base_url, sim.world.admin_key, admin=True)
    start = sim.world.now - 20 * 86400
    params = {"start_time": start, "bucket_width": "1d", "limit": 3, "group_by": ["project_id"]}
    pages = list(bucket_pages(client, "/organization/usage/completions", params, until=sim.world.now))
    starts = [b["start_time"] for p in pages for b in p]
    assert starts == sorted(set(starts)) and len(starts) == 20 and starts[0] == start
    assert sum(1 for e in sim.app.stats.snapshot(with_log=True)["log"] if "page=" in e["query"]) == len(pages) - 1
