"""The console's pages: connections at a glance, the setup form with Save & Test, a connection's tables and
settings, the runs with their chart. Every change is a POST whose CSRF token is checked (guard.checked_form)."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from ...catalog import TABLES
from ...config import ConfigError
from ...config_files import save
from ...load.history import refused as history_refused
from ..scheduler import Refused
from ..security import check_password
from . import setup_form
from .chart import bars
from .guard import Forbidden, checked_form, set_session

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(epoch: Any) -> str:
    if not isinstance(epoch, int | float):
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int | float) else "—"


templates.env.filters.update(when=_when, num=_num)


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    agent, session = request.app.state.agent, request.state.session
    said, session.flash = session.flash, None  # what the last POST did, shown once (never taken from the URL)
    context.update(csrf=session.csrf, signed_in=agent.auth_required and session.signed_in, now=time.time(),
                   said=said)
    return templates.TemplateResponse(request, name, context, status_code=status)


def _back(request: Request, path: str, message: str | None = None) -> Response:
    request.state.session.flash = message
    return RedirectResponse(path, 303)


async def home(request: Request) -> Response:
    agent = request.app.state.agent
    return page(request, "connections.html", connections=agent.connections(),
                problem=agent.scheduler.connections.problem)


async def login(request: Request) -> Response:
    agent = request.app.state.agent
    if request.method == "GET":
        return page(request, "login.html")
    try:
        form = await checked_form(request)
    except Forbidden as e:
        return page(request, "login.html", 403, error=str(e))
    if not agent.auth_required or not check_password(str(form.get("password", "")), agent.settings.password_hash):
        await asyncio.sleep(1.0)  # a wrong password costs a second: guessing is slow
        return page(request, "login.html", 401, error="That password is not the console's.")
    agent.sessions.end(request.state.sid)
    sid, _ = agent.sessions.new(signed_in=True)  # a new id once signed in: a session fixed before is worth nothing
    response = RedirectResponse("/", 303)
    set_session(request, response, sid)
    return response


async def logout(request: Request) -> Response:
    try:
        await checked_form(request)
    except Forbidden as e:
        return page(request, "error.html", 403, error=str(e))
    request.app.state.agent.sessions.end(request.state.sid)
    return RedirectResponse("/login" if request.app.state.agent.auth_required else "/", 303)


async def setup(request: Request) -> Response:
    """GET: the form, empty or with the connection's values. POST: Save & Test (or save anyway)."""
    agent = request.app.state.agent
    name = request.path_params.get("name")
    entry = agent.scheduler.connections.get(name) if name else None
    if name and (entry is None or entry.resolved is None):
        return page(request, "error.html", 404, error=f"no connection named {name!r} can be edited here"
                    + (f": {entry.problem}" if entry else ""))
    existing = entry.resolved if entry else None
    session = request.state.session
    if request.method == "GET":
        return _form(request, setup_form.start(existing))
    try:
        form = await checked_form(request)
    except Forbidden as e:
        return page(request, "error.html", 403, error=str(e))
    base = session.drafts.get(str(form.get("draft", "")))
    if base is None or base.target != name:  # an expired session: the form as the file holds it now
        base = setup_form.start(existing)
    draft = setup_form.read(form, base, existing, set(agent.scheduler.connections.all()))
    settings = setup_form.settings_of(draft, existing)
    if settings is None or draft.errors:
        return _form(request, draft, 400)
    identified: dict[str, str] = {}
    draft.checks = await run_in_threadpool(agent.test, setup_form.resolved(draft, settings, agent.config), identified)
    if draft.failed and not form.get("anyway"):
        return _form(request, draft)
    now = agent.scheduler.connections.get(draft.name)
    hash_key = now.resolved.secrets.hash_key if now and now.resolved else None
    await run_in_threadpool(setup_form.store, agent.config, draft, settings, identified, hash_key)
    agent.scheduler.checked(draft.name, draft.checks)
    for key in [k for k, d in session.drafts.items() if d.target == name]:
        del session.drafts[key]
    agent.scheduler.changed(draft.name, resume=existing is not None)  # new keys: a pause for a refused key ends
    return _back(request, f"/connections/{draft.name}", "Saved." + (
        " Some checks failed; saved anyway." if draft.failed else " Every check passed."))


def _form(request: Request, draft: setup_form.Draft, status: int = 200) -> Response:
    """The form, its keys kept in the session under a new id: the "keep" boxes of this page number this list,
    whatever other pages or a resubmission do meanwhile."""
    drafts = request.state.session.drafts
    draft_id = secrets.token_urlsafe(16)
    drafts[draft_id] = draft
    while len(drafts) > 20:
        drafts.pop(next(iter(drafts)))
    return page(request, "setup.html", status, draft=draft, draft_id=draft_id, new=draft.target is None)


