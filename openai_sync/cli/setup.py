"""`openai-sync test` (Save & Test) and `openai-sync setup`: a connection's keys and destination checked,
with a verdict and a sentence per check; setup asks for what is missing and saves the connection."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.console import Console

from ..api.keys import mask
from ..checks import FAIL, PASS, WARN, Check, run_checks, verdict
from ..config import (
    SCHEMA_RE,
    ConfigError,
    ProjectKey,
    Resolved,
    Secrets,
    check_key_format,
    default_connection,
    key_problems,
    parse_project_keys,
    resolve,
    save,
)
from ..load import destinations
from .common import AsJson, BaseUrl, Command, ConfigPath, Connection, Destination, Schema, _fail, _flags, app

SYMBOL = {PASS: "[green]✔ pass[/]", WARN: "[yellow]! warn[/]", FAIL: "[red]✖ fail[/]"}


def _print_checks(checks: list[Check], as_json: bool, r: Resolved) -> str:
    result = verdict(checks)
    if as_json:
        print(json.dumps({"status": result, "connection": r.name, "checks": [c.as_dict() for c in checks]}))
    else:
        out = Console(highlight=False)
        for c in checks:
            out.print(f"{SYMBOL[c.status]}  [bold]{c.name}[/]: {c.message}")
        out.print("\n[green]All checks passed.[/]" if result == "ok" else "\n[red]Some checks failed[/]: fix them "
                  "and run `openai-sync test` again.")
    return result


@app.command("test", cls=Command, epilog="""
Examples:

  openai-sync test                       # the default connection of ./openai-sync.toml, keys from its secrets

  openai-sync test --connection prod --json

Exit code 0 when no check fails (warnings allowed), 1 otherwise.
""")
def test_cmd(
    connection: Connection = None,
    config: ConfigPath = None,
    base_url: BaseUrl = None,
    destination: Destination = None,
    schema: Schema = None,
    as_json: AsJson = False,
) -> None:
    """Run the Save & Test checks without loading anything: keys, permissions, audit logging, projects
    without a key, destination. Each prints pass, warn or fail with what to do."""
    try:
        r = resolve(_flags(connection=connection, config=config, base_url=base_url, destination=destination,
                           schema=schema))
    except ConfigError as e:
        checks = [Check("configuration", FAIL, str(e))]
        if as_json:
            print(json.dumps({"status": "failed", "connection": connection, "checks": [c.as_dict() for c in checks]}))
        else:
            Console(highlight=False).print(f"{SYMBOL[FAIL]}  [bold]configuration[/]: {e}")
        raise typer.Exit(1) from None
    checks = run_checks(r)
    raise typer.Exit(0 if _print_checks(checks, as_json, r) == "ok" else 1)


def _ask_keys(console: Console, known: Secrets) -> Secrets:
    """Ask for the keys without echo; Enter keeps the keys already known (secrets file or environment)."""
    keep = f"Enter to keep {mask(known.admin_key)}" if known.admin_key else "Enter to skip"
    while True:
        admin = typer.prompt(f"Admin key (sk-admin-..., input hidden; {keep})", default="", hide_input=True,
                             show_default=False).strip() or known.admin_key
        try:
            if admin:
                check_key_format(admin, "that Admin key")
            break
        except ConfigError as e:
            console.print(f"[red]{e}[/]")
    keys: list[ProjectKey] = []
    while True:
        done = (f"Enter to keep the {len(known.project_keys)} known" if known.project_keys and not keys
                else "Enter when done")
        k = typer.prompt(f"Project key {len(keys) + 1} (sk-proj-... or PROJECT_ID=KEY, input hidden; {done})",
                         default="", hide_input=True, show_default=False).strip()
        if not k:
            break
        try:
            keys.extend(parse_project_keys([k], "that input"))
        except ConfigError as e:
            console.print(f"[red]{e}[/]")
            continue
        console.print(f"  added {mask(keys[-1].key)}")
    return Secrets(admin, keys or known.project_keys)


def _ask(console: Console, r: Resolved, flags: dict[str, Any]) -> Secrets:
    """Ask for the schema, the destination (both into `flags`) and the keys."""
    schema, destination = flags.get("schema"), flags.get("destination")
    default = schema if schema and SCHEMA_RE.fullmatch(schema) else r.settings.schema_name
    while True:
        schema = typer.prompt("Destination schema", default=default)
        if SCHEMA_RE.fullmatch(schema):
            break
        console.print("[red]Use letters, digits and _, not starting with a digit (at most 63).[/]")
    destination = typer.prompt("Destination: a DuckDB path, a postgresql:// DSN, or a dlt destination name",
                               default=destination or r.settings.destination)
    flags.update(schema=schema, destination=destinations.normalize(destination))
    return _ask_keys(console, r.secrets)


@app.command("setup", cls=Command, epilog="""
Examples:

  openai-sync setup                                  # asks for everything; keys are read without echo

  OPENAI_ADMIN_KEY=... OPENAI_PROJECT_KEYS=... openai-sync setup --non-interactive \\
      --connection prod --destination postgresql://loader@db:5432/analytics --schema openai

