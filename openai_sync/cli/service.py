"""`openai-sync serve` (the scheduler and the console in one long-running process) and `openai-sync password`
(the console's password, stored hashed in the secrets file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..config import DEFAULT_CONFIG, ConfigError
from .common import Command, ConfigPath, _fail, app

Host = Annotated[str, typer.Option(help="The address the console listens on. Any other than loopback needs a "
                                        "password (openai-sync password).")]
Port = Annotated[int, typer.Option(help="The console's port.", min=1, max=65535)]
Grace = Annotated[float, typer.Option(help="Seconds a running load has to finish when the service is stopped "
                                           "(SIGTERM); after half of it the run is interrupted at a safe point.",
                                      min=1)]


def config_path(config: str | None) -> Path:
    import os

    return Path(config or os.environ.get("OPENAI_SYNC_CONFIG") or DEFAULT_CONFIG).expanduser().absolute()


@app.command(cls=Command, epilog="""
Examples:

  openai-sync serve                                  # console at http://127.0.0.1:8765

  openai-sync serve --config /etc/openai-sync/openai-sync.toml --host 0.0.0.0 --port 8765

Every connection of the config file syncs on its own schedule (sync_frequency, default 1h, or sync_cron). Stop
with SIGTERM or Ctrl-C: running loads finish (or stop at a safe point) and the service exits 0.
""")
def serve(config: ConfigPath = None, host: Host = "127.0.0.1", port: Port = 8765, grace: Grace = 60.0,
          state_dir: Annotated[str | None, typer.Option("--state-dir", help="The service's own state (schedule, "
                                                        "runs); default [service] state_dir, else "
                                                        ".openai-sync-service beside the config.")] = None) -> None:
    """Run as a service: scheduled syncs of every connection, and the web console."""
    from ..service.serve import serve as run

    try:
        code = run(config_path(config), host, port, grace, state_dir)
    except ConfigError as e:
        raise _fail(str(e), False) from None
    raise typer.Exit(code)


@app.command(cls=Command, epilog="""
Examples:

  openai-sync password                               # asks twice; stored hashed in openai-sync.secrets.toml

  openai-sync password --remove                      # loopback only again: no password
""")
def password(config: ConfigPath = None,
             remove: Annotated[bool, typer.Option("--remove", help="Remove the console's password.")] = False) -> None:
    """Set the console's password (needed to listen beyond loopback; also the API's bearer token)."""
    from ..config_files import save_service_secret
    from ..service.security import hash_password

    path = config_path(config)
    if remove:
        save_service_secret(path, "password_hash", None)
        Console(stderr=True).print("The console's password is removed.")
        return
    if sys.stdin.isatty():
        first = typer.prompt("Console password", hide_input=True)
        if typer.prompt("Again", hide_input=True) != first:
            raise _fail("the two passwords differ; nothing was saved", False)
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 12:
        raise _fail("use at least 12 characters: the console holds an Admin key", False)
    sec = save_service_secret(path, "password_hash", hash_password(first))
    Console(stderr=True).print(f"Saved, hashed, in {sec} (mode 0600). Restart the service to use it.")
