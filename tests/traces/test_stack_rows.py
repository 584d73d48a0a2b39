"""``stack_rows``: the importers' shared assembly of per-file column pieces into ``Rows``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from traces.importers._common import stack_rows


def _pieces(sizes: list[int]) -> dict[str, list]:
    cols: dict[str, list] = {
        k: []
        for k in (
            "path_of_row",
            "line",
            "job_id",
            "submit_s",
            "duration_s",
            "num_gpus",
            "division_key",
            "user",
        )
    }
    for k, n in enumerate(sizes):
        cols["path_of_row"].append(np.full(n, k))
        cols["line"].append(np.arange(2, n + 2))
        cols["job_id"].append(pa.array([f"f{k}-{i}" for i in range(n)], pa.string()))
        cols["submit_s"].append(np.arange(n, dtype=float))
        cols["duration_s"].append(np.full(n, 10.0))
        cols["num_gpus"].append(np.ones(n, dtype=np.int64))
        # chunked Arrow pieces are accepted too
        cols["division_key"].append(pa.chunked_array([pa.array(["vc"] * n, pa.string())]))
        cols["user"].append(pa.array([None] * n, pa.string()))
    return cols


@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=5))
def test_pieces_are_joined_in_file_order(sizes: list[int]) -> None:
    rows = stack_rows(_pieces(sizes), priority=np.zeros(sum(sizes), np.int16))
    n = sum(sizes)
    assert isinstance(rows.job_id, pa.Array) and isinstance(rows.division_key, pa.Array)
    assert len(rows.job_id) == len(rows.division_key) == len(rows.user) == n
    assert rows.line.size == rows.submit_s.size == rows.num_gpus.size == n
    assert rows.path_of_row.tolist() == [k for k, m in enumerate(sizes) for _ in range(m)]
    assert rows.job_id.to_pylist() == [f"f{k}-{i}" for k, m in enumerate(sizes) for i in range(m)]
    assert rows.priority is not None and rows.priority.size == n
    assert rows.kind is None and rows.source_status is None  # optional fields not given stay unset


def test_a_column_without_pieces_is_an_error() -> None:
    cols = _pieces([2])
    cols["line"] = []
    with pytest.raises(ValueError, match="'line'"):
        stack_rows(cols)
