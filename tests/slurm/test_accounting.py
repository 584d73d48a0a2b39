"""Finished jobs' accounting (slurmdbd + MariaDB of the fixture) imports with `colossus trace import sacct`."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from colossus.cli import cli
from traces.sacct_export import SACCT_FIELDS

REPO = Path(__file__).resolve().parents[2]
SCENARIO = str(REPO / "examples" / "slurm_4node.toml")
ACCOUNTS = str(REPO / "examples" / "slurm_4node_accounts.toml")


def test_sacct_of_finished_jobs_imports(slurm, tmp_path):
    jobs = {
        slurm.sbatch("-A", "grok", "-p", "grok", "--gres=gpu:h100:4", "-t", "1", wrap="srun sleep 2"): ("grok", 4, "completed"),
        slurm.sbatch("-A", "coding", "-p", "coding", "--gpus=12", "-t", "1", wrap="sleep 2"): ("coding", 12, "completed"),
        slurm.sbatch("-A", "grok", "-p", "grok", "-N", "2", "--gres=gpu:8", "-t", "1", wrap="sleep 1"): ("grok", 16, "completed"),
        slurm.sbatch("-A", "coding", "-p", "coding", "--gres=gpu:1", "-t", "1", wrap="sleep 1; exit 3"): ("coding", 1, "failed"),
    }
    cpu_only = slurm.sbatch("-A", "grok", "-p", "grok", "-t", "1", wrap="sleep 1")
    ids = set(jobs) | {cpu_only}
    slurm.wait_for(lambda: not ids & set(slurm.run(["squeue", "-h", "-o", "%i"]).stdout.split()), 60, "jobs to end")

    def exported() -> str:
        return slurm.run(["sacct", "--allusers", "--duplicates", "--parsable2", "--starttime", "2026-01-01",
                          "--endtime", "now", "--format", SACCT_FIELDS, "--jobs", ",".join(sorted(ids))]).stdout

    # slurmdbd records a job's end a moment after squeue stops listing it
    slurm.wait_for(lambda: all(f"\n{j}|" in exported() and "Unknown" not in exported() for j in ids), 30, "accounting")
    src = tmp_path / "jobs.sacct"
    src.write_text(exported())
    out = tmp_path / "jobs.parquet"
    r = CliRunner().invoke(cli, ["trace", "import", "sacct", str(src), "-o", str(out), "--scenario", SCENARIO,
                                 "--division-map", ACCOUNTS])
    assert r.exit_code == 0, r.output
    t = pq.read_table(out).to_pylist()
    got = {row["job_id"]: row for row in t}
    assert set(got) == set(jobs)  # the CPU-only job is left out
    for jid, (div, gpus, status) in jobs.items():
        row = got[jid]
        assert (row["division"], row["num_gpus"], row["source_status"]) == (div, gpus, status)
        assert row["recorded_wait_s"] >= 0
        assert 0 <= row["duration_s"] <= 10
