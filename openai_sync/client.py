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
from typing import Any

import httpx2
import openai
import orjson
from openai._base_client import make_request_options

DEFAULT_BASE_URL = "https://api.openai.com/v1"
ADMIN_KEYS_URL = "https://platform.openai.com/settings/organization/admin-keys"


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
    """The bound on requests in flight, shared by every key's client of a run, and its high-water mark."""

    def __init__(self, limit: int) -> None:
        self.sem = threading.BoundedSemaphore(max(1, limit))
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


class Client:
    """One key's view of the API. Thread-safe; at most `max_concurrency` requests in flight (across every
    client sharing its gate)."""

    def __init__(self, base_url: str, key: str, *, admin: bool, max_concurrency: int = 8, max_retries: int = 6,
                 timeout: float = 120.0, gate: Gate | None = None) -> None:
        self.key = key
        self.admin = admin
        self.role = "Admin key" if admin else "project key"
        self.sdk = openai.OpenAI(api_key=key if not admin else "unused", admin_api_key=key if admin else None,
                                 base_url=base_url, max_retries=max_retries, timeout=timeout)
        self.gate = gate or Gate(max_concurrency)
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.organization_id: str | None = None
        self.server_time: int | None = None  # the API's clock (Date header) at the first response

    def get(self, path: str, params: dict[str, Any] | None = None, *, label: str = "") -> dict[str, Any]:
        """GET one page; returns the parsed JSON object."""
        options = make_request_options(query=params or {},
                                       security={"admin_api_key_auth": True} if self.admin else None)
        with self.gate:
            try:
                resp = self.sdk.get(path, cast_to=httpx2.Response, options=options)
            except openai.APIStatusError as e:
                raise self._status_error(e, path) from None
            except openai.APIConnectionError as e:
                raise ApiProblem(f"could not reach the API at {self.sdk.base_url} for GET {path} after "
                                 f"{self.sdk.max_retries} retries: {type(e.__cause__ or e).__name__}. "
                                 "Check --base-url and the network.") from None
            finally:
                with self.lock:
                    self.requests[label or path] += 1
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
            return ApiProblem(f"GET {path} stayed rate-limited (429) after {self.sdk.max_retries} retries; "
                              "lower --concurrency or try again later.")
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
