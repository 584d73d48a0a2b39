"""The bounded-memory duplicate finder: exact on any strings, across batches."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from traces._idcheck import IdTracker, hash_strings


@settings(max_examples=200, deadline=None)
@given(
    ids=st.lists(st.text(max_size=20), max_size=60), cuts=st.lists(st.integers(0, 60), max_size=4)
)
def test_suspects_are_exactly_the_repeats(ids: list[str], cuts: list[int]) -> None:
    bounds = sorted({0, len(ids), *[min(c, len(ids)) for c in cuts]})
    tracker = IdTracker()
    found: list[int] = []
    for a, b in itertools.pairwise(bounds):
        arr = pa.array(ids, pa.string()).slice(a, b - a)  # sliced arrays exercise buffer offsets
        found += [a + int(i) for i in tracker.add(hash_strings(arr))]
    seen: set[str] = set()
    repeats = []
    for i, s in enumerate(ids):
        if s in seen:
            repeats.append(i)
        seen.add(s)
    assert found == repeats


def test_hashes_separate_prefixes_and_lengths() -> None:
    ids = ["a", "a\x00", "", "ab", "ba", "x" * 8, "x" * 9, "x" * 16, "x" * 17]
    h = hash_strings(pa.array(ids))
    assert len(np.unique(h)) == len(ids)
    fixed = pa.array([f"j{i:010d}" for i in range(50_000)])
    assert len(np.unique(hash_strings(fixed))) == 50_000
