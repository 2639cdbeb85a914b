"""`openai-sync test` (Save & Test) and `openai-sync setup`: a connection's keys and destination checked,
with a verdict and a sentence per check; setup asks for what is missing and saves the connection."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..api.keys import mask
from ..config import (
    SCHEMA_RE,
    ConfigError,
    MissingConfig,
    ProjectKey,
    Resolved,
    Secrets,
    check_base_url,
    check_key_format,
    default_connection,
    key_problems,
    parse_project_keys,
    resolve,
)
from ..config_files import ignore_in_git, save
from ..load import destinations
from ..load.destination_check import FAIL, PASS, WARN, Check
from .common import (
    AsJson,
    BaseUrl,
    Command,
    ConfigPath,
    Connection,
    Destination,
    Schema,
    _fail,
    _flags,
    app,
    on_interrupt,
)

NOTHING_SAVED = "interrupted; nothing was saved"

SYMBOL = {PASS: "[green]✔ pass[/]", WARN: "[yellow]! warn[/]", FAIL: "[red]✖ fail[/]"}
BETWEEN_KEYS = re.compile(r"[,\s]+")  # several project keys pasted at once
BASE_URL_PROMPT = ("API base URL: data-residency hosts (e.g. https://eu.api.openai.com/v1), proxies and the "
                   "simulator (http://127.0.0.1:PORT/v1) go here")


def _print_checks(checks: list[Check], as_json: bool, r: Resolved) -> str:
    from ..checks import verdict

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
@on_interrupt("interrupted; nothing was loaded or saved")
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
    except MissingConfig as e:  # not a check that failed: nothing to check
        raise _fail(str(e), as_json) from None
    except ConfigError as e:
        checks = [Check("configuration", FAIL, str(e))]
        if as_json:
            print(json.dumps({"status": "failed", "connection": connection, "checks": [c.as_dict() for c in checks]}))
        else:
            Console(highlight=False).print(f"{SYMBOL[FAIL]}  [bold]configuration[/]: {escape(str(e))}")
        raise typer.Exit(1) from None
    from ..checks import run_checks  # the SDK and dlt load only when a command needs them

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
            console.print(f"[red]{escape(str(e))}[/]")
    keys: list[ProjectKey] = []
    while True:
        done = (f"Enter to keep the {len(known.project_keys)} known" if known.project_keys and not keys
                else "Enter when done")
        k = typer.prompt(f"Project key {len(keys) + 1} (sk-proj-... or PROJECT_ID=KEY; several at once separated by "
                         f"commas, spaces or new lines; input hidden; {done})", default="", hide_input=True,
                         show_default=False).strip()
        if not k:
            break
        try:
            given = _pasted_keys(k)
        except ConfigError as e:
            console.print(f"[red]{escape(str(e))}[/]")
            continue
        new = [p for i, p in enumerate(given) if p.key not in {q.key for q in keys + given[:i]}]
        keys.extend(new)
        masks, again = ", ".join(mask(p.key) for p in new), len(given) - len(new)
        added = f"{len(new)} project keys: {masks}" if len(new) > 1 else masks or "none"
        console.print(f"  added {added}" + (f" ({again} given already)" if again else ""))
    return Secrets(admin, keys or known.project_keys)


def _pasted_keys(answer: str) -> list[ProjectKey]:
    """One answer's keys, separated by commas, spaces or line breaks. Several pieces that are not all keys are
    more likely one key broken by a space than several keys: refused, without showing any of it."""
    pieces = [p for p in BETWEEN_KEYS.split(answer) if p]
    if len(pieces) > 1 and not all(p.rpartition("=")[2].startswith("sk-") for p in pieces):
        raise ConfigError(f"that input has {len(pieces)} parts and not each is a key starting with sk-: paste the "
                          "keys again, each whole, separated by commas, spaces or new lines")
    return parse_project_keys(pieces, "that input")


def _ask_base_url(console: Console, default: str) -> str:
    """Asked again until its answer is an http(s) URL ending with /v1 (the sentence says why not)."""
    while True:
        answer = typer.prompt(BASE_URL_PROMPT, default=default).strip()
        try:
            return check_base_url(answer)
        except ValueError as e:
            console.print(f"[red]{escape(str(e))}[/]")


def _ask(console: Console, r: Resolved, flags: dict[str, Any]) -> Secrets:
    """Ask for the schema, the destination, the base URL (into `flags`) and the keys."""
    schema, destination = flags.get("schema"), flags.get("destination")
    default = schema if schema and SCHEMA_RE.fullmatch(schema) else r.settings.schema_name
    while True:
        schema = typer.prompt("Destination schema", default=default)
        if SCHEMA_RE.fullmatch(schema):
            break
        console.print("[red]Use letters, digits and _, not starting with a digit (at most 63).[/]")
    destination = typer.prompt("Destination: a DuckDB path, a postgresql:// DSN, or a dlt destination name",
                               default=destination or r.settings.destination)
    try:
        default = check_base_url(flags.get("base_url") or r.settings.base_url)
    except ValueError:
        default = r.settings.base_url
    flags.update(schema=schema, destination=destinations.normalize(destination),
                 base_url=_ask_base_url(console, default))
    return _ask_keys(console, r.secrets)


@app.command("setup", cls=Command, epilog="""
Examples:

  openai-sync setup                                  # asks for everything; keys are read without echo

  OPENAI_ADMIN_KEY=... OPENAI_PROJECT_KEYS=... openai-sync setup --non-interactive \\
      --connection prod --destination postgresql://loader@db:5432/analytics --schema openai

