"""sacct Timelimit / TimelimitRaw / time.limit -> the optional ``time_limit_s`` column."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from traces.errors import TraceError
from traces.importers import DivisionMap
from traces.importers.sacct import read_sacct
from traces.schema import OPTIONAL_FIELDS, TIME_LIMIT

DM = DivisionMap(divisions=("Grok", "Coding"), explicit={"grok": "Grok", "coding": "Coding"})
HEAD = "JobID|Submit|Start|End|State|AllocTRES|Account|Timelimit|TimelimitRaw\n"


def _row(i: int, limit: str, raw: str) -> str:
    return (f"{i}|2026-12-02T10:00:00|2026-12-02T10:00:0{i}|2026-12-02T10:05:00|COMPLETED|"
            f"gres/gpu=8|grok|{limit}|{raw}\n")


def _limits(path: Path) -> dict[str, float | None]:
    t = read_sacct([path], divisions=DM).table
    return {r["job_id"]: r.get(TIME_LIMIT) for r in t.to_pylist()}


def test_text_formats(tmp_path: Path) -> None:
    p = tmp_path / "x.sacct"
    p.write_text(HEAD + _row(1, "00:01:00", "") + _row(2, "1-02:03:04", "") + _row(3, "05:30", "")
                 + _row(4, "UNLIMITED", "UNLIMITED") + _row(5, "Partition_Limit", "Partition_Limit")
                 + _row(6, "00:10:00", "7") + _row(7, "", ""))
    got = _limits(p)
    assert got == {"1": 60.0, "2": 86400.0 + 2 * 3600 + 3 * 60 + 4, "3": 330.0, "4": None, "5": None,
                   "6": 420.0, "7": None}  # TimelimitRaw (minutes) wins over Timelimit
    t = read_sacct([p], divisions=DM).table
    assert t.schema.field(TIME_LIMIT) == OPTIONAL_FIELDS[TIME_LIMIT]


def test_no_limit_field_no_column(tmp_path: Path) -> None:
    p = tmp_path / "x.sacct"
    p.write_text("JobID|Submit|Start|End|State|AllocTRES|Account\n"
                 "1|2026-12-02T10:00:00|2026-12-02T10:00:01|2026-12-02T10:05:00|COMPLETED|gres/gpu=8|grok\n")
    assert TIME_LIMIT not in read_sacct([p], divisions=DM).table.column_names


@pytest.mark.parametrize(("limit", "raw", "needle"), [
    ("1:xx", "", "column 'Timelimit'"), ("", "ten", "column 'TimelimitRaw'"), ("", "-3", "column 'TimelimitRaw'")])
def test_bad_limits_name_line_and_column(tmp_path: Path, limit: str, raw: str, needle: str) -> None:
    p = tmp_path / "x.sacct"
    p.write_text(HEAD + _row(1, "00:01:00", "") + _row(2, limit, raw))
    with pytest.raises(TraceError, match=f"x.sacct: line 3: {needle}"):
        read_sacct([p], divisions=DM)


def test_json_limit(tmp_path: Path) -> None:
    def job(i: int, limit: object) -> dict[str, object]:
        return {"job_id": i, "account": "grok", "state": {"current": "COMPLETED"},
                "time": {"submission": 1000, "start": 1000 + i, "end": 1300, "limit": limit},
                "tres": {"allocated": [{"type": "gres", "name": "gpu", "count": 8}]}}
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"jobs": [job(1, 2), job(2, {"set": True, "infinite": False, "number": 90}),
                                      job(3, {"set": False, "infinite": True, "number": 0})]}))
    got = _limits(p)
    assert got["1"] == 120.0 and got["2"] == 5400.0 and got["3"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in got.values())
