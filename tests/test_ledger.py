"""The ledger's per-scope facts: written by many readers at once, read back whole, kept out of the small-object heap."""

from __future__ import annotations

import gc
import threading
from datetime import UTC, datetime
from typing import Any

from openai_sync.read.ledger import WHOLE, Ledger, scope_of


def test_facts_read_back_as_written_and_a_scopes_later_fact_replaces_the_earlier():
    led = Ledger()
    at = datetime(2026, 11, 1, tzinfo=UTC)
    led.listed("projects", WHOLE, 2, ["proj_a", "proj_b"])
    led.listed("project_api_keys", scope_of(project_id="proj_a"), 5)
    led.listed("project_api_keys", scope_of(project_id="proj_a"), 3, before=at)  # the same scope again
    led.failed("project_api_keys", scope_of(project_id="proj_b"), "403 Forbidden")
    state = {"watermark": 10, "open": ["batch_1"]}
    led.advance("batches", "proj_a/", state)
    led.latest("users", ("user_1",), {"last_used_at": 5})
    state["open"].append("later")  # the ledger keeps what was recorded, not the caller's object

    assert led.listings("projects")[WHOLE].ids == ("proj_a", "proj_b")
    kept = led.complete("project_api_keys")
    assert {s: (v.rows, v.before) for s, v in kept.items()} == {(("project_id", "proj_a"),): (3, at)}
    assert led.failures("project_api_keys") == {(("project_id", "proj_b"),): "403 Forbidden"}
    assert led.failed_projects(["project_api_keys", "projects"]) == {"proj_b"}
    assert led.next_states() == {("batches", "proj_a/"): {"watermark": 10, "open": ["batch_1"]}}
    assert led.latest_values("users") == [(("user_1",), {"last_used_at": 5})]

    led.listed("project_api_keys", scope_of(project_id="proj_c"), 1)  # written after a read: seen by the next
    assert set(led.complete("project_api_keys")) == {(("project_id", "proj_a"),), (("project_id", "proj_c"),)}
    led.stop("project_api_keys", "boom")
    assert led.complete("project_api_keys") == {}  # a stopped table marks nothing deleted
    assert len(led.listings("project_api_keys")) == 2  # its listings still serve its children


def test_readers_writing_at_once_lose_no_fact():
    led = Ledger()

    def write(t: int) -> None:
        for i in range(500):
            led.listed("files", scope_of(project_id=f"proj_{t}", vector_store_id=f"vs_{i}"), i)
            led.advance("files", f"proj_{t}/vs_{i}", {"watermark": i})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(led.complete("files")) == len(led.next_states()) == 4000
    assert led.complete("files")[scope_of(project_id="proj_7", vector_store_id="vs_499")].rows == 499


def test_facts_are_not_kept_as_small_objects_while_readers_write():
    # a listing per project's parent object (tens of thousands with every project key), each made while pages
    # were parsed, would keep its block of Python's small-object allocator alive after the pages were freed
    led = Ledger()
    led.listed("warm", WHOLE, 0)
    gc.collect()
    before = len(gc.get_objects())
    for i in range(20_000):
        led.listed("vector_store_files", scope_of(project_id="proj_a", vector_store_id=f"vs_{i}"), i, None)
        led.advance("vector_store_files", f"proj_a/vs_{i}", {"watermark": i, "open": [f"file_{i}"]})
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert len(led.complete("vector_store_files")) == 20_000  # and all of them read back once reading is over


def test_objects_found_gone_one_by_one_mark_their_rows_children_and_the_rows_naming_them():
    """A user retrieved by id and found gone (Ledger.gone): their row, their roles (the parent cascade) and the
    rows naming them (changes.REFERENCES) are marked, deleted or retired, and nothing else."""
    from datetime import UTC, datetime

    from openai_sync.catalog import TABLES
    from openai_sync.load import deletes
    from openai_sync.load.history import VALID_TO
    from openai_sync.read.ledger import Ledger

    class Store:
        def __init__(self) -> None:
            self.marked: list[tuple[str, Any, Any, dict[str, Any]]] = []

        def content(self, *args: Any) -> None:
            return None

        def mark(self, table, rows, values) -> int:
            self.marked.append((table.name, rows.live, rows.scopes, values))
            return 1

    ledger, at = Ledger(), datetime(2026, 12, 1, tzinfo=UTC)
    ledger.gone("users", ["user-1", "user-2"])
    assert ledger.gone_ids("users") == {"user-1", "user-2"}
    store = Store()
    for name in ("users", "user_roles", "project_users", "group_users", "project_user_roles", "projects"):
        deletes.soft_delete(store, TABLES[name], ledger, at, "org-1")
    scopes = {name: scope for name, _live, scope, _v in store.marked}
    assert scopes == {"users": ((("id", "user-1"),), (("id", "user-2"),)),
                      "user_roles": ((("user_id", "user-1"),), (("user_id", "user-2"),)),
                      "project_users": ((("id", "user-1"),), (("id", "user-2"),)),
                      "group_users": ((("id", "user-1"),), (("id", "user-2"),)),
                      "project_user_roles": ((("user_id", "user-1"),), (("user_id", "user-2"),))}
    assert all(v == deletes.deleted(at) and live == "deleted" for _n, live, _s, v in store.marked)
    store = Store()
    deletes.retire(store, TABLES["user_roles"], ledger, at, "org-1")
    assert store.marked == [("user_roles", "history", ((("user_id", "user-1"),), (("user_id", "user-2"),)),
                             {VALID_TO: at})]
