"""`colossus schedule --slurm` against a real Slurm (the session's 4-node cluster of 8 GPUs)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from colossus.adapters.slurm import HOLD_MARK, hold_argv, read_state, subprocess_runner
from colossus.cli import cli as main

REPO = Path(__file__).resolve().parents[2]
SCENARIO = str(REPO / "examples" / "slurm_4node.toml")


def _cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.output


def _squeue(slurm, state: str) -> dict[str, str]:
    out = slurm.run(["squeue", "-h", "-t", state, "-o", "%i|%a|%b|%D|%N"]).stdout
    return {line.split("|")[0]: line for line in out.splitlines() if line.strip()}


def _wait_running(slurm, ids, timeout_s: float = 30.0) -> None:
    slurm.wait_for(lambda: set(ids) <= set(_squeue(slurm, "R")), timeout_s, f"jobs {ids} running")


def test_snapshot_matches_squeue_and_sinfo(slurm, tmp_path):
    a = slurm.sbatch("-A", "grok", "-p", "grok", "--gres=gpu:h100:3", "-t", "5", wrap="sleep 120")
    b = slurm.sbatch("-A", "coding", "-p", "coding", "--gpus=12", "-t", "5", wrap="sleep 120")
    c = slurm.sbatch("-A", "coding", "-p", "coding", "-N", "2", "--gres=gpu:8", "-t", "5", wrap="sleep 1")
    d = slurm.sbatch("-A", "grok", "-p", "grok", "-t", "5", wrap="sleep 120")  # CPU only
    _wait_running(slurm, [a, b, d])
    dump = tmp_path / "snap.json"
    code, out = _cli("schedule", "--slurm", "--scenario", SCENARIO, "--policy", "backfill", "--dump-snapshot", str(dump))
    assert code == 0, out
    snap = json.loads(dump.read_text())
    # nodes: sinfo's, 8 GPUs each, free = 8 - GresUsed
    sinfo = slurm.run(["sinfo", "-N", "-h", "-O", "NodeList:10,GresUsed:40"]).stdout.split("\n")
    used = {}
    for line in sinfo:
        if line.strip():
            name, gres = line.split()
            used[name] = int(gres.split("(")[0].split(":")[-1])
    assert snap["cluster"]["gpus_per_node"] == 8
    assert sum(p["nodes"] for p in snap["cluster"]["pools"]) == len(used) == 4
    held = [0, 0, 0, 0]
    for r in snap["running"]:
        for n, g in r["allocation"]:
            held[n] += g
    assert held == [used[f"n{i + 1}"] for i in range(4)]
    assert sum(used.values()) == 15
    # jobs: squeue's running GPU jobs and pending jobs, with their GPU counts and accounts as divisions
    assert {r["job_id"] for r in snap["running"]} == set(_squeue(slurm, "R")) - {d} == {a, b}
    assert {p["job_id"] for p in snap["pending"]} == set(_squeue(slurm, "PD")) == {c}
    gpus = {r["job_id"]: r["num_gpus"] for r in snap["running"] + snap["pending"]}
    assert gpus == {a: 3, b: 12, c: 16}
    divs = {r["job_id"]: r["division"] for r in snap["running"] + snap["pending"]}
    assert divs == {a: "grok", b: "coding", c: "coding"}
    assert f"left out: job {d}: no GPUs (CPU-only job)" in out
    assert "waiting" in out and c in out  # the pending job and why it waits
    # the text reader (scontrol show -o) sees the same cluster
    run = subprocess_runner()
    js, tx = read_state(run, source="json", now_s=0.0), read_state(run, source="text", now_s=0.0)
    assert js.nodes == tx.nodes
    assert [(j.job_id, j.num_gpus, j.alloc, j.account) for j in js.jobs] == [
        (j.job_id, j.num_gpus, j.alloc, j.account) for j in tx.jobs]
    # the dump is a snapshot `colossus schedule` reads
    code, out2 = _cli("schedule", str(dump), "--policy", "backfill", "--quiet")
    assert code == 0 and "backfill:" in out2


def _start_times(slurm, ids) -> dict[str, float]:
    out = slurm.run(["squeue", "-h", "-t", "R,CD,CG", "-o", "%i|%S", "-j", ",".join(ids)], check=False).stdout
    got = {}
    for line in out.splitlines():
        jid, start = line.split("|")
        from datetime import datetime

        got[jid] = datetime.fromisoformat(start).timestamp()
    return got


def test_apply_makes_slurm_follow_the_decided_order(slurm):
    """Strict FIFO through Slurm: the 8-GPU job behind a 16-GPU head that does not fit is held
    (Slurm's backfill would start it at once), and starts only after the head, as decided."""
    blocker = slurm.sbatch("-A", "grok", "-p", "grok", "-N", "3", "--gres=gpu:8", "-t", "1", wrap="sleep 6")
    _wait_running(slurm, [blocker])
    head = slurm.sbatch("-A", "grok", "-p", "grok", "-N", "2", "--gres=gpu:8", "-t", "1", wrap="sleep 2")
    small = slurm.sbatch("-A", "coding", "-p", "coding", "--gres=gpu:8", "-H", "-t", "1", wrap="sleep 2")
    # submitted held so Slurm cannot backfill it before the first round (it would within bf_interval, see the
    # control below); a user hold is not the adapter's, so hand it over with the adapter's own hold command,
    # which turns it into a marked admin hold
    slurm.run(list(hold_argv(small)))
    assert _held_by_us(slurm) == {small}
    code, out = _cli("schedule", "--slurm", "--scenario", SCENARIO, "--policy", "fifo")
    assert code == 0, out
    assert f"decided order: {head} {small}" in out
    assert "dry run" in out
    assert f"JobId={small} AdminComment=colossus-hold" not in out  # already held by the adapter: kept, no new hold
    assert f"scontrol release {small}" not in out
    # rounds as a user would run them (`--apply` again and again) until both have started
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code, out = _cli("schedule", "--slurm", "--scenario", SCENARIO, "--policy", "fifo", "--apply", "--quiet")
        assert code == 0, out
        starts = _start_times(slurm, [head, small])
        if len(starts) == 2:
            break
        time.sleep(0.5)
    starts = _start_times(slurm, [head, small])
    assert set(starts) == {head, small}, starts
    assert starts[head] <= starts[small]
    blocker_end = _start_times(slurm, [blocker])[blocker] + 5
    assert starts[small] >= blocker_end  # it did not run in the gap beside the blocker


def _held_by_us(slurm) -> set[str]:
    """Jobs under the adapter's hold: Reason=JobHeldAdmin with AdminComment=colossus-hold (scontrol's view)."""
    out = slurm.run(["scontrol", "show", "jobs", "-o"], check=False).stdout
    held = set()
    for line in out.splitlines():
        kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if kv.get("JobState") == "PENDING" and kv.get("Reason") == "JobHeldAdmin" and kv.get("AdminComment") == HOLD_MARK:
            held.add(kv["JobId"])
    return held


def _admin_comment(slurm, jid: str) -> str:
    out = slurm.run(["scontrol", "show", "job", "-o", jid]).stdout
    kv = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return kv.get("AdminComment", "")


def test_apply_reorders_slurm_and_holds_with_its_own_mark(slurm, tmp_path):
    """The decided order differs from submit order, and Slurm follows it; the adapter places its own hold
    and a later round releases it.

    grok may use at most 16 GPUs (a scenario with ``borrow_limit_share = 0.5``) and already runs 24 on
    n1-n3, so the policy (``fairshare``: every job that fits starts, in fair-share then submit order)
    keeps grok's job K waiting although it fits. Submitted in the order H (coding, all 32 GPUs), K
    (grok, 4), S (coding, 4). Slurm alone keeps K and S behind H, its top priority, until the blocker
    ends (their limits end after H's reservation, so no backfill). The policy starts S now, on n4:
    S first. Observed: Slurm starts S at once (first, though submitted last); K carries the
    adapter's hold (Reason=JobHeldAdmin, AdminComment=colossus-hold) although 4 GPUs are free beside
    S; when the blocker ends H starts; a later round releases K (mark cleared), and K starts after H.
    (The decided order is S, K, H: K's estimated start, the blocker's end, comes before H's; K is held,
    so it is H that Slurm starts first.)
    """
    text = Path(SCENARIO).read_text()
    assert text.count("borrow_limit_share = 1.0") == 2
    capped = tmp_path / "capped.toml"
    capped.write_text(text.replace("borrow_limit_share = 1.0", "borrow_limit_share = 0.5", 1))  # grok's
    blocker = slurm.sbatch("-A", "grok", "-p", "grok", "-N", "3", "--gres=gpu:8", "-t", "1", wrap="sleep 8")
    _wait_running(slurm, [blocker])
    h = slurm.sbatch("-A", "coding", "-p", "grok", "-N", "4", "--gres=gpu:8", "-t", "1", wrap="sleep 2")
    k = slurm.sbatch("-A", "grok", "-p", "grok", "--gres=gpu:4", "-t", "1", wrap="sleep 2")
    s = slurm.sbatch("-A", "coding", "-p", "grok", "--gres=gpu:4", "-t", "1", wrap="sleep 3")
    time.sleep(1.5)  # a backfill pass or two (bf_interval=1): Slurm leaves both behind H
    assert {k, s} <= set(_squeue(slurm, "PD")), "Slurm started a job behind its blocked top job"
    args = ("schedule", "--slurm", "--scenario", str(capped), "--policy", "fairshare")
    code, out = _cli(*args)
    assert code == 0, out
    assert f"decided order: {s} {k} {h}" in out  # differs from submit order h, k, s
    assert "dry run" in out and f"JobId={k} AdminComment=colossus-hold Priority=0" in out
    held_seen: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        code, out = _cli(*args, "--apply", "--quiet")
        assert code == 0, out
        held_seen |= _held_by_us(slurm)
        if len(_start_times(slurm, [h, k, s])) == 3:
            break
        time.sleep(0.5)
    starts = _start_times(slurm, [h, k, s])
    assert set(starts) == {h, k, s}, starts
    assert held_seen == {k}  # the adapter's own hold, on K only
    assert starts[s] < starts[h] <= starts[k], starts  # S first, as decided; K only after its release
    blocker_end = _start_times(slurm, [blocker])[blocker] + 7
    assert starts[s] < blocker_end <= starts[k]  # S did not wait for the blocker; K (4 GPUs free beside S) did
    assert _admin_comment(slurm, k) == ""  # the round that released K cleared its mark


def test_without_the_adapter_slurm_backfills_the_small_job(slurm):
    """The control for the test above: left alone, Slurm starts the small job first."""
    blocker = slurm.sbatch("-A", "grok", "-p", "grok", "-N", "3", "--gres=gpu:8", "-t", "1", wrap="sleep 6")
    _wait_running(slurm, [blocker])
    head = slurm.sbatch("-A", "grok", "-p", "grok", "-N", "2", "--gres=gpu:8", "-t", "1", wrap="sleep 2")
    small = slurm.sbatch("-A", "coding", "-p", "coding", "--gres=gpu:8", "-t", "1", wrap="sleep 2")
    _wait_running(slurm, [small])
    assert head in _squeue(slurm, "PD")


def test_unreachable_slurm_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sinfo/squeue/scontrol
    r = CliRunner().invoke(main, ["schedule", "--slurm"])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and "not found" in r.output and "Traceback" not in r.output


def test_snapshot_and_slurm_together_is_a_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["schedule", "--apply", str(REPO / "examples" / "snapshots" / "small.json")])
    assert r.exit_code == 2 and "only with --slurm" in r.output


