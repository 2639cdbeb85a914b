"""Fault injection rules and the per-key rate limiter."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass

KINDS = ("429", "500", "502", "503", "slow", "drop", "malformed", "html", "stuck", "nocursor")


@dataclass
class Rule:
    """Inject `kind` into a fraction `rate` of matching requests (at most `times` of them).

    `endpoint` matches a route template ("/organization/users") or a path prefix; `key` matches the
    bearer key exactly. `ms` is the delay of a `slow` fault; `retry_after` the 429's Retry-After seconds.
    """

    kind: str
    rate: float = 1.0
    endpoint: str | None = None
    key: str | None = None
    times: int | None = None
    ms: int = 2000
    retry_after: float = 1.0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; valid kinds: {', '.join(KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")

    def matches(self, template: str, path: str, key: str | None) -> bool:
        if self.key is not None and self.key != key:
            return False
        if self.endpoint is not None and not (template == self.endpoint or path.startswith(self.endpoint)):
            return False
        return self.times is None or self.hits < self.times


def parse_faults(spec: str) -> list[Rule]:
    """Parse the CLI form `KIND:RATE,KIND:RATE` (for example `429:0.05,drop:0.01`)."""
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, rate = part.partition(":")
        try:
            rules.append(Rule(kind=kind, rate=float(rate) if rate else 1.0))
        except ValueError as e:
            raise ValueError(f"bad fault {part!r}: {e}") from None
    return rules


class Faults:
    def __init__(self, rules: list[Rule] | None = None, seed: int = 0) -> None:
        self.rules = list(rules or [])
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def pick(self, template: str, path: str, key: str | None) -> Rule | None:
        with self.lock:
            for r in self.rules:
                if r.matches(template, path, key) and self.rng.random() < r.rate:
                    r.hits += 1
                    return r
        return None


class RateLimiter:
    """A token bucket per key: `rps` requests per second, bursts up to `rps` requests."""

    def __init__(self, rps: float | None) -> None:
        self.rps = rps
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, float, int]:
        """(allowed, seconds until a token is free, tokens remaining)."""
        if not self.rps:
            return True, 0.0, 0
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (self.rps, now))
            tokens = min(self.rps, tokens + (now - last) * self.rps)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return True, 0.0, int(tokens - 1)
            self.buckets[key] = (tokens, now)
            return False, (1 - tokens) / self.rps, 0

    @staticmethod
    def headers(limit: float | None, remaining: int, reset: float) -> list[tuple[bytes, bytes]]:
        per_min = int(limit * 60) if limit else 10000
        return [(b"x-ratelimit-limit-requests", str(per_min).encode()),
                (b"x-ratelimit-remaining-requests", str(remaining).encode()),
                (b"x-ratelimit-reset-requests", f"{max(reset, 0.001):.3f}s".encode()),
                (b"x-ratelimit-limit-tokens", b"10000000"),
                (b"x-ratelimit-remaining-tokens", b"10000000"),
                (b"x-ratelimit-reset-tokens", b"0s")]


def retry_after_value(seconds: float) -> bytes:
    return str(max(1, math.ceil(seconds))).encode()
