"""Counter-based randomness: every value is a pure function of (seed, labels), never of call order.

That is what lets the simulator generate objects lazily, by index, in any order, and still
return the same organization on every run and from every process.
"""

from __future__ import annotations

import hashlib
import string

import numpy as np

_MASK = (1 << 64) - 1
_ALNUM = string.ascii_letters + string.digits


def h64(*parts: object) -> int:
    """A stable 64-bit hash of the parts (blake2b: stable across processes, unlike hash())."""
    data = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def unit(*parts: object) -> float:
    """A stable uniform float in [0, 1)."""
    return (h64(*parts) >> 11) / float(1 << 53)


def randint(lo: int, hi: int, *parts: object) -> int:
    """A stable integer in [lo, hi]."""
    return lo + h64(*parts) % (hi - lo + 1)


def choice(seq: list | tuple, *parts: object):
    return seq[h64(*parts) % len(seq)]


def token(n: int, *parts: object) -> str:
    """A stable alphanumeric string of length n."""
    out = []
    x = h64(*parts)
    i = 0
    while len(out) < n:
        if x == 0:
            i += 1
            x = h64(*parts, i)
        x, r = divmod(x, len(_ALNUM))
        out.append(_ALNUM[r])
    return "".join(out)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def unit_grid(seed: int, rows: np.ndarray, cols: np.ndarray, salt: int) -> np.ndarray:
    """Uniform floats in [0, 1) for every (row, col) pair: shape (len(rows), len(cols))."""
    with np.errstate(over="ignore"):
        r = rows.astype(np.uint64)[:, None] * np.uint64(0xD1B54A32D192ED03)
        c = cols.astype(np.uint64)[None, :] * np.uint64(0x8CB92BA72F3D8DD7)
        base = np.uint64((seed * 0x2545F4914F6CDD1D + salt * 0x9E3779B97F4A7C15) & _MASK)
        z = splitmix64(r ^ c ^ base)
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
