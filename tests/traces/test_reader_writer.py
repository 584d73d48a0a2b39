"""Schema v1 files: round trip, atomic writes, and one-line errors for every kind of bad input."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traces.errors import TraceError
from traces.reader import iter_batches, read_metadata, read_table
from traces.schema import KINDS, META_SOURCE, META_START, META_VERSION, SCHEMA_V1
from traces.writer import write_trace

DIVISIONS = ("Grok Main/Voice", "Coding", "Data", "Macrohard")
START = datetime(2025, 1, 6, tzinfo=UTC)


# -- round trip ------------------------------------------------------------------------------


@st.composite
def valid_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 40))
    ids = draw(st.lists(st.text(min_size=1, max_size=12), min_size=n, max_size=n, unique=True))
    times = sorted(draw(st.lists(st.floats(0, 1e9, allow_nan=False), min_size=n, max_size=n)))
    gpus = draw(st.lists(st.integers(1, 2**20), min_size=n, max_size=n))
    token_job = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    pos = st.floats(1e-3, 1e12, allow_nan=False, allow_infinity=False)
    durations = [None if t and draw(st.booleans()) else draw(pos) for t in token_job]
    tokens = [draw(pos) if t else None for t in token_job]
    models = [
        draw(st.sampled_from(["grok-3", "llama3-405b"]))
        if t
        else draw(st.none() | st.text(max_size=5))
        for t in token_job
    ]
    min_g = [draw(st.none() | st.integers(1, g)) for g in gpus]
    opt_text = st.none() | st.text(max_size=8)
    return pa.Table.from_pydict(
        {
            "job_id": ids,
            "submit_time_s": times,
            "division": draw(st.lists(st.sampled_from(DIVISIONS), min_size=n, max_size=n)),
            "num_gpus": gpus,
            "duration_s": durations,
            "kind": draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n)),
            "priority": draw(st.lists(st.integers(-(2**15), 2**15 - 1), min_size=n, max_size=n)),
            "preemptible": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "work_tokens": tokens,
            "model": models,
            "min_gpus": min_g,
            "user": draw(st.lists(opt_text, min_size=n, max_size=n)),
            "source_status": draw(st.lists(opt_text, min_size=n, max_size=n)),
        },
        schema=SCHEMA_V1,
    )


@settings(max_examples=60, deadline=None)
@given(table=valid_tables(), batch_rows=st.integers(1, 17))
def test_any_valid_table_round_trips(
    tmp_path_factory: pytest.TempPathFactory, table: pa.Table, batch_rows: int
) -> None:
    path = tmp_path_factory.mktemp("rt") / "t.parquet"
    assert (
        write_trace(
            path, table, start=START, source="hypothesis", divisions=DIVISIONS, row_group_rows=7
        )
        == table.num_rows
    )
    back = read_table(path, divisions=DIVISIONS)
    assert back.schema.remove_metadata() == SCHEMA_V1.remove_metadata()
    assert back.equals(table)
    streamed = list(iter_batches(path, batch_rows=batch_rows))
    assert all(b.num_rows <= batch_rows for b in streamed)
    if streamed:
        assert pa.Table.from_batches(streamed).equals(table)
    meta = read_metadata(path)
    assert (meta.version, meta.start, meta.source, meta.num_rows) == (
        1,
        START,
        "hypothesis",
        table.num_rows,
    )


def test_file_metadata_keys_and_field_descriptions(tmp_path: Path, make_table) -> None:
    path = tmp_path / "t.parquet"
    write_trace(path, make_table(3), start=START, source="unit")
    schema = pq.read_schema(path)
    assert schema.metadata[META_VERSION] == b"1"
    assert schema.metadata[META_START] == b"2025-01-06T00:00:00Z"
    assert schema.metadata[META_SOURCE] == b"unit"
    assert all(schema.field(name).metadata[b"description"] for name in SCHEMA_V1.names)


def test_extra_columns_are_kept_and_compatible_types_cast(tmp_path: Path, make_table) -> None:
    t = make_table(4)
    t = t.set_column(
        t.schema.get_field_index("num_gpus"), "num_gpus", pa.array([1, 2, 4, 8], pa.int64())
    )
    t = t.set_column(
        t.schema.get_field_index("division"),
        "division",
        pa.array(["Coding"] * 4).dictionary_encode(),
    )
    t = t.append_column("note", pa.array(["a", "b", "c", "d"]))
    path = tmp_path / "t.parquet"
    write_trace(path, t, start=START, source="unit")
    back = read_table(path)
    assert back.column_names == [*SCHEMA_V1.names, "note"]
    assert back.schema.field("num_gpus").type == pa.int32()
    assert back.column("note").to_pylist() == ["a", "b", "c", "d"]
    assert read_metadata(path).extra_columns == ("note",)
    assert [b.column_names for b in iter_batches(path, columns=["job_id", "note"])] == [
        ["job_id", "note"]
    ]


def test_writer_streams_batches_into_bounded_row_groups(tmp_path: Path, make_table) -> None:
    t = make_table(100)
    path = tmp_path / "t.parquet"
    write_trace(
        path, iter(t.to_batches(max_chunksize=9)), start=START, source="unit", row_group_rows=32
    )
    md = pq.ParquetFile(path).metadata
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == [32, 32, 32, 4]


# -- bad input -------------------------------------------------------------------------------


def _write_raw(path: Path, table: pa.Table, *, metadata: dict[bytes, bytes] | None = None) -> Path:
    md = {META_VERSION: b"1", META_START: b"2025-01-06T00:00:00Z", META_SOURCE: b"raw"}
    if metadata is not None:
        md = metadata
    loose = pa.schema([f.with_nullable(True) for f in table.schema])  # let nulls reach the file
    pq.write_table(table.cast(loose).replace_schema_metadata(md), path)
    return path


def _one_line(exc: pytest.ExceptionInfo[TraceError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"", "not a readable Parquet file"),
        (b"job_id,submit\n1,2\n", "not a readable Parquet file"),
    ],
)
def test_non_parquet_files(tmp_path: Path, content: bytes, expect: str) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    with pytest.raises(TraceError) as exc:
        list(iter_batches(path))
    assert str(path) in _one_line(exc) and expect in str(exc.value)


def test_truncated_file(tmp_path: Path, make_table) -> None:
    path = tmp_path / "t.parquet"
    write_trace(path, make_table(50), start=START, source="unit")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError) as exc:
        list(iter_batches(path))
    assert str(path) in _one_line(exc)


def test_missing_metadata_and_wrong_version(tmp_path: Path, make_table) -> None:
    with pytest.raises(TraceError, match=r"colossus\.trace\.version"):
        read_metadata(_write_raw(tmp_path / "a.parquet", make_table(2), metadata={}))
    md = {META_VERSION: b"2", META_START: b"2025-01-06T00:00:00Z"}
    with pytest.raises(TraceError, match="version 2"):
        read_metadata(_write_raw(tmp_path / "b.parquet", make_table(2), metadata=md))


def test_wrong_column_type_and_missing_column(tmp_path: Path, make_table) -> None:
    t = make_table(3)
    t = t.set_column(3, "num_gpus", pa.array(["8", "8", "8"]))
    with pytest.raises(TraceError, match=r"column 'num_gpus' has type string, expected int32"):
        list(iter_batches(_write_raw(tmp_path / "a.parquet", t)))
    with pytest.raises(TraceError, match="missing column 'kind'"):
        list(iter_batches(_write_raw(tmp_path / "b.parquet", make_table(3).drop_columns(["kind"]))))


def test_integer_overflow_names_the_row(tmp_path: Path, make_table) -> None:
    t = make_table(3)
    t = t.set_column(3, "num_gpus", pa.array([1, 2, 2**40], pa.int64()))
    with pytest.raises(TraceError, match=r"row 3: column 'num_gpus'"):
        list(iter_batches(_write_raw(tmp_path / "a.parquet", t)))


BAD_ROWS = [
    ("num_gpus", {"num_gpus": [8, 0, 8, 8, 8]}, 2),
    ("num_gpus", {"num_gpus": [8, 8, 8, -4, 8]}, 4),
    ("submit_time_s", {"submit_time_s": [0.0, 1.0, math.nan, 3.0, 4.0]}, 3),
    ("submit_time_s", {"submit_time_s": [-1.0, 1.0, 2.0, 3.0, 4.0]}, 1),
    ("submit_time_s", {"submit_time_s": [0.0, 5.0, 4.0, 6.0, 7.0]}, 3),
    ("duration_s", {"duration_s": [1.0, 1.0, 1.0, 1.0, -5.0]}, 5),
    ("duration_s", {"duration_s": [1.0, math.inf, 1.0, 1.0, 1.0]}, 2),
    ("duration_s", {"duration_s": [1.0, None, 1.0, 1.0, 1.0]}, 2),
    ("job_id", {"job_id": ["a", "b", "c", "b", "e"]}, 4),
    ("kind", {"kind": ["train", "train", "sleep", "train", "train"]}, 3),
    ("division", {"division": ["Coding", "Coding", "Coding", "Coding", "Sales"]}, 5),
    ("min_gpus", {"min_gpus": [None, 16, None, None, None]}, 2),
    ("model", {"work_tokens": [None, None, 1e9, None, None]}, 3),
    ("job_id", {"job_id": ["a", None, "c", "d", "e"]}, 2),
]


@pytest.mark.parametrize(("column", "override", "row"), BAD_ROWS)
def test_first_bad_row_is_named(
    tmp_path: Path, make_table, column: str, override: dict, row: int
) -> None:
    t = make_table(5, **override)
    path = _write_raw(tmp_path / "t.parquet", t)
    with pytest.raises(TraceError) as exc:
        list(iter_batches(path, divisions=DIVISIONS, batch_rows=2))
    msg = _one_line(exc)
    assert msg.startswith(f"{path}: row {row}: column '{column}'"), msg
    out = tmp_path / "out.parquet"
    with pytest.raises(TraceError):
        write_trace(out, t, start=START, source="unit", divisions=DIVISIONS)
    assert not out.exists()
    assert list(tmp_path.glob(".out.parquet.*")) == []


def test_duplicate_across_batches_names_both_rows(tmp_path: Path, make_table) -> None:
    ids = [f"id{i}" for i in range(300)]
    ids[250] = "id17"
    path = _write_raw(
        tmp_path / "t.parquet",
        make_table(300, job_id=ids, submit_time_s=[float(i) for i in range(300)]),
    )
    with pytest.raises(
        TraceError, match=r"row 251: column 'job_id': duplicate job_id 'id17' \(first at row 18\)"
    ):
        list(iter_batches(path, batch_rows=64))


def test_failed_write_keeps_the_previous_file(tmp_path: Path, make_table) -> None:
    path = tmp_path / "t.parquet"
    write_trace(path, make_table(3), start=START, source="first")

    def batches():
        yield make_table(2).to_batches()[0]
        raise RuntimeError("generator broke")

    with pytest.raises(RuntimeError):
        write_trace(path, batches(), start=START, source="second")
    assert read_metadata(path).source == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_empty_trace_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    assert write_trace(path, SCHEMA_V1.empty_table(), start=START, source="empty") == 0
    assert read_table(path).num_rows == 0


def test_validator_scales_past_one_batch(tmp_path: Path, make_table) -> None:
    n = 200_000
    t = make_table(
        n,
        job_id=pa.array([f"j{i:010d}" for i in range(n)]),
        submit_time_s=np.arange(n, dtype=float),
    )
    path = tmp_path / "big.parquet"
    write_trace(path, t, start=START, source="unit")
    assert sum(b.num_rows for b in iter_batches(path, batch_rows=65536)) == n


@pytest.mark.parametrize("dup_at", [250, None])
def test_increasing_ids_fast_path_then_fallback(
    tmp_path: Path, make_table, dup_at: int | None
) -> None:
    """Ids that increase (generated traces) skip hashing; a later break in the order replays them."""
    n = 300
    ids = [f"id{i:05d}" for i in range(n)]
    ids[200], ids[201] = ids[201], ids[200]  # order breaks in the 4th batch of 64
    if dup_at is not None:
        ids[dup_at - 1] = "id00017"
    t = make_table(n, job_id=ids, submit_time_s=[float(i) for i in range(n)])
    path = _write_raw(tmp_path / "t.parquet", t)
    if dup_at is None:
        assert sum(b.num_rows for b in iter_batches(path, batch_rows=64)) == n
    else:
        with pytest.raises(
            TraceError,
            match=r"row 250: column 'job_id': duplicate job_id 'id00017' \(first at row 18\)",
        ):
            list(iter_batches(path, batch_rows=64))


def test_stopping_early_releases_the_reader(tmp_path: Path, make_table) -> None:
    path = tmp_path / "t.parquet"
    write_trace(path, make_table(1000), start=START, source="unit")
    it = iter_batches(path, batch_rows=10)
    assert next(it).num_rows == 10
    it.close()  # the prefetch thread stops; nothing hangs
