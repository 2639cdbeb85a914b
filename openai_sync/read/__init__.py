"""Reading the API into rows: one reader per strategy of the catalog, chosen through `READERS`.

A reader is a generator `reader(ctx, table, state)` of pages (lists of row dicts, or Arrow tables for
usage and costs). It writes what it learns about completeness into `ctx.ledger`, moves its own `state` (the
table's dlt state, handed in by the load layer) only when it finished, and never knows where rows go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..catalog import Strategy, Table
from .audit import read_audit
from .buckets import read_buckets
from .context import ReadContext
from .fanout import read_fanout
from .listing import read_listing
from .projects import read_project_table

Reader = Callable[[ReadContext, Table, dict[str, Any]], Iterator[Any]]

READERS: dict[Strategy, Reader] = {
    "listing": read_listing,
    "fanout": read_fanout,
    "settings": read_fanout,
    "audit": read_audit,
    "buckets": read_buckets,
    "project": read_project_table,
}


def reader_of(table: Table) -> Reader:
    return READERS[table.strategy]
