"""benchmarks/policy_bound.py: the floor on jobs never started is exact on a hand instance and
never above what a real schedule achieves (a relaxation may be loose, never wrong)."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
H = 4 * 3600.0


@pytest.fixture(scope="module")
def bound():
    spec = importlib.util.spec_from_file_location("policy_bound", REPO / "benchmarks" / "policy_bound.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _floor(bound, g, s, d, need, cap=10.0, caps=(), grace_s=0.0, slots=4):
    g = np.asarray(g, dtype=float)
    b = np.linspace(H / slots, H, slots)
    return bound.never_started_floor(gpus=g, min_gpus=g, submit_s=np.asarray(s, dtype=float), duration_s=np.asarray(d, dtype=float),
                                     horizon_s=H, grace_s=grace_s, window_start_s=0.0, boundaries_s=b,
                                     capacity_gpus=np.full(slots, cap), need_gpu_h=need, wait_caps=caps)


def test_hand_instance(bound):
    # one 10-GPU job and five 2-GPU jobs, all submitted at 0 and running past the horizon, on 10 GPUs
    g, s, d = [10, 2, 2, 2, 2, 2], [0.0] * 6, [36000.0] * 6
    # 40 GPU-h: the five small jobs (5 x 2 x 4 h) or the big one alone; fewest left out: 1
    f = _floor(bound, g, s, d, need=40.0)
    assert f.status == "Optimal" and f.floor == 1 and f.max_useful_gpu_h == pytest.approx(80.0)
    # 41 GPU-h needs both, which 10 GPUs cannot hold at the horizon
    f = _floor(bound, g, s, d, need=41.0)
    assert f.floor is None and f.status == "Infeasible"
    # the big job must start within 30 min: it holds all 10 GPUs from then on, the five wait forever
    cap = bound.WaitCap(mask=np.array([True] + [False] * 5), wait_s=1800.0, allowed=0)
    assert _floor(bound, g, s, d, need=0.0, caps=(cap,)).floor == 5
    # a job submitted in the last grace_s does not count
    assert _floor(bound, g, [*s[:5], H - 60.0], d, need=0.0, caps=(cap,), grace_s=300.0).floor == 4


def test_p95_allowed_late(bound):
    """More than ``p95_allowed_late(n)`` values above ``x`` put numpy's p95 above ``x``; with one
    fewer (when the rest sit far below) it can stay at ``x``: the count is necessary and tight."""
    for n in (1, 2, 19, 20, 21, 100, 151):
        k = bound.p95_allowed_late(n)
        over = np.r_[np.zeros(n - k - 1), np.full(k + 1, 100.0)]
        assert np.quantile(over, 0.95) > 0.0
        if k >= 1:
            at = np.r_[np.zeros(n - k + 1), np.full(k - 1, 100.0)]
            assert np.quantile(at, 0.95) == 0.0


@st.composite
def instances(draw):
    n = draw(st.integers(1, 4))
    g = draw(st.lists(st.sampled_from([1, 2, 4, 8]), min_size=n, max_size=n))
    s = draw(st.lists(st.sampled_from([0.0, 1800.0, 3600.0, 7200.0]), min_size=n, max_size=n))
    d = draw(st.lists(st.sampled_from([600.0, 3600.0, 9000.0, 20000.0]), min_size=n, max_size=n))
    cap = draw(st.sampled_from([4.0, 8.0, 10.0]))
    need = draw(st.floats(0.0, 40.0))
    wait_s = draw(st.sampled_from([0.0, 3600.0, 7200.0]))
    allowed = draw(st.integers(0, 1))
    return g, s, d, cap, need, wait_s, allowed


@settings(max_examples=60, deadline=None)
@given(instances())
def test_floor_never_above_a_real_schedule(bound, inst):
    """Every schedule that starts jobs at slot starts (or never), holds at most ``cap`` GPUs at every
    instant and meets the goals leaves at least ``floor`` jobs unstarted."""
    g, s, d, cap, need, wait_s, allowed = inst
    slots = 4
    t = np.linspace(0.0, H, slots + 1)[:-1]
    mask = np.array([x >= 4 for x in g])
    wc = bound.WaitCap(mask=mask, wait_s=wait_s, allowed=allowed)
    f = _floor(bound, g, s, d, need, cap=cap, caps=(wc,), slots=slots)
    options = [[None, *sorted({max(si, tk) for tk in t if max(si, tk) < H})] for si in s]
    best = None
    for starts in itertools.product(*options):
        instants = [x for x in starts if x is not None] + list(t[1:]) + [H]
        if any(sum(gi for gi, a, di in zip(g, starts, d, strict=True) if a is not None and a <= x < a + di) > cap for x in instants):
            continue
        useful = sum(gi * min(di, H - a) for gi, a, di in zip(g, starts, d, strict=True) if a is not None) / 3600.0
        late = sum(1 for i, a in enumerate(starts) if mask[i] and (H - s[i] if a is None else a - s[i]) > wait_s)
        if useful < need - 1e-9 or late > allowed:
            continue
        never = sum(a is None for a in starts)
        best = never if best is None else min(best, never)
    if best is not None:
        assert f.floor is not None and f.floor <= best


def test_bad_runs_file_is_one_line_and_exit_2(bound, tmp_path, capsys):
    f = tmp_path / "runs.jsonl"
    f.write_text('{"bad": 1}\n', encoding="utf-8")
    assert bound.main(["--jsonl", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {f}: not a runs file") and "\n" not in err
    assert bound.main(["--jsonl", str(tmp_path / "missing.jsonl")]) == 2
