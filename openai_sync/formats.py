"""What a setting's value looks like, checked where it is read: the API's base URL, usage bucket widths, and the
service's sync frequency and cron expression. Each raises ValueError with a sentence that names the valid values."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from .catalog import TABLES, WIDTH_SECONDS

API_ROOTS = frozenset(t.path.strip("/").split("/", 1)[0] for t in TABLES.values()) - {""}  # organization, files


def check_base_url(url: str) -> str:
    """The URL without its trailing slash. Its path must end with /v1, as the SDK's paths are relative to it: without
    it every request would miss (404), far from the setting that caused it."""
    if not re.match(r"https?://[^/\s]+", url):
        raise ValueError(f"{url!r} is not an http(s) URL")
    url = url.rstrip("/")
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        return url
    cut = (path + "/").find("/v1/")
    after = path[cut + 4:].split("/", 1)[0] if cut >= 0 else ""
    if cut >= 0 and after not in API_ROOTS:  # a gateway's path goes on after /v1 (…/v1/ACCOUNT/GATEWAY/openai)
        return url
    fixed = urlunsplit(parts._replace(path=path[:cut + 3] if cut >= 0 else path + "/v1"))
    if cut >= 0:  # https://api.openai.com/v1/organization/users: an endpoint's URL, pasted whole
        raise ValueError(f"{url!r} is an endpoint's URL; the base URL is the part up to /v1: {fixed}")
    raise ValueError(f"{url!r} does not end with /v1, where the API's paths start; add it: {fixed}")


FREQUENCY_RE = re.compile(r"\s*(\d+)\s*(m|min|h|d)\s*")
FREQUENCY_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_frequency(value: str) -> int:
    """`5m`, `90m`, `1h`, `24h` or `1d` in seconds; between 5 minutes and 24 hours."""
    m = FREQUENCY_RE.fullmatch(str(value))
    if not m:
        raise ValueError(f"sync frequency {value!r} is not a duration: use minutes or hours, like 15m, 1h or 24h")
    seconds = int(m.group(1)) * FREQUENCY_UNITS[m.group(2)]
    if not 300 <= seconds <= 86400:
        raise ValueError(f"sync frequency {value!r} is outside 5m to 24h")
    return seconds


EVERY_RE = re.compile(r"\s*(\d+)\s*(m|min|h|d)?\s*")


def parse_every(value: str, setting: str) -> int:
    """How often a complete listing runs (`reconcile_every`, `volatile_every`): `12h`, `1d`, `7d` in seconds, or `0`
    for every run; at most 30 days."""
    m = EVERY_RE.fullmatch(str(value))
    if not m or (m.group(2) is None and m.group(1) != "0"):
        raise ValueError(f"{setting} {value!r} is not a duration: use hours or days, like 12h, 1d or 7d (0: every run)")
    seconds = int(m.group(1)) * FREQUENCY_UNITS[m.group(2) or "m"]
    if seconds > 30 * 86400:
        raise ValueError(f"{setting} {value!r} is longer than 30d: a gap in the audit log would go unseen that long")
    return seconds


def check_cron(expression: str) -> None:
    """A cron expression of five fields (minute hour day month weekday), read in UTC."""
    from croniter import croniter

    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(f"sync_cron {expression!r} is not a cron expression of five fields (minute hour day month "
                         "weekday, UTC), e.g. '15 * * * *' for a quarter past every hour")


def parse_widths(value: str) -> tuple[str, dict[str, str]]:
    """`1d`, or `1h,usage_completions=1m`: a default width and per-table ones."""
    default, per = "1d", {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, w = part.rpartition("=")
        if w not in WIDTH_SECONDS:
            raise ValueError(f"bucket width {w!r} is not one of 1m, 1h, 1d")
        if name:
            if name not in TABLES or TABLES[name].mode != "usage":
                usage = ", ".join(t for t in TABLES if TABLES[t].mode == "usage")
                raise ValueError(f"{name!r} is not a usage table; usage tables: {usage}")
            per[name] = w
        else:
            default = w
    return default, per
