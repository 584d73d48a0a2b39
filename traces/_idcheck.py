"""Bounded-memory uniqueness check of string ids across record batches.

Each id is hashed to 64 bits with vectorised NumPy. Seen ids live in open-addressing tables of
32-bit fingerprints (4 bytes per slot, load <= 0.6, linear probing, all vectorised), so 10M ids
take about 64 MiB. A fingerprint match is only a *suspect*: the caller confirms it by comparing
the strings, so a hash collision never reports a false duplicate.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["IdTracker", "hash_strings"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_MAX_LOAD = 0.6
_MIN_BITS = 16


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, element-wise on uint64 (wrap-around arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def hash_strings(arr: pa.Array) -> np.ndarray:
    """64-bit hashes of a non-null ``string`` array, shape ``(len(arr),)`` uint64."""
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    lens = np.diff(offsets)
    width = int(lens.max())
    words = max(1, -(-width // 8))
    base = int(offsets[0])
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[base : int(offsets[-1])]
        if data_buf is not None
        else np.zeros(0, dtype=np.uint8)
    )
    if width > 0 and int(lens.min()) == width and width % 8 == 0:
        mat = data.reshape(n, width)
    else:
        mat = np.zeros((n, words * 8), dtype=np.uint8)
        if width > 0 and int(lens.min()) == width:
            mat[:, :width] = data.reshape(n, width)
        elif data.size:
            rows = np.repeat(np.arange(n), lens)
            cols = np.arange(data.size) - np.repeat(offsets[:-1] - base, lens)
            mat[rows, cols] = data
    w = np.ascontiguousarray(mat).view(np.uint64)
    h = (lens.astype(np.uint64) + np.uint64(1)) * _GOLD
    for k in range(w.shape[1]):
        h = _mix(h ^ w[:, k])
    return h


class _Table:
    """One open-addressing table of nonzero uint32 fingerprints; home slot = top bits of the hash."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.slots = np.zeros(1 << bits, dtype=np.uint32)
        self.used = 0

    @property
    def room(self) -> int:
        return int(_MAX_LOAD * (1 << self.bits)) - self.used

    def _home(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        slot = (h >> np.uint64(64 - self.bits)).astype(np.int64)
        fp = (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        fp[fp == 0] = 1
        return slot, fp

    def find(self, h: np.ndarray) -> np.ndarray:
        """Boolean mask: fingerprint found on the probe path of each hash."""
        slot, fp = self._home(h)
        found = np.zeros(h.size, dtype=bool)
        active = np.arange(h.size)
        while active.size:
            cur = self.slots[slot[active]]
            hit = cur == fp[active]
            found[active[hit]] = True
            go_on = ~hit & (cur != 0)
            active = active[go_on]
            slot[active] = (slot[active] + 1) & self.mask
        return found

    def insert(self, h: np.ndarray) -> np.ndarray:
        """Insert distinct hashes; return the mask of those whose fingerprint was already there."""
        slot, fp = self._home(h)
        found = np.zeros(h.size, dtype=bool)
        active = np.arange(h.size)
        while active.size:
            s = slot[active]
            cur = self.slots[s]
            f = fp[active]
            hit = cur == f
            found[active[hit]] = True
            empty = cur == 0
            claim = active[empty]
            self.slots[slot[claim]] = fp[claim]
            won = np.zeros(active.size, dtype=bool)
            won[empty] = self.slots[slot[claim]] == fp[claim]
            self.used += int(won.sum())
            active = active[~hit & ~won]
            slot[active] = (slot[active] + 1) & self.mask
        return found


class IdTracker:
    """Remembers the ids seen so far (as hashes) and finds suspected repeats.

    Parameters
    ----------
    expected_ids : int, optional
        Ids expected in all (e.g. a file's row count): one table of the right size is allocated
        up front. Further tables are added when it fills up.
    """

    def __init__(self, expected_ids: int | None = None) -> None:
        want = max(1, int(expected_ids or 0)) / _MAX_LOAD
        self._tables = [_Table(max(_MIN_BITS, int(np.ceil(np.log2(want)))))]

    def add(self, hashes: np.ndarray) -> np.ndarray:
        """Add one batch of hashes; return sorted indices (into ``hashes``) of suspected repeats.

        A suspect is an id whose hash was seen in an earlier batch or earlier in this batch.
        """
        if hashes.size == 0:
            return np.zeros(0, dtype=np.int64)
        suspects: list[np.ndarray] = []
        hs = np.sort(hashes)
        dup_vals = hs[1:][hs[1:] == hs[:-1]]
        keep = np.arange(hashes.size)
        if dup_vals.size:
            later = _later_occurrences(hashes, dup_vals)
            suspects.append(later)
            keep = np.setdiff1d(keep, later)
        h = hashes[keep]
        for old in self._tables[:-1]:
            hit = old.find(h)
            if hit.any():
                suspects.append(keep[hit])
        table = self._tables[-1]
        if table.room < h.size:
            bits = max(table.bits + 1, int(np.ceil(np.log2(2 * h.size / _MAX_LOAD))))
            table = _Table(bits)
            self._tables.append(table)
            for old in self._tables[:-1]:
                hit = old.find(h)
                if hit.any():
                    suspects.append(keep[hit])
        hit = table.insert(h)
        if hit.any():
            suspects.append(keep[hit])
        if not suspects:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(suspects))


def _later_occurrences(hashes: np.ndarray, dup_vals: np.ndarray) -> np.ndarray:
    """Indices of every occurrence but the first of each value in ``dup_vals``."""
    idx = np.flatnonzero(np.isin(hashes, dup_vals))
    vals = hashes[idx]
    order = np.argsort(vals, kind="stable")
    v = vals[order]
    later = np.concatenate(([False], v[1:] == v[:-1]))
    return np.sort(idx[order][later])
