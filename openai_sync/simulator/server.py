"""The simulator's HTTP server: a plain ASGI app served by uvicorn on loopback.

The connector under test talks to it over real HTTP and cannot tell it from the API, apart from the
control endpoints under /_sim/ that tests and benchmarks use (no key needed; JSON bodies):

    GET  /_sim/stats[?log=1]    counters {total, by_endpoint, by_status, by_endpoint_status, faults[, log]}
    POST /_sim/stats/reset      zero the counters and the request log
    GET  /_sim/clock            {now, start}
    POST /_sim/advance?hours=N  move the clock forward
    POST /_sim/keys             mint a key: {kind: admin|project, project_id?, revoked?, scopes?: [...]}
    POST /_sim/revoke           {key}
    GET  /_sim/faults           the fault rules, with their hit counts
    POST /_sim/faults           {rules: [{kind, rate?, endpoint?, key?, times?, ms?, retry_after?}], replace?}
    POST /_sim/rate_limit       {rps} (null or 0: no limit)
    POST /_sim/latency          {ms}
    POST /_sim/drift            {endpoint, field, value}: every object the endpoint returns gains (or has
                                overridden) that field, for schema-drift tests
    POST /_sim/reset            back to the start-up faults, latency and rate limit, counters zeroed
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import signal
import socket
import threading
import time
from collections import Counter, deque
from typing import Any
from urllib.parse import parse_qs

import orjson
import uvicorn

from .faults import Faults, RateLimiter, Rule, retry_after_value
from .routes import ROUTES, ApiError, Request, match
from .usage import UsageEngine
from .world import ADMIN_SCOPES, PROJECT_SCOPES, World

log = logging.getLogger("openai_sync.simulator")

HTML_ERROR = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
              b"</center><hr><center>cloudflare</center></body></html>")


class DropConnection(Exception):
    """Raised after part of a body was sent, so that uvicorn closes the connection mid-body."""


class UnknownControl(Exception):
    """A /_sim/ path or method that does not exist (answers 404)."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DropConnection))


def mask(key: str | None) -> str | None:
    return None if key is None else f"{key[:8]}…{key[-4:]}"


class Stats:
    def __init__(self, log_size: int = 100_000) -> None:
        self.lock = threading.Lock()
        self.reset()
        self.log_size = log_size

    def reset(self) -> None:
        with self.lock:
            self.total = 0
            self.by_endpoint: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.by_endpoint_status: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.log: deque[dict[str, Any]] = deque(maxlen=getattr(self, "log_size", 100_000))

    def record(self, method: str, template: str, path: str, query: str, status: int, key: str | None,
               fault: str | None) -> None:
        ep = f"{method} {template}"
        with self.lock:
            self.total += 1
            self.by_endpoint[ep] += 1
            self.by_status[str(status)] += 1
            self.by_endpoint_status[f"{ep} {status}"] += 1
            if fault:
                self.faults[fault] += 1
            self.log.append({"t": time.time(), "method": method, "path": path, "query": query,
                             "status": status, "key": mask(key), "fault": fault})

    def snapshot(self, with_log: bool = False) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {"total": self.total, "by_endpoint": dict(self.by_endpoint),
                                   "by_status": dict(self.by_status),
                                   "by_endpoint_status": dict(self.by_endpoint_status),
                                   "faults": dict(self.faults)}
            if with_log:
                out["log"] = list(self.log)
            return out


SHAPES = ("nulls", "strings", "empty", "floats", "new")
TIMES = ("created", "effective_at", "start_time", "end_time", "expires_at")


def _reshape(out: dict[str, Any], hit: int) -> None:
    """Schema-valid in form, varied in types, as servers drift: each page that the `shapes` fault hits gets one
    of SHAPES in turn, on the numbers of every object (and of its nested objects) that are neither ids nor
    times: all null, turned into strings, into empty strings, into floats, or beside new fields whose type
    changes from page to page. Ids, keys and times are left alone (they are how rows are told apart)."""
    shape = SHAPES[hit % len(SHAPES)]
    objects = out.get("data") if isinstance(out.get("data"), list) else [out]
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        for target in obj.get("results") or [obj] if obj.get("object") == "bucket" else [obj]:
            _reshape_one(target, shape, hit)