The configuration goes to ./openai-sync.toml (or --config); the keys to openai-sync.secrets.toml beside it,
readable by you alone (mode 0600).
""")
def setup_cmd(
    connection: Annotated[str, typer.Option("--connection", "-c", help="Name of the connection to save.")
                          ] = "default",
    config: ConfigPath = None,
    base_url: BaseUrl = None,
    destination: Destination = None,
    schema: Schema = None,
    non_interactive: Annotated[bool, typer.Option("--non-interactive", help="Ask nothing: settings from flags "
                                                  "and environment, keys from OPENAI_ADMIN_KEY and "
                                                  "OPENAI_PROJECT_KEYS.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Save even when a check fails.")] = False,
    as_json: AsJson = False,
) -> None:
    """Set up a connection: destination schema, destination, Admin key, project keys; run the checks; save."""
    console = Console(stderr=as_json, highlight=False)
    interactive = not non_interactive and sys.stdin.isatty()
    flags = _flags(connection=connection, config=config, base_url=base_url, destination=destination, schema=schema)
    try:
        r = resolve(flags, allow_new=True)
    except ConfigError as e:
        if not interactive:
            raise _fail(str(e), as_json) from None
        try:  # a bad schema or destination is asked again below; anything else is for the user to fix first
            asked = {"OPENAI_SYNC_SCHEMA", "OPENAI_SYNC_DESTINATION"}
            r = resolve({**flags, "schema": None, "destination": None},
                        {k: v for k, v in os.environ.items() if k not in asked}, allow_new=True)
        except ConfigError:
            raise _fail(str(e), as_json) from None
        console.print(f"[yellow]note:[/] {e}")
    if interactive:
        console.print("[bold]openai-sync setup[/]: a connection named "
                      f"[bold]{connection}[/], saved in {r.config_path}")
        secrets = _ask(console, r, flags)
    else:
        secrets = r.secrets
    for problem in key_problems(secrets):
        console.print(f"[yellow]note:[/] {problem}; the checks below say what to do.")
    try:
        settings = resolve(flags, allow_new=True).settings
    except ConfigError as e:
        raise _fail(str(e), as_json) from None
    resolved = Resolved(connection, settings, secrets, r.config_path, {})
    identified: dict[str, str] = {}
    checks = run_checks(resolved, identified=identified)
    # saved as PROJECT_ID=KEY: later runs look nothing up, and each key is sent with its project
    secrets = replace(secrets, project_keys=[replace(k, project_id=k.project_id or identified.get(k.key))
                                             for k in secrets.project_keys])
    result = _print_checks(checks, as_json, resolved)
    if result != "ok" and not force and not (
            interactive and typer.confirm("Some checks failed. Save this configuration anyway?", default=False)):
        console.print("Nothing saved.")
        raise typer.Exit(1)
    try:
        sec = save(r.config_path, connection, settings, secrets)
    except (OSError, ConfigError) as e:
        raise _fail(f"could not save to {r.config_path}: {getattr(e, 'strerror', None) or e}", as_json) from None
    used = "" if default_connection(r.config_path) == connection else f" --connection {connection}"
    console.print(f"Saved connection {connection!r}: settings in {r.config_path}, keys in {sec} (mode 0600).\n"
                  f"Next: openai-sync sync{used}")
    raise typer.Exit(0 if result == "ok" else 1)
