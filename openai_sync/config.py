"""Configuration: named connections in a TOML file, their keys in a separate secrets file (mode 0600),
environment variables, and command-line flags.

Precedence, highest first: command-line flags, environment variables, the config and secrets files,
built-in defaults. One file can hold several connections (two organizations, staging and prod, ...);
`--connection NAME` picks one, else the file's `default_connection`, else the one named `default`.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .api.keys import DEFAULT_BASE_URL, ProjectKey, key_kind, mask
from .catalog import TABLES
from .formats import check_base_url, check_cron, parse_every, parse_frequency, parse_widths
from .load import destinations
from .load.destinations import SCHEMA_RE
from .load.history import parse_ignored, refused

DEFAULT_CONFIG = "openai-sync.toml"
DEFAULT_DESTINATION = destinations.DEFAULT
KEY_RE = re.compile(r"[\x21-\x7e]+")  # what an API key is made of: printable ASCII, no space
SECRET_NAMES = ("admin_key", "project_keys", "hash_key")
TOP_LEVEL = ("default_connection", "connections", "service")  # all a config file may hold outside its connections
SERVICE_SECRETS = ("password_hash", "alert_webhook")  # the secrets file's [service] (openai-sync serve)
__all__ = ["SCHEMA_RE", "ConfigError", "ProjectKey", "Resolved", "Secrets", "Settings", "check_base_url",
           "check_cron", "parse_every", "parse_frequency", "parse_widths", "resolve"]

# environment variable -> setting (SPEC 2.1 names the first three)
ENV = {
    "OPENAI_ADMIN_KEY": "admin_key",
    "OPENAI_PROJECT_KEYS": "project_keys",
    "OPENAI_BASE_URL": "base_url",
    "OPENAI_SYNC_DESTINATION": "destination",
    "OPENAI_SYNC_SCHEMA": "schema",
    "OPENAI_SYNC_CONNECTION": "connection",
    "OPENAI_SYNC_CONFIG": "config",
}


class ConfigError(ValueError):
    """A configuration problem, in a sentence that names the file, the setting and the valid values."""


class MissingConfig(ConfigError):
    """`--config` names no file: running on the defaults instead would hide a mistyped path."""


class Settings(BaseModel):
    """The plain (non-secret) settings of one connection."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    destination: str = DEFAULT_DESTINATION
    schema_name: str = Field("openai", alias="schema")
    base_url: str = DEFAULT_BASE_URL
    tables: list[str] | None = None
    exclude_tables: list[str] | None = None  # disabled tables: never synced
    block_columns: list[str] | None = None  # TABLE.COLUMN never loaded
    hash_columns: list[str] | None = None  # TABLE.COLUMN loaded as a keyed hash (hash_key is a secret)
    history_tables: list[str] | None = None  # SCD2: every version kept, with _valid_from / _valid_to
    history_off_tables: list[str] | None = None  # history tables made plain, versions renamed aside; needs --yes
    history_ignore_columns: list[str] | None = None  # TABLE.COLUMN left out of the version hash (volatile fields)
    concurrency: int = Field(8, ge=1, le=64)
    time_budget_minutes: float | None = Field(None, gt=0)  # no request starts after it; what was read is loaded
    bucket_width: str = "1d"
    start_date: date | None = None
    lookback_hours: float = Field(24.0, ge=0)
    # audit events are listed up to minutes after their effective_at: each run re-reads this window
    audit_lookback_minutes: float = Field(60.0, ge=0)
    state_dir: str | None = None
    reconcile_every: str = "1d"  # complete listings this often; between them, what the audit log says changed
    volatile_every: str = "1d"  # last_used_at and the tables the audit log says nothing of (spend alerts)
    chat_completion_content: bool = False  # opt-in: stored completions' messages and video prompts hold user data
    # the service (openai-sync serve): how often it syncs this connection, or when (a cron expression, UTC)
    sync_frequency: str = "1h"
    sync_cron: str | None = None
    run_timeout_minutes: float = Field(240.0, gt=0)  # the service stops a run still going after this long

    @field_validator("schema_name")
    @classmethod
    def _schema(cls, v: str) -> str:
        if not SCHEMA_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not a valid schema name: use letters, digits and _, not starting with a "
                             "digit, at most 63 characters")
        return v

    @field_validator("start_date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return date.fromisoformat(v.strip())
            except ValueError:
                raise ValueError(f"{v!r} is not a date; use YYYY-MM-DD (UTC)") from None
        return v

    @field_validator("tables", "exclude_tables")
    @classmethod
    def _tables(cls, v: list[str] | None) -> list[str] | None:
        if v:
            unknown = [t for t in v if t not in TABLES]
            if unknown:
                raise ValueError(f"unknown table(s) {', '.join(unknown)}; valid tables: {', '.join(TABLES)}")
        return v or None

    @field_validator("history_tables", "history_off_tables")
    @classmethod
    def _history(cls, v: list[str] | None) -> list[str] | None:
        if v:
            wrong, ok = refused(v)
            if wrong:
                raise ValueError(f"history mode is not available for {', '.join(wrong)}; it is for organization "
                                 f"tables listed whole each run: {', '.join(ok)}")
        return v or None

    @field_validator("history_ignore_columns")
    @classmethod
    def _ignored(cls, v: list[str] | None) -> list[str] | None:
        parse_ignored(v or [])
        return v or None

    @field_validator("bucket_width", "sync_frequency", "reconcile_every", "volatile_every")
    @classmethod
    def _durations(cls, v: str, info: Any) -> str:
        if info.field_name == "bucket_width":
            parse_widths(v)
        elif info.field_name == "sync_frequency":
            parse_frequency(v)
        else:
            parse_every(v, info.field_name)
        return v

    @field_validator("sync_cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None and v.strip():
            check_cron(v)
            return v.strip()
        return None

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_base_url(v)

    @field_validator("destination")
    @classmethod
    def _destination(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the destination is empty")
        return v.strip()

    def start_epoch(self) -> int | None:
        if self.start_date is None:
            return None
        return int(datetime(self.start_date.year, self.start_date.month, self.start_date.day, tzinfo=UTC).timestamp())


@dataclass
class Secrets:
    admin_key: str | None = None
    project_keys: list[ProjectKey] = field(default_factory=list)
    hash_key: str | None = None  # the key of hash_columns

    def __repr__(self) -> str:
        return f"Secrets(admin_key={mask(self.admin_key)}, project_keys={self.project_keys!r})"

    def all_keys(self) -> list[str]:
        return [k for k in [self.admin_key, *[p.key for p in self.project_keys]] if k]


@dataclass
class Resolved:
    name: str
    settings: Settings
    secrets: Secrets
    config_path: Path
    sources: dict[str, str]  # setting -> where its value came from (flag, env, file, default)


def parse_project_keys(raw: Any, where: str) -> list[ProjectKey]:
    """A list of keys, `PROJECT_ID=KEY` strings, or a {project_id: key} table."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, dict):
        items: Any = [f"{p}={k}" for p, k in raw.items()]
    else:
        items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise ConfigError(f"{where}: project_keys must be a list of keys or a table of project_id = key")
    out = []
    for it in items:
        it = str(it).strip()
        if not it:
            continue
        pid, sep, key = it.partition("=")
        if sep and not pid.strip().startswith("proj_"):
            raise ConfigError(f"{where}: a project key is given as KEY or PROJECT_ID=KEY, with PROJECT_ID like "
                              "proj_abc123; the text before '=' is not a project id")
        pk = ProjectKey(key.strip(), pid.strip()) if sep else ProjectKey(it)
        check_key_format(pk.key, f"a project key in {where}")
        out.append(pk)
    return out


def check_key_format(key: str, what: str) -> None:
    """Refuse a key that cannot be one (a space, a line break, `…`, any non-ASCII character), without showing it:
    sent as is, it would fail far from here, in an HTTP header error that may quote it."""
    if not KEY_RE.fullmatch(key):
        raise ConfigError(f"{what} contains a character that API keys never have (a space, a line break, "
                          "'…' or another non-ASCII character): paste the whole key again, exactly as OpenAI "
                          "showed it")


def secrets_path(config_path: Path) -> Path:
    return config_path.with_name(config_path.stem + ".secrets.toml")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None


def resolve(flags: dict[str, Any], env: dict[str, str] | None = None, *, allow_new: bool = False) -> Resolved:
    """Merge defaults, files, environment and flags into one connection's settings and secrets.

    A connection chosen by name (flag, OPENAI_SYNC_CONNECTION, the file's default_connection) must exist in
    the file, unless `allow_new` (setup creates it)."""
    env = dict(os.environ) if env is None else env
    sources: dict[str, str] = {}
    config_path = Path(flags.get("config") or env.get("OPENAI_SYNC_CONFIG") or DEFAULT_CONFIG).expanduser()
    doc = _read_toml(config_path) if config_path.exists() else {}
    sec_path = secrets_path(config_path)
    sec_doc = _read_toml(sec_path) if sec_path.exists() else {}
    if sec_doc and stat.S_IMODE(sec_path.stat().st_mode) & 0o077:
        raise ConfigError(f"{sec_path} holds keys but other users can read it; run: chmod 600 {sec_path}")
    _check_top_level(doc, config_path, TOP_LEVEL)
    _check_top_level(sec_doc, sec_path, ("connections", "service"))
    connections = doc.get("connections", {})
    if not isinstance(connections, dict):
        raise ConfigError(f"{config_path}: [connections] must be a table of named connections")
    chosen = flags.get("connection") or env.get("OPENAI_SYNC_CONNECTION") or doc.get("default_connection")
    name = chosen or "default"
    if name not in connections and not allow_new and (chosen or connections):
        valid = ", ".join(connections) or "(none yet: run openai-sync setup)"
        where = config_path if config_path.exists() else f"{config_path} (no such file)"
        raise ConfigError(f"no connection named {name!r} in {where}; connections: {valid}")
    file_values = connections.get(name, {})
    if not isinstance(file_values, dict):
        raise ConfigError(f"{config_path}: [connections.{name}] must be a table")
    settings = _settings(file_values, env, flags, config_path, sources)
    file_secrets = (sec_doc.get("connections", {}) or {}).get(name, {})
    secrets = _secrets(file_secrets, env, name, sec_path)
    # a file named by --config must exist, keys in the environment or not: a mistyped path must not run on the
    # defaults (OPENAI_SYNC_CONFIG and ./openai-sync.toml may be absent: flags and environment suffice)
    if flags.get("config") and not allow_new and not config_path.exists():
        raise MissingConfig(f"{config_path} does not exist (--config); create it with `openai-sync setup --config "
                            f"{config_path}`, or fix the path")
    return Resolved(name, settings, secrets, config_path, sources)


def connection_names(flags: dict[str, Any], env: dict[str, str] | None = None) -> tuple[Path, list[str]]:
    """The config file and its connections' names, in the file's order (for `sync --all`)."""
    env = dict(os.environ) if env is None else env
    config_path = Path(flags.get("config") or env.get("OPENAI_SYNC_CONFIG") or DEFAULT_CONFIG).expanduser()
    if not config_path.exists():
        raise MissingConfig(f"{config_path} does not exist; it is where the connections (one per organization) are "
                            "read from: create them with `openai-sync setup --connection NAME`, or name another file "
                            "(--config, OPENAI_SYNC_CONFIG)")
    connections = _read_toml(config_path).get("connections", {})
    if not isinstance(connections, dict) or not connections:
        raise ConfigError(f"{config_path} has no [connections.NAME] tables: add them with `openai-sync setup "
                          "--connection NAME`")
    return config_path, list(connections)


def _shown(name: str) -> str:
    """A setting's name as an error may show it: a key pasted where a name belongs is masked."""
    return mask(name) if name.startswith("sk-") else name


def _near(name: str, valid: list[str] | tuple[str, ...]) -> str | None:
    near = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return near[0] if near else None


def _check_top_level(doc: dict[str, Any], path: Path, valid: tuple[str, ...]) -> None:
    """Refuse a misspelt top-level name before anything is read: ignored, it would silently leave every connection
    on its defaults (`default_conection`) or without its settings (`[conections.prod]`)."""
    for key, value in doc.items():
        if key in valid:
            continue
        near = _near(key, valid)
        sub = next((k for k, v in value.items() if isinstance(v, dict)), None) if isinstance(value, dict) else None
        # no [brackets]: messages are printed as rich markup, which would take them for a style
        name = f"{_shown(key)}.{_shown(sub)}" if sub else _shown(key)
        what = f"table {name}" if isinstance(value, dict) else f"setting {name}"
        if near:
            hint = f" (did you mean {near}.{_shown(sub)}?)" if sub else f" (did you mean {near}?)"
        else:
            listed = ", ".join(valid[:-1]) + f" and {valid[-1]}" if len(valid) > 1 else valid[0]
            hint = (f"; at the top level only {listed} belong, a connection's settings go in its "
                    "table, connections.NAME")
        raise ConfigError(f"unknown {what} in {path}{hint}")


def _settings(file_values: dict[str, Any], env: dict[str, str], flags: dict[str, Any], config_path: Path,
              sources: dict[str, str]) -> Settings:
    """The file's values, overridden by the environment's, overridden by the flags'; `sources` says which."""
    values: dict[str, Any] = {}
    for k, v in file_values.items():
        values[k] = v
        sources[k] = f"file {config_path}"
    for var, setting in ENV.items():
        if (setting in Settings.model_fields or setting == "schema") and env.get(var):
            values[setting] = env[var]
            sources[setting] = f"env {var}"
    for k, v in flags.items():
        if k in ("config", "connection") or v is None:
            continue
        values[k] = v
        sources[k] = "flag"
    try:
        return Settings.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "?"
        loc = "schema" if loc == "schema_name" else loc
        origin = sources.get(loc, "")
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden" and loc in SECRET_NAMES:
            msg = (f"keys do not belong in the config file; move {loc} to {secrets_path(config_path)} (mode 0600) "
                   "or the environment")
        elif first["type"] == "extra_forbidden":
            valid = ["schema" if f == "schema_name" else f for f in Settings.model_fields]
            near = _near(loc, valid)
            msg = f"unknown setting{f' (did you mean {near}?)' if near else ''}; valid settings: {', '.join(valid)}"
            loc = _shown(loc)
        raise ConfigError(f"{loc}: {msg}" + (f" (from {origin})" if origin else "")) from None


def _secrets(file_secrets: Any, env: dict[str, str], name: str, sec_path: Path) -> Secrets:
    """The keys: from the environment, else from the connection's entry in the secrets file."""
    if not isinstance(file_secrets, dict):
        raise ConfigError(f"{sec_path}: [connections.{name}] must be a table")
    unknown = [k for k in file_secrets if k not in SECRET_NAMES]
    if unknown:
        near = _near(unknown[0], SECRET_NAMES)
        raise ConfigError(f"{sec_path}: unknown setting {_shown(unknown[0])!r} in [connections.{name}]"
                          f"{f' (did you mean {near}?)' if near else ''}; valid: {', '.join(SECRET_NAMES)}")
    admin_key = (env.get("OPENAI_ADMIN_KEY") or str(file_secrets.get("admin_key") or "")).strip() or None
    if admin_key:
        check_key_format(admin_key, "the Admin key (from " + (
            "OPENAI_ADMIN_KEY)" if env.get("OPENAI_ADMIN_KEY") else f"{sec_path})"))
    return Secrets(
        hash_key=env.get("OPENAI_SYNC_HASH_KEY") or (str(file_secrets["hash_key"]) if file_secrets.get("hash_key")
                                                    else None),
        admin_key=admin_key,
        project_keys=parse_project_keys(env.get("OPENAI_PROJECT_KEYS"), "OPENAI_PROJECT_KEYS")
        if env.get("OPENAI_PROJECT_KEYS") else parse_project_keys(file_secrets.get("project_keys"), str(sec_path)),
    )


def default_connection(path: Path) -> str:
    """The connection used when none is named: the file's default_connection, else `default`."""
    doc = _read_toml(path) if path.exists() else {}
    return str(doc.get("default_connection") or "default")


def key_problems(secrets: Secrets) -> list[str]:
    """Keys pasted in the wrong place, found from their prefixes alone."""
    out = []
    if secrets.admin_key and key_kind(secrets.admin_key) == "project":
        out.append(f"the Admin key {mask(secrets.admin_key)} is a project key (sk-proj-...)")
    for p in secrets.project_keys:
        if key_kind(p.key) == "admin":
            out.append(f"the project key {mask(p.key)} is an Admin key (sk-admin-...)")
    return out
