"""Bounded-memory uniqueness check of string ids across record batches.

Each id is hashed to 64 bits with vectorised NumPy; seen hashes are kept in sorted chunks
(8 bytes per id) behind a 32 MiB bitmap prefilter, so 10M ids take about 110 MiB. A hash match
is only a *suspect*: the caller confirms it by comparing the strings, so a hash collision never
reports a false duplicate.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["IdTracker", "hash_strings"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_BITMAP_BITS = 28  # 2**28 bits = 32 MiB
_CHUNK_CAP = 1 << 20  # sorted chunks are merged up to this many hashes


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
    offsets = np.frombuffer(off_buf, dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(
        np.int64
    )
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
    # A string's hash must not depend on its batch: mix only the words that hold its bytes.
    own_words = np.maximum(1, -(-lens // 8))
    uniform = int(own_words.min()) == w.shape[1]
    for k in range(w.shape[1]):
        mixed = _mix(h ^ w[:, k])
        h = mixed if uniform else np.where(own_words > k, mixed, h)
    return h


class IdTracker:
    """Remembers the hashes of ids seen so far and finds suspected repeats."""

    def __init__(self) -> None:
        self._bitmap = np.zeros(1 << (_BITMAP_BITS - 3), dtype=np.uint8)
        self._chunks: list[np.ndarray] = []

    def add(self, hashes: np.ndarray) -> np.ndarray:
        """Add one batch of hashes; return sorted indices (into ``hashes``) of suspected repeats.

        A suspect is an id whose hash was seen in an earlier batch or earlier in this batch.
        """
        if hashes.size == 0:
            return np.zeros(0, dtype=np.int64)
        suspects: list[np.ndarray] = []
        hs = np.sort(hashes)
        first = np.concatenate(([True], hs[1:] != hs[:-1]))
        if not first.all():
            suspects.append(_later_occurrences(hashes, hs[~first]))
            hs = hs[first]
        # Bitmap prefilter on the top bits; hs is sorted, so its bitmap bytes are sorted too.
        bit = hs >> np.uint64(64 - _BITMAP_BITS)
        byte = (bit >> np.uint64(3)).astype(np.int64)
        mask = np.left_shift(np.uint8(1), (bit & np.uint64(7)).astype(np.uint8))
        cand = hs[(self._bitmap[byte] & mask) != 0]
        if cand.size and self._chunks:
            hit = np.zeros(cand.size, dtype=bool)
            for chunk in self._chunks:
                pos = np.searchsorted(chunk, cand)
                np.minimum(pos, chunk.size - 1, out=pos)
                hit |= chunk[pos] == cand
            if hit.any():
                suspects.append(np.flatnonzero(np.isin(hashes, cand[hit])))
        starts = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        self._bitmap[byte[starts]] |= np.bitwise_or.reduceat(mask, starts)
        self._chunks.append(hs)
        while (
            len(self._chunks) >= 2
            and self._chunks[-1].size >= self._chunks[-2].size
            and self._chunks[-2].size < _CHUNK_CAP
        ):
            b = self._chunks.pop()
            a = self._chunks.pop()
            self._chunks.append(np.sort(np.concatenate((a, b))))  # SIMD sort beats a merge here
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
