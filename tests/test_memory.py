"""The memory bounds of a sync: big pages digested two at a time, allocator settings, trimming."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from openai_sync import memory
from openai_sync.client import Client, Gate


def test_big_pages_are_digested_two_at_a_time_whatever_the_concurrency(sim):
    gate = Gate(8, digest=2)
    client = Client(sim.base_url, sim.world.admin_key, admin=True, gate=gate)
    lock = threading.Lock()
    now, most = [0], [0]

    def digest(page: dict) -> int:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.05)  # a page of thousands of results takes a while to become Arrow
        with lock:
            now[0] -= 1
        return len(page["data"])

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: client.get("/organization/users", {"limit": 5}, digest=digest), range(16)))
    assert got == [5] * 16
    assert most[0] == 2
    assert gate.max_in_flight > 2  # requests themselves still ran in parallel


def test_a_digest_error_is_raised_and_frees_its_slots(sim):
    gate = Gate(2, digest=1)
    client = Client(sim.base_url, sim.world.admin_key, admin=True, gate=gate)

    def broken(page: dict) -> None:
        raise ValueError("bad page")

    for _ in range(3):  # a leaked slot would block the third call
        with pytest.raises(ValueError, match="bad page"):
            client.get("/organization/users", {"limit": 1}, digest=broken)
    assert client.get("/organization/users", {"limit": 1})["data"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_and_configure_on_linux():
    assert memory.trim() is True
    memory.configure()
    assert pa.default_memory_pool().backend_name == "system"
    memory.configure()  # once per process: a second call changes nothing
    assert pa.default_memory_pool().backend_name == "system"
