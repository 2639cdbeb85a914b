"""The one way openai-sync reads in parallel: several streams at once, their items handed on one at a time.

Every fan-out uses `fan_out`: the children of each parent (a user's roles, a project's keys), each project
with its own key, the time windows of the audit log and the bucket ranges of usage and costs. Items pass
through a queue to the one consumer, and an item is read only once it has a place (`Places`), so what waits for
its consumer is bounded whatever the organization's size; big pages share one bound however many tables read
them at once. A stream's error of an `isolate`d kind ends that stream alone (the others go on); any other
error stops every stream and is raised in the consumer.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

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


class Places:
    """Places for items read and not yet taken by their consumer: a fan-out reads an item only once it has one.

    A fan-out's first place is its own; each further one comes from its pool: a pool of its own (three per
    worker: what its queue and its readers' hands held before), or `BIG_PAGES`, shared by every fan-out of
    the process that reads big pages. Without that shared bound, each of the usage and cost tables kept its
    own queue of pages for dlt, which polls one table at a time: on the large organization with every project
    key, 190 usage pages as Arrow tables (240 MiB) waited at once. With its own place, a fan-out always
    progresses, whatever the others hold: no consumer waits on a place another fan-out holds.
    One lock guards every count. Each waiting reader sleeps on a condition of its own, listed here and with its
    fan-out, so that a place coming free (a shared one given back, or the fan-out's own) wakes exactly one
    reader that is asleep, never a reader that woke meanwhile."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.size = 0
        self.free = 0
        self.waiting: collections.deque[threading.Condition] = collections.deque()

    def at_least(self, n: int) -> None:
        with self.lock:
            if n > self.size:
                self.give(n - self.size)
                self.size = n

    def give(self, n: int) -> None:
        """(lock held) n places back to the pool, each to a waiting reader."""
        self.free += n
        for _ in range(min(n, len(self.waiting))):
            self.waiting.popleft().notify()


BIG_PAGES = Places()  # usage and cost pages, as Arrow tables: shared by every table that reads them
SHARED_PER_WORKER = 2  # BIG_PAGES's size: twice the widest fan-out's workers
OWN_PER_WORKER = 3  # a fan-out's own pool


class _Held:
    """The places one fan-out holds: its own first, then n - 1 from its pool."""

    def __init__(self, stop: threading.Event, pool: Places) -> None:
        self.stop = stop
        self.pool = pool
        self.n = 0
        self.waiting: collections.deque[threading.Condition] = collections.deque()  # its readers asleep

    def take(self) -> bool:
        """A place for one more item, before it is read; False once the fan-out is stopping."""
        with self.pool.lock:
            while not self.stop.is_set():
                if self.n == 0 or self.pool.free > 0:
                    self.pool.free -= self.n > 0
                    self.n += 1
                    if self.pool.free and self.pool.waiting:  # more came free than woke readers: pass it on
                        self.pool.waiting.popleft().notify()
                    return True
                asleep = threading.Condition(self.pool.lock)
                self.pool.waiting.append(asleep)
                self.waiting.append(asleep)
                asleep.wait(1.0)  # a place coming free, or the fan-out stopping, notifies; the timeout is a backstop
                for queue_ in (self.pool.waiting, self.waiting):
                    with contextlib.suppress(ValueError):  # gone if what woke it took it out
                        queue_.remove(asleep)
            return False

    def give(self) -> None:
        with self.pool.lock:
            self.n -= 1
            if self.n:
                self.pool.give(1)
            elif self.waiting:
                self.waiting.popleft().notify()  # its own place: to one of its readers

    def wake(self) -> None:
        """Every reader of this fan-out asleep: it is stopping."""
        with self.pool.lock:
            while self.waiting:
                self.waiting.popleft().notify()

    def give_all(self) -> None:
        with self.pool.lock:
            self.pool.give(max(0, self.n - 1))
            self.n = 0


def fan_out(keys: Sequence[K], stream: Callable[[K], Iterator[T]], workers: int, name: str = "pages", *,
            isolate: type[BaseException] | tuple[type[BaseException], ...] = (),
            shared: Places | None = None) -> Iterator[Event[K, T]]:
    """Run `stream(key)` for every key, at most `workers` at a time, and yield what happens as it happens.

    Each stream ends with exactly one event `done` or `error` (an error of an `isolate` kind). An item is read
    only once it has a place (`Places`: from `shared`, or a pool of its own), which it gives back when the
    consumer takes it. One stream or one worker: the streams run one after the other in the consumer's thread."""
    if len(keys) <= 1 or workers <= 1:
        yield from _in_turn(keys, stream, isolate)
        return
    places = shared or Places()
    places.at_least(SHARED_PER_WORKER * workers if shared else OWN_PER_WORKER * workers - 1)
    out: queue.SimpleQueue[Event[K, T] | tuple[BaseException]] = queue.SimpleQueue()  # places bound its items
    stop = threading.Event()
    held = _Held(stop, places)

    def run(key: K) -> None:
        items: Iterator[T] | None = None
        try:
            while held.take():
                try:
                    items = iter(stream(key)) if items is None else items
                    item = next(items)
                except BaseException:
                    held.give()
                    raise
                out.put(Event(key, item))
            return  # stopping
        except StopIteration:
            out.put(Event(key, done=True))
        except isolate as e:  # type: ignore[misc]
            out.put(Event(key, error=e))
        except BaseException as e:  # handed to the consumer, which raises it
            out.put((e,))

    pool = ThreadPoolExecutor(max_workers=min(workers, len(keys)), thread_name_prefix=name)
    try:
        for k in keys:
            pool.submit(run, k)
        pending = len(keys)
        while pending:
            ev = out.get()
            if isinstance(ev, tuple):
                raise ev[0]
            if ev.done or ev.error is not None:
                pending -= 1
            else:
                held.give()
            yield ev
    finally:
        stop.set()
        held.wake()
        pool.shutdown(wait=True, cancel_futures=True)
        held.give_all()  # what waited in the queue, never taken


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


def interleave(streams: list[Callable[[], Iterator[T]]], workers: int, name: str = "pages",
               shared: Places | None = None) -> Iterator[T]:
    """Every item of every stream (in no particular order across streams); the first error stops them all."""
    for ev in fan_out(range(len(streams)), lambda i: streams[i](), workers, name, shared=shared):
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
