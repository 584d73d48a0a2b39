"""Vectorised validation of trace record batches against schema v1.

:class:`BatchValidator` checks one batch at a time (types, nulls, ranges, kinds, divisions,
submit order, unique ``job_id`` across the whole stream) and raises :class:`~traces.errors.TraceError`
naming the file, the first bad row (rows count from 1 over the whole file) and the column.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traces._idcheck import IdTracker, hash_strings
from traces.errors import TraceError
from traces.schema import KINDS, NON_NULL_COLUMNS, OPTIONAL_FIELDS, SCHEMA_V1

__all__ = ["BatchValidator", "conform_batch", "conform_schema", "decode_dictionaries"]

_STRINGS = (pa.string(), pa.large_string())
_DICT = pa.dictionary(pa.int32(), pa.string())


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    if pa.types.is_null(actual):
        return True
    if pa.types.is_dictionary(actual):
        actual = actual.value_type
    if expected == pa.string():
        return actual in _STRINGS
    if pa.types.is_floating(expected):
        return pa.types.is_floating(actual) or pa.types.is_integer(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    return actual == expected


def conform_schema(schema: pa.Schema, where: str) -> None:
    """Check a file's schema: every non-null v1 column present, every v1 column of a compatible type.

    Raises
    ------
    TraceError
        On a missing required column or an incompatible type, naming ``where`` and the column.
    """
    for field in SCHEMA_V1:
        idx = schema.get_field_index(field.name)
        if idx < 0:
            if not field.nullable:
                raise TraceError(f"{where}: missing column '{field.name}' (expected {field.type})")
            continue
        actual = schema.field(idx).type
        if not _compatible(actual, field.type) or (pa.types.is_null(actual) and not field.nullable):
            raise TraceError(
                f"{where}: column '{field.name}' has type {actual}, expected {field.type}"
            )


def conform_batch(
    batch: pa.RecordBatch | pa.Table, where: str, first_row: int, *, keep_dictionary: bool = False
) -> pa.RecordBatch:
    """Cast the v1 columns of a batch to their exact v1 types; v1 columns first, extras after.

    Missing nullable columns are added as nulls. ``first_row`` (1-based) numbers the rows in errors.
    With ``keep_dictionary``, dictionary-encoded text stays encoded (``dictionary<int32, string>``;
    the validator checks such columns through their dictionary) until :func:`decode_dictionaries`.
    """
    if isinstance(batch, pa.Table):
        batch = (
            batch.combine_chunks().to_batches()[0]
            if batch.num_rows
            else pa.RecordBatch.from_pylist([], schema=batch.schema)
        )
    n = batch.num_rows
    arrays: list[pa.Array] = []
    for field in SCHEMA_V1:
        idx = batch.schema.get_field_index(field.name)
        if idx < 0:
            if not field.nullable:
                raise TraceError(f"{where}: missing column '{field.name}' (expected {field.type})")
            arrays.append(pa.nulls(n, field.type))
            continue
        col = batch.column(idx)
        if keep_dictionary and field.type == pa.string() and pa.types.is_dictionary(col.type):
            if col.type != _DICT:
                col = col.cast(_DICT)
        elif col.type != field.type:
            if not _compatible(col.type, field.type):
                raise TraceError(
                    f"{where}: column '{field.name}' has type {col.type}, expected {field.type}"
                )
            try:
                col = col.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                row = _first_uncastable(col, field.type)
                raise TraceError(
                    f"{where}: row {first_row + row}: column '{field.name}': value "
                    f"{col[row].as_py()!r} does not fit {field.type}"
                ) from None
        arrays.append(col)
    names = list(SCHEMA_V1.names)
    extras = [name for name in batch.schema.names if name not in SCHEMA_V1.names]
    extra_fields = []
    for name in extras:
        col = batch.column(batch.schema.get_field_index(name))
        if name in OPTIONAL_FIELDS:
            col = _optional_column(col, OPTIONAL_FIELDS[name], where, first_row)
            extra_fields.append(OPTIONAL_FIELDS[name])
        else:
            extra_fields.append(batch.schema.field(name))
        arrays.append(col)
        names.append(name)
    fields = [
        f.with_type(a.type) if a.type != f.type else f
        for f, a in zip(SCHEMA_V1, arrays, strict=False)
    ] + extra_fields
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _optional_column(col: pa.Array, field: pa.Field, where: str, first_row: int) -> pa.Array:
    """An optional v1 column cast to its type; a non-negative finite number or null per row."""
    if not _compatible(col.type, field.type):
        raise TraceError(f"{where}: column '{field.name}' has type {col.type}, expected {field.type}")
    col = col.cast(field.type) if col.type != field.type else col
    x = col.to_numpy(zero_copy_only=False)
    valid = _valid(col)
    bad = valid & ~(np.isfinite(x) & (x >= 0))
    if bad.any():
        row = int(np.argmax(bad))
        raise TraceError(
            f"{where}: row {first_row + row}: column '{field.name}': must be a finite number >= 0, "
            f"got {col[row].as_py()!r}"
        )
    return col


def decode_dictionaries(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Turn dictionary-encoded v1 text columns back into plain ``string`` (exact v1 types)."""
    n_v1 = len(SCHEMA_V1)
    if all(batch.schema.field(i).type == SCHEMA_V1.field(i).type for i in range(n_v1)):
        return batch
    arrays = [
        batch.column(i).cast(pa.string())
        if i < n_v1 and pa.types.is_dictionary(batch.column(i).type)
        else batch.column(i)
        for i in range(batch.num_columns)
    ]
    fields = list(SCHEMA_V1) + [batch.schema.field(i) for i in range(n_v1, batch.num_columns)]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _first_uncastable(col: pa.Array, type_: pa.DataType) -> int:
    for i in range(len(col)):
        try:
            col.slice(i, 1).cast(type_, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return i
    return 0


def _not_in(col: pa.Array, allowed: pa.Array) -> np.ndarray | None:
    """Mask of non-null values not in ``allowed``, or None when all are in it.

    Dictionary arrays are checked through their (small) dictionary.
    """
    if isinstance(col, pa.DictionaryArray):
        ok = pc.is_in(col.dictionary, value_set=allowed).to_numpy(zero_copy_only=False)
        if ok.all():
            return None
        codes = (
            col.indices.fill_null(0).to_numpy(zero_copy_only=False)
            if col.null_count
            else col.indices.to_numpy()
        )
        return ~ok[codes] & _valid(col)
    ok_arr = pc.is_in(col, value_set=allowed)
    if pc.all(ok_arr).as_py() is not False:
        return None
    return ~ok_arr.to_numpy(zero_copy_only=False) & _valid(col)


def _first(mask: np.ndarray) -> int | None:
    """Index of the first True in a boolean array, or None."""
    if not mask.any():
        return None
    return int(np.argmax(mask))


def _valid(col: pa.Array) -> np.ndarray:
    if col.null_count == 0:
        return np.ones(len(col), dtype=bool)
    return pc.is_valid(col).to_numpy(zero_copy_only=False)


def _floats(col: pa.Array) -> np.ndarray:
    return col.to_numpy(zero_copy_only=False) if col.null_count else col.to_numpy()


class BatchValidator:
    """Validates a stream of conformed batches; keeps the state that spans batches.

    Parameters
    ----------
    where : str
        File name used in error messages.
    divisions : collection of str, optional
        Allowed values of ``division``; ``None`` accepts any non-null division.
    confirm_duplicate : callable, optional
        ``confirm_duplicate(job_id, row) -> earlier_row | None`` looks an id up among the rows
        before ``row`` (1-based); called only when a 64-bit hash of ``job_id`` repeats. Without it,
        a repeated hash is reported as a duplicate.
    replay_ids : callable, optional
        ``replay_ids(rows) -> iterable of job_id arrays`` re-reads the ids of the first ``rows``
        rows. With it, a stream whose ids keep strictly increasing (as generated traces' do) is
        checked by comparing neighbours, with no hashing; at the first batch that breaks the
        order the earlier ids are replayed into the hash tracker and checking goes on as usual.
    """

    def __init__(
        self,
        where: str,
        *,
        divisions: Collection[str] | None = None,
        confirm_duplicate: Callable[[str, int], int | None] | None = None,
        replay_ids: Callable[[int], Iterable[pa.Array]] | None = None,
    ) -> None:
        self.where = where
        self.rows_seen = 0
        self.last_submit_s = -np.inf
        self._ids = IdTracker()
        self._divisions = (
            pa.array(sorted(divisions), pa.string()) if divisions is not None else None
        )
        self._kinds = pa.array(KINDS, pa.string())
        self._confirm = confirm_duplicate
        self._replay = replay_ids
        self._increasing = replay_ids is not None
        self._last_id: pa.Scalar | None = None
        self._batch_ids: pa.Array | None = None

    def _fail(self, row: int, column: str, what: str) -> TraceError:
        return TraceError(
            f"{self.where}: row {self.rows_seen + row + 1}: column '{column}': {what}"
        )

    def check(self, batch: pa.RecordBatch) -> None:
        """Validate one conformed batch (see :func:`conform_batch`); raises TraceError."""
        n = batch.num_rows
        if n == 0:
            return
        problems: list[tuple[int, str, str]] = []

        def note(mask: np.ndarray, column: str, what: Callable[[int], str]) -> None:
            i = _first(mask)
            if i is not None:
                problems.append((i, column, what(i)))

        col = {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
        for name in NON_NULL_COLUMNS:
            if col[name].null_count:
                note(~_valid(col[name]), name, lambda i: "must not be null")
        t = _floats(col["submit_time_s"])
        note(
            ~(t >= 0) | ~np.isfinite(t),
            "submit_time_s",
            lambda i: f"must be finite and >= 0, got {t[i]!r}",
        )
        if problems:  # order checks below assume finite times
            self._raise_first(problems)
        order_bad = np.empty(n, dtype=bool)
        order_bad[0] = t[0] < self.last_submit_s
        np.less(t[1:], t[:-1], out=order_bad[1:])
        note(
            order_bad,
            "submit_time_s",
            lambda i: (
                f"not in submit order ({t[i]!r} after {t[i - 1] if i else self.last_submit_s!r})"
            ),
        )
        g = col["num_gpus"].to_numpy(zero_copy_only=False)
        note(g < 1, "num_gpus", lambda i: f"must be >= 1, got {g[i]}")
        d = _floats(col["duration_s"])
        d_valid = _valid(col["duration_s"])
        w = _floats(col["work_tokens"])
        w_valid = _valid(col["work_tokens"])
        note(
            d_valid & ~((d > 0) & np.isfinite(d)),
            "duration_s",
            lambda i: f"must be finite and > 0, got {d[i]!r}",
        )
        note(~d_valid & ~w_valid, "duration_s", lambda i: "null but work_tokens is null too")
        if w_valid.any():
            note(
                w_valid & ~((w > 0) & np.isfinite(w)),
                "work_tokens",
                lambda i: f"must be finite and > 0, got {w[i]!r}",
            )
            note(
                w_valid & ~_valid(col["model"]),
                "model",
                lambda i: "must be set when work_tokens is set",
            )
        if col["min_gpus"].null_count < n:
            mg_valid = _valid(col["min_gpus"])
            mg = col["min_gpus"].fill_null(1).to_numpy()
            note(
                mg_valid & ((mg < 1) | (mg > g)),
                "min_gpus",
                lambda i: f"must be in 1..num_gpus ({g[i]}), got {mg[i]}",
            )
        kind_bad = _not_in(col["kind"], self._kinds)
        if kind_bad is not None:
            note(
                kind_bad,
                "kind",
                lambda i: (
                    f"unknown kind {col['kind'][i].as_py()!r} (expected one of {', '.join(KINDS)})"
                ),
            )
        if self._divisions is not None:
            div_bad = _not_in(col["division"], self._divisions)
            if div_bad is not None:
                note(
                    div_bad,
                    "division",
                    lambda i: (
                        f"unknown division {col['division'][i].as_py()!r} (expected one of {', '.join(self._divisions.to_pylist())})"
                    ),
                )
        ids = col["job_id"]
        if self._increasing and not self._still_increasing(ids):
            self._increasing = False
            assert self._replay is not None
            for earlier in self._replay(self.rows_seen):  # unique: they were increasing
                self._ids.add(hash_strings(earlier))
        suspects = (
            np.zeros(0, dtype=np.int64) if self._increasing else self._ids.add(hash_strings(ids))
        )
        for i in suspects.tolist():
            job_id = ids[i].as_py()
            earlier = self._earlier_in_batch(ids, i, job_id)
            if earlier is None and self._confirm is not None:
                earlier = self._confirm(job_id, self.rows_seen + i + 1)
            elif earlier is None:
                earlier = -1
            if earlier is not None:
                at = f" (first at row {earlier})" if earlier > 0 else ""
                problems.append((i, "job_id", f"duplicate job_id {job_id!r}{at}"))
                break
        if problems:
            self._raise_first(problems)
        self.last_submit_s = float(t[-1])
        self.rows_seen += n

    def _still_increasing(self, ids: pa.Array) -> bool:
        """Whether ids are strictly increasing within the batch and after the previous batch."""
        n = len(ids)
        if ids.null_count:
            return False
        if n > 1 and not pc.all(pc.greater(ids.slice(1), ids.slice(0, n - 1))).as_py():
            return False
        if self._last_id is not None and not pc.greater(ids[0], self._last_id).as_py():
            return False
        self._last_id = ids[n - 1]
        return True

    def _earlier_in_batch(self, ids: pa.Array, i: int, job_id: str) -> int | None:
        head = ids.slice(0, i)
        pos = pc.index(head, job_id).as_py()
        return None if pos < 0 else self.rows_seen + pos + 1

    def _raise_first(self, problems: list[tuple[int, str, str]]) -> None:
        row, column, what = min(problems, key=lambda p: p[0])
        raise self._fail(row, column, what)
