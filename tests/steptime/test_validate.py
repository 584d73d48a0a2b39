"""Leave-one-source-out cross-validation: folds never see their own source."""

from __future__ import annotations

import numpy as np
import pytest

from colossus.steptime.calibration import DEFAULT
from colossus.steptime.predict import parse_rows
from colossus.steptime.validate import cross_validate, goals_line, score_of, source_group, subset


def _rows(n: int) -> list[dict[str, str]]:
    return [{"layers": "24", "hidden": str(1024 * (1 + i % 4)), "seq_len": "2048", "num_gpus": "8",
             "global_batch": "64", "gpu": "H100", "dp": "8"} for i in range(n)]  # fmt: skip


def test_source_group_is_one_document():
    assert source_group("torchtitan benchmarks Table 2") == "torchtitan benchmarks"
    assert source_group("torchtitan benchmarks  Table 6") == "torchtitan benchmarks"
    # one paper, two tables with different captions: one group
    assert source_group("Narayanan et al. SC21 Table 2 (PTD-P vs ZeRO-3)") == "Narayanan et al. SC21"
    assert source_group("Narayanan et al. SC21 (Megatron-LM PTD-P) Table 1") == "Narayanan et al. SC21"
    assert source_group("NVIDIA DGX Cloud Benchmarking recipes (dgxc-benchmarking v24.11.1 (35a9aec))") \
        == "NVIDIA DGX Cloud Benchmarking recipes"
    assert source_group("NeMo Framework performance summary (NeMo 24.07, DGX-H100)") \
        == source_group("NeMo Framework performance summary (NeMo 25.02, DGX-H100)")
    assert source_group("NeMo long-sequence performance (NeMo 24.03.01, DGX-H100)") == "NeMo long-sequence performance"
    assert source_group("MosaicML llm-foundry") == "MosaicML llm-foundry"
    assert source_group("Tablet study") == "Tablet study"


def test_folds_never_see_their_group():
    """A 'fit' that memorises the mean target of its training rows: each group's prediction must
    be the mean of the *other* groups' targets."""
    parsed = parse_rows(_rows(9))
    target = np.arange(1.0, 10.0)
    groups = ["a"] * 3 + ["b"] * 2 + ["c"] * 4
    seen: list[int] = []

    def fit_fn(p, t):
        seen.append(len(t))
        return DEFAULT.with_values(step_overhead_s=float(np.mean(t)))

    def predict_fn(p, cal):
        return np.full(len(p.index), cal.step_overhead_s)

    pred, cals = cross_validate(parsed, target, groups, fit_fn=fit_fn, predict_fn=predict_fn)
    lab = np.array(groups)
    for g in "abc":
        assert np.allclose(pred[lab == g], target[lab != g].mean())
    assert sorted(seen) == [5, 6, 7] and set(cals) == {"a", "b", "c"}


def test_subset_and_scores():
    parsed = parse_rows(_rows(5))
    sub = subset(parsed, np.array([True, False, True, False, False]))
    assert list(sub.index) == [0, 2] and sub.layout["tp"].shape == (2,)
    s = score_of(np.array([1.1, 0.8, 1.0]), np.ones(3))
    assert s.median_ape == pytest.approx(0.1) and s.mape == pytest.approx(0.1)
    line = goals_line(score_of(np.array([1.05]), np.ones(1)), score_of(np.array([1.3]), np.ones(1)))
    assert "median APE 5.0% (goal <= 8%: met)" in line and "30.0% (goal <= 15%: NOT met)" in line


def test_public_measurements_are_cited_consistent_and_new(calibration_csv):
    """Every in-project public row: a citation, a target that matches its stated figures (a stated step
    time, or a stated throughput, or both), parseable, predicted to fit (it ran), and not already in
    the shared calibration set."""
    from colossus.steptime.fit import public_data_path
    from colossus.steptime.predict import predict_rows, read_csv_rows

    _, pub = read_csv_rows(public_data_path())
    _, cal = read_csv_rows(calibration_csv)
    assert len(pub) >= 5 and len({r["point_id"] for r in pub}) == len(pub)
    # MoE rows from several documents, so that leaving one out still leaves MoE rows to fit on
    assert len({source_group(r["source"]) for r in pub if r["arch"] == "moe"}) >= 3
    key = lambda r: (r["model_name"].lower().replace(" ", ""), r["num_gpus"], r["global_batch"], r["tp"], r["pp"])  # noqa: E731
    assert not {key(r) for r in pub} & {key(r) for r in cal}
    for r in pub:
        assert r["source"] and "github.com" in r["source_locator"] and r["notes"]
        tgt = float(r["target_step_time_s"])
        assert r["measured_step_time_s"] or r["measured_tokens_per_s_per_gpu"], r["point_id"]
        if r["target_kind"] == "stated":  # the source's step time is the target
            assert tgt == pytest.approx(float(r["measured_step_time_s"]), rel=1e-9), r["point_id"]
        if r["measured_tokens_per_s_per_gpu"]:  # a stated throughput agrees with the target
            implied = float(r["global_batch"]) * float(r["seq_len"]) / (
                float(r["measured_tokens_per_s_per_gpu"]) * float(r["num_gpus"]))
            assert tgt == pytest.approx(implied, rel=0.01), r["point_id"]
    out = predict_rows(pub, xp=np)
    assert all(not r["error"] for r in out) and all(r["fits_memory"] == "true" for r in out)


def test_only_runs_the_chosen_folds_and_leaves_the_rest_nan():
    parsed = parse_rows(_rows(9))
    target = np.arange(1.0, 10.0)
    groups = ["a"] * 3 + ["b"] * 2 + ["c"] * 4
    pred, cals = cross_validate(parsed, target, groups, only=lambda g: g == "b",
                                fit_fn=lambda p, t: DEFAULT.with_values(step_overhead_s=float(np.mean(t))),
                                predict_fn=lambda p, cal: np.full(len(p.index), cal.step_overhead_s))  # fmt: skip
    lab = np.array(groups)
    assert set(cals) == {"b"}
    assert np.allclose(pred[lab == "b"], target[lab != "b"].mean())
    assert np.isnan(pred[lab != "b"]).all()
