"""`openai-sync serve`: the scheduler and the console in one process, until SIGTERM or Ctrl-C. Then nothing more
starts, a running load finishes or is stopped at a safe point within the grace period, and the process exits 0."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn

from ..config import ConfigError
from . import settings as service_settings
from .agent import Agent
from .security import is_loopback
from .web import build

log = logging.getLogger("openai_sync.service")


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: ours stops the scheduler first, and exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def refuse(host: str, password_hash: str | None) -> str | None:
    if is_loopback(host) or password_hash:
        return None
    return (f"the console would listen on {host}, beyond this machine, without a password: it holds the Admin key. "
            "Set one with `openai-sync password` (it is stored hashed in the secrets file) and start again, or "
            "listen on 127.0.0.1 (the default) behind your own proxy")


def serve(config: Path, host: str, port: int, grace: float, state_dir: str | None = None) -> int:
    """Run until stopped; 0 after a clean stop. Raises ConfigError for what must be mended first."""
    settings = service_settings.load(config)
    if state_dir:
        settings = replace(settings, state_dir=state_dir)
    why = refuse(host, settings.password_hash)
    if why:
        raise ConfigError(why)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    log.setLevel(logging.INFO)  # the service's own lines; the libraries' at WARNING (no line per request)
    agent = Agent(config, settings, host, port, grace)
    # a request left unfinished (a client that never sends its body) may not hold the stop past a few seconds
    server = _Server(uvicorn.Config(build(agent), host=host, port=port, log_level="warning", access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=5))

    def stop(sig: int, _frame: Any) -> None:
        if server.should_exit:  # a second signal: do not wait for the console's requests
            server.force_exit = True
        log.info("%s received: no new runs; running loads finish or stop at a safe point within %.0f s",
                 signal.Signals(sig).name, grace)
        agent.scheduler.begin_stop()
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.start()
    log.info("openai-sync service: console at http://%s:%s (connections from %s)", host, port, config)
    try:
        server.run()
    except SystemExit:  # uvicorn could not listen (the port is taken, ...): it logged why
        agent.stop()
        raise ConfigError(f"the console cannot listen on {host}:{port} (is the port taken? choose another with "
                          "--port)") from None
    agent.stop()
    log.info("openai-sync service stopped")
    return 0
