"""How setup writes a connection: into the config file and its secrets file, edited in place so that the user's
comments, order and blank lines survive; and, in a Git work tree, the .gitignore that keeps the keys out of it."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

import tomlkit

from .config import ConfigError, Secrets, Settings, secrets_path


def save(path: Path, name: str, settings: Settings, secrets: Secrets, make_default: bool | None = None) -> Path:
    """Write one connection into the config file and its keys into the secrets file (mode 0600),
    keeping the other connections. Only the keys given are written (none: the entry is emptied).
    `make_default` None: the connection becomes the default only when the file names none yet.
    Both files are edited in place: the user's comments, order and blank lines survive."""
    doc = _edit_toml(path, "# openai-sync configuration: see README (Configuration). Keys live in "
                           f"{secrets_path(path).name}.")
    _put_table(doc, path, name, settings.model_dump(by_alias=True, exclude_none=True, mode="json"))
    if make_default or (make_default is None and not doc.get("default_connection")):
        doc["default_connection"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(doc))
    sec = secrets_path(path)
    sec_doc = _edit_toml(sec, "# openai-sync keys: keep this file private (mode 0600); never commit it.")
    entry: dict[str, Any] = {}
    if secrets.admin_key:
        entry["admin_key"] = secrets.admin_key
    if secrets.project_keys:
        entry["project_keys"] = [f"{p.project_id}={p.key}" if p.project_id else p.key for p in secrets.project_keys]
    if secrets.hash_key:
        entry["hash_key"] = secrets.hash_key
    _put_table(sec_doc, sec, name, entry)
    _write_private(sec, tomlkit.dumps(sec_doc))
    return sec


def _edit_toml(path: Path, header: str) -> tomlkit.TOMLDocument:
    """The file as a document that writes back as it was read; a new one starts with `header`."""
    if not path.exists():
        doc = tomlkit.document()
        doc.add(tomlkit.comment(header.removeprefix("# ")))
        return doc
    try:
        return tomlkit.parse(path.read_text())
    except tomlkit.exceptions.ParseError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None


def _put_table(doc: tomlkit.TOMLDocument, path: Path, name: str, values: dict[str, Any]) -> None:
    """[connections.NAME] set to `values`, changing only what differs: an unchanged value keeps its line and
    comment, a changed one keeps its place and comment, a new one goes after the table's last value (not after
    the comments that introduce the next table)."""
    if "connections" not in doc:
        doc.add("connections", tomlkit.table(is_super_table=True))
    connections = doc["connections"]
    if not isinstance(connections, dict):
        raise ConfigError(f"{path}: connections must be a table of named connections")
    table = connections.get(name)
    if not isinstance(table, dict):
        fresh = tomlkit.table()
        fresh.update(values)
        connections[name] = fresh
        return
    for key in [k for k in table if k not in values]:
        del table[key]
    for key, value in values.items():
        old = table.get(key)
        if old is not None and isinstance(old, dict) == isinstance(value, dict):
            if _plain(old) != value:
                table[key] = value
            continue
        if old is not None:  # a table (project_keys = {proj_x = ...}) becomes a list, or the reverse
            del table[key]
        body = table.value.body if hasattr(table, "value") else []
        last = [k.key for k, item in body if k is not None and not isinstance(item, dict)]
        insert = getattr(table.value, "_insert_after", None) if hasattr(table, "value") else None
        if last and insert and not isinstance(value, dict):
            insert(last[-1], key, value)
        else:
            table[key] = value


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def ignore_in_git(path: Path) -> str | None:
    """Inside a Git work tree, make the .gitignore beside `path` ignore it, so that a `git add .` never commits the
    keys. A sentence says what was done; None when nothing was (not a work tree, or already ignored)."""
    path = path.absolute()
    folders = [path.parent, *path.parent.parents]
    root = next((d for d in folders if (d / ".git").exists()), None)  # a folder, or a file in a worktree
    if root is None or _ignored(path, folders[:folders.index(root) + 1]):
        return None
    gitignore = path.parent / ".gitignore"
    if gitignore.exists():
        text = gitignore.read_text()
        gitignore.write_text(text + ("\n" if text and not text.endswith("\n") else "") + path.name + "\n")
        return f"Added {path.name} to {gitignore} so that Git never commits the keys."
    gitignore.write_text(f"# openai-sync keys: never commit them\n{path.name}\n")
    return f"Created {gitignore} ignoring {path.name} so that Git never commits the keys."


def _ignored(path: Path, folders: list[Path]) -> bool:
    """Do the .gitignore files of these folders (the file's own up to the work tree's root) ignore `path`? Git's
    common rules: the last matching line wins, `!` re-includes, a `/` anchors, `dir/` ignores what is below."""
    ignored = False
    for folder in reversed(folders):  # the root's first: deeper files override it
        gitignore = folder / ".gitignore"
        if not gitignore.is_file():
            continue
        parts = path.relative_to(folder).parts
        for line in gitignore.read_text(errors="replace").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = line.removeprefix("!")
            directory = pattern.endswith("/")
            pattern = pattern.rstrip("/").removeprefix("**/")
            anchored = "/" in pattern
            pattern = pattern.removeprefix("/")
            # the file and each folder above it, as the pattern sees them: a path from here, or a name alone
            names = ["/".join(parts[:i + 1]) if anchored else part for i, part in enumerate(parts)]
            hit = any(fnmatch.fnmatchcase(n, pattern) for n in names[:-1]) or (
                not directory and fnmatch.fnmatchcase(names[-1], pattern))
            if hit:
                ignored = not negate
    return ignored


def save_service_secret(path: Path, name: str, value: str | None) -> Path:
    """Set (or, with None, remove) one of the service's secrets, [service] NAME in the secrets file (mode 0600)."""
    sec = secrets_path(path)
    doc = _edit_toml(sec, "# openai-sync keys: keep this file private (mode 0600); never commit it.")
    table = doc.get("service")
    if not isinstance(table, dict):
        table = tomlkit.table()
        doc["service"] = table
    if value is None:
        table.pop(name, None)
    else:
        table[name] = value
    _write_private(sec, tomlkit.dumps(doc))
    return sec


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.chmod(path, 0o600)  # also when the file existed with looser bits
        f.write(text)