def _reshape_one(obj: dict[str, Any], shape: str, hit: int, depth: int = 0) -> None:
    for k, v in list(obj.items()):
        if isinstance(v, dict) and depth < 1:
            _reshape_one(v, shape, hit, depth + 1)
        if not isinstance(v, int | float) or isinstance(v, bool) or k == "id" or k.endswith(("_id", "_at", "_time")) \
                or k in TIMES:
            continue
        obj[k] = {"nulls": None, "strings": str(v), "empty": "", "floats": float(v) + 0.5, "new": v}[shape]
    if shape == "new" and depth == 0:
        obj["sim_new_metric"] = hit if hit % 2 else f"n{hit}"  # an integer on one page, a string on the next
        obj["sim_new_flag"] = bool(hit % 2)


def _corrupt(out: dict[str, Any], kind: str) -> None:
    """Valid JSON, wrong content, in the page's first object: `noid` drops its id (a bucket its start_time),
    `unknown` makes it an object type and a field that no client knows yet, `huge` puts an absurdly large
    number in each of its numeric fields and a 1 MB string beside them, `nul` a NUL character in its name
    (or a new field) and in a nested value (an audit event's detail, or `metadata`)."""
    data = out.get("data") if isinstance(out.get("data"), list) else [out]
    if not data or not isinstance(data[0], dict):
        return
    first = data[0]
    if first.get("object") == "bucket" and first.get("results"):
        first = first["results"][0] if kind != "noid" else first
    if kind == "noid":
        first.pop("id", None) if "id" in first else first.pop("start_time", None)
    elif kind == "unknown":
        first["object"] = "organization.thing_from_the_future"
        if "type" in first and "effective_at" in first:  # an audit event of a type added later
            first.pop(first["type"], None)
            first["type"] = "thing.invented"
            first["thing.invented"] = {"id": "thing_1", "shape": {"sides": 7}}
        first["field_from_the_future"] = {"nested": [1, 2, 3]}
    elif kind == "nul":  # a NUL character in a name, and in a nested value: valid JSON that PostgreSQL's text refuses
        first["name" if isinstance(first.get("name"), str) else "sim_note"] = "a\u0000b"
        target = first.get(first["type"]) if "type" in first and "effective_at" in first else first.get("metadata")
        if not isinstance(target, dict):
            target = first["metadata"] = {}
        target["note"] = "a\u0000b"
    elif kind == "huge":
        for k, v in list(first.items()):
            if isinstance(v, int) and not isinstance(v, bool) and not k.endswith(("_at", "_time")):
                first[k] = 10**30
        first["enormous_text"] = "x" * 1_000_000


