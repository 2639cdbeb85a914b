"""The one way openai-sync reads in parallel: several streams at once, their items handed on one at a time.

Every fan-out uses `fan_out`: the children of each parent (a user's roles, a project's keys), each project
with its own key, the time windows of the audit log and the bucket ranges of usage and costs. Items pass
through a bounded queue to the one consumer, so at most a few items per worker are held whatever the
organization's size. A stream's error of an `isolate`d kind ends that stream alone (the others go on);
any other error stops every stream and is raised in the consumer.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Event(Generic[K, T]):
    """What happened to the stream of `key`: an item, its end (`done`), or its isolated `error`."""

    key: K
    item: T | None = None
    done: bool = False
    error: BaseException | None = None


def fan_out(keys: Sequence[K], stream: Callable[[K], Iterator[T]], workers: int, name: str = "pages", *,
            isolate: type[BaseException] | tuple[type[BaseException], ...] = ()) -> Iterator[Event[K, T]]:
    """Run `stream(key)` for every key, at most `workers` at a time, and yield what happens as it happens.

    Each stream ends with exactly one event `done` or `error` (an error of an `isolate` kind). One stream or
    one worker: the streams run one after the other in the consumer's thread."""
    if len(keys) <= 1 or workers <= 1:
        yield from _in_turn(keys, stream, isolate)
        return
    out: queue.Queue[Event[K, T] | tuple[BaseException]] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(x, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(key: K) -> None:
        try:
            for item in stream(key):
                if not put(Event(key, item)):
                    return
            put(Event(key, done=True))
        except isolate as e:  # type: ignore[misc]
            put(Event(key, error=e))
        except BaseException as e:  # handed to the consumer, which raises it
            put((e,))

    pool = ThreadPoolExecutor(max_workers=min(workers, len(keys)), thread_name_prefix=name)
    try:
        for k in keys:
            pool.submit(run, k)
        pending = len(keys)
        while pending:
            ev = out.get()
            if isinstance(ev, tuple):
                raise ev[0]
            pending -= ev.done or ev.error is not None
            yield ev
    finally:
        stop.set()
        while True:  # unblock producers waiting on a full queue, then let them end
            try:
                out.get_nowait()
            except queue.Empty:
                break
        pool.shutdown(wait=True, cancel_futures=True)


def _in_turn(keys: Sequence[K], stream: Callable[[K], Iterator[T]],
             isolate: type[BaseException] | tuple[type[BaseException], ...]) -> Iterator[Event[K, T]]:
    for k in keys:
        try:
            for item in stream(k):
                yield Event(k, item)
        except isolate as e:  # type: ignore[misc]
            yield Event(k, error=e)
            continue
        yield Event(k, done=True)


def interleave(streams: list[Callable[[], Iterator[T]]], workers: int, name: str = "pages") -> Iterator[T]:
    """Every item of every stream (in no particular order across streams); the first error stops them all."""
    for ev in fan_out(range(len(streams)), lambda i: streams[i](), workers, name):
        if not ev.done:
            yield ev.item  # type: ignore[misc]


def gather(keys: Sequence[K], fn: Callable[[K], R], workers: int, name: str = "gather") -> list[R]:
    """`[fn(k) for k in keys]`, computed in parallel, in the order of `keys`; the first error is raised."""
    got: dict[K, R] = {}
    for ev in fan_out(keys, lambda k: iter((fn(k),)), workers, name):
        if not ev.done:
            got[ev.key] = ev.item  # type: ignore[assignment]
    return [got[k] for k in keys]


def split_range(lo: int, hi: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """[lo, hi) cut into at most `parts` contiguous ranges whose inner bounds are multiples of `align`."""
    if hi <= lo or parts <= 1:
        return [(lo, hi)]
    per_part = -(-(hi - lo) // parts)  # ceiling division
    step = max(align, -(-per_part // align) * align)
    bounds = [*range(lo, hi, step), hi]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def merged(ranges: Iterable[Sequence[int]]) -> list[list[int]]:
    """[a, b) ranges, overlapping or touching ones joined, in order."""
    out: list[list[int]] = []
    for a, b in sorted((int(r[0]), int(r[1])) for r in ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def gaps(lo: int, hi: int, done: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """[lo, hi) less the ranges already read."""
    out, at = [], lo
    for a, b in merged(done):
        if a > at:
            out.append((at, min(a, hi)))
        at = max(at, b)
    if at < hi:
        out.append((at, hi))
    return [(a, b) for a, b in out if b > a]
