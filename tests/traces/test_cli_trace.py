"""``colossus trace``: generate, import, inspect, validate; bad input exits 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from colossus.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_generate_validate_inspect(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "w.parquet"
    r = run("trace", "generate", "--days", "0.5", "-o", out, "--seed", "4", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["rows"] > 1000 and info["hero"] == "grok-3"
    r = run("trace", "validate", out)
    assert r.exit_code == 0 and r.stdout.startswith("ok: ")
    r = run("trace", "inspect", out, "--json")
    figures = json.loads(r.stdout)
    assert figures["rows"] == info["rows"] and figures["token_jobs"] == 1
    assert set(figures["by_division"]) == {"Grok Main/Voice", "Coding", "Data", "Macrohard"}
    r = run("trace", "inspect", out)
    assert r.exit_code == 0 and "by division" in r.stdout and "GPU-time share" in r.stdout
    again = tmp_path / "again.parquet"
    run("trace", "generate", "--days", "0.5", "-o", again, "--seed", "4", "--quiet")
    assert again.read_bytes() == out.read_bytes()


def test_import_itp_with_division_map(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "itp.parquet"
    r = run(
        "trace",
        "import",
        "itp",
        *sorted((fixtures / "itp").glob("*.csv")),
        "-o",
        out,
        "--division-map",
        fixtures / "division_map.csv",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == 6
    figures = json.loads(run("trace", "inspect", out, "--json").stdout)
    assert set(figures["by_division"]) == {"Coding", "Data"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["trace", "validate", "{empty}"], "not a readable Parquet file"),
        (["trace", "inspect", "{csv}"], "not a readable Parquet file"),
        (
            ["trace", "import", "philly", "{itp}", "-o", "{out}"],
            "missing column 'timestamp' for format 'philly'",
        ),
        (["trace", "import", "itp", "{badgpu}", "-o", "{out}"], "line 3: column 'num_gpu'"),
        (
            ["trace", "import", "itp", "{itp}", "-o", "{out}", "--division-map", "{badmap}"],
            "unknown division 'Sales'",
        ),
        (["trace", "validate", "{foreign}"], "unknown division 'Sales'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(
    fixtures: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / "cluster09.csv").write_text(
        "job_id,submission_time,duration,num_gpu\na,1,10,1\nb,2,10,0\n"
    )
    (tmp_path / "map.csv").write_text("key,division\ncluster01,Sales\n")
    foreign = (
        tmp_path / "foreign.parquet"
    )  # a valid trace whose 16-GPU job is in an unknown division
    run("trace", "import", "itp", fixtures / "itp" / "cluster01.csv", "-o", tmp_path / "ok.parquet")
    t = pq.read_table(tmp_path / "ok.parquet")
    t = t.set_column(
        2, "division", pc.if_else(pc.equal(t.column("num_gpus"), 16), "Sales", t.column("division"))
    )
    pq.write_table(t, foreign)
    subs = {
        "{empty}": tmp_path / "empty.parquet",
        "{csv}": tmp_path / "x.csv",
        "{itp}": fixtures / "itp" / "cluster01.csv",
        "{out}": tmp_path / "out.parquet",
        "{badgpu}": tmp_path / "cluster09.csv",
        "{badmap}": tmp_path / "map.csv",
        "{foreign}": foreign,
    }
    argv = [str(subs.get(a, a)) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "colossus.cli", *argv], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert not (tmp_path / "out.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.parquet")]


@pytest.mark.parametrize(
    ("fmt", "files", "rows", "ge8_share"),
    [
        ("itp", "microsoft_itp/cluster*.csv", 69_351, 0.793),
        ("philly", "philly/philly.csv", 82_247, 0.620),
    ],
)
def test_done_when_real_traces_import_and_inspect(
    traces_data: Path, tmp_path: Path, fmt: str, files: str, rows: int, ge8_share: float
) -> None:
    """Issue 3's done-when: row counts and the >= 8-GPU share of GPU time (traces.md §1, §2)."""
    out = tmp_path / f"{fmt}.parquet"
    r = run("trace", "import", fmt, *sorted(traces_data.glob(files)), "-o", out, "--quiet")
    assert r.exit_code == 0, r.output
    figures = json.loads(run("trace", "inspect", out, "--json").stdout)
    assert figures["rows"] == rows
    assert figures["gpu_time_share_ge8_gpus"] == pytest.approx(ge8_share, abs=0.002)
    assert run("trace", "validate", out).exit_code == 0
