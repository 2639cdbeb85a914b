"""The `recent` strategy as pure logic, against an in-memory list: new objects down to the last run's newest,
the open ones re-read, and objects listed late (after a newer one was read) not missed where the catalog says
they can be."""

from __future__ import annotations

from typing import Any

from openai_sync.catalog import TABLES
from openai_sync.read.recent import read_recent as pages_and_state


def read_recent(*args: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every object the reading passes on, and its next state (the generator's value)."""
    pages = pages_and_state(*args)
    items: list[dict[str, Any]] = []
    while True:
        try:
            items += next(pages)
        except StopIteration as stop:
            return items, stop.value


class Listing:
    """A list endpoint newest first (the `list` envelope, `after` cursors), and retrieve by id."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def get(self, path: str, params: dict[str, Any] | None = None, *, label: str = "") -> dict[str, Any]:
        params = params or {}
        ordered = sorted(self.items, key=lambda it: (it["created"], it["id"]), reverse=True)
        if path != "/chat/completions":
            return next(it for it in self.items if path.endswith("/" + it["id"]))
        if "after" in params:
            ordered = ordered[[it["id"] for it in ordered].index(params["after"]) + 1:]
        page = ordered[:params.get("limit", 20)]
        return {"object": "list", "data": page, "has_more": len(ordered) > len(page),
                "last_id": page[-1]["id"] if page else None}


def completion(i: int, created: int) -> dict[str, Any]:
    return {"object": "chat.completion", "id": f"chatcmpl-{i}", "created": created}


def test_a_stored_completion_listed_late_is_read_by_the_next_run():
    table = TABLES["chat_completions"]
    api = Listing()
    api.items = [completion(i, 1000 + 60 * i) for i in range(300)]  # one a minute, 3 pages of 100
    first, state = read_recent(api, table, {}, {})
    assert len(first) == 300 and state["watermark"] == 1000 + 60 * 299
    # a completion created 20 minutes before the newest one read is listed only now; two new ones too
    api.items += [completion(900, state["watermark"] - 1200), completion(301, state["watermark"] + 60),
                  completion(302, state["watermark"] + 120)]
    second, state2 = read_recent(api, table, {}, state)
    got = {it["id"] for it in second}
    assert {"chatcmpl-900", "chatcmpl-301", "chatcmpl-302"} <= got
    assert len(got) < 100  # down to an hour below the last run's newest, not the whole history
    assert state2["watermark"] == state["watermark"] + 120


def test_without_late_seconds_the_listing_stops_at_the_last_runs_newest():
    table = TABLES["batches"]
    assert table.late_seconds == 0  # a batch is listed when the call that creates it returns
    api = Listing()
    api.items = [{**completion(i, 1000 + 60 * i), "status": "completed"} for i in range(5)]
    _, state = read_recent(_Renamed(api), table, {}, {})
    api.items.append({**completion(5, 1000 + 60 * 5), "status": "completed"})
    again, _ = read_recent(_Renamed(api), table, {}, state)
    assert [it["id"] for it in again] == ["chatcmpl-5"]


class _Renamed:
    """The same list at /batches, whose objects carry `created_at`."""

    def __init__(self, api: Listing) -> None:
        self.api = api

    def get(self, path: str, params: dict[str, Any] | None = None, *, label: str = "") -> dict[str, Any]:
        page = self.api.get("/chat/completions", params, label=label)
        return {**page, "data": [{**it, "created_at": it["created"]} for it in page["data"]]}
