"""Reading the API into rows: one reader per strategy of the catalog, chosen through `READERS`.

A reader is a generator `reader(ctx, table, state)` of pages (lists of row dicts, or Arrow tables for
usage and costs). It writes what it learns about completeness into `ctx.ledger`, moves its own `state` (the
table's dlt state, handed in by the load layer) only when it finished, and never knows where rows go.
`STATE` says which state a strategy keeps: its table's own, the project tables' shared one (read only: it
moves in the ledger until the run knows which projects fully succeeded), or none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

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


STATE: dict[Strategy, Literal["table", "projects"]] = {"audit": "table", "buckets": "table", "project": "projects",
                                                      "listing": "table", "fanout": "table", "settings": "table"}


def reader_of(table: Table) -> Reader:
    return READERS[table.strategy]


def state_kind(table: Table) -> Literal["table", "projects"] | None:
    return STATE.get(table.strategy)
