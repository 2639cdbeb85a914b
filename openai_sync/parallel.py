"""Several page streams read at once, their pages handed on one at a time, with bounded memory.

A listing that the API lets us split (audit-log time windows, usage and cost bucket ranges) is read as
parallel streams. Their pages go through a bounded queue to the one generator that dlt iterates, so at
most a few pages per worker are held whatever the organization's size. The first error of any stream
stops the others and is raised in the consumer, so a table fails as a whole, as a sequential read would.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


def interleave(streams: list[Callable[[], Iterator[T]]], workers: int, name: str = "pages") -> Iterator[T]:
    """Yield every item of every stream (in no particular order across streams)."""
    if len(streams) <= 1 or workers <= 1:
        for s in streams:
            yield from s()
        return
    out: queue.Queue[Any] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def run(stream: Callable[[], Iterator[T]]) -> None:
        try:
            for item in stream():
                while not stop.is_set():
                    try:
                        out.put(("item", item), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(("done", None))
        except BaseException as e:  # handed to the consumer, which raises it
            out.put(("error", e))

    pool = ThreadPoolExecutor(max_workers=min(workers, len(streams)), thread_name_prefix=name)
    try:
        for s in streams:
            pool.submit(run, s)
        pending = len(streams)
        while pending:
            kind, value = out.get()
            if kind == "item":
                yield value
            elif kind == "done":
                pending -= 1
            else:
                raise value
    finally:
        stop.set()
        while True:  # unblock producers waiting on a full queue, then let them end
            try:
                out.get_nowait()
            except queue.Empty:
                break
        pool.shutdown(wait=True, cancel_futures=True)


def split_range(lo: int, hi: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """[lo, hi) cut into at most `parts` contiguous ranges whose inner bounds are multiples of `align`."""
    if hi <= lo or parts <= 1:
        return [(lo, hi)]
    per_part = -(-(hi - lo) // parts)  # ceiling division
    step = max(align, -(-per_part // align) * align)
    bounds = [*range(lo, hi, step), hi]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
