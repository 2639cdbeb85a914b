"""One sync per connection at a time.

Two syncs of the same destination and schema would race on dlt's local working folder and on the
watermarks. A second one is refused, with who holds the lock:
- on this machine, with an exclusive `flock` on a file beside dlt's working folder (the kernel drops it
  when the holder dies, even by SIGKILL, so a lock is never stale);
- on PostgreSQL, also with a session advisory lock, so that two machines syncing into the same database
  and schema cannot overlap either.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..api.errors import SyncError


class Busy(SyncError):
    pass


def _pipelines_dir(pipelines_dir: str | None) -> Path:
    if pipelines_dir:
        return Path(pipelines_dir)
    from dlt.common.pipeline import get_dlt_pipelines_dir

    return Path(get_dlt_pipelines_dir())


@contextlib.contextmanager
def exclusive(name: str, pipelines_dir: str | None, what: str, pg_dsn: str | None = None,
              schema: str = "", wait: float = 0) -> Iterator[None]:
    """Hold the lock of pipeline `name` for the duration; raise Busy at once if another run holds it, or, given
    `wait` seconds, after waiting that long for it (several organizations' loads into one schema take turns)."""
    folder = _pipelines_dir(pipelines_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        until = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < until:
                    time.sleep(0.2)
                    continue
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                if wait:
                    raise Busy(f"waited {wait / 60:.0f} minutes for another organization's load into {what} "
                               f"({holder}); nothing of this run was loaded, and the next run reads it again") \
                        from None
                raise Busy(f"another sync of {what} is running ({holder}); it was left alone. Wait for it to "
                           "finish (each connection syncs one run at a time).") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC".encode(), 0)
        # advisory locks are per database: the schema is the key, however the connection string is spelled
        with _pg_lock(pg_dsn, f"openai_sync|{schema.lower()}", what, wait):
            yield
    finally:
        os.close(fd)  # closing releases the flock


def pg_key(name: str) -> int:
    """The advisory lock id of a pipeline: 64 bits of its name's hash."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextlib.contextmanager
def _pg_lock(dsn: str | None, name: str, what: str, wait: float = 0) -> Iterator[None]:
    if not dsn:
        yield
        return
    import psycopg2
    import psycopg2.errors

    key = pg_key(name)
    try:
        con: Any = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error:
        yield  # the load itself will say why the database cannot be reached
        return
    try:
        con.autocommit = True
        with con.cursor() as cur:
            if wait:
                cur.execute(f"SET lock_timeout = '{int(wait * 1000)}ms'")
                try:
                    cur.execute("SELECT pg_advisory_lock(%s)", (key,))
                except psycopg2.errors.LockNotAvailable:
                    raise Busy(f"waited {wait / 60:.0f} minutes for another organization's load into {what} (on "
                               "another machine); nothing of this run was loaded, and the next run reads it "
                               "again") from None
                yield
                return
            cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            if not cur.fetchone()[0]:
                raise Busy(f"another sync of {what} is running on another machine (PostgreSQL holds its advisory "
                           "lock); it was left alone. Wait for it to finish.")
        yield
    finally:
        con.close()  # ends the session, which releases the advisory lock