def test_json_output_and_repeated_rounds(slurm, tmp_path):
    a = slurm.sbatch("-A", "grok", "-p", "grok", "-N", "4", "--gres=gpu:8", "-t", "1", wrap="sleep 30")
    _wait_running(slurm, [a])
    b = slurm.sbatch("-A", "coding", "-p", "coding", "--gres=gpu:2", "-t", "1", wrap="sleep 1")
    code, out = _cli("schedule", "--slurm", "--scenario", SCENARIO, "--policy", "backfill", "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["order"] == [b] and doc["start_now"] == [] and doc["applied"] is None
    assert doc["actions"][0]["command"][:2] == ["scontrol", "update"]
    code, out = _cli("schedule", "--slurm", "--scenario", SCENARIO, "--every", "0.1", "--rounds", "2", "--quiet")
    assert code == 0, out
    assert out.count("backfill:") == 0 and out.count("milp:") == 2  # two rounds, default policy
    r = CliRunner().invoke(main, ["schedule", "--slurm", "--scenario", SCENARIO, "--dump-snapshot", "/proc/snap.json"])
    assert r.exit_code == 2 and "/proc/snap.json: cannot write" in r.output and "Traceback" not in r.output


def test_pending_array_tasks_are_jobs_of_their_own(slurm, tmp_path):
    blocker = slurm.sbatch("-A", "grok", "-p", "grok", "-N", "4", "--gres=gpu:8", "-t", "1", wrap="sleep 30")
    _wait_running(slurm, [blocker])
    arr = slurm.sbatch("-A", "coding", "-p", "coding", "--array=0-3", "--gres=gpu:2", "-t", "1", wrap="sleep 1")
    slurm.run(["scontrol", "update", f"JobId={arr}_2", "Priority=5"])  # splits task 2 off the array record
    run = subprocess_runner()
    for source in ("json", "text"):
        st = read_state(run, source=source, now_s=0.0)
        pend = sorted(j.job_id for j in st.jobs if j.state == "PENDING")
        assert len(pend) == 4, (source, pend)
        assert {f"{arr}_0", f"{arr}_1", f"{arr}_3"} <= set(pend), (source, pend)
    dump = tmp_path / "snap.json"
    code, out = _cli("schedule", "--slurm", "--scenario", SCENARIO, "--dump-snapshot", str(dump), "--apply")
    assert code == 0, out
    assert len(json.loads(dump.read_text())["pending"]) == 4
    assert "skipped" not in out  # scontrol accepted every ID_TASK