The configuration goes to ./openai-sync.toml (or --config); the keys to openai-sync.secrets.toml beside it,
readable by you alone (mode 0600).
""")
@on_interrupt(NOTHING_SAVED)
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
    """Set up a connection: destination schema, destination, API base URL, Admin key, project keys; run the
    checks; save."""
    console = Console(stderr=as_json, highlight=False)
    interactive = not non_interactive and sys.stdin.isatty()
    flags = _flags(connection=connection, config=config, base_url=base_url, destination=destination, schema=schema)
    try:
        r = resolve(flags, allow_new=True)
    except ConfigError as e:
        if not interactive:
            raise _fail(str(e), as_json) from None
        try:  # a bad schema, destination or base URL is asked again below; anything else is for the user to fix first
            asked = {"OPENAI_SYNC_SCHEMA", "OPENAI_SYNC_DESTINATION", "OPENAI_BASE_URL"}
            r = resolve({**flags, "schema": None, "destination": None, "base_url": None},
                        {k: v for k, v in os.environ.items() if k not in asked}, allow_new=True)
        except ConfigError:
            raise _fail(str(e), as_json) from None
        console.print(f"[yellow]note:[/] {escape(str(e))}")
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
    from ..checks import run_checks

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
    _save(console, replace(resolved, secrets=secrets), as_json)
    raise typer.Exit(0 if result == "ok" else 1)


def _save(console: Console, r: Resolved, as_json: bool) -> None:
    """Save the connection, keep its keys out of Git, and say what comes next."""
    try:
        sec = save(r.config_path, r.name, r.settings, r.secrets)
    except (OSError, ConfigError) as e:
        raise _fail(f"could not save to {r.config_path}: {getattr(e, 'strerror', None) or e}", as_json) from None
    console.print(f"Saved connection {r.name!r}: settings in {r.config_path}, keys in {sec} (mode 0600).")
    try:
        ignored = ignore_in_git(sec)
    except OSError as e:
        console.print(f"[yellow]note:[/] could not update the .gitignore beside {escape(str(sec))} ({e.strerror}): "
                      f"add {escape(sec.name)} to it yourself, so that Git never commits the keys.")
    else:
        if ignored:
            console.print(escape(ignored))
    used = "" if default_connection(r.config_path) == r.name else f" --connection {r.name}"
    console.print(f"Next: openai-sync sync{used}")
