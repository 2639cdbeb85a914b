"""HTTP through the official `openai` SDK, keeping each response's raw JSON.

The SDK does authentication per key type, retries (honouring Retry-After), timeouts and the API's
query encoding (`group_by[]=...`, `effective_at[gte]=...`). This module adds what a sync needs on top:
a bound on parallel requests, request counters per table, the organization id and the server's clock
from response headers, and errors that name the key (masked) and say what to do.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import httpx2
import openai
import orjson
from openai._base_client import make_request_options

from . import memory

DEFAULT_BASE_URL = "https://api.openai.com/v1"
ADMIN_KEYS_URL = "https://platform.openai.com/settings/organization/admin-keys"
T = TypeVar("T")
BIG_PAGE = 2 << 20  # bytes: a digested page this large is followed by giving the freed memory back (memory.py)


def mask(key: str | None) -> str:
    """A key as it may be shown: its kind prefix and last four characters (sk-admin-…abcd)."""
    if not key:
        return "(none)"
    prefix = next((p for p in ("sk-admin-", "sk-proj-", "sk-svcacct-", "sk-") if key.startswith(p)), "")
    return f"{prefix}…{key[-4:]}" if len(key) > len(prefix) + 4 else f"{prefix}…"


def key_kind(key: str) -> str:
    if key.startswith("sk-admin-"):
        return "admin"
    if key.startswith(("sk-proj-", "sk-svcacct-")):
        return "project"
    return "unknown"


def redacted_matches(redacted: str, key: str) -> bool:
    """Does a redacted value as the API shows it (`sk-proj-****abcd`, `sk-abc...wxyz`) describe this key?"""
    parts = [p for p in re.split(r"\*+|\.\.\.|…", redacted) if p]
    if len(parts) != 2:
        return False
    head, tail = parts
    return key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail)

class SyncError(Exception):
    """An error the user can act on; its message is safe to print (keys masked)."""


class KeyProblem(SyncError):
    pass


class ApiProblem(SyncError):
    """The API answered something unusable (bad JSON, HTML, a stuck cursor, ...), or kept failing."""


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


class BudgetExceeded(SyncError):
    """The run's time budget ran out: what was read is loaded, the rest is left for the next run."""


