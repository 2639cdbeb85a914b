"""Fault injection rules and the per-key rate limiter."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass

KINDS = ("403", "404", "429", "500", "502", "503", "slow", "drop", "malformed", "html", "stuck", "nocursor", "revoke",
         "noid", "unknown", "huge", "shapes", "nul")


@dataclass
class Rule:
    """Inject `kind` into a fraction `rate` of matching requests (at most `times` of them).

    `endpoint` matches a route template ("/organization/users") or a path prefix; `key` matches the
    bearer key exactly. `skip` lets that many matching requests through first (to fail the third page of
    a listing, say). `ms` is the delay of a `slow` fault; `retry_after` the 429's Retry-After seconds.
    """

    kind: str
    rate: float = 1.0
    endpoint: str | None = None
    key: str | None = None
    times: int | None = None
    ms: int = 2000
    retry_after: float = 1.0
    skip: int = 0
    hits: int = 0
    passed: int = 0  # matching requests let through because of `skip`

    def __post_init__(self) -> None:
        self.kind = str(self.kind)  # JSON rules may say 429 rather than "429"
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; valid kinds: {', '.join(KINDS)}")
        try:
            self.rate = float(self.rate)
            self.ms = int(self.ms)
            self.retry_after = float(self.retry_after)
            self.times = None if self.times is None else int(self.times)
            self.skip = int(self.skip)
        except (TypeError, ValueError):
            raise ValueError(f"bad fault rule {self!r}: rate, ms, retry_after, times and skip are numbers") \
                from None
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")
        if self.ms < 0 or self.retry_after < 0 or self.skip < 0 or (self.times is not None and self.times < 0):
            raise ValueError("fault ms, retry_after, times and skip must not be negative")
        if self.endpoint is not None:  # "/v1/files", "files" and "/files" all mean the API path /files
            ep = "/" + self.endpoint.strip().lstrip("/")
            self.endpoint = ep[3:] if ep.startswith("/v1/") else ep

    def matches(self, template: str, path: str, key: str | None) -> bool:
        if self.key is not None and self.key != key:
            return False
        if self.endpoint is not None and not (template == self.endpoint or path.startswith(self.endpoint)):
            return False
        return self.times is None or self.hits < self.times


FAULTS_USAGE = (f"expected KIND:RATE[@ENDPOINT],... with KIND one of {', '.join(KINDS)}, RATE a fraction "
                "within 0..1 and ENDPOINT an optional route or path prefix (for example 429:0.05,drop:0.01@/files)")


def parse_faults(spec: str) -> list[Rule]:
    """Parse the CLI form `KIND:RATE[@ENDPOINT],...` (for example `429:0.05,drop:0.01@/files`).

    RATE defaults to 1; ENDPOINT (a route template or path prefix) limits the rule to it.
    """
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        head, _, endpoint = part.partition("@")
        kind, _, rate = head.partition(":")
        try:
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
            try:
                value = float(rate) if rate.strip() else 1.0
            except ValueError:
                raise ValueError(f"rate {rate!r} is not a number") from None
            if endpoint and not endpoint.startswith("/"):
                raise ValueError(f"endpoint {endpoint!r} must start with '/'")
            rules.append(Rule(kind=kind, rate=value, endpoint=endpoint or None))
        except ValueError as e:
            why = str(e).split("; valid kinds")[0]
            raise ValueError(f"bad fault {part!r}: {why}; {FAULTS_USAGE}") from None
    return rules


class Faults:
    def __init__(self, rules: list[Rule] | None = None, seed: int = 0) -> None:
        self.rules = list(rules or [])
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def pick(self, template: str, path: str, key: str | None) -> Rule | None:
        with self.lock:
            for r in self.rules:
                if not r.matches(template, path, key):
                    continue
                if r.passed < r.skip:
                    r.passed += 1
                    continue
                if self.rng.random() < r.rate:
                    r.hits += 1
                    return r
        return None


class RateLimiter:
    """A token bucket per key: `rps` requests per second, bursts up to max(1, `rps`) requests."""

    UNLIMITED_PER_MIN = 10000  # what the headers announce when no rate limit is set

    def __init__(self, rps: float | None) -> None:
        self.rps = rps
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()
        self.clock = time.monotonic  # replaceable, so that tests can freeze time

    def take(self, key: str) -> tuple[bool, float, float]:
        """(allowed, seconds until a token is free, fraction of the bucket left after this request)."""
        if not self.rps:
            return True, 0.0, 1.0
        rps = self.rps
        cap = max(1.0, rps)  # below 1 request/second a bucket of `rps` tokens would never hold a whole one
        now = self.clock()
        with self.lock:
            tokens, last = self.buckets.get(key, (cap, now))
            tokens = min(cap, tokens + (now - last) * rps)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return True, 0.0, (tokens - 1) / cap
            self.buckets[key] = (tokens, now)
            return False, (1 - tokens) / rps, tokens / cap

    def headers(self, left: float) -> list[tuple[bytes, bytes]]:
        """The API's x-ratelimit-* headers, in requests per minute like the real ones.

        `left` is the fraction of the key's bucket still available; reset is the time until it is full.
        """
        per_min = max(1, int(self.rps * 60)) if self.rps else self.UNLIMITED_PER_MIN
        cap = max(1.0, self.rps) if self.rps else 1.0
        reset = (1.0 - left) * cap / self.rps if self.rps else 0.0
        remaining = min(per_min - 1, int(left * per_min)) if left < 1.0 else per_min - 1
        return [(b"x-ratelimit-limit-requests", str(per_min).encode()),
                (b"x-ratelimit-remaining-requests", str(max(0, remaining)).encode()),
                (b"x-ratelimit-reset-requests", f"{max(reset, 0.001):.3f}s".encode()),
                (b"x-ratelimit-limit-tokens", b"10000000"),
                (b"x-ratelimit-remaining-tokens", b"10000000"),
                (b"x-ratelimit-reset-tokens", b"0s")]


def retry_after_value(seconds: float) -> bytes:
    return str(max(1, math.ceil(seconds))).encode()
