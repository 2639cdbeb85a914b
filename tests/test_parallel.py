"""parallel.interleave and split_range: pure logic, and the places every fan-out of a process shares."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_sync.api.parallel import BIG_PAGES, OWN_PER_WORKER, interleave, split_range


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
    assert len(made) <= 1 + OWN_PER_WORKER * 2  # the one taken and the fan-out's places
    it.close()


def test_fan_outs_of_big_pages_share_one_bound_and_none_waits_on_the_others():
    made: list[int] = []

    def endless(tag: int):
        def stream():
            while True:
                made.append(tag)
                yield tag
        return stream

    stalled = [interleave([endless(i), endless(i)], workers=4, shared=BIG_PAGES) for i in range(12)]
    for it in stalled:
        next(it)  # started, then never polled again, like a table dlt is not polling
    time.sleep(0.3)
    assert BIG_PAGES.free == 0
    assert len(made) <= 12 * 2 + BIG_PAGES.size  # each: the one taken and its own place; then the shared ones
    # with every shared place held elsewhere, a fan-out started now still reads everything on its own place
    done = sorted(interleave([lambda: iter(range(50)), lambda: iter(range(50, 90))], workers=4, shared=BIG_PAGES))
    assert done == list(range(90))
    for it in stalled:
        it.close()
    assert BIG_PAGES.free == BIG_PAGES.size


def test_every_place_comes_back_after_errors_and_early_stops():
    def broken():
        yield 1
        raise ValueError("boom")

    for _ in range(20):
        with pytest.raises(ValueError):
            list(interleave([lambda: iter(range(100)), broken, lambda: iter(range(100))], workers=3, shared=BIG_PAGES))
        it = interleave([lambda: iter(range(100)), lambda: iter(range(100))], workers=2, shared=BIG_PAGES)
        next(it)
        it.close()
    assert BIG_PAGES.free == BIG_PAGES.size


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
