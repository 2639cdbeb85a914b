"""Raw HTTP access to a running simulator, for tests that check envelopes, limits and errors exactly.

The official SDK hides envelopes and error bodies; these helpers show them. Query lists are sent the way
the SDK sends them (`group_by[]=a&group_by[]=b`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2

from openai_sync.simulator import Simulator


def _params(params: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, list | tuple | set):
            out += [(f"{k}[]", x) for x in v]
        elif isinstance(v, bool):
            out.append((k, "true" if v else "false"))
        else:
            out.append((k, v))
    return out


class Api:
    """A keep-alive HTTP client bound to one key of a simulator."""

    def __init__(self, sim: Simulator, key: str | None = None) -> None:
        self.sim = sim
        self.key = key or sim.world.admin_key
        self.client = httpx2.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {self.key}"},
                                    timeout=30)

    def get(self, path: str, **params: Any) -> httpx2.Response:
        return self.client.get(path, params=_params(params))

    def ok(self, path: str, **params: Any) -> dict[str, Any]:
        r = self.get(path, **params)
        assert r.status_code == 200, (path, params, r.status_code, r.text[:500])
        return r.json()

    def err(self, status: int, path: str, **params: Any) -> dict[str, Any]:
        """Assert an error answer in the API's shape and return its `error` object."""
        r = self.get(path, **params)
        assert r.status_code == status, (path, params, r.status_code, r.text[:500])
        body = r.json()
        assert set(body) == {"error"}, body
        e = body["error"]
        assert set(e) == {"message", "type", "param", "code"}, e
        assert isinstance(e["message"], str) and e["message"], e
        assert isinstance(e["type"], str) and e["type"], e
        return e

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def project_api(sim: Simulator, project_id: str | None = None) -> Api:
    pid = project_id or next(iter(sim.world.project_keys))
    return Api(sim, sim.world.project_keys[pid])


def pages(api: Api, path: str, envelope: str = "list", max_pages: int = 10_000,
          **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a cursor-paginated list, following the envelope's own cursor.

    envelope: "list" (after=last_id), "next" (after=next), "bare" (after=<last item's id>).
    A cursor that does not advance fails the test instead of looping.
    """
    seen_cursors: set[str] = set()
    for _ in range(max_pages):
        page = api.ok(path, **params)
        yield page
        if not page["has_more"]:
            return
        if envelope == "list":
            cursor = page["last_id"]
        elif envelope == "next":
            cursor = page["next"]
        else:
            cursor = page["data"][-1]["id"]
        assert cursor, f"{path}: has_more without a cursor"
        assert cursor not in seen_cursors, f"{path}: the cursor {cursor} did not advance"
        seen_cursors.add(cursor)
        params = {**params, "after": cursor}
    raise AssertionError(f"{path}: more than {max_pages} pages")


def walk(api: Api, path: str, envelope: str = "list", **params: Any) -> list[dict[str, Any]]:
    """The complete listing, as the concatenation of every page's data."""
    return [x for page in pages(api, path, envelope, **params) for x in page["data"]]


def usage_pages(api: Api, path: str, max_pages: int = 10_000, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a usage or costs query, following next_page until has_more is false."""
    seen: set[str] = set()
    for _ in range(max_pages):
        page = api.ok(path, **params)
        yield page
        if not page["has_more"]:
            return
        tok = page["next_page"]
        assert tok, f"{path}: has_more without next_page"
        assert tok not in seen, f"{path}: next_page {tok} did not advance"
        seen.add(tok)
        params = {**params, "page": tok}
    raise AssertionError(f"{path}: more than {max_pages} pages")


def usage_buckets(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    return [b for page in usage_pages(api, path, **params) for b in page["data"]]
