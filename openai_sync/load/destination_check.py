"""Is the destination usable? Reachable and writable, checked before a sync reads anything, and by Save &
Test. Only reads (and writes a probe file in a lake's folder); never loads data."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

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
    kind = destinations.kind(destination)
    if kind == "duckdb":
        return _check_duckdb(destination, schema)
    if kind == "postgres":
        return _check_postgres(destinations.normalize(destination), schema)
    if kind == "filesystem":
        return _check_folder(destination, schema)
    from dlt.common.destination import Destination

    try:
        Destination.from_reference(destination)
    except Exception:  # dlt raises several kinds; none of them says more than this
        import dlt.destinations

        names = ", ".join(n for n in dlt.destinations.__all__ if n not in ("destination", "dummy"))
        return Check("destination", FAIL, f"{destination!r} is not a destination: use a DuckDB path (ending in "
                                          ".duckdb, or duckdb:///PATH), postgresql://USER@HOST:PORT/DB, "
                                          f"filesystem:///FOLDER, or one of dlt's destinations: {names}.")
    return Check("destination", WARN, f"{destination!r} is a destination that dlt configures itself (its "
                                      "credentials in .dlt/secrets.toml or the environment); it cannot be checked "
                                      "here, the first sync will tell.")


def _check_duckdb(destination: str, schema: str) -> Check:
    path = destinations.duckdb_path(destination)
    folder = path.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        return Check("destination", FAIL, f"the folder {folder} {what}; create it or choose another DuckDB "
                                          "path.")
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


def _check_folder(destination: str, schema: str) -> Check:
    folder = destinations.filesystem_path(destination).resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".openai-sync-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return Check("destination", FAIL, f"the folder {folder} is not writable ({e.strerror}); choose another "
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
