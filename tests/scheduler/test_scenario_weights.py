"""The MILP weights in the scenario's [scheduler.objective] section: defaults, validation, wiring."""

from __future__ import annotations

from pathlib import Path

import pytest

from colossus.errors import InputError
from colossus.scenario import load_scenario
from scheduler.objective import MilpWeights

MEMPHIS = Path(__file__).resolve().parents[2] / "colossus" / "scenario" / "builtin" / "memphis.toml"


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = MEMPHIS.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "variant.toml"
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def test_memphis_weights_match_the_documented_defaults_and_reach_the_policy():
    from colossus.sim.engine import resolve_policy

    scn = load_scenario("memphis")
    w = scn.scheduler.objective.milp_weights({})
    assert w == MilpWeights()  # the shipped values are the documented defaults
    pol, _ = resolve_policy("milp", scn)
    assert pol.weights.wait_targets_s == scn.capacity.wait_p95_slo_s
    assert pol.weights.w_wait == scn.scheduler.objective.w_wait and pol.reserve_min_gpus == scn.scheduler.reserve_min_gpus


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("w_wait = 1.0 ", "w_wait = -1.0 ", "w_wait"),
        ("w_job = 0.05 ", "w_jobs = 0.05 ", "w_jobs"),
        ("w_frag_node = 0.5 ", "w_frag_node = 7.9 ", "w_frag_node"),
        ("reserve_after = 4.0 ", 'reserve_after = "soon" ', "reserve_after"),
    ],
)
def test_bad_weights_name_the_key_and_file(tmp_path, old, new, key):
    p = _variant(tmp_path, old, new)
    with pytest.raises(InputError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert key in msg and "scheduler" in msg and str(p) in msg and "\n" not in msg


def test_weights_validate_in_the_scheduler_too():
    with pytest.raises(ValueError, match="w_guarantee"):
        MilpWeights(w_guarantee=float("nan"))
    with pytest.raises(ValueError, match="wait_targets_s"):
        MilpWeights(wait_targets_s={"a": 0.0})