class SimApp:
    """The ASGI application."""

    def __init__(self, world: World, latency_ms: float = 0.0, rate_limit: float | None = None,
                 faults: list[Rule] | None = None) -> None:
        self.world = world
        self.usage = UsageEngine(world)
        self.latency = latency_ms / 1000.0
        self.limiter = RateLimiter(rate_limit)
        self.faults = Faults(faults, seed=world.seed)
        self.stats = Stats()
        # schema drift: route template -> fields added to (or overriding) every object it returns
        self.drift: dict[str, dict[str, Any]] = {}
        self._initial = (self.latency, rate_limit, [dataclasses.replace(r, hits=0, passed=0) for r in faults or []])

    def reset(self) -> None:
        """Back to the start-up latency, rate limit and faults, with zero counters (the clock and any
        minted or revoked keys stay as they are)."""
        latency, rps, rules = self._initial
        self.latency = latency
        with self.limiter.lock:
            self.limiter.rps = rps
            self.limiter.buckets.clear()
        with self.faults.lock:
            self.faults.rules = [dataclasses.replace(r, hits=0, passed=0) for r in rules]
        self.stats.reset()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_sim/"):
            await self._control(scope, receive, send)
            return
        await self._api(scope, send)

    # ---- the API ---------------------------------------------------------------------------------
    async def _api(self, scope: dict, send: Any) -> None:
        method, path = scope["method"], scope["path"]
        query = scope["query_string"].decode("latin-1")
        headers = dict(scope["headers"])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        found = match(path)
        template = found[0].template if found else "unknown"
        extra: list[tuple[bytes, bytes]] = []
        fault = None
        try:
            if self.latency:  # every API response is late, errors included
                await asyncio.sleep(self.latency)
            if found is None or method != "GET":
                raise ApiError(404, f"Invalid URL ({method} {path})", code=None)
            route, params = found
            k = self._authenticate(key, route, params)
            project = headers.get(b"openai-project", b"").decode("latin-1")
            if project and k.kind == "project" and project != k.project_id:
                raise ApiError(401, "OpenAI-Project header should match project for API key.",
                               code="mismatched_project")
            ok, wait, left = self.limiter.take(k.secret)
            extra = self.limiter.headers(left)
            if not ok:
                fault = "ratelimit"
                extra.append((b"retry-after", retry_after_value(wait)))
                extra.append((b"retry-after-ms", str(max(1, int(wait * 1000))).encode()))
                raise ApiError(429, f"Rate limit reached for requests on {route.template}. Please try "
                                    f"again in {wait:.3f}s.", "requests", None, "rate_limit_exceeded")
            rule = self.faults.pick(route.template, path[3:], key)
            fault = rule.kind if rule else None
            if rule is not None:
                if rule.kind == "revoke":  # the key is revoked now: this and every later request answer 401
                    self.world.revoke(k.secret)
                    self._authenticate(key, route, params)
                if rule.kind == "slow":
                    await asyncio.sleep(rule.ms / 1000.0)
                elif rule.kind == "429":
                    extra = [h for h in self.limiter.headers(0.0) if h[0] != b"x-ratelimit-reset-requests"]
                    extra.append((b"x-ratelimit-reset-requests", f"{rule.retry_after:.3f}s".encode()))
                    extra.append((b"retry-after", retry_after_value(rule.retry_after)))
                    extra.append((b"retry-after-ms", str(max(1, int(rule.retry_after * 1000))).encode()))
                    raise ApiError(429, "Rate limit reached for requests. Please try again later.",
                                   "requests", None, "rate_limit_exceeded")
                elif rule.kind == "403":  # refused to this key on this endpoint alone (a role, a plan's feature)
                    raise ApiError(403, "You have insufficient permissions for this operation. Check that you have "
                                        "the correct role in your organization.", code="insufficient_permissions")
                elif rule.kind == "404":  # a server without this endpoint (one that lists objects but not each one)
                    raise ApiError(404, f"Invalid URL (GET {path[3:]})", "invalid_request_error")
                elif rule.kind in ("500", "502", "503"):
                    msg = {"500": "The server had an error while processing your request. Sorry about that!",
                           "502": "Bad gateway.",
                           "503": "The engine is currently overloaded, please try again later."}
                    raise ApiError(int(rule.kind), msg[rule.kind], "server_error")
                elif rule.kind == "html":
                    self.stats.record(method, template, path, query, 502, key, fault)
                    await self._send(send, 502, HTML_ERROR, b"text/html")
                    return
            req = Request(self.world, self.usage, parse_qs(query, keep_blank_values=True), params, k,
                          self.world.now, rule.kind if rule and rule.kind in ("stuck", "nocursor") else None)
            out = route.handler(req)
            drifted = self.drift.get(route.template)
            if drifted:
                for obj in out["data"] if isinstance(out.get("data"), list) else [out]:
                    if isinstance(obj, dict):
                        obj.update(drifted)
            if rule is not None and rule.kind in ("noid", "unknown", "huge", "nul"):
                _corrupt(out, rule.kind)
            elif rule is not None and rule.kind == "shapes":
                _reshape(out, rule.hits)
            # orjson refuses integers beyond 64 bits; the standard library writes them, as a server might
            body = json.dumps(out).encode() if rule is not None and rule.kind == "huge" else orjson.dumps(out)
            if rule is not None and rule.kind == "malformed":
                body = body[: max(1, len(body) // 2)] + b'",,}'
            if rule is not None and rule.kind == "drop":
                self.stats.record(method, template, path, query, 200, key, fault)
                await self._send(send, 200, body, drop=True, extra=extra)
                return
            self.stats.record(method, template, path, query, 200, key, fault)
            await self._send(send, 200, body, extra=extra)
        except ApiError as e:
            self.stats.record(method, template, path, query, e.status, key, fault)
            await self._send(send, e.status, orjson.dumps(e.body()), extra=extra)

    def _authenticate(self, key: str | None, route: Any, params: dict[str, str]):
        if not key:
            raise ApiError(401, "You didn't provide an API key. You need to provide your API key in an "
                                "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                                "YOUR_KEY).", code=None)
        k = self.world.keys.get(key)
        if k is None or k.revoked:
            raise ApiError(401, f"Incorrect API key provided: {key[:8]}{'*' * 10}{key[-4:]}. You can find "
                                "your API key at https://platform.openai.com/account/api-keys.",
                           code="invalid_api_key")
        if route.auth == "admin" and k.kind != "admin":
            raise ApiError(403, "This endpoint requires an Admin API key (sk-admin-...). Project API keys "
                                "cannot call the Administration API.", code="insufficient_permissions")
        if route.auth == "project" and k.kind != "project":
            raise ApiError(403, "Admin API keys can only call the Administration API endpoints; use a "
                                "project API key for this endpoint.", code="insufficient_permissions")
        scopes = k.scopes if k.scopes is not None else frozenset(ADMIN_SCOPES + PROJECT_SCOPES)
        if route.scope not in scopes:
            raise ApiError(403, "You have insufficient permissions for this operation. Missing scopes: "
                                f"{route.scope}. Check that you have the correct role in your organization, "
                                "and if you're using a restricted API key, that it has the necessary scopes.",
                           code="insufficient_permissions")
        if route.auth == "project":
            p = self.world.project_by_id[k.project_id]  # type: ignore[index]
            if p.archived_at is not None and p.archived_at <= self.world.now:
                raise ApiError(401, "The project of this API key is archived.", code="invalid_api_key")
        return k

    async def _send(self, send: Any, status: int, body: bytes, ctype: bytes = b"application/json",
                    drop: bool = False, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()),
                   (b"openai-organization", self.world.org_id.encode()),
                   (b"date", email.utils.formatdate(self.world.now, usegmt=True).encode()),
                   (b"x-request-id", f"req_{time.time_ns():x}".encode()), *(extra or [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if drop:
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise DropConnection()
        await send({"type": "http.response.body", "body": body})

    # ---- control endpoints -----------------------------------------------------------------------
    async def _control(self, scope: dict, receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        q = parse_qs(scope["query_string"].decode("latin-1"))
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        try:
            data = orjson.loads(body) if body else {}
            if not isinstance(data, dict):
                raise TypeError("the request body must be a JSON object")
            out = self.control(method, path, q, data)
            await self._send(send, 200, orjson.dumps(out))
        except UnknownControl as e:
            await self._send(send, 404, orjson.dumps({"error": {"message": str(e), "type": "sim_error",
                                                                "param": None, "code": None}}))
        except (ValueError, KeyError, TypeError) as e:
            msg = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            await self._send(send, 400, orjson.dumps({"error": {"message": msg, "type": "sim_error",
                                                                "param": None, "code": None}}))

    def control(self, method: str, path: str, q: dict[str, list[str]],
                data: dict[str, Any]) -> dict[str, Any]:
        if path == "/_sim/stats" and method == "GET":
            return self.stats.snapshot(with_log=q.get("log", ["0"])[0] in ("1", "true"))
        if path == "/_sim/stats/reset" and method == "POST":
            self.stats.reset()
            return {"ok": True}
        if path == "/_sim/advance" and method == "POST":
            hours = float(q.get("hours", [data.get("hours", 1)])[0])
            return {"now": self.world.advance(hours)}
        if path == "/_sim/clock" and method == "GET":
            return {"now": self.world.now, "start": self.world.start}
        if path == "/_sim/keys" and method == "POST":
            scopes = data.get("scopes")
            if scopes is not None and not (isinstance(scopes, list)
                                           and all(isinstance(x, str) for x in scopes)):
                raise TypeError("scopes must be a list of strings")
            secret = self.world.mint_key(data["kind"], data.get("project_id"), bool(data.get("revoked")),
                                         scopes)
            k = self.world.keys[secret]
            return {"key": secret, "id": k.id, "kind": k.kind, "project_id": k.project_id,
                    "revoked": k.revoked, "scopes": sorted(k.scopes) if k.scopes is not None else None}
        if path == "/_sim/revoke" and method == "POST":
            if data.get("key") not in self.world.keys:
                raise ValueError("unknown key")
            self.world.revoke(data["key"])
            return {"ok": True}
        if path == "/_sim/faults" and method == "GET":
            with self.faults.lock:
                return {"rules": [dataclasses.asdict(r) for r in self.faults.rules]}
        if path == "/_sim/faults" and method == "POST":
            raw = data.get("rules", [])
            if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
                raise TypeError("rules must be a list of objects such as {\"kind\": \"429\", \"rate\": 0.5}")
            rules = [Rule(**{k: v for k, v in r.items() if k not in ("hits", "passed")}) for r in raw]
            with self.faults.lock:
                if data.get("replace", True):
                    self.faults.rules = rules
                else:
                    self.faults.rules.extend(rules)
                return {"rules": len(self.faults.rules)}
        if path == "/_sim/rate_limit" and method == "POST":
            rps = data.get("rps")
            rps = float(rps) if rps else None
            if rps is not None and not rps > 0:
                raise ValueError("rps must be a positive number, or 0 or null for no limit")
            with self.limiter.lock:
                self.limiter.rps = rps
                self.limiter.buckets.clear()
            return {"rps": self.limiter.rps}
        if path == "/_sim/drift" and method == "POST":
            template = str(data["endpoint"])
            template = template[3:] if template.startswith("/v1/") else template
            if match("/v1" + template) is None and template not in {r.template for r in ROUTES}:
                raise KeyError(f"unknown endpoint {template!r}")
            self.drift.setdefault(template, {})[str(data["field"])] = data.get("value")
            return {"drift": self.drift}
        if path == "/_sim/latency" and method == "POST":
            ms = float(data.get("ms", 0))
            if not ms >= 0:
                raise ValueError("ms must be a number >= 0")
            self.latency = ms / 1000.0
            return {"latency_ms": self.latency * 1000}
        if path == "/_sim/reset" and method == "POST":
            self.reset()
            return {"ok": True}
        raise UnknownControl(f"unknown control endpoint {method} {path}")


class BindError(OSError):
    """The simulator cannot listen on the host and port it was given."""


def bind(host: str, port: int) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    except OSError as e:
        raise BindError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except (OSError, OverflowError) as e:
        sock.close()
        raise BindError(f"cannot listen on {host}:{port}: {getattr(e, 'strerror', None) or e}") from e
    sock.set_inheritable(True)
    return sock


def _config(app: SimApp) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http="httptools",
                          loop="uvloop", timeout_keep_alive=30, backlog=2048,
                          date_header=False)  # the Date header carries the simulated clock instead


class Simulator:
    """A simulator on a loopback port, running in a background thread (pytest fixtures, `demo`)."""

    def __init__(self, world: World | None = None, host: str = "127.0.0.1", port: int = 0,
                 latency_ms: float = 0.0, rate_limit: float | None = None, faults: list[Rule] | None = None,
                 **world_kwargs: Any) -> None:
        self.world = world or World(**world_kwargs)
        self.app = SimApp(self.world, latency_ms, rate_limit, faults)
        self.sock = bind(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(_config(self.app))
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def info(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "admin_key": self.world.admin_key,
                "project_keys": dict(self.world.project_keys)}

    def start(self) -> Simulator:
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name="openai-sync-simulator")
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the simulator did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread:
            self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # conveniences for tests: the same operations as the control endpoints, in-process
    def advance(self, hours: float) -> int:
        return self.world.advance(hours)

    def stats(self) -> dict[str, Any]:
        return self.app.stats.snapshot()

    def set_faults(self, rules: list[Rule]) -> None:
        with self.app.faults.lock:
            self.app.faults.rules = list(rules)

    def reset(self) -> None:
        """Undo set_faults and the control endpoints' latency, rate-limit and stats changes."""
        self.app.reset()


def serve_forever(world: World, host: str, port: int, latency_ms: float, rate_limit: float | None,
                  faults: list[Rule], announce: Any) -> None:
    """Run in the foreground (the `simulator` command): bind, announce, serve until interrupted."""
    app = SimApp(world, latency_ms, rate_limit, faults)
    sock = bind(host, port)
    host_shown = f"[{host}]" if ":" in host else host
    announce({"base_url": f"http://{host_shown}:{sock.getsockname()[1]}/v1", "admin_key": world.admin_key,
              "project_keys": dict(world.project_keys)})

    # uvicorn shuts down gracefully on SIGINT/SIGTERM, restores the previous handlers and then raises the
    # signal again: make that a clean exit (status 0) rather than death by signal.
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)
    try:
        uvicorn.Server(_config(app)).run(sockets=[sock])
    finally:
        sock.close()
