"""Is the destination usable? Reachable and writable, checked before a sync reads anything, and by Save &
Test. Only reads (and writes a probe file in a lake's folder); never loads data."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from . import destinations

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def check_destination(destination: str, schema: str) -> Check:
    if not destinations.SCHEMA_RE.fullmatch(schema):
        return Check("destination", FAIL, f"the schema name {schema!r} is not valid: use letters, digits and _, "
                                          "not starting with a digit.")
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    actual = NamingConvention().normalize_identifier(schema)
    found = _check_destination(destination, actual)
    if actual != schema and found.status == PASS:
        return Check("destination", WARN, f"{found.message} dlt writes snake_case names, so schema {schema!r} "
                                          f"becomes {actual!r}; set --schema {actual} to use the name you get.")
    return found


def _check_destination(destination: str, schema: str) -> Check:
    problem = destinations.form_problem(destination)
    if problem:
        return Check("destination", FAIL, problem + ".")
    kind = destinations.kind(destination)
    if kind == "duckdb":
        return _check_duckdb(destination, schema)
    if kind == "postgres":
        return _check_postgres(destinations.normalize(destination), schema)
    if kind == "filesystem":
        return _check_folder(destination, schema)
    return _check_named(destination)


def _check_named(name: str) -> Check:
    """A destination dlt configures itself: known to dlt, its packages installed, and its credentials where dlt
    looks for them (.dlt/secrets.toml or the environment, under destination.NAME.credentials)."""
    import difflib

    import dlt.destinations
    from dlt.common.configuration.exceptions import ConfigFieldMissingException
    from dlt.common.destination import Destination
    from dlt.common.exceptions import MissingDependencyException

    names = [n for n in dlt.destinations.__all__ if n not in ("destination", "dummy")]
    if name not in names:
        near = difflib.get_close_matches(name, names, n=1)
        said = f" (did you mean {near[0]}?)" if near else ""
        return Check("destination", FAIL, f"{name!r} is not a destination{said}: use {destinations.FORMS}; dlt's "
                                          f"destinations are {', '.join(names)}.")
    try:
        dest = Destination.from_reference(name)
        dest.configuration(dest.spec(), accept_partial=False)
    except MissingDependencyException:
        return Check("destination", FAIL, f"dlt's {name} destination needs packages that are not installed: "
                                          f"install them with pip install 'dlt[{name}]' beside openai-sync.")
    except ConfigFieldMissingException as e:
        missing = [f for f in getattr(e, "fields", []) if f not in ("dataset_name", "local_dir")]
        if missing:
            env = f"DESTINATION__{name.upper()}__{missing[0].upper()}"
            return Check("destination", FAIL, f"dlt's {name} destination has no {', '.join(missing)}: set them in "
                                              f".dlt/secrets.toml under [destination.{name}.{missing[0]}], or in "
                                              f"the environment ({env}__...), then run again.")
    return Check("destination", WARN, f"{name!r} is a destination that dlt configures itself; its credentials are "
                                      "set, but it cannot be reached from here: the first sync will tell.")


def _check_duckdb(destination: str, schema: str) -> Check:
    path = destinations.duckdb_path(destination)
    folder = path.parent
    if not folder.is_dir():  # never created here: a typo must not leave folders behind (at / when root)
        if folder.exists():
            return Check("destination", FAIL, f"{folder} is a file, not a folder; choose another DuckDB path.")
        return Check("destination", FAIL, f"the folder {folder} does not exist{_missing(folder)}; create it "
                                          f"(mkdir -p {folder}) or choose another DuckDB path.")
    if path.is_dir():
        return Check("destination", FAIL, f"{path} is a folder; give the path of a DuckDB file in it, "
                                          f"such as {path / 'openai.duckdb'}.")
    collision = destinations.duckdb_collision(destination, schema)
    if collision:
        return Check("destination", FAIL, collision)
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return Check("destination", FAIL, f"{path} is on a read-only file system; mount it read-write or "
                                              "choose another path.")
        return Check("destination", FAIL, f"{path} is not writable by this user; fix its permissions or choose "
                                          "another path.")
    if not path.exists():
        unwritable = _write_probe(folder)
        if unwritable:
            return Check("destination", FAIL, f"{path} cannot hold a database: {unwritable}; choose another "
                                              "path.")
    if path.exists():
        import duckdb

        try:
            duckdb.connect(str(path)).close()
        except duckdb.Error as e:
            first = str(e).splitlines()[0]
            hint = ("it is not a DuckDB database: choose another path, or move that file away"
                    if "not a valid DuckDB database" in first else "is another process using it?")
            return Check("destination", FAIL, f"{path} cannot be opened ({type(e).__name__}: {first}); "
                                              f"{hint}.")
    return Check("destination", PASS, f"DuckDB file {path} is writable; tables go in schema {schema!r}.")


def _missing(folder: Path) -> str:
    """Why the folder does not exist, when more than its own name is missing: the first missing folder on the
    way (`/srv has no data`), or a file in the way."""
    ancestor = folder
    while not ancestor.exists() and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f" ({ancestor} is a file)"
    if ancestor == folder.parent:
        return ""
    return f" ({ancestor} has no {folder.relative_to(ancestor).parts[0]})"


def _write_probe(folder: Path) -> str | None:
    """Why a new file cannot be created in the folder (a read-only mount, /proc, permissions), or None. Creating
    one is the only reliable test: os.access says yes to root on /proc, where nothing can be created."""
    probe = folder / f".openai-sync-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"a file cannot be created in {folder} ({e.strerror or type(e).__name__})"
    return None


def _check_folder(destination: str, schema: str) -> Check:
    folder = destinations.filesystem_path(destination).resolve()
    if not folder.parent.is_dir():  # the lake's own folder is created, never its parents
        return Check("destination", FAIL, f"the folder {folder.parent} does not exist{_missing(folder.parent)}; "
                                          f"create it (mkdir -p {folder.parent}) or choose another folder.")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        return Check("destination", FAIL, f"the folder {folder} cannot be created ({e.strerror}); choose another "
                                          "folder or fix its permissions.")
    unwritable = _write_probe(folder) if folder.is_dir() else f"{folder} is a file"
    if unwritable:
        return Check("destination", FAIL, f"the folder {folder} is not writable: {unwritable}; choose another "
                                          "folder or fix its permissions.")
    return Check("destination", PASS, f"folder {folder} is writable; tables go in {folder / schema} as Delta "
                                      "tables (Parquet files with a transaction log).")


def _check_postgres(dsn: str, schema: str) -> Check:
    import psycopg2

    shown = destinations.shown(dsn)
    try:
        con = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Check("destination", FAIL, f"cannot connect to {shown}: {first}. Check the host, port, user and "
                                          "that the server accepts connections.")
    try:
        with con.cursor() as cur:
            cur.execute("SELECT has_database_privilege(current_user, current_database(), 'CREATE'), "
                        "(SELECT nspname FROM pg_namespace WHERE nspname = %s), "
                        "has_schema_privilege(current_user, coalesce((SELECT nspname FROM pg_namespace "
                        "WHERE nspname = %s), 'public'), 'CREATE')", (schema, schema))
            can_create_schema, exists, can_create_in = cur.fetchone()
    finally:
        con.close()
    if exists and not can_create_in:
        return Check("destination", FAIL, f"the user may not create tables in schema {schema!r} of {shown}; grant "
                                          f"CREATE on schema {schema} to it.")
    if not exists and not can_create_schema:
        return Check("destination", FAIL, f"schema {schema!r} does not exist in {shown} and the user may not create "
                                          f"it; create it, or grant CREATE on the database.")
    return Check("destination", PASS, f"PostgreSQL {shown} is reachable; tables go in schema {schema!r}.")
