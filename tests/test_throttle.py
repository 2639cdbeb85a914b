"""The adaptive pace of one key (client.Throttle): pure logic, no server."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openai_sync.api.throttle import Throttle
from openai_sync.api.throttle import seconds as _seconds


@pytest.mark.parametrize("text, seconds", [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1.5s", 1.5),
                                           ("2h3m", 7380.0), ("3", 3.0), ("0.250s", 0.25), (None, None),
                                           ("", None), ("soon", None)])
def test_rate_limit_durations_as_the_api_writes_them(text, seconds):
    assert _seconds(text) == pytest.approx(seconds) if seconds is not None else _seconds(text) is None


def test_a_429_halves_the_keys_requests_in_flight_and_pauses_it():
    t = Throttle(8)
    t.observe(429, {"retry-after": "2"})
    assert t.allowed == 4 and t.throttled == 1
    assert 1.5 < t.pause_until - time.monotonic() <= 2.0
    t.observe(429, {"retry-after-ms": "500"})
    assert t.allowed == 2
    for _ in range(100):  # successes win the concurrency back, never beyond the limit
        t.observe(200, {})
    assert t.allowed == 8


def test_the_pace_follows_the_remaining_budget():
    t = Throttle(8)
    t.observe(200, {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "590"})
    assert t.interval == 0  # plenty left: no pacing
    t.observe(200, {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "100"})
    assert t.interval == pytest.approx(0.1)  # 600 a minute: one every 100 ms
    t.observe(200, {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": "1.5s"})
    assert 1.4 < t.pause_until - time.monotonic() <= 1.5


@given(st.lists(st.sampled_from([200, 429, 500]), max_size=200))
def test_allowed_stays_between_one_and_the_limit(statuses):
    t = Throttle(6)
    for s in statuses:
        t.observe(s, {"retry-after": "0"})
        assert 1 <= t.allowed <= 6


def test_a_paused_key_waits_before_its_next_request():
    t = Throttle(2)
    t.observe(429, {"retry-after": "0.3"})
    started = time.monotonic()
    with t:
        pass
    assert time.monotonic() - started >= 0.25
