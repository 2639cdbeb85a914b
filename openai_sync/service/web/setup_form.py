"""The setup form (a new connection, or one to edit): its fields read into settings and keys, checked like
`openai-sync test`, and saved only when no check fails (or on an explicit "save anyway").

Keys are write-only: a saved key is shown masked and never sent to the browser; an empty Admin key field keeps
the saved key. Keys typed into a form that failed its test wait in the server-side session (not in the page),
so that "save anyway" needs no retyping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ...api.keys import ProjectKey, mask
from ...config import ConfigError, Resolved, Secrets, Settings, check_key_format, parse_project_keys
from ...config_files import save
from ...load import destinations

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
FIELDS = ("schema", "destination", "base_url", "sync_frequency")


@dataclass
class Draft:
    """What the form holds: plain values as typed, and the keys (kept server-side, shown masked)."""

    name: str = ""
    target: str | None = None  # the connection being edited; None for a new one
    values: dict[str, str] = field(default_factory=dict)
    secrets: Secrets = field(default_factory=Secrets)
    errors: list[str] = field(default_factory=list)
    checks: list[dict[str, str]] = field(default_factory=list)

    def shown_keys(self) -> dict[str, Any]:
        return {"admin": mask(self.secrets.admin_key) if self.secrets.admin_key else None,
                "project": [mask(p.key) + (f" ({p.project_id})" if p.project_id else "")
                            for p in self.secrets.project_keys]}

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(c["status"] == "fail" for c in self.checks)


def start(existing: Resolved | None) -> Draft:
    s = existing.settings if existing else Settings()
    values = {"schema": s.schema_name, "destination": destinations.shown(s.destination), "base_url": s.base_url,
              "sync_frequency": s.sync_frequency}  # a database password in the destination is not shown
    if existing is None:
        return Draft("", None, values)
    return Draft(existing.name, existing.name, values, existing.secrets)


def read(form: Any, draft: Draft, existing: Resolved | None, taken: set[str]) -> Draft:
    """The form's values over the draft: plain values as typed, keys added, kept or removed."""
    out = replace(draft, values={f: str(form.get(f, "")).strip() for f in FIELDS}, errors=[], checks=[])
    if existing is None:
        out.name = str(form.get("name", "")).strip()
        if not NAME_RE.fullmatch(out.name):
            out.errors.append("Connection name: use 1 to 40 letters, digits, - or _ (for example prod).")
        elif out.name in taken:
            out.errors.append(f"Connection name: {out.name} exists already; open it to edit it.")
    admin = str(form.get("admin_key", "")).strip()
    secrets = replace(out.secrets)
    try:
        if admin:
            check_key_format(admin, "The Admin API key")
            secrets.admin_key = admin
        kept = [p for i, p in enumerate(secrets.project_keys) if form.get(f"keep_{i}")]
        added = parse_project_keys(str(form.get("project_keys", "")).splitlines(), "Project API keys")
        secrets.project_keys = _unique([*kept, *added])
    except ConfigError as e:
        out.errors.append(str(e))
    out.secrets = secrets
    return out


def _unique(keys: list[ProjectKey]) -> list[ProjectKey]:
    seen: dict[str, ProjectKey] = {}
    for k in keys:
        seen.setdefault(k.key, k)
    return list(seen.values())


def settings_of(draft: Draft, existing: Resolved | None) -> Settings | None:
    """The connection's settings: the existing ones with the form's four fields, validated."""
    base = existing.settings.model_dump(by_alias=True, exclude_none=True) if existing else {}
    values = {**base, **{k: v for k, v in draft.values.items() if v}}
    if existing and values.get("destination") == destinations.shown(existing.settings.destination):
        values["destination"] = existing.settings.destination  # unchanged: its hidden password kept
    elif destinations.shown(values.get("destination", "")) != values.get("destination", ""):
        draft.values["destination"] = destinations.shown(values["destination"])  # not echoed to the page
        draft.errors.append("Destination: leave the database password out (the config file is not secret): put it "
                            "in ~/.pgpass or PGPASSWORD of the service's environment")
        return None
    try:
        return Settings.model_validate(values)
    except ValidationError as e:
        for err in e.errors():
            where = {"schema_name": "Destination schema", "destination": "Destination", "base_url": "Base URL",
                     "sync_frequency": "Sync frequency"}.get(str(err["loc"][0]), str(err["loc"][0]))
            draft.errors.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        return None


def resolved(draft: Draft, settings: Settings, config: Path) -> Resolved:
    return Resolved(draft.name, settings, draft.secrets, config, {})


def store(config: Path, draft: Draft, settings: Settings, identified: dict[str, str], hash_key: str | None) -> None:
    """Save the connection; a project key whose project Save & Test found is saved as PROJECT_ID=KEY. The hash
    key is the file's as it is now (the connection page may have made one since the form was opened)."""
    keys = [p if p.project_id or p.key not in identified else ProjectKey(p.key, identified[p.key])
            for p in draft.secrets.project_keys]
    save(config, draft.name, settings, replace(draft.secrets, project_keys=keys, hash_key=hash_key))


def table_settings(existing: Resolved, form: Any, hash_key: str | None) -> tuple[Settings, Secrets]:
    """The connection page's form: tables on and off, history mode, blocked and hashed columns, schedule."""
    from ...catalog import TABLES

    s = existing.settings
    enabled = {t for t in TABLES if form.get(f"enabled_{t}")}
    history = [t for t in TABLES if form.get(f"history_{t}")]
    values = s.model_dump(by_alias=True, exclude_none=True)
    values["exclude_tables"] = [t for t in TABLES if t not in enabled] or None
    values.pop("tables", None)  # the boxes are the whole choice: an include list would silently win over them
    values["history_tables"] = history or None
    for name in ("block_columns", "hash_columns"):
        values[name] = [c.strip() for c in str(form.get(name, "")).replace("\n", ",").split(",") if c.strip()] or None
    for name in ("sync_frequency", "sync_cron"):
        values[name] = str(form.get(name, "")).strip() or None
    values = {k: v for k, v in values.items() if v is not None}
    settings = Settings.model_validate(values)
    secrets = existing.secrets
    if settings.hash_columns and not secrets.hash_key:
        secrets = replace(secrets, hash_key=hash_key)  # a key of its own for the hashes, kept with the others
    return settings, secrets
