"""The Slurm adapter's pure parts on recorded Slurm 22.05 output (no Slurm needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from colossus.adapters.slurm import (
    HOLD_MARK,
    PRIORITY_TOP,
    DivisionSpec,
    SlurmError,
    build_snapshot,
    hold_argv,
    plan_actions,
)
from colossus.adapters.slurm.snapshot import division_of
from colossus.adapters.slurm.state import (
    SlurmJob,
    SlurmNode,
    SlurmState,
    expand_hostlist,
    gpus_from_tres,
    parse_json_state,
    parse_text_state,
)
from scheduler import make_policy, parse_snapshot
from traces.importers.divisions import DivisionMap

FIX = Path(__file__).with_name("fixtures")
DIVS = (DivisionSpec(name="grok", guaranteed_share=0.0), DivisionSpec(name="coding", guaranteed_share=0.0))


def _json_state():
    return parse_json_state((FIX / "sinfo.json").read_text(), (FIX / "squeue.json").read_text(), 1796354310.0)


def _text_state():
    return parse_text_state((FIX / "scontrol_nodes.txt").read_text(), (FIX / "scontrol_jobs.txt").read_text(), 1796354310.0)


def test_json_and_text_readers_agree_on_recorded_output():
    a, b = _json_state(), _text_state()
    assert a.nodes == b.nodes
    # the two recordings are a moment apart: job 16's pending reason changed in between
    strip = [dataclasses.replace(j, reason="") for j in a.jobs]
    assert strip == [dataclasses.replace(j, reason="") for j in b.jobs]
    assert [j.job_id for j in a.jobs] == ["13", "14", "15", "16", "17", "18"]


def test_recorded_state_figures():
    s = _json_state()
    assert [n.name for n in s.nodes] == ["n1", "n2", "n3", "n4"]
    assert all(n.gpus == 8 and n.gpu_type == "h100" for n in s.nodes)
    assert [n.gpus_used for n in s.nodes] == [3, 8, 4, 0]
    jobs = {j.job_id: j for j in s.jobs}
    assert jobs["14"].alloc == (("n2", 8), ("n3", 4))  # --gpus=12 over two nodes, uneven
    assert jobs["15"].num_gpus == 16 and jobs["15"].time_limit_s == 86400.0  # -N 2 --gres=gpu:8, 1 day
    assert jobs["18"].num_gpus == 0  # CPU only
    assert jobs["17"].held and not jobs["17"].held_by_us


def test_snapshot_from_recorded_state():
    live = build_snapshot(_json_state(), DIVS, nodes_per_pool=4)
    view, pending, running, now = parse_snapshot(live.snapshot, "recorded")
    assert view.free_gpus.tolist() == [5, 0, 4, 8]
    assert {r.job_id: r.allocation for r in running} == {"13": ((0, 3),), "14": ((1, 8), (2, 4))}
    assert [p.job_id for p in pending] == ["15", "16"]
    assert dict(live.skipped) == {"17": "pending with reason JobHeldUser (not eligible to start)",
                                  "18": "no GPUs (CPU-only job)"}
    assert all(r.start_time_s < 0 and not r.preemptible for r in running)
    assert pending[0].submit_time_s < pending[1].submit_time_s  # same second, job-id order kept
    assert now == 0.0


def test_hostlist_and_tres():
    assert expand_hostlist("n[1-3,5],gpu07,x[08-10]") == ["n1", "n2", "n3", "n5", "gpu07", "x08", "x09", "x10"]
    assert gpus_from_tres("cpu=2,mem=2000M,node=2,billing=2,gres/gpu=12,gres/gpu:h100=12") == 12
    assert gpus_from_tres("billing=1,cpu=1,gres/gpu:h100=4,gres/gpu=4,mem=1000M,node=1") == 4
    assert gpus_from_tres("cpu=1,mem=1000M") == 0


def _job(jid: str, account: str = "a", partition: str = "p", **kw) -> SlurmJob:
    base = dict(job_id=jid, name="j", user="u", account=account, partition=partition, state="PENDING",
                reason="Priority", num_gpus=1, num_nodes=1, alloc=(), submit_time_s=0.0, start_time_s=None,
                time_limit_s=60.0, priority=1)
    base.update(kw)
    return SlurmJob(**base)


def test_division_rules():
    names = ["grok", "coding"]
    m = DivisionMap(divisions=tuple(names), explicit={"acct1": "coding", "partition:gpu": "grok", "*": "coding"})
    assert division_of(_job("1", "acct1", "gpu"), names, m) == "coding"  # account entry first
    assert division_of(_job("1", "x", "gpu"), names, m) == "grok"  # then partition entry
    assert division_of(_job("1", "grok", "q"), names, m) == "grok"  # then a name match
    assert division_of(_job("1", "x", "q"), names, m) == "coding"  # then '*'
    assert division_of(_job("1", "x", "q"), names, None) in names  # then the hash


def test_mixed_gpu_counts_are_refused():
    nodes = (SlurmNode(name="a", state="idle", gpus=8, gpus_used=0, gpu_type=None, partitions=()),
             SlurmNode(name="b", state="idle", gpus=4, gpus_used=0, gpu_type=None, partitions=()))
    with pytest.raises(SlurmError, match="node b: 4 GPUs"):
        build_snapshot(SlurmState(now_s=0, nodes=nodes, jobs=(), source="json"), DIVS)


def test_drained_node_is_failed_unless_busy():
    nodes = tuple(SlurmNode(name=f"n{i}", state=s, gpus=8, gpus_used=0, gpu_type=None, partitions=())
                  for i, s in enumerate(["idle", "idle+drain", "mixed+drain", "down"]))
    run = _job("9", state="RUNNING", alloc=(("n2", 2),), num_gpus=2, start_time_s=0.0)
    live = build_snapshot(SlurmState(now_s=0, nodes=nodes, jobs=(run,), source="json"), DIVS)
    assert live.snapshot["cluster"]["failed_nodes"] == [1, 3]


# --------------------------------------------------------------------------------------------
# decision -> actions: properties on random queues

@st.composite
def _queues(draw):
    n_nodes = draw(st.integers(1, 6))
    used = draw(st.lists(st.integers(0, 8), min_size=n_nodes, max_size=n_nodes))
    nodes = tuple(SlurmNode(name=f"n{i}", state="mixed", gpus=8, gpus_used=u, gpu_type=None, partitions=())
                  for i, u in enumerate(used))
    jobs = []
    jid = 100
    for i, u in enumerate(used):
        if u:
            jobs.append(_job(str(jid), state="RUNNING", alloc=((f"n{i}", u),), num_gpus=u, start_time_s=-10.0,
                             time_limit_s=draw(st.sampled_from([60.0, 600.0]))))
            jid += 1
    for _ in range(draw(st.integers(0, 8))):
        held = draw(st.booleans())
        stale = not held and draw(st.booleans())  # a mark left on a released job (a failure between commands)
        jobs.append(_job(str(jid), account=draw(st.sampled_from(["grok", "coding"])),
                         num_gpus=draw(st.sampled_from([1, 2, 4, 8, 16])), submit_time_s=float(draw(st.integers(-50, 0))),
                         priority=0 if held else draw(st.sampled_from([1, PRIORITY_TOP])),
                         reason="JobHeldAdmin" if held else "Priority",
                         admin_comment=HOLD_MARK if held or stale else ""))
        jid += 1
    return SlurmState(now_s=0.0, nodes=nodes, jobs=tuple(jobs), source="json")


@given(_queues(), st.sampled_from(["fifo", "backfill", "fairshare", "milp"]))
def test_action_plan_invariants(state, policy_name):
    live = build_snapshot(state, DIVS, nodes_per_pool=4)
    view, pending, running, now = parse_snapshot(live.snapshot, "t")
    decision = make_policy(policy_name).schedule(view, pending, running, now)
    plan = plan_actions(live, view, pending, decision)
    # every pending job appears once; the starts come first
    assert sorted(plan.order) == sorted(p.job_id for p in pending)
    assert list(plan.order[: len(plan.start_now)]) == list(plan.start_now)
    assert set(plan.start_now) == set(decision.starts)
    # holds: only jobs the policy keeps waiting, and only where they would fit on what is left free
    free = view.free_gpus.copy()
    for alloc in decision.starts.values():
        for n, g in alloc:
            free[n] -= g
    size = {p.job_id: p.num_gpus for p in pending}
    for jid in plan.hold:
        assert jid not in decision.starts
        g = size[jid]
        assert (free >= g).any() if g <= 8 else (free == 8).sum() * 8 >= g
    # priorities strictly decrease along the order; every job not held ends with the priority of its place
    final: dict[str, int] = {j.job_id: j.priority for j in state.jobs}
    held = {j.job_id for j in state.jobs if j.held_by_us}
    for a in plan.actions:
        verb = a.argv[1]
        assert verb != "hold"  # the adapter holds with one update that also carries the mark
        if a.argv == hold_argv(a.job_id):
            held.add(a.job_id)
        elif verb == "release":
            held.discard(a.job_id)
        elif verb == "update" and a.argv[-1].startswith("Priority="):
            final[a.job_id] = int(a.argv[-1].split("=")[1])
    assert held == set(plan.hold)
    # a stale mark (no hold behind it) is not taken for the adapter's hold, and is cleared
    for j in state.jobs:
        if j.admin_comment == HOLD_MARK and not j.held_by_us and j.job_id not in plan.hold:
            assert not any(a.job_id == j.job_id and a.argv[1] == "release" for a in plan.actions)
            assert any(a.argv == ("scontrol", "update", f"JobId={j.job_id}", "AdminComment=") for a in plan.actions)
    # a held job is never left without its mark: the hold and the mark are one command
    assert all(f"AdminComment={HOLD_MARK}" in a.argv and "Priority=0" in a.argv
               for a in plan.actions if "Priority=0" in a.argv)
    placed = [jid for jid in plan.order if jid not in held]
    prios = [final[j] for j in placed]
    assert prios == [PRIORITY_TOP - plan.order.index(j) for j in placed]
    assert all(x > y for x, y in zip(prios, prios[1:]))
    assert not any(a.argv[1] == "hold" and a.job_id in decision.starts for a in plan.actions)
    assert np.all(free >= 0)
