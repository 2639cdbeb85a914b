"""The console and the machine endpoints, one Starlette application served by uvicorn in the service's process.
Pages are rendered on the server (Jinja2 templates, escaped), with no script at all; the chart is inline SVG."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..agent import Agent
from . import api, pages
from .guard import Guard

HERE = Path(__file__).parent


def build(agent: Agent) -> Starlette:
    app = Starlette(routes=[*api.ROUTES, *pages.ROUTES, Mount("/static", StaticFiles(directory=HERE / "static"))],
                    middleware=[Middleware(Guard, agent=agent)])
    app.state.agent = agent
    return app
