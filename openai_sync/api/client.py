"""HTTP through the official `openai` SDK, keeping each response's raw JSON.

The SDK does authentication per key type, retries (honouring Retry-After), timeouts and the API's
query encoding (`group_by[]=...`, `effective_at[gte]=...`). This module adds what a sync needs on top:
a bound on parallel requests, request counters per table, the organization id and the server's clock
from response headers, and errors that name the key (masked) and say what to do.
"""

from __future__ import annotations

import email.utils
import functools
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
import openai
import orjson
from openai._base_client import make_request_options

from .. import memory
from .errors import ApiProblem, BudgetExceeded, KeyProblem, NotFound, SyncError
from .keys import ADMIN_KEYS_URL, DEFAULT_BASE_URL, key_kind, mask, scrub_one
from .throttle import Gate, Throttle

T = TypeVar("T")
BIG_PAGE = 2 << 20  # bytes: a digested page this large is followed by giving the freed memory back (memory.py)


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every key's client, as the HTTP client would make it (certifi's CAs, or SSL_CERT_FILE /
    SSL_CERT_DIR): each client loading the CA bundle anew cost 0.8 MB and 20 ms, 250 MB and 6 s for 300 project
    keys before the first request."""
    return httpx2.create_ssl_context()


@dataclass(frozen=True)
class ClientOptions:
    """How a run's clients are made: one gate (the bound on requests in flight) shared by every key's client."""

    base_url: str = DEFAULT_BASE_URL
    concurrency: int = 8
    max_retries: int = 6
    gate: Gate | None = None  # None: each client bounds itself (Save & Test)
    deadline: float | None = None  # time.monotonic() after which no request starts

    def client(self, key: str, *, admin: bool, project: str | None = None) -> Client:
        return Client(self.base_url, key, admin=admin, max_concurrency=self.concurrency,
                      max_retries=self.max_retries, gate=self.gate, deadline=self.deadline, project=project)


class Client:
    """One key's view of the API. Thread-safe; at most `max_concurrency` requests in flight (across every
    client sharing its gate)."""

    def __init__(self, base_url: str, key: str, *, admin: bool, max_concurrency: int = 8, max_retries: int = 6,
                 timeout: float = 120.0, gate: Gate | None = None, deadline: float | None = None,
                 max_rate_limit_wait: float = 900.0, project: str | None = None) -> None:
        self.key = key
        self.admin = admin
        self.role = "Admin key" if admin else "project key"
        self.throttle = Throttle(max_concurrency)
        hook = lambda r: self.throttle.observe(r.status_code, r.headers)  # noqa: E731
        self.sdk = openai.OpenAI(api_key=key if not admin else "unused", admin_api_key=key if admin else None,
                                 base_url=base_url, max_retries=max_retries, timeout=timeout,
                                 http_client=openai.DefaultHttpxClient(event_hooks={"response": [hook]},
                                                                       timeout=timeout, verify=tls()))
        # the SDK would take OPENAI_ORG_ID and OPENAI_PROJECT_ID from the environment: these headers are ours.
        # A project key sent with its project (PROJECT_ID=KEY) is refused by the API if it is another's.
        self.sdk.organization, self.sdk.project = None, project
        self.project = project
        self.gate = gate or Gate(max_concurrency)
        self.deadline = deadline  # time.monotonic() after which no request starts (the run's time budget)
        self.max_rate_limit_wait = max_rate_limit_wait  # per request, beyond the SDK's own retries
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.organization_id: str | None = None
        self.server_time: int | None = None  # the API's clock (Date header) at the first response

    def close(self) -> None:
        """Close the kept-alive connections (the client's counters stay readable). A run's reading is over: each
        connection's objects, made while pages were read, would otherwise live on among the freed pages."""
        self.sdk.close()

    def get(self, path: str, params: dict[str, Any] | None = None, *, label: str = "",
            digest: Callable[[dict[str, Any]], T] | None = None, raw: Callable[[bytes], T | None] | None = None
            ) -> Any:
        """GET one page; returns the parsed JSON object, or what `digest` makes of it.

        With `digest`, the response is parsed and digested while its request slot is still held, and under the
        run's `digesting` bound: at most the gate's size of raw bodies and two parsed pages exist at once, however
        many tables read big pages in parallel. `raw` is tried on the body first (a usage page parsed straight into
        Arrow, read/bucket_arrow.py); when it returns None, the body is parsed and digested."""
        options = make_request_options(query=params or {},
                                       security={"admin_api_key_auth": True} if self.admin else None)
        waited = 0.0
        while True:
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise BudgetExceeded(f"the time budget ran out before GET {path}; what was read is loaded, and the "
                                     "next run reads this table again from its last watermark (raise "
                                     "time_budget_minutes to finish it in one run)")
            try:
                return self._get_once(path, options, label, digest, raw)
            except openai.APIStatusError as e:
                if e.status_code == 429:  # the SDK's retries were not enough: keep the pace, do not give up
                    wait = max(0.5, self.throttle.pause_until - time.monotonic())
                    if waited + wait <= self.max_rate_limit_wait and (
                            self.deadline is None or time.monotonic() + wait < self.deadline):
                        waited += wait
                        time.sleep(wait)
                        continue
                raise self._status_error(e, path) from None

    def _get_once(self, path: str, options: Any, label: str, digest: Callable[[dict[str, Any]], T] | None,
                  raw: Callable[[bytes], T | None] | None = None) -> Any:
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
                out = raw(self._body(resp)) if raw is not None else None
                if out is None:
                    out = digest(self._parse(resp, path))
            big = len(resp.content) > BIG_PAGE
            del resp  # the body is no longer needed: let the trim below return it
        if big:  # outside the request slot: trimming walks the heap
            memory.trim()
        return out

    def _body(self, resp: httpx2.Response) -> bytes:
        if self.organization_id is None:
            self.organization_id = resp.headers.get("openai-organization")
        if self.server_time is None:
            self.server_time = _http_date(resp.headers.get("date"))
        return resp.content

    def _parse(self, resp: httpx2.Response, path: str) -> dict[str, Any]:
        try:
            data = orjson.loads(self._body(resp))
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
        if e.status_code == 401 and "match project" in msg:
            return KeyProblem(f"{who} does not belong to project {self.project} (the API refuses it for that "
                              "project); fix its PROJECT_ID=KEY entry, or run openai-sync setup again")
        if e.status_code == 401:
            return KeyProblem(f"{who} was rejected (401: unknown, revoked or mistyped). "
                              + (f"Create a read-only Admin key at {ADMIN_KEYS_URL} and set OPENAI_ADMIN_KEY."
                                 if self.admin else "Create a read-only key in the project's settings."))
        if e.status_code == 403:
            return self._forbidden(who, msg, path)
        if e.status_code == 404:
            return NotFound(f"GET {path} answered 404 (not found): {scrub_one(msg, self.key)}")
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
        return ApiProblem(f"GET {path} answered {e.status_code}: {scrub_one(msg, self.key)}")

    def _forbidden(self, who: str, msg: str, path: str) -> KeyProblem:
        if "scope" in msg.lower():
            m = re.search(r"Missing scopes?:\s*(.+?)\.(?:\s|$)", msg)
            scope = m.group(1).strip() if m else "(not named by the API)"
            return KeyProblem(f"{who} lacks the permission {scope} needed for GET {path}. Give the key "
                              "read access to it (or use an unrestricted read-only key).")
        if self.admin and key_kind(self.key) == "project":
            return KeyProblem(f"{who} is a project key, but the Admin key is needed here. Create a read-only "
                              f"Admin key at {ADMIN_KEYS_URL} and set OPENAI_ADMIN_KEY.")
        return KeyProblem(f"{who} may not call GET {path} (403): {scrub_one(msg, self.key)}")


def _api_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
    return str(e.message)


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