def _seconds(value: str | None) -> float | None:
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
                wait = _seconds(headers.get("retry-after-ms") and headers["retry-after-ms"] + "ms") \
                    or _seconds(headers.get("retry-after")) or 1.0
                self.pause_until = max(self.pause_until, now + min(wait, 120.0))
            elif status < 400:
                self.allowed = min(float(self.limit), self.allowed + 1.0 / self.allowed)
                limit, left = headers.get("x-ratelimit-limit-requests"), headers.get("x-ratelimit-remaining-requests")
                if limit and left and limit.isdigit() and left.isdigit() and int(limit) > 0:
                    per_second = int(limit) / 60.0
                    # pace once a fifth of the budget is left; run free while plenty remains
                    self.interval = 1.0 / per_second if int(left) < max(2 * self.limit, int(limit) // 5) else 0.0
                    if int(left) == 0:
                        reset = _seconds(headers.get("x-ratelimit-reset-requests")) or 1.0 / per_second
                        self.pause_until = max(self.pause_until, now + min(reset, 60.0))
            self.cond.notify_all()


class Client:
    """One key's view of the API. Thread-safe; at most `max_concurrency` requests in flight (across every
    client sharing its gate)."""

    def __init__(self, base_url: str, key: str, *, admin: bool, max_concurrency: int = 8, max_retries: int = 6,
                 timeout: float = 120.0, gate: Gate | None = None, deadline: float | None = None,
                 max_rate_limit_wait: float = 900.0) -> None:
        self.key = key
        self.admin = admin
        self.role = "Admin key" if admin else "project key"
        self.throttle = Throttle(max_concurrency)
        hook = lambda r: self.throttle.observe(r.status_code, r.headers)  # noqa: E731
        self.sdk = openai.OpenAI(api_key=key if not admin else "unused", admin_api_key=key if admin else None,
                                 base_url=base_url, max_retries=max_retries, timeout=timeout,
                                 http_client=openai.DefaultHttpxClient(event_hooks={"response": [hook]},
                                                                       timeout=timeout))
        self.gate = gate or Gate(max_concurrency)
        self.deadline = deadline  # time.monotonic() after which no request starts (the run's time budget)
        self.max_rate_limit_wait = max_rate_limit_wait  # per request, beyond the SDK's own retries
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.organization_id: str | None = None
        self.server_time: int | None = None  # the API's clock (Date header) at the first response

    def get(self, path: str, params: dict[str, Any] | None = None, *, label: str = "",
            digest: Callable[[dict[str, Any]], T] | None = None) -> Any:
        """GET one page; returns the parsed JSON object, or what `digest` makes of it.

        With `digest`, the response is parsed and digested while its request slot is still held, and under the
        run's `digesting` bound: at most the gate's size of raw bodies and two parsed pages exist at once, however
        many tables read big pages in parallel."""
        options = make_request_options(query=params or {},
                                       security={"admin_api_key_auth": True} if self.admin else None)
        waited = 0.0
        while True:
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise BudgetExceeded(f"the time budget ran out before GET {path}; what was read is loaded, and the "
                                     "next run reads this table again from its last watermark (raise "
                                     "time_budget_minutes to finish it in one run)")
            try:
                return self._get_once(path, options, label, digest)
            except openai.APIStatusError as e:
                if e.status_code == 429:  # the SDK's retries were not enough: keep the pace, do not give up
                    wait = max(0.5, self.throttle.pause_until - time.monotonic())
                    if waited + wait <= self.max_rate_limit_wait and (
                            self.deadline is None or time.monotonic() + wait < self.deadline):
                        waited += wait
                        time.sleep(wait)
                        continue
                raise self._status_error(e, path) from None

    def _get_once(self, path: str, options: Any, label: str, digest: Callable[[dict[str, Any]], T] | None) -> Any:
        with self.throttle, self.gate:
            try:
                resp = self.sdk.get(path, cast_to=httpx2.Response, options=options)
            except openai.APIConnectionError as e:
                raise ApiProblem(f"could not reach the API at {self.sdk.base_url} for GET {path} after "
                                 f"{self.sdk.max_retries} retries: {type(e.__cause__ or e).__name__}. "
                                 "Check --base-url and the network.") from None
            finally:
                with self.lock:
                    self.requests[label or path] += 1
            if digest is None:
                return self._parse(resp, path)
            with self.gate.digesting:
                out = digest(self._parse(resp, path))
            big = len(resp.content) > BIG_PAGE
            del resp  # the body is no longer needed: let the trim below return it
        if big:  # outside the request slot: trimming walks the heap
            memory.trim()
        return out

    def _parse(self, resp: httpx2.Response, path: str) -> dict[str, Any]:
        if self.organization_id is None:
            self.organization_id = resp.headers.get("openai-organization")
        if self.server_time is None:
            self.server_time = _http_date(resp.headers.get("date"))
        try:
            data = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            ctype = resp.headers.get("content-type", "?")
            raise ApiProblem(f"GET {path} answered {resp.status_code} with a body that is not JSON "
                             f"({ctype}, {len(resp.content)} bytes); a proxy or the API may be failing. "
                             "Retry later.") from None
        if not isinstance(data, dict):
            raise ApiProblem(f"GET {path} answered JSON that is not an object")
        return data

    def _status_error(self, e: openai.APIStatusError, path: str) -> SyncError:
        who = f"the {self.role} {mask(self.key)}"
        msg = _api_message(e)
        if e.status_code == 401:
            return KeyProblem(f"{who} was rejected (401: unknown, revoked or mistyped). "
                              + (f"Create a read-only Admin key at {ADMIN_KEYS_URL} and set OPENAI_ADMIN_KEY."
                                 if self.admin else "Create a read-only key in the project's settings."))
        if e.status_code == 403:
            if "scope" in msg.lower():
                m = re.search(r"Missing scopes?:\s*(.+?)\.(?:\s|$)", msg)
                scope = m.group(1).strip() if m else "(not named by the API)"
                return KeyProblem(f"{who} lacks the permission {scope} needed for GET {path}. Give the key "
                                  "read access to it (or use an unrestricted read-only key).")
            if self.admin and key_kind(self.key) == "project":
                return KeyProblem(f"{who} is a project key, but the Admin key is needed here. Create a read-only "
                                  f"Admin key at {ADMIN_KEYS_URL} and set OPENAI_ADMIN_KEY.")
            return KeyProblem(f"{who} may not call GET {path} (403): {_scrub(msg, self.key)}")
        if e.status_code == 404:
            return ApiProblem(f"GET {path} answered 404 (not found): {_scrub(msg, self.key)}")
        if e.status_code == 429:
            why = ("the time budget would run out first" if self.deadline is not None
                   else f"after waiting {self.max_rate_limit_wait:.0f} s")
            return BudgetExceeded(f"GET {path} stayed rate-limited (429), {why}; what was read is loaded and "
                                  "the next run reads this table again from its last watermark. Lower "
                                  "--concurrency, or sync less often.")
        if "html" in e.response.headers.get("content-type", ""):
            return ApiProblem(f"GET {path} kept answering {e.status_code} with an HTML page, not JSON, after "
                              f"{self.sdk.max_retries} retries: a proxy or gateway between here and the API is "
                              "failing, or --base-url points at a web site rather than the API.")
        if e.status_code >= 500:
            return ApiProblem(f"GET {path} kept failing with {e.status_code} after {self.sdk.max_retries} retries; "
                              "the API may be having trouble. Try again later.")
        return ApiProblem(f"GET {path} answered {e.status_code}: {_scrub(msg, self.key)}")


def _api_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
    return str(e.message)


def scrub(text: str, *keys: str | None) -> str:
    """Remove any trace of the keys from a text (error messages may echo parts of a key)."""
    for key in keys:
        if key:
            text = _scrub(text, key)
    return text


def _scrub(text: str, key: str) -> str:
    """Remove any trace of the key from an API message (the API itself echoes parts of bad keys)."""
    out = text.replace(key, mask(key))
    return out if len(key) < 12 else out.replace(key[:8], "sk-…")


def _http_date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError):
        return None


def now_from(client: Client) -> int:
    """The API's clock if it told us, else ours (the API's is right when clocks disagree)."""
    return client.server_time or int(time.time())
