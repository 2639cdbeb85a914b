"""Destination strings: what the user writes (`--destination`) and what dlt needs.

- `duckdb:///PATH` (PATH absolute, or `./relative`), or a bare path ending in `.duckdb`;
- `postgresql://USER[:PASSWORD]@HOST:PORT/DB`;
- `filesystem:///FOLDER` (Parquet files);
- any other word: the name of a destination configured through dlt (BigQuery, Snowflake, ...).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# Not ./openai.duckdb: DuckDB would name that database "openai", like the default schema, and
# `openai.users` would be ambiguous (see duckdb_collision).
DEFAULT = "duckdb:///./openai_sync.duckdb"
SCHEMA_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")  # a schema (dataset) name every destination accepts


def normalize(spec: str) -> str:
    spec = spec.strip()
    if spec.endswith(".duckdb") and "://" not in spec:
        return "duckdb:///" + (spec if spec.startswith(("/", "./", "../", "~")) else "./" + spec)
    return spec


FORMS = ("a DuckDB path (ending in .duckdb, or duckdb:///PATH), postgresql://USER@HOST:PORT/DB, "
         "filesystem:///FOLDER, or the name of a dlt destination (snowflake, bigquery, ...)")
NAME_RE = re.compile(r"[a-z][a-z0-9_]*")  # a dlt destination's name


def form_problem(spec: str) -> str | None:
    """What is wrong with the destination string's form, or None. Pure: nothing is opened or imported."""
    spec = normalize(spec)
    low = spec.lower()
    if low.startswith(("postgresql:", "postgres:")) and kind(spec) != "postgres":
        return (f"{shown(spec)!r} is not a PostgreSQL DSN: it starts with postgresql:// (two slashes), as in "
                "postgresql://USER@HOST:5432/DB")
    if low.startswith(("duckdb:", "filesystem:")) and not low.startswith(("duckdb:///", "filesystem:///")):
        scheme = low.split(":", 1)[0]
        return (f"{spec!r} is not a {scheme} destination: write {scheme}:/// and the path, e.g. {scheme}:///./data"
                f"{'.duckdb' if scheme == 'duckdb' else ''} (relative) or {scheme}:///srv/data"
                f"{'.duckdb' if scheme == 'duckdb' else ''} (absolute)")
    if kind(spec) == "duckdb" and duckdb_path(spec).name in ("", ".", ".."):
        return f"{spec!r} names no DuckDB file: add the file's name, e.g. duckdb:///./openai_sync.duckdb"
    if kind(spec) == "named" and not NAME_RE.fullmatch(spec):
        hint = (" (a DuckDB file's name ends in .duckdb)" if re.search(r"[./\\]", spec) and "://" not in spec
                else "")
        return f"{shown(spec)!r} is not a destination I know{hint}: use {FORMS}"
    return None


def kind(spec: str) -> str:
    spec = normalize(spec)
    if spec.startswith("duckdb://"):
        return "duckdb"
    if spec.startswith(("postgresql://", "postgres://")):
        return "postgres"
    if spec.startswith("filesystem://"):
        return "filesystem"
    return "named"


def duckdb_path(spec: str) -> Path:
    """The DuckDB file, absolute: a relative path means the working directory of this run, so that the
    same `./x.duckdb` in two folders is two destinations (and dlt does not reuse a path stored earlier)."""
    rest = normalize(spec)[len("duckdb://"):]
    if rest.startswith("//") or rest.startswith("/./") or rest.startswith("/../") or rest.startswith("/~"):
        rest = rest[1:]
    return Path(rest).expanduser().absolute()


def identity(spec: str) -> str:
    """What makes two destination strings the same destination (a DuckDB file's absolute path)."""
    return f"duckdb://{duckdb_path(spec)}" if kind(spec) == "duckdb" else normalize(spec)


def filesystem_path(spec: str) -> Path:
    return Path(normalize(spec)[len("filesystem://"):]).expanduser()


