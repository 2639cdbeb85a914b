"""Two bounds on requests: the run's (requests in flight across every key) and each key's (its adaptive pace)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any


class Gate:
    """The bound on requests in flight, shared by every key's client of a run, and its high-water mark.

    `digesting` bounds the big pages held as Python objects at once (a usage page of 30,000 results is
    about 100 MB as dicts): turning them into Arrow holds the GIL anyway, so two at a time lose nothing.
    """

    def __init__(self, limit: int, digest: int = 2) -> None:
        self.sem = threading.BoundedSemaphore(max(1, limit))
        self.digesting = threading.BoundedSemaphore(max(1, digest))
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def __enter__(self) -> Gate:
        self.sem.acquire()
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.in_flight -= 1
        self.sem.release()


def seconds(value: str | None) -> float | None:
    """A rate-limit duration as the API writes it: `1s`, `6m0s`, `20ms`, `1.5s`, `2h3m`."""
    if not value:
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value.strip())
    if not parts:
        try:
            return float(value)
        except ValueError:
            return None
    unit = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * unit[u] for n, u in parts)


class Throttle:
    """One key's adaptive pace, from what the API says (SPEC: be rate-limited as little as possible).

    - a 429 halves the requests this key may have in flight and pauses the key for its Retry-After;
      each success then adds back a little (additive increase, multiplicative decrease);
    - `x-ratelimit-remaining-requests` low: requests are spaced at the announced rate, so the key's
      budget is spent evenly instead of in a burst that ends in 429s; at 0 the key waits for the reset.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.allowed = float(self.limit)
        self.cond = threading.Condition()
        self.in_flight = 0
        self.pause_until = 0.0
        self.next_start = 0.0
        self.interval = 0.0
        self.throttled = 0  # 429s seen
        self.paced = 0  # requests held back by the pace or a pause

    def __enter__(self) -> Throttle:
        with self.cond:
            held = False
            while True:
                now = time.monotonic()
                wait = max(self.pause_until, self.next_start) - now
                if wait <= 0 and self.in_flight < int(self.allowed):
                    break
                held = held or wait > 0
                self.cond.wait(timeout=wait if wait > 0 else None)
            self.paced += held
            self.in_flight += 1
            self.next_start = max(now, self.next_start) + self.interval
        return self

    def __exit__(self, *exc: object) -> None:
        with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def observe(self, status: int, headers: Any) -> None:
        now = time.monotonic()
        with self.cond:
            if status == 429:
                self.throttled += 1
                self.allowed = max(1.0, self.allowed / 2)
                wait = seconds(headers.get("retry-after-ms") and headers["retry-after-ms"] + "ms") \
                    or seconds(headers.get("retry-after")) or 1.0
                self.pause_until = max(self.pause_until, now + min(wait, 120.0))
            elif status < 400:
                self.allowed = min(float(self.limit), self.allowed + 1.0 / self.allowed)
                self._pace(now, headers)
            self.cond.notify_all()

    def _pace(self, now: float, headers: Any) -> None:
        limit, left = headers.get("x-ratelimit-limit-requests"), headers.get("x-ratelimit-remaining-requests")
        if not (limit and left and limit.isdigit() and left.isdigit() and int(limit) > 0):
            return
        per_second = int(limit) / 60.0
        # pace once a fifth of the budget is left; run free while plenty remains
        self.interval = 1.0 / per_second if int(left) < max(2 * self.limit, int(limit) // 5) else 0.0
        if int(left) == 0:
            reset = seconds(headers.get("x-ratelimit-reset-requests")) or 1.0 / per_second
            self.pause_until = max(self.pause_until, now + min(reset, 60.0))
