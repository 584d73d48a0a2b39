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
        ("w_wait = 0.25 ", "w_wait = -1.0 ", "w_wait"),
        ("w_job = 0.1 ", "w_jobs = 0.1 ", "w_jobs"),
        ("w_frag_node = 0.5 ", "w_frag_node = 7.9 ", "w_frag_node"),
        ("reserve_after = 8.0 ", 'reserve_after = "soon" ', "reserve_after"),
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


# --- the module docstring of scheduler.objective is the weights' documentation: it cannot drift


def _documented_defaults() -> dict[str, tuple[object, str]]:
    """``name -> (default, unit)`` from the ``name = default -- unit`` entries of scheduler.objective's docstring."""
    import ast
    import re

    import scheduler.objective as objective

    doc = objective.__doc__ or ""
    out: dict[str, tuple[object, str]] = {}
    for m in re.finditer(r"^``(\w+)`` = (\S+) -- (.+)$", doc, flags=re.MULTILINE):
        assert m.group(1) not in out, f"{m.group(1)} documented twice"
        out[m.group(1)] = (ast.literal_eval(m.group(2)), m.group(3).strip())
    return out


def test_objective_docstring_documents_every_weight_with_its_true_default_and_unit():
    from dataclasses import fields

    from colossus.scenario.types import ObjectiveSection

    documented = _documented_defaults()
    names = [f.name for f in fields(MilpWeights)]
    assert sorted(documented) == sorted(names)  # every weight, w_fairshare included, and nothing else
    defaults = MilpWeights()
    for name, (value, unit) in documented.items():
        assert value == getattr(defaults, name), f"{name}: documented {value!r}, code {getattr(defaults, name)!r}"
        assert unit, f"{name}: no unit"
    # the scenario section's own defaults and the shipped memphis values are the same figures
    assert ObjectiveSection().milp_weights({}) == defaults
    assert load_scenario("memphis").scheduler.objective.milp_weights({}) == defaults


def test_milp_module_docstring_describes_the_current_objective():
    import scheduler.milp as milp

    doc = milp.__doc__ or ""
    for stale in ("0.5 prio", "0.25 w_d", "age is not in the value", "min(4 + restart_cost_h, 8)",
                  "first big job in priority order"):
        assert stale not in doc, stale
    for term in ("w_wait", "wait_cap", "w_job", "w_guarantee", "w_frag_node", "w_frag_array", "preempt_lost_cap_s",
                 "preempt_after", "reserve_after", "wait_p95_slo_s", "_fill"):
        assert term in doc, term


# --- wait_cap below preempt_after / reserve_after would silently switch those features off


@pytest.mark.parametrize("key", ["preempt_after", "reserve_after"])
def test_wait_cap_below_an_after_threshold_is_rejected(key):
    with pytest.raises(ValueError, match=f"MilpWeights.{key}:.*wait_cap"):
        MilpWeights(wait_cap=1.5, **{key: 1.6, "preempt_after" if key == "reserve_after" else "reserve_after": 1.0})
    MilpWeights(wait_cap=1.5, preempt_after=1.5, reserve_after=1.5)  # equal: a capped wait still reaches it


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("wait_cap = 8.0 ", "wait_cap = 3.0 ", "scheduler.objective.preempt_after"),  # below preempt_after = 8 (checked first)
        ("wait_cap = 8.0 ", "wait_cap = 7.5 ", "scheduler.objective.preempt_after"),  # below reserve_after = 8 too
        ("reserve_after = 8.0 ", "reserve_after = 9.0 ", "scheduler.objective.reserve_after"),
    ],
)
def test_scenario_wait_cap_below_an_after_threshold_names_key_and_file(tmp_path, old, new, key):
    p = _variant(tmp_path, old, new)
    with pytest.raises(InputError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: {key}:") and "wait_cap" in msg and "\n" not in msg