async def connection(request: Request) -> Response:
    agent, name = request.app.state.agent, request.path_params["name"]
    entry = agent.scheduler.connections.get(name)
    if entry is None:
        return page(request, "error.html", 404, error=f"no connection named {name!r}")
    saved = agent.state.tables(name)
    s = entry.resolved.settings if entry.resolved else None
    _, history_ok = history_refused([])
    rows = [{"name": t, "enabled": s is not None and t not in (s.exclude_tables or []) and (not s.tables or t in
                                                                                            s.tables),
             "history": s is not None and t in (s.history_tables or []), "history_ok": t in history_ok,
             **saved.get(t, {})} for t in TABLES]
    runs = agent.state.runs(name, limit=30)
    return page(request, "connection.html", c=agent.connection(name, entry), tables=rows, settings=s,
                runs=runs[:10], chart=bars(runs))


async def act(request: Request) -> Response:
    """POST /connections/{name}/{sync|pause|resume|resync|tables}."""
    agent, name, action = request.app.state.agent, request.path_params["name"], request.path_params["action"]
    try:
        form = await checked_form(request)
    except Forbidden as e:
        return page(request, "error.html", 403, error=str(e))
    entry = agent.scheduler.connections.get(name)
    if entry is None or action not in ("sync", "pause", "resume", "resync", "tables"):
        return page(request, "error.html", 404, error=f"no connection named {name!r}, or no action {action!r}")
    said = None
    try:
        if action in ("sync", "resync"):
            table = str(form.get("table", ""))
            if action == "resync" and table not in TABLES:
                return page(request, "error.html", 400, error=f"{table!r} is not a table")
            agent.scheduler.request(name, action if action == "resync" else "manual",
                                    [table] if action == "resync" else None)
            said = f"Re-sync of {table} started." if action == "resync" else "Sync started."
        elif action == "pause":
            agent.scheduler.pause(name)
            said = "Paused: no run starts until you resume."
        elif action == "resume":
            agent.scheduler.resume(name)
            said = "Resumed: a run starts now."
        else:
            said = await run_in_threadpool(_save_tables, agent, entry, form)
    except (Refused, ConfigError, ValueError) as e:
        said = str(e)
    return _back(request, f"/connections/{name}", said)


def _save_tables(agent: Any, entry: Any, form: Any) -> str:
    if entry.resolved is None:
        raise ConfigError(f"{entry.name} cannot be changed here until its settings are mended: {entry.problem}")
    settings, secrets_ = setup_form.table_settings(entry.resolved, form, secrets.token_urlsafe(32))
    save(agent.config, entry.name, settings, secrets_, make_default=False)
    agent.scheduler.changed(entry.name)
    return "Settings saved; the next run uses them."


# the report is one document with its styles inline and no script: it may use those, and nothing else
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
              "base-uri 'none'; form-action 'none'")


async def report(request: Request) -> Response:
    """The connection's report (openai-sync report), made from its destination now."""
    from ...html_report import ReportError, build, render

    agent, name = request.app.state.agent, request.path_params["name"]
    entry = agent.scheduler.connections.get(name)
    if entry is None or entry.resolved is None:
        return page(request, "error.html", 404, error=f"no connection named {name!r} has a report")
    settings = entry.resolved.settings

    def make() -> str:
        with agent.scheduler.destination_free(entry) as free:  # DuckDB: never while a run writes the file
            if not free:
                raise ReportError("a run is writing the destination now; open the report again when it ends")
            return render(build(settings.destination, settings.schema_name))

    try:
        text = await run_in_threadpool(make)
    except ReportError as e:
        return page(request, "error.html", 409, error=str(e))
    return HTMLResponse(text, headers={"Content-Security-Policy": REPORT_CSP})


async def runs(request: Request) -> Response:
    agent = request.app.state.agent
    name = request.query_params.get("connection") or None
    found = agent.state.runs(name, limit=100)
    return page(request, "runs.html", runs=found, chart=bars(found[:30]), connection=name)


async def run(request: Request) -> Response:
    found = request.app.state.agent.state.run(request.path_params["run_id"])
    if found is None:
        return page(request, "error.html", 404, error="no such run")
    return page(request, "run.html", run=found)


ROUTES = [
    Route("/", home),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/connections/new", setup, methods=["GET", "POST"]),
    Route("/connections/{name}", connection),
    Route("/connections/{name}/edit", setup, methods=["GET", "POST"]),
    Route("/connections/{name}/report", report),
    Route("/connections/{name}/{action:str}", act, methods=["POST"]),
    Route("/runs", runs),
    Route("/runs/{run_id}", run),
]
