"""Every request passes here first: the Host header (a console on loopback answers loopback names only, so that
a page elsewhere cannot reach it by DNS rebinding), the secure headers, the session (an anonymous one carries the
CSRF token), and authentication when a password is set: a signed-in session for people, `Authorization: Bearer`
for machines. State changes only by POST, each checked by `checked_form` (a form's CSRF token) or `allowed_post`."""

from __future__ import annotations

import asyncio
import logging
import traceback
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from ..security import COOKIE, HEADERS, IDLE, Session, check_password, host_allowed

log = logging.getLogger("openai_sync.service")

OPEN = ("/healthz", "/static/", "/login")
SESSIONLESS = ("/healthz", "/static/", "/metrics", "/api/")  # machines: no session made for them


class Forbidden(Exception):
    pass


class Guard(BaseHTTPMiddleware):
    def __init__(self, app: Any, agent: Any) -> None:
        super().__init__(app)
        self.agent = agent

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            response = await self._dispatch(request, call_next)
        except Exception as e:  # a bug answers with a sentence; the log names the exception and where, no values
            tb = traceback.extract_tb(e.__traceback__)
            where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
            log.error("the console failed on %s %s: %s at %s", request.method, request.url.path, type(e).__name__,
                      where)
            response = PlainTextResponse("The console failed on this page; the service goes on. The service's log "
                                         "says where.", 500)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    async def _dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        agent, path = self.agent, request.url.path
        if not host_allowed(request.headers.get("host", ""), agent.host):
            return PlainTextResponse("this console answers on its loopback address only (Host header refused)", 421)
        bearer = request.headers.get("authorization", "")
        machine = False
        if bearer.lower().startswith("bearer ") and agent.auth_required:
            machine = await run_in_threadpool(check_password, bearer[7:].strip(), agent.settings.password_hash)
            if not machine:
                await asyncio.sleep(1.0)  # as slow to guess as the sign-in form
                return JSONResponse({"error": "the bearer token is wrong"}, 401)
        sid = request.cookies.get(COOKIE)
        session = agent.sessions.get(sid)
        fresh = session is None and not machine and not path.startswith(SESSIONLESS)
        if session is None:  # machines get a session of their own for this request alone
            session = Session(signed_in=not agent.auth_required)
            if fresh:
                sid, session = agent.sessions.new(signed_in=not agent.auth_required)
        request.state.session, request.state.sid, request.state.machine = session, sid, machine
        signed = machine or session.signed_in or not agent.auth_required
        if not signed and not path.startswith(OPEN):
            if path.startswith("/api/") or path == "/metrics":
                response: Response = JSONResponse({"error": "authentication required: sign in, or send "
                                                            "Authorization: Bearer <the console password>"}, 401)
            else:
                response = RedirectResponse("/login", 303)
        else:
            response = await call_next(request)
        if fresh:
            set_session(request, response, sid or "")
        return response


def set_session(request: Request, response: Response, sid: str) -> None:
    response.set_cookie(COOKIE, sid, max_age=int(IDLE * 12), httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


async def checked_form(request: Request) -> Any:
    """The form of a POST, after its CSRF token is checked (a machine's bearer token needs none)."""
    form = await request.form()
    if request.state.machine:
        return form
    token = form.get("csrf") or request.headers.get("x-csrf-token")
    if not token or token != request.state.session.csrf:
        raise Forbidden("this form's security token is missing or out of date (a CSRF check): reload the page and "
                        "submit it again")
    return form


def allowed_post(request: Request) -> None:
    """A POST to the JSON API: a machine with the bearer token, a page of this console with its CSRF header, or,
    when no password is set (loopback), a client that is not a browser (no Origin, no Sec-Fetch-Site header: a
    page of another site cannot send a request without them)."""
    if request.state.machine or request.headers.get("x-csrf-token") == request.state.session.csrf:
        return
    from_browser = "origin" in request.headers or "sec-fetch-site" in request.headers
    if not request.app.state.agent.auth_required and not from_browser:
        return
    raise Forbidden("refused: send the CSRF token (X-CSRF-Token) or, with a password set, "
                    "Authorization: Bearer <the console password>")
