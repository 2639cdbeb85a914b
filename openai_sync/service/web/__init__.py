"""The console and the machine endpoints, one Starlette application served by uvicorn in the service's process.
Pages are rendered on the server (Jinja2 templates, escaped), with no script at all; the chart is inline SVG."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..agent import Agent
from . import api, pages
from .guard import Guard

HERE = Path(__file__).parent
log = logging.getLogger("openai_sync.service")


async def failed(request: Request, e: Exception) -> Response:
    """A bug answers with a sentence; the log names the exception and where, never its message (values)."""
    tb = traceback.extract_tb(e.__traceback__)
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    log.error("the console failed on %s %s: %s at %s", request.method, request.url.path, type(e).__name__, where)
    return PlainTextResponse("The console failed on this page; the service goes on. The service's log says where.",
                             500)


def build(agent: Agent) -> Starlette:
    app = Starlette(routes=[*api.ROUTES, *pages.ROUTES, Mount("/static", StaticFiles(directory=HERE / "static"))],
                    middleware=[Middleware(Guard, agent=agent)], exception_handlers={Exception: failed})
    app.state.agent = agent
    return app
