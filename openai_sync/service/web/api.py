"""For machines: `/healthz`, `/metrics` (Prometheus) and the JSON API of connections and runs. A run's `result`
is the object `openai-sync sync --json` prints."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import metrics
from ..scheduler import Refused
from .guard import Forbidden, allowed_post


async def healthz(request: Request) -> Response:
    agent = request.app.state.agent
    alive = agent.scheduler.alive()
    body = {"status": "ok" if alive else "scheduler stopped", "scheduler_alive": alive,
            "connections": len(agent.scheduler.connections.all()), "running": len(agent.scheduler.running),
            "uptime_seconds": round(time.time() - agent.started, 1)}  # open to all: counts, never names
    return JSONResponse(body, 200 if alive else 503)


async def metrics_text(request: Request) -> Response:
    return Response(metrics.render(request.app.state.agent), media_type=metrics.CONTENT_TYPE)


async def connections(request: Request) -> Response:
    return JSONResponse({"connections": request.app.state.agent.connections()})


async def connection(request: Request) -> Response:
    agent, name = request.app.state.agent, request.path_params["name"]
    if agent.scheduler.connections.get(name) is None:
        return JSONResponse({"error": f"no connection named {name!r}"}, 404)
    return JSONResponse(agent.connection(name))


async def runs(request: Request) -> Response:
    agent = request.app.state.agent
    try:
        limit = min(int(request.query_params.get("limit", 50)), 1000)
    except ValueError:
        return JSONResponse({"error": "limit must be a whole number"}, 400)
    found = agent.state.runs(request.query_params.get("connection"), limit)
    return JSONResponse({"runs": [r.public() for r in found]})


async def run(request: Request) -> Response:
    found = request.app.state.agent.state.run(request.path_params["run_id"])
    if found is None:
        return JSONResponse({"error": "no such run"}, 404)
    return JSONResponse(found.public())


async def act(request: Request) -> Response:
    """POST /api/connections/{name}/sync | pause | resume."""
    agent, name, action = request.app.state.agent, request.path_params["name"], request.path_params["action"]
    try:
        allowed_post(request)
    except Forbidden as e:
        return JSONResponse({"error": str(e)}, 403)
    if agent.scheduler.connections.get(name) is None or action not in ("sync", "pause", "resume"):
        return JSONResponse({"error": f"no connection named {name!r}" if action in ("sync", "pause", "resume")
                             else f"unknown action {action!r}: sync, pause or resume"}, 404)
    if action == "sync":
        try:
            agent.scheduler.request(name)
        except Refused as e:
            return JSONResponse({"error": str(e)}, 409)
        return JSONResponse({"status": "queued", "connection": name}, 202)
    if action == "pause":
        agent.scheduler.pause(name, "paused through the API")
    else:
        agent.scheduler.resume(name)
    return JSONResponse(agent.connection(name))


ROUTES = [
    Route("/healthz", healthz),
    Route("/metrics", metrics_text),
    Route("/api/connections", connections),
    Route("/api/connections/{name}", connection),
    Route("/api/connections/{name}/{action:str}", act, methods=["POST"]),
    Route("/api/runs", runs),
    Route("/api/runs/{run_id}", run),
]