def duckdb_collision(spec: str, schema: str) -> str | None:
    """DuckDB names a database after its file: `openai.duckdb` holding schema `openai` makes `openai.users`
    ambiguous (catalog or schema?), for dlt's load and for anyone querying the file. Say so, or None."""
    if kind(spec) != "duckdb":
        return None
    path = duckdb_path(spec)
    if path.stem.lower() != schema.lower():
        return None
    return (f"DuckDB names the database after its file, so {path.name} and schema {schema!r} collide and the load "
            f"would fail; name the file otherwise (e.g. {schema}_data.duckdb) or choose another schema.")


LAKE_NO_HISTORY = ("history mode is not available on the filesystem destination: dlt cannot keep SCD2 versions in "
                   "Delta tables. Sync the history tables into DuckDB or PostgreSQL, or turn history_tables off.")


def shown(spec: str) -> str:
    """The destination as it may be printed: any password hidden."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", spec)


# dlt 1.31 leaves `supports_transactions` unset for DuckDB and PostgreSQL, so a merge's DELETE and INSERT
# ran as two autocommitted statements: a process killed between them lost the deleted rows until the
# next run. Both databases have transactions; saying so makes each table's merge atomic (tests/test_kill.py).
ATOMIC = {"supports_transactions": True}
# the large organization's load (3.06M rows, bench/perf.py): peak RSS 579 MiB and 19.6 s at 128MB, 636 MiB and 13.5 s
# at 256MB (803 MB and 18 s at 512MB, before); with every project key (4.39M rows, bench/memory_phases.py) the load
# peaked at 678 MiB at 128MB, 783 MiB at 256MB
DUCKDB_MEMORY = "128MB"
DUCKDB_LOAD_WORKERS = 2


def out_of_memory(e: BaseException | None) -> bool:
    """Whether DuckDB ran out of its capped buffer pool, somewhere in the exception's chain."""
    for _ in range(20):
        if e is None:
            return False
        if type(e).__name__ == "OutOfMemoryException" or "Out of Memory Error" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def load_workers(destination: Any) -> int:
    """How many of a load's jobs run at once. DuckDB runs each job on every core already, so jobs in parallel only
    add up their memory (dlt's 20 at once outgrew the buffer pool's cap with every project's tables); the other
    destinations keep dlt's default."""
    return DUCKDB_LOAD_WORKERS if getattr(destination, "destination_type", "") == "dlt.destinations.duckdb" else 20


def lift_memory_cap(destination: Any) -> bool:
    """Drop the cap on DuckDB's buffer pool (back to DuckDB's default, 80 % of RAM) for the next connections.
    False when there was no cap to lift (not DuckDB, or lifted already)."""
    creds = getattr(destination, "config_params", {}).get("credentials")
    config = getattr(creds, "global_config", None)
    if not isinstance(config, dict) or "memory_limit" not in config:
        return False
    del config["memory_limit"]
    return True


def make(spec: str) -> Any:
    """The dlt destination for a destination string."""
    import dlt  # here: `openai-sync --help` and the config parser need none of dlt

    k = kind(spec)
    if k == "duckdb":
        path = duckdb_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        # DuckDB's buffer pool defaults to 80 % of the machine's memory; a merge of millions of usage rows
        # would take gigabytes of it. Capped, DuckDB spills to a temporary folder beside the file instead.
        # Without insertion order kept, its inserts need less memory (nothing here reads rows in that order).
        creds = DuckDbCredentials(str(path), global_config={"memory_limit": DUCKDB_MEMORY,
                                                            "preserve_insertion_order": False})
        return dlt.destinations.duckdb(creds, **ATOMIC)
    if k == "postgres":
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        creds = PostgresCredentials()
        creds.parse_native_representation(normalize(spec))
        if creds.password is None:
            creds.password = ""  # trust or peer authentication, or a password in ~/.pgpass / PGPASSWORD
        creds.resolve()
        # no UNIQUE constraint on _dlt_id: a package resumed after a kill may insert a staging file that the
        # killed run had inserted but not marked done; the merge dedups by primary key (tests/test_kill.py)
        return dlt.destinations.postgres(credentials=creds, create_indexes=False, **ATOMIC)
    if k == "filesystem":
        path = filesystem_path(spec).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.filesystem(bucket_url="file://" + str(path))
    return spec
