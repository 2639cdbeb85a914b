"""The large organization: built quickly, and its big listings page correctly over HTTP (SPEC 8)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import pytest
from conftest import NOW

from openai_sync.simulator import Simulator, World

HOUR, DAY = 3600, 86400


@pytest.fixture(scope="module")
def large() -> Iterator[tuple[Simulator, float]]:
    t = time.monotonic()
    world = World(seed=1, size="large", now=NOW)
    built = time.monotonic() - t
    with Simulator(world) as sim:
        yield sim, built


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=60) as c:
        yield c


def test_large_world_builds_in_a_few_seconds(large):
    sim, built = large
    assert built < 8, f"World(size='large') took {built:.1f} s"
    w = sim.world
    assert len(w.projects) == 300 and len(w.users) == 3000
    assert len(w.project_keys) == sum(1 for p in w.projects if p.archived_at is None or p.archived_at > w.now)


def test_100k_files_in_pages_of_10000(large, http):
    sim, _ = large
    w = sim.world
    big = w.projects[0]
    pd = w.project_data(big.id)
    assert pd.n_files == 100_000
    alive = pd.files_seq.alive(w.now)
    assert len(alive) > 90_000  # files are spread over the project's life, some are deleted

    headers = {"Authorization": f"Bearer {w.project_keys[big.id]}"}
    ids: list[str] = []
    created: list[int] = []
    sizes: list[int] = []
    after = None
    t = time.monotonic()
    while True:
        params: dict[str, str | int] = {"limit": 10000}
        if after:
            params["after"] = after
        r = http.get(sim.base_url + "/files", headers=headers, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        sizes.append(len(page["data"]))
        ids += [f["id"] for f in page["data"]]
        created += [f["created_at"] for f in page["data"]]
        assert page["last_id"] == page["data"][-1]["id"]
        if not page["has_more"]:
            break
        after = page["last_id"]
        assert len(sizes) < 20, "the listing does not end"
    elapsed = time.monotonic() - t

    assert len(ids) == len(alive)
    assert len(set(ids)) == len(ids)
    assert set(ids) == {it.id for it in alive}
    assert created == sorted(created, reverse=True)  # newest first, the files endpoint's default
    assert sizes == [10000] * (len(ids) // 10000) + ([len(ids) % 10000] if len(ids) % 10000 else [])
    assert elapsed < 60, f"100k files took {elapsed:.1f} s"

    # a page beyond the maximum is refused, and a file of the big project can be fetched by id
    assert http.get(sim.base_url + "/files", headers=headers, params={"limit": 10001}).status_code == 400
    mid = ids[len(ids) // 2]
    assert http.get(sim.base_url + f"/files/{mid}", headers=headers).json()["id"] == mid


def test_a_year_of_hourly_completions_usage_pages_correctly(large, http):
    sim, _ = large
    w = sim.world
    headers = {"Authorization": f"Bearer {w.admin_key}"}
    url = sim.base_url + "/organization/usage/completions"
    start = NOW - 365 * DAY
    starts: list[int] = []
    requests_by_hour: dict[int, int] = {}
    page_token = None
    pages = 0
    t = time.monotonic()
    while True:
        params: dict[str, str | int] = {"start_time": start, "bucket_width": "1h", "limit": 168}
        if page_token:
            params["page"] = page_token
        r = http.get(url, headers=headers, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert body["object"] == "page" and len(body["data"]) <= 168
        for b in body["data"]:
            assert b["end_time"] - b["start_time"] == HOUR
            starts.append(b["start_time"])
            requests_by_hour[b["start_time"]] = sum(x["num_model_requests"] for x in b["results"])
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        assert body["next_page"] and body["next_page"] != page_token
        page_token = body["next_page"]
        assert pages < 100, "the listing does not end"
    elapsed = time.monotonic() - t

    # contiguous hours from the start up to the clock (whether a bucket starting exactly at the clock is
    # listed is the usage engine's call; none after it is)
    assert starts == list(range(start // HOUR * HOUR, starts[-1] + HOUR, HOUR))
    assert NOW - HOUR <= starts[-1] <= NOW
    assert len(starts) >= 365 * 24
    assert pages == -(-len(starts) // 168)
    assert sum(requests_by_hour.values()) > 0
    assert elapsed < 60, f"a year of hourly buckets took {elapsed:.1f} s"

    # spot check: a few days of hourly buckets add up to the daily buckets of the same days
    for days_ago in (300, 120, 30):
        day = (NOW - days_ago * DAY) // DAY * DAY
        r = http.get(url, headers=headers,
                     params={"start_time": day, "end_time": day + DAY, "bucket_width": "1d"})
        (bucket,) = r.json()["data"]
        daily = sum(x["num_model_requests"] for x in bucket["results"])
        assert daily == sum(requests_by_hour[h] for h in range(day, day + DAY, HOUR)), days_ago
