"""`colossus schedule FILE --scenario S`: the milp policy takes the scenario's [scheduler] settings,
built by the same code as the simulator's (SchedulerSection.milp_options)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from colossus.scenario import load_scenario
from scheduler.objective import MilpWeights
from scheduler.snapshot import snapshot_to_dict
from scheduler.types import ClusterView, DivisionState, PendingJob, RunningJob

REPO = Path(__file__).resolve().parents[2]
SLURM4 = REPO / "examples" / "slurm_4node.toml"
MEMPHIS = REPO / "colossus" / "scenario" / "builtin" / "memphis.toml"
SMALL = REPO / "examples" / "snapshots" / "small.json"


def _cli():
    try:
        from colossus.cli import cli
        cli.list_commands(None)  # type: ignore[arg-type]
    except ImportError as exc:  # another command module may be missing while the CLI is assembled
        pytest.skip(f"colossus CLI not loadable: {exc}")
    return cli


def _reservation_snapshot(tmp_path: Path) -> Path:
    """The 4-node cluster of slurm_4node.toml (32 GPUs): 16 busy until t=1000, a 32-GPU gang job of
    division grok waiting beside an 8-GPU job that would run past t=1000 and one that would not."""
    free = np.array([8, 8, 0, 0])
    view = ClusterView(free_gpus=free, node_pool=np.zeros(4, dtype=int), pool_hall=np.zeros(1, dtype=int),
                       divisions=(DivisionState(name="grok", guaranteed_gpus=0, borrow_limit_gpus=32),
                                  DivisionState(name="coding", guaranteed_gpus=0, borrow_limit_gpus=32)))
    running = [RunningJob(job_id=f"r{n}", division="coding", num_gpus=8, allocation=((n, 8),), expected_end_s=1000.0,
                          preemptible=False) for n in (2, 3)]
    pending = [
        PendingJob(job_id="big", division="grok", num_gpus=32, priority=2, submit_time_s=0.0),
        PendingJob(job_id="long", division="coding", num_gpus=8, submit_time_s=1.0, expected_duration_s=5000.0),
        PendingJob(job_id="short", division="coding", num_gpus=8, submit_time_s=2.0, expected_duration_s=500.0),
    ]
    f = tmp_path / "snap.json"
    f.write_text(json.dumps(snapshot_to_dict(view, pending, running, 100.0)))
    return f


def _slurm4_variant(tmp_path: Path, scheduler_lines: str, objective: str) -> Path:
    text = SLURM4.read_text(encoding="utf-8")
    anchor = 'policy = "backfill"'
    assert anchor in text
    text = text.replace(anchor, anchor + "\n" + scheduler_lines, 1) + "\n[scheduler.objective]\n" + objective + "\n"
    p = tmp_path / "scn.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_scenario_weights_change_the_decision(tmp_path):
    """reserve_after = 0 and reserve_min_gpus = 32 in the scenario: the 32-GPU job gets a reservation
    and the job that would delay it waits; without --scenario (defaults) nothing is held."""
    cli = _cli()
    snap = _reservation_snapshot(tmp_path)
    scn = _slurm4_variant(tmp_path, "reserve_min_gpus = 32", "reserve_after = 0.0")
    r = CliRunner().invoke(cli, ["schedule", str(snap), "--json"])
    assert r.exit_code == 0, r.output
    plain = json.loads(r.stdout)
    assert not plain["reservations"] and {"long", "short"} <= set(plain["starts"])
    r = CliRunner().invoke(cli, ["schedule", str(snap), "--json", "--scenario", str(scn)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [x["job_id"] for x in out["reservations"]] == ["big"] and out["reservations"][0]["start_s"] == 1000.0
    assert "short" in out["starts"] and "long" not in out["starts"]
    assert out["explanations"]["long"]["reason"] == "reservation"
    # the scenario as it ships (reserve_after 8 wait targets, 1 h default target, job 100 s old): no reservation
    r = CliRunner().invoke(cli, ["schedule", str(snap), "--json", "--scenario", str(SLURM4)])
    assert r.exit_code == 0, r.output
    assert not json.loads(r.stdout)["reservations"]


def test_scenario_settings_reach_the_policy_as_in_the_simulator(tmp_path, monkeypatch):
    """What the CLI applies is what the simulator applies (colossus.sim.engine.resolve_policy),
    except the command line's --solver and --time-limit."""
    import colossus.commands.schedule as sched
    from colossus.sim.engine import resolve_policy

    cli = _cli()
    text = MEMPHIS.read_text(encoding="utf-8")
    for old, new in (("w_job = 0.1 ", "w_job = 0.25 "), ("preempt_after = 8.0 ", "preempt_after = 3.0 ")):
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "memphis_w.toml"
    path.write_text(text, encoding="utf-8")
    seen = []
    monkeypatch.setattr(sched, "_from_file", lambda snapshot, policy, *a, **k: seen.append(policy))
    monkeypatch.setattr(sched, "_from_slurm", lambda policy, scn, *a, **k: seen.append(policy))
    for args in (["schedule", str(SMALL), "--scenario", str(path), "--time-limit", "3"],
                 ["schedule", "--slurm", "--scenario", str(path), "--time-limit", "3"]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
    scn = load_scenario(path)
    sim, _ = resolve_policy("milp", scn)
    for pol in seen:
        assert pol.weights == sim.weights
        assert pol.weights.w_job == 0.25 and pol.weights.preempt_after == 3.0
        assert dict(pol.weights.wait_targets_s) == scn.capacity.wait_p95_slo_s
        assert (pol.min_runtime_s, pol.reserve_min_gpus, pol.gap_rel, pol.threads) == (
            sim.min_runtime_s, sim.reserve_min_gpus, sim.gap_rel, sim.threads)
        assert pol.time_limit_s == 3.0 and pol.solver == "highs"
        assert pol.explain  # the CLI explains waiting jobs (the simulator switches that off)
    # without --scenario a snapshot keeps the policy's defaults
    seen.clear()
    assert CliRunner().invoke(cli, ["schedule", str(SMALL)]).exit_code == 0
    assert seen[0].weights == MilpWeights() and seen[0].min_runtime_s == sched.make_scheduling_policy("milp").min_runtime_s


def test_unknown_divisions_get_a_note(tmp_path):
    """memphis names wait targets for its own divisions; the example snapshot's divisions are not among them."""
    cli = _cli()
    r = CliRunner().invoke(cli, ["schedule", str(SMALL), "--scenario", "memphis", "--json"])
    assert r.exit_code == 0, r.output
    json.loads(r.stdout)  # the note goes to stderr
    assert r.stderr.startswith("note: --scenario memphis:") and "default_wait_target_s (3600 s)" in r.stderr


def test_bad_scenario_exit_2_one_line(tmp_path):
    cli = _cli()
    text = MEMPHIS.read_text(encoding="utf-8").replace("wait_cap = 8.0 ", "wait_cap = 3.0 ", 1)
    p = tmp_path / "cap.toml"
    p.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(cli, ["schedule", str(SMALL), "--scenario", str(p)])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and str(p) in r.stderr and "scheduler.objective.preempt_after" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_help_explains_scenario():
    cli = _cli()
    r = CliRunner().invoke(cli, ["schedule", "--help"])
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    assert "--scenario" in text and "[scheduler.objective] weights" in text and "wait_p95_slo_s" in text
    assert "Without it a SNAPSHOT is scheduled with the policy's defaults" in text
