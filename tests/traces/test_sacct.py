"""Slurm accounting importer: sacct --parsable2 and --json, the issue #14 rules, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from colossus.cli import cli
from traces.errors import TraceError
from traces.importers import DivisionMap, import_trace
from traces.importers.sacct import read_sacct
from traces.sacct_export import SACCT_COMMAND, SACCT_JSON_COMMAND

DIVS = ("Grok Main/Voice", "Coding", "Data", "Macrohard")
DM = DivisionMap(
    divisions=DIVS,
    explicit={"coding": "Coding", "grok": "Grok Main/Voice", "data": "Data", "gpu": "Macrohard"},
)
SAMPLES = Path("/work/slurm-samples")


def _rows(result, *cols):
    return [tuple(r[c] for c in cols) for r in result.table.to_pylist()]


def test_parsable2_rules(fixtures: Path) -> None:
    r = read_sacct([fixtures / "sacct" / "jobs.parsable2"], divisions=DM)
    assert _rows(
        r, "job_id", "submit_time_s", "division", "num_gpus", "duration_s", "source_status",
        "recorded_wait_s",
    ) == [
        ("100", 0.0, "Coding", 8, 3600.0, "completed", 30.0),  # steps .batch/.extern/.0 skipped
        ("101", 300.0, "Grok Main/Voice", 16, 93600.0, "cancelled", 900.0),  # typed GPU once
        ("102_1", 600.0, "Data", 1, 1800.0, "completed", 5.0),  # array tasks: own ids
        ("102_2", 600.0, "Data", 1, 60.0, "failed", 120.0),
        ("106", 1800.0, "Macrohard", 4, 600.0, "failed", 60.0),  # no account -> partition 'gpu'
        ("107", 2100.0, "Coding", 2, 300.0, "failed", 60.0),  # no End -> ElapsedRaw
        ("110", 3600.0, "Coding", 4, 1200.0, "failed", 0.0),  # OUT_OF_MEMORY
    ]
    assert r.dropped == {
        "running or pending at export": 2,
        "no GPU (CPU-only job)": 1,
        "never started": 1,
    }
    assert r.start.isoformat() == "2026-12-02T10:00:00+00:00"
    assert r.table.column("user").to_pylist()[0] == "alice"


def test_json_rules_match_text(fixtures: Path) -> None:
    r = read_sacct([fixtures / "sacct" / "jobs.json"], divisions=DM)
    assert _rows(r, "job_id", "num_gpus", "duration_s", "source_status", "recorded_wait_s") == [
        ("200", 8, 3600.0, "completed", 60.0),
        ("201", 16, 14400.0, "cancelled", 1800.0),
        ("202_1", 1, 600.0, "completed", 10.0),
        ("202_2", 1, 600.0, "failed", 120.0),
        ("206", 4, 1800.0, "failed", 900.0),
        ("209", 2, 300.0, "failed", 0.0),  # no end -> time.elapsed
    ]
    assert r.dropped == {
        "running or pending at export": 2,
        "no GPU (CPU-only job)": 1,
        "never started": 1,
    }
    assert r.table.column("division").to_pylist()[4] == "Macrohard"  # empty account -> partition


@pytest.mark.parametrize(
    ("key", "expected"),
    [("partition", {"gpu"}), ("qos", {"normal", "high"}), ("user", {"alice", "bob", "carol", "erin"})],
)
def test_division_key(fixtures: Path, key: str, expected: set[str]) -> None:
    seen: list[str] = []

    class Spy(DivisionMap):
        def division_of(self, k: str | None) -> str:
            seen.append(k or "")
            return "Data"

    r = read_sacct(
        [fixtures / "sacct" / "jobs.parsable2"], divisions=Spy(divisions=DIVS), division_key=key
    )
    assert set(r.table.column("division").to_pylist()) == {"Data"}
    assert set(seen) - {""} == expected


def _write(tmp_path: Path, text: str, name: str = "x.sacct") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


HEAD = "JobID|Submit|Start|End|State|AllocTRES\n"
OK = "1|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|COMPLETED|gres/gpu=2\n"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a,b,c\n1,2,3\n", "line 1: not a sacct export"),
        ("A|B\n1|2\n", "line 1: missing column 'JobID' (or JobIDRaw)"),
        ("JobID|Submit|Start|End|AllocTRES\n1|x|y|z|gres/gpu=1\n", "missing column 'State'"),
        ("JobID|Submit|Start|End|State\n1|x|y|z|COMPLETED\n", "missing column 'AllocTRES'"),
        (HEAD + OK + "2|2026-13-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|COMPLETED|gres/gpu=2\n",
         "line 3: column 'Submit': not a date-time: '2026-13-02T10:00:00'"),
        (HEAD + "3|2026-12-02T10:00:00|soon|2026-12-02T10:10:10|COMPLETED|gres/gpu=2\n",
         "line 2: column 'Start'"),
        (HEAD + "4|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|WEIRD|gres/gpu=2\n",
         "line 2: column 'State': unknown state 'WEIRD'"),
        (HEAD + "5|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|COMPLETED|gres/gpu=x\n",
         "line 2: column 'AllocTRES'"),
        (HEAD + "6|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:00:00|COMPLETED|gres/gpu=1\n",
         "line 2: column 'End': '2026-12-02T10:00:00' is before Start '2026-12-02T10:00:10'; the export "
         "was probably made in local time"),
        (HEAD + "7|a|b\n", "line 2: 3 fields"),
        (HEAD + OK + OK.replace("1|", "1|", 1) + OK.replace("1|", "8|", 1).replace("gres/gpu=2", "") , ""),
        ('{"meta": {}}', "no top-level 'jobs' list"),
        ('{"jobs": [{"job_id": 1, "state": {"current": "COMPLETED"}, "time": {"start": "x"}}]}',
         "job 1 (1): key 'time.start': not a number"),
        ("{not json", "line 1: not a sacct --json export"),
        ("", "empty file"),
    ],
)
def test_bad_input_names_file_line_column(tmp_path: Path, text: str, needle: str) -> None:
    p = _write(tmp_path, text)
    if needle == "":  # the same run (JobID and Start) seen twice is kept once: not an error
        r = read_sacct([p], divisions=DM)
        assert r.table.num_rows == 1 and r.dropped == {"no GPU (CPU-only job)": 1}
        return
    with pytest.raises(TraceError) as err:
        read_sacct([p], divisions=DM)
    msg = str(err.value)
    assert msg.startswith(str(p)) and needle in msg and "\n" not in msg, msg


def test_cli_import_bad_file_exit_2_no_output(tmp_path: Path) -> None:
    bad = _write(tmp_path, HEAD + OK + "2|2026-12-02 10:00|later|x|COMPLETED|gres/gpu=1\n")
    out = tmp_path / "out.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "colossus.cli", "trace", "import", "sacct", str(bad), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}: line 3: column 'Start'" in lines[0], proc.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_cli_import_inspect_and_help(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.parquet"
    runner = CliRunner()
    r = runner.invoke(
        cli,
        ["trace", "import", "sacct", str(fixtures / "sacct" / "jobs.parsable2"),
         str(fixtures / "sacct" / "jobs.json"), "-o", str(out), "--json"],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["rows"] == 13 and info["dropped"]["never started"] == 2
    assert pq.read_schema(out).names[-2:] == ["recorded_wait_s", "time_limit_s"]
    r = runner.invoke(cli, ["trace", "inspect", str(out), "--json"], catch_exceptions=False)
    f = json.loads(r.stdout)
    assert f["recorded_wait_jobs"] == 13 and f["recorded_wait_percentiles_s"]["p50"] == 60.0
    r = runner.invoke(cli, ["trace", "inspect", str(out)], catch_exceptions=False)
    assert "recorded wait (start - submit, 13 jobs): p50 60 s" in r.stdout
    for args in (["trace", "--help"], ["trace", "import", "--help"], ["trace", "fit", "--help"],
                 ["trace", "inspect", "--help"], ["simulate", "--help"], ["compare", "--help"]):
        text = runner.invoke(cli, args, terminal_width=80).stdout
        assert SACCT_COMMAND in text, args
    assert SACCT_COMMAND.startswith("TZ=UTC sacct ") and SACCT_JSON_COMMAND.startswith("TZ=UTC sacct ")
    text = " ".join(runner.invoke(cli, ["trace", "import", "--help"]).stdout.split())
    assert SACCT_JSON_COMMAND in text and "Set --starttime to the first day" in text
    assert "AccountingStorageTRES=gres/gpu" in text and "JobID#run1" in text
    r = runner.invoke(
        cli, ["trace", "import", "itp", str(fixtures / "itp" / "cluster01.csv"), "-o",
              str(tmp_path / "i.parquet"), "--division-key", "user"],
    )
    assert r.exit_code == 2 and "sacct only" in r.output


def test_importers_with_start_times_keep_recorded_waits(fixtures: Path) -> None:
    helios = import_trace("helios", [fixtures / "helios_cluster_log.csv"], divisions=DM)
    acme = import_trace("acme", [fixtures / "acme_trace_seren.csv"], divisions=DM)
    pj = import_trace("philly-json", [fixtures / "philly_cluster_job_log.json"], divisions=DM)
    for r in (helios, acme, pj):
        w = r.table.column("recorded_wait_s")
        assert w.null_count < len(w) and min(x for x in w.to_pylist() if x is not None) >= 0
    waits = dict(zip(acme.table.column("job_id").to_pylist(),
                     acme.table.column("recorded_wait_s").to_pylist(), strict=True))
    assert (waits["dlc1"], waits["dlc2"], waits["dlc3"]) == (5.0, 600.0, 1.0)
    itp = import_trace("itp", sorted((fixtures / "itp").glob("*.csv")), divisions=DM)
    assert "recorded_wait_s" not in itp.table.column_names  # no start times in the source


_STATES = st.sampled_from(
    ["COMPLETED", "CANCELLED by 7", "FAILED", "TIMEOUT", "RUNNING", "PENDING", "NODE_FAIL"]
)


@settings(max_examples=40, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(
            st.integers(0, 10_000),  # submit offset s
            st.integers(0, 5_000),  # wait s
            st.integers(1, 50_000),  # run s
            st.integers(0, 16),  # gpus
            _STATES,
            st.integers(0, 3),  # array tasks (0 = plain job)
            st.integers(0, 2),  # steps
            st.booleans(),  # typed GPU
        ),
        min_size=1,
        max_size=25,
    )
)
def test_property_one_row_per_allocation(tmp_path_factory, jobs) -> None:
    """Kept + left-out = allocations; steps never count; waits and durations come back exactly."""
    from datetime import timedelta

    t0 = datetime(2026, 12, 1, tzinfo=UTC)

    def ts(s: int) -> str:
        return (t0 + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S")

    lines = ["JobID|JobIDRaw|Submit|Start|End|State|AllocTRES|Account"]
    expect: dict[str, tuple[int, int, int]] = {}
    allocations = 0
    cpu_only_finished = 0
    raw = 1000
    for k, (sub, wait, run, gpus, state, tasks, steps, typed) in enumerate(jobs):
        tres = f"cpu=8,gres/gpu:h100={gpus},gres/gpu={gpus}" if typed and gpus else (
            f"cpu=8,gres/gpu={gpus}" if gpus else "cpu=8")
        live = state in ("RUNNING", "PENDING")
        end = "Unknown" if live else ts(sub + wait + run)
        ids = [f"{k + 1}"] if tasks == 0 else [f"{k + 1}_{t}" for t in range(tasks)]
        for jid in ids:
            raw += 1
            allocations += 1
            lines.append(f"{jid}|{raw}|{ts(sub)}|{ts(sub + wait)}|{end}|{state}|{tres}|coding")
            for s in range(steps):
                lines.append(f"{jid}.{s}|{raw}.{s}|{ts(sub)}|{ts(sub + wait)}|{end}|{state}|{tres}|")
            if not live and gpus:
                expect[jid] = (gpus, run, wait)
            cpu_only_finished += not live and not gpus
    path = tmp_path_factory.mktemp("sacct") / "p.sacct"
    path.write_text("\n".join(lines) + "\n")
    if not expect and cpu_only_finished:  # no job holds a GPU: an error, not an empty trace
        with pytest.raises(TraceError, match="no job holds a GPU"):
            read_sacct([path], divisions=DM)
        return
    r = read_sacct([path], divisions=DM)
    got = {
        row["job_id"]: (row["num_gpus"], row["duration_s"], row["recorded_wait_s"])
        for row in r.table.to_pylist()
    }
    assert got == {k: (g, float(d), float(w)) for k, (g, d, w) in expect.items()}
    assert r.table.num_rows + sum(r.dropped.values()) == allocations
    sub = r.table.column("submit_time_s").to_pylist()
    assert sub == sorted(sub) and sub[0] == 0.0 if sub else True


REAL = ("sacct_allocations_{}.txt", "sacct_steps_{}.txt", "sacct_{}.json")


@pytest.mark.parametrize("tag", ["typed", "untyped"])
def test_real_slurm_exports_agree(fixtures: Path, tag: str) -> None:
    """Exports from a real Slurm 22.05 with slurmdbd (saved by issue #15, see the README beside
    them): text with and without steps and JSON give the same jobs; array tasks 4_0..4_3 are jobs;
    typed GPUs (gres/gpu:h100=N,gres/gpu=N) count once; --gpus=12 over two nodes is 12; the CPU-only
    job 8, the running blocker 11, the pending whole-cluster job 15 and the job cancelled while
    pending (Start None) 17 are left out and counted."""
    real = fixtures / "sacct" / "slurm-22.05"
    dm = DivisionMap(divisions=DIVS, explicit={"coding": "Coding", "grok": "Grok Main/Voice"})
    names = json.loads((real / f"jobs_{tag}.json").read_text())
    tables = []
    for name in REAL:
        r = read_sacct([real / name.format(tag)], divisions=dm)
        assert r.dropped == {
            "no GPU (CPU-only job)": 1,
            "running or pending at export": 2,
            "never started": 1,
        }, name
        tables.append(sorted(_rows(r, "job_id", "num_gpus", "duration_s", "source_status",
                                   "recorded_wait_s", "division")))
    assert tables[0] == tables[1] == tables[2]
    got = {row[0]: row[1:] for row in tables[0]}
    arr = names["array"]
    assert set(got) == {names[k] for k in ("ok_steps", "ok_gpus_per_job", "ok_untyped_request", "failed",
                                           "timeout", "cancel_running", "two_nodes")} | {
        f"{arr}_{i}" for i in range(4)}
    assert got[names["ok_steps"]][0] == 4  # typed: gres/gpu:h100=4,gres/gpu=4 counts once
    assert got[names["ok_gpus_per_job"]][0] == 12 and got[names["two_nodes"]][0] == 16
    assert got[names["timeout"]][2] == "failed" and got[names["timeout"]][1] > 60
    assert got[names["cancel_running"]][2] == "cancelled"
    assert got[names["failed"]][2] == "failed"
    assert all(0 <= row[3] < 60 for row in got.values())
    with pytest.raises(TraceError, match="missing column 'Submit'"):
        read_sacct([real / f"sacct_default_{tag}.txt"], divisions=dm)  # sacct's default columns


@pytest.mark.parametrize("name", ["sacct_allocations_typed.txt", "sacct_typed.json"])
def test_live_samples_from_issue_15_import(name: str) -> None:
    """Newer exports in /work/slurm-samples (when this machine has them) import too."""
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    r = read_sacct([path], divisions=DivisionMap(divisions=DIVS))
    assert r.table.num_rows >= 1
    assert all("." not in j for j in r.table.column("job_id").to_pylist())


def test_recorded_wait_column_is_checked(tmp_path: Path, make_table) -> None:
    """The optional v1 column: float64, >= 0 or null; a bad value names the row and column."""
    import pyarrow as pa

    from traces.reader import read_table
    from traces.writer import write_trace

    start = datetime(2025, 1, 6, tzinfo=UTC)
    good = make_table(3).append_column("recorded_wait_s", pa.array([0, 5, None], pa.int64()))
    out = tmp_path / "ok.parquet"
    write_trace(out, good, start=start, source="t")
    t = read_table(out, columns=["job_id", "recorded_wait_s"])
    assert t.schema.field("recorded_wait_s").type == pa.float64()
    assert t.column("recorded_wait_s").to_pylist() == [0.0, 5.0, None]
    r = CliRunner().invoke(cli, ["trace", "validate", str(out), "--any-division"])
    assert "optional columns: recorded_wait_s" in r.stdout
    bad = make_table(3).append_column("recorded_wait_s", pa.array([0.0, -1.0, 2.0]))
    with pytest.raises(TraceError, match=r"row 2: column 'recorded_wait_s': must be a finite number >= 0"):
        write_trace(tmp_path / "bad.parquet", bad, start=start, source="t")
    assert not (tmp_path / "bad.parquet").exists()


# --------------------------------------------------------------------------- review of issue #14

GRES_HEAD = "JobID|Submit|Start|End|State|AllocGRES|ReqTRES\n"


def test_gpus_from_allocgres(tmp_path: Path) -> None:
    """AllocGRES (``gpu[:type]:N`` with an optional ``(IDX:..)``) when there is no AllocTRES;
    other GRES are ignored; an empty AllocGRES falls through to ReqTRES."""
    t = "2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|COMPLETED"
    p = _write(tmp_path, GRES_HEAD
               + f"1|{t}|gpu:h100:8(IDX:0-7)|\n"
               + f"2|{t}|gpu:2|\n"
               + f"3|{t}|mps:100,gpu:a100:1(IDX:3),gpu:h100:2(IDX:0-1)|\n"
               + f"4|{t}||cpu=4,gres/gpu=4\n"
               + f"5|{t}|mps:100|\n")
    r = read_sacct([p], divisions=DM)
    assert _rows(r, "job_id", "num_gpus") == [("1", 8), ("2", 2), ("3", 3), ("4", 4)]
    assert r.dropped == {"no GPU (CPU-only job)": 1}


def test_duration_from_elapsed_alone(tmp_path: Path) -> None:
    """A finished job with no End and no ElapsedRaw: Elapsed ``[D-][HH:]MM:SS``."""
    head = "JobID|Submit|Start|End|Elapsed|State|AllocTRES\n"
    row = "{}|2026-12-02T10:00:00|2026-12-02T10:00:10|Unknown|{}|FAILED|gres/gpu=1\n"
    p = _write(tmp_path, head + row.format(1, "1-02:03:04") + row.format(2, "02:03:04")
               + row.format(3, "03:04"))
    r = read_sacct([p], divisions=DM)
    assert _rows(r, "job_id", "duration_s") == [("1", 93784.0), ("2", 7384.0), ("3", 184.0)]
    bad = _write(tmp_path, head + row.format(4, ""), "bad.sacct")
    with pytest.raises(TraceError, match=r"line 2: column 'Elapsed': no End, ElapsedRaw or Elapsed"):
        read_sacct([bad], divisions=DM)


DST = ("JobID|Submit|Start|End|State|AllocTRES|Account\n"
       "1|2026-11-01T01:40:00|2026-11-01T01:50:00|2026-11-01T01:10:00|COMPLETED|gres/gpu=8|coding\n")


def test_local_time_export_hints_tz_utc(tmp_path: Path) -> None:
    """An export made in local time across the daylight-saving fall-back (End before Start):
    exit 2, one line naming file, line and column, and the hint to re-export with TZ=UTC."""
    bad = _write(tmp_path, DST, "dst.sacct")
    out = tmp_path / "dst.parquet"
    r = CliRunner().invoke(cli, ["trace", "import", "sacct", str(bad), "-o", str(out)])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"{bad}: line 2: column 'End'" in lines[0]
    assert "probably made in local time" in lines[0] and "TZ=UTC sacct" in lines[0]
    assert not out.exists()


CPU_ONLY = (
    "JobID|Submit|Start|End|State|AllocTRES|Account\n"
    "1|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|COMPLETED|billing=8,cpu=64,mem=1T,node=1|coding\n"
    "1.batch|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|COMPLETED|cpu=64,mem=1T,node=1|\n"
    "2|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|FAILED|billing=8,cpu=64,mem=1T,node=1|coding\n"
    "3|2026-12-02T10:00:00|Unknown|Unknown|PENDING|billing=8,cpu=64,node=1|coding\n"
)


def test_history_without_gpu_tres_is_an_error(tmp_path: Path) -> None:
    """No job holds a GPU (the accounting lacks gres/gpu): not an empty trace with exit 0, but
    exit 2 with one line naming AccountingStorageTRES=gres/gpu, and nothing written."""
    bad = _write(tmp_path, CPU_ONLY, "cpuonly.sacct")
    with pytest.raises(TraceError) as err:
        read_sacct([bad], divisions=DM)
    msg = str(err.value)
    assert msg.startswith(f"{bad}: no job holds a GPU (2 finished jobs") and "\n" not in msg
    assert "AccountingStorageTRES=gres/gpu" in msg
    out = tmp_path / "co.parquet"
    r = CliRunner().invoke(cli, ["trace", "import", "sacct", str(bad), "-o", str(out)])
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1, r.output
    assert "no job holds a GPU" in r.stderr and "AccountingStorageTRES=gres/gpu" in r.stderr
    assert not out.exists()
    # one GPU job among CPU-only ones is a mixed cluster: imported, the rest counted
    mixed = _write(tmp_path, CPU_ONLY + OK.replace("1|", "9|", 1).rstrip("\n") + "|coding\n", "mixed.sacct")
    r2 = read_sacct([mixed], divisions=DM)
    assert r2.table.num_rows == 1 and r2.dropped["no GPU (CPU-only job)"] == 2
    # nothing finished yet (all pending) is not the GPU-TRES problem: an empty trace, no error
    pending = _write(tmp_path, CPU_ONLY.splitlines()[0] + "\n" + CPU_ONLY.splitlines()[-1] + "\n", "p.sacct")
    assert read_sacct([pending], divisions=DM).table.num_rows == 0


REQUEUE = (
    "JobID|Submit|Start|End|State|AllocTRES|Account\n"
    "5|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|REQUEUED|gres/gpu=8|coding\n"
    "5|2026-12-02T10:10:11|2026-12-02T10:20:00|2026-12-02T11:00:00|COMPLETED|gres/gpu=8|coding\n"
    "6|2026-12-02T10:00:00|2026-12-02T10:00:10|2026-12-02T10:10:10|NODE_FAIL|gres/gpu=8|coding\n"
    "6|2026-12-02T10:10:11|Unknown|Unknown|PENDING||coding\n"
    "7|2026-12-02T10:00:00|2026-12-02T10:00:20|2026-12-02T10:05:20|PREEMPTED|gres/gpu=2|coding\n"
    "7|2026-12-02T10:05:21|2026-12-02T10:06:00|2026-12-02T10:08:00|REQUEUED|gres/gpu=2|coding\n"
    "7|2026-12-02T10:08:01|2026-12-02T10:09:00|Unknown|RUNNING|gres/gpu=2|coding\n"
    "8|2026-12-02T10:00:00|2026-12-02T10:00:30|Unknown|REQUEUED|gres/gpu=1|coding\n"
)


def test_requeued_jobs_keep_each_finished_run(tmp_path: Path) -> None:
    """--duplicates prints one record per run of a requeued job (/tmp/r14/requeue.txt and more):
    each run that started and ended is an allocation (the last kept run keeps the JobID, earlier
    ones become JobID#runN in start order), a REQUEUED record is a finished run (cancelled), not a live job;
    the current run when still running or pending, and a REQUEUED record with no End yet, are
    left out as running or pending. The same export imported twice gives the same jobs."""
    p = _write(tmp_path, REQUEUE, "requeue.sacct")
    r = read_sacct([p], divisions=DM)
    got = sorted(_rows(r, "job_id", "submit_time_s", "duration_s", "source_status", "recorded_wait_s"))
    assert got == [
        ("5", 611.0, 2400.0, "completed", 589.0),
        ("5#run1", 0.0, 600.0, "cancelled", 10.0),  # REQUEUED: the run ended, it held 8 GPUs
        ("6", 0.0, 600.0, "failed", 10.0),  # its only finished run; the pending requeue is left out
        ("7", 321.0, 120.0, "cancelled", 39.0),  # the last kept run keeps the JobID
        ("7#run1", 0.0, 300.0, "cancelled", 20.0),  # PREEMPTED (requeue preemption)
    ]
    assert r.dropped == {"running or pending at export": 3}  # 6 pending, 7 running, 8 requeueing
    twice = read_sacct([p, p], divisions=DM)
    assert sorted(_rows(twice, "job_id", "duration_s")) == sorted(_rows(r, "job_id", "duration_s"))


def test_requeued_jobs_json(tmp_path: Path) -> None:
    """The same rule for sacct --json records (state REQUEUED with an end: a finished run)."""

    def job(jid: int, state: str, sub: int, start: int, end: int, gpus: int = 8) -> dict:
        return {"job_id": jid, "account": "coding", "partition": "gpu", "user": "u",
                "state": {"current": state}, "time": {"submission": sub, "start": start, "end": end},
                "tres": {"allocated": [{"type": "gres", "name": "gpu", "count": gpus}] if start else []}}

    t0 = 1_796_202_000
    doc = {"jobs": [job(5, "REQUEUED", t0, t0 + 10, t0 + 610), job(5, "COMPLETED", t0 + 611, t0 + 1200, t0 + 3600),
                    job(6, "NODE_FAIL", t0, t0 + 10, t0 + 610), job(6, "PENDING", t0 + 611, 0, 0),
                    job(8, "REQUEUED", t0, t0 + 30, 0)]}
    p = _write(tmp_path, json.dumps(doc), "requeue.json")
    r = read_sacct([p], divisions=DM)
    assert sorted(_rows(r, "job_id", "duration_s", "source_status", "recorded_wait_s")) == [
        ("5", 2400.0, "completed", 589.0), ("5#run1", 600.0, "cancelled", 10.0), ("6", 600.0, "failed", 10.0)]
    assert r.dropped == {"running or pending at export": 2}


def test_folder_as_input_says_so(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r": is a folder"):
        read_sacct([tmp_path], divisions=DM)
