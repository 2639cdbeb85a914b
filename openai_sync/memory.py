"""Keeping the process's memory close to what it really holds.

Pages are read and parsed in many threads, and allocators keep what a thread freed for that thread's next
allocation instead of returning it. Measured on the large simulated organization (bench/perf.py), the
live data of the extract phase stayed under 200 MB while RSS reached 750 MB:
- pyarrow's default allocator (mimalloc) kept per-thread heaps: Arrow now uses the system allocator;
- glibc made an arena per thread: two are enough here, since the GIL serializes most allocation;
- freed memory stays in the heap: `trim()` hands it back after a big page and between phases.
Together: the extract phase peaked at 400 MB instead of 740 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

_libc = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.malloc_trim  # noqa: B018 (musl has no malloc_trim: then trimming is off)
    except (OSError, AttributeError):
        _libc = None
_lock = threading.Lock()
_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
_configured = False


def configure() -> None:
    """Once per process, before the threads start: fewer allocator arenas, Arrow on the system allocator."""
    global _configured
    if _configured:
        return
    _configured = True
    if _libc is not None and hasattr(_libc, "mallopt"):
        _libc.mallopt(_M_ARENA_MAX, 2)
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


def trim() -> bool:
    """Return the heap's free memory to the OS (glibc only; elsewhere a no-op). True if it ran."""
    if _libc is None:
        return False
    if not _lock.acquire(blocking=False):  # another thread is trimming already: that is enough
        return False
    try:
        _libc.malloc_trim(0)
    finally:
        _lock.release()
    return True
