"""The API's three pagination styles (SPEC 7), each as a generator of pages.

- lists: `{object: "list", data, first_id, last_id, has_more}`, next page with `after=<last_id>`;
- groups and roles: `{data, has_more, next}`, next page with `after=<next>`;
- usage and costs: `{object: "page", data, has_more, next_page}`, next page with `page=<next_page>`.

Only `has_more: false` or an empty page ends a listing (`last_id` is set on the last page too). A cursor
that does not advance, or `has_more` without any cursor, is an error, never an endless loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .client import Client
from .errors import ApiProblem

T = TypeVar("T")


def page_data(page: dict[str, Any], path: str) -> list[dict[str, Any]]:
    data = page.get("data")
    if not isinstance(data, list):
        raise ApiProblem(f"GET {path} answered a page without a 'data' list")
    return data


def list_pages(client: Client, path: str, params: dict[str, Any], *, limit: int, envelope: str = "list",
               label: str = "") -> Iterator[list[dict[str, Any]]]:
    """Pages of a cursor-paginated list, oldest cursor first, until the listing is complete."""
    seen: set[str] = set()
    after: str | None = None
    while True:
        q = {**params, "limit": limit} if limit else dict(params)  # limit 0: the endpoint takes none
        if after is not None:
            q["after"] = after
        page = client.get(path, q, label=label)
        data = page_data(page, path)
        yield data
        if not page.get("has_more") or not data:
            return
        cursor = page.get("next") if envelope == "next" else page.get("last_id")
        if cursor is None and envelope != "next":
            cursor = data[-1].get("id")  # the API's cursor is the last item's id
        if not isinstance(cursor, str) or not cursor:
            raise ApiProblem(f"GET {path} said has_more but gave no cursor to continue; the listing is "
                             "incomplete, so nothing is marked deleted. Retry later.")
        if cursor in seen or cursor == after:
            raise ApiProblem(f"GET {path} returned the cursor {cursor!r} again (it does not advance); "
                             "stopping instead of looping.")
        seen.add(cursor)
        after = cursor


def bucket_pages(client: Client, path: str, params: dict[str, Any], *, until: int | None = None, label: str = "",
                 digest: Callable[[list[dict[str, Any]]], T] | None = None,
                 raw: Callable[[bytes], tuple[Any, Any, Any, bool, T] | None] | None = None) -> Iterator[T]:
    """Pages of usage or cost buckets (or what `digest` makes of each page's buckets, done under the client's
    bound on pages held as Python objects). An empty page ends the stream (costs may hand out a trailing token).
    `raw`, tried first on a page's body, gives what `digest` would and the page's cursor (has_more, next_page,
    the last bucket's end_time, whether it had buckets), or None to have the page parsed and digested.

    `until`: the end of the range (end_time, or the API's clock). A page whose last bucket reaches it is
    the last one, whatever token it carries: this spares the empty page costs' trailing token asks for.
    """

    def read(page: dict[str, Any]) -> tuple[Any, Any, Any, bool, Any]:
        data = page_data(page, path)
        last_end = data[-1].get("end_time") if data and isinstance(data[-1], dict) else None
        return page.get("has_more"), page.get("next_page"), last_end, bool(data), digest(data) if digest else data

    seen: set[str] = set()
    token: str | None = None
    while True:
        q = dict(params)
        if token is not None:
            q["page"] = token
        more, nxt, last_end, any_data, out = client.get(path, q, label=label, digest=read,
                                                        **({"raw": raw} if raw is not None else {}))
        if any_data:
            yield out
        if not more or not any_data:
            return
        if until is not None and isinstance(last_end, int) and last_end >= until:
            return
        if not isinstance(nxt, str) or not nxt:
            raise ApiProblem(f"GET {path} said has_more but gave no next_page; the data after "
                             f"{last_end} was not read. Retry later.")
        if nxt in seen:
            raise ApiProblem(f"GET {path} returned the page token {nxt!r} again (it does not advance); "
                             "stopping instead of looping.")
        seen.add(nxt)
        token = nxt
