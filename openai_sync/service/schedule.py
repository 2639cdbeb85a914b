"""When a connection syncs next: every `sync_frequency` from the start of its last run, or at the times of its
`sync_cron` (UTC), with jitter so that connections set alike do not all call the API in the same second; and,
after a failure, a retry with backoff that never waits past the next regular slot."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from ..config import Settings, parse_frequency

RETRY_FIRST = 60.0  # seconds before the first retry; doubles with each failure in a row
RETRY_MOST = 1800.0
RETRIES = 4  # failures in a row retried early; after that, the regular schedule alone
BUSY_WAIT = 60.0  # another run (a sync from the command line) holds the connection's lock


def jitter(period: float, rng: random.Random | None = None) -> float:
    """Up to a tenth of the period, at most five minutes."""
    return (rng or random).uniform(0, min(period * 0.1, 300.0))


def regular_next(settings: Settings, last_start: float, now: float, rng: random.Random | None = None) -> float:
    """The next regular slot after a run that started at `last_start` (never in the past)."""
    if settings.sync_cron:
        from croniter import croniter

        base = datetime.fromtimestamp(max(now, last_start), UTC)
        it = croniter(settings.sync_cron, base)
        first = float(it.get_next(float))
        gap = float(it.get_next(float)) - first
        return first + jitter(gap, rng) * 0.1  # a cron's time is meant: a few seconds of spread at most
    period = parse_frequency(settings.sync_frequency)
    due = last_start + period + jitter(period, rng)
    return due if due > now else now + jitter(period, rng)


def latest(settings: Settings, last_start: float, now: float) -> float:
    """The latest time the schedule allows for the next run: a connection due later than this had its schedule
    changed (by the console or by hand, the service running or not) and is rescheduled."""
    if settings.sync_cron:
        from croniter import croniter

        nxt = float(croniter(settings.sync_cron, datetime.fromtimestamp(max(now, last_start), UTC)).get_next(float))
        return nxt + 60.0
    period = parse_frequency(settings.sync_frequency)
    return max(last_start + period, now) + min(period * 0.1, 300.0) + 1.0


def retry_at(failures: int, regular: float, now: float) -> float:
    """A failed run is retried after 1, 2, 4, 8 minutes (at most 30), never after the regular slot."""
    if failures > RETRIES:
        return regular
    return min(now + min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MOST), regular)


def describe(settings: Settings) -> str:
    if settings.sync_cron:
        return f"cron {settings.sync_cron} (UTC)"
    return f"every {settings.sync_frequency}"
