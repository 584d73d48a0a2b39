"""Accuracy of the step-time model: in-sample and leave-one-source-out (LOSO) cross-validation.

A fit that has seen a source's rows can absorb that source's quirks, so the in-sample error says
little about a new measurement.  Leave-one-source-out refits the constants once per source group
without that group's rows and predicts the group with that fit; every row is then predicted by
constants that never saw its source.  A source group is one document: the ``source`` column
without table numbers and without parenthetical qualifiers (release, table caption, hardware), so
``torchtitan benchmarks Table 2`` and ``... Table 6`` are one group, the two tables of
Narayanan et al. SC21 (``... SC21 (Megatron-LM PTD-P) Table 1`` and ``... SC21 Table 2 (PTD-P vs
ZeRO-3)``) are one group, and the NeMo Framework performance summary's 24.07 and 25.02 releases
are one group (one page, as the Megatron-Bridge archive's containers are one group).

Scores are fractions: APE = ``|pred / target - 1|``; median APE and MAPE (the mean APE).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from colossus.steptime.calibration import Calibration
from colossus.steptime.predict import ParsedRows

__all__ = [
    "ACCURACY_GOALS",
    "Score",
    "cross_validate",
    "goals_line",
    "group_scores",
    "score_of",
    "source_group",
    "subset",
]

ACCURACY_GOALS: dict[str, float] = {"loso_median_ape": 0.08, "loso_mape": 0.15, "loso_moe_median_ape": 0.15}
"""Issue #13 goals for the leave-one-source-out figures (fractions)."""

_TABLE = re.compile(r"\b(Table|Tab\.)\s*\d+[a-z]?\b", re.I)
_PAREN = re.compile(r"\([^()]*\)")


def source_group(source: str) -> str:
    """The cross-validation group of a ``source`` value: the document, without table numbers and
    parenthetical qualifiers (nested ones included)."""
    text = source
    while True:
        stripped = _PAREN.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return " ".join(_TABLE.sub(" ", text).split()) or "unknown"


def subset(parsed: ParsedRows, sel: np.ndarray) -> ParsedRows:
    """The rows of ``parsed`` at positions ``sel`` (into ``parsed.index``; bool mask or ints)."""
    pos = np.flatnonzero(sel) if np.asarray(sel).dtype == bool else np.asarray(sel, dtype=np.int64)
    return ParsedRows(index=parsed.index[pos], models=[parsed.models[i] for i in pos],
                      gpus=[parsed.gpus[i] for i in pos],
                      layout={k: v[pos] for k, v in parsed.layout.items()},
                      num_gpus=parsed.num_gpus[pos], errors={},
                      recompute_known=None if parsed.recompute_known is None else parsed.recompute_known[pos])  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class Score:
    """Error of predictions against targets.

    Attributes
    ----------
    n : int
        Rows scored.
    median_ape, mape : float
        Median and mean absolute percentage error, fractions.
    median_ratio : float
        Median of predicted / target (below 1: predicted too fast).
    """

    n: int
    median_ape: float
    mape: float
    median_ratio: float


def score_of(pred: np.ndarray, target: np.ndarray) -> Score:
    """Score predictions (seconds) against targets (seconds); NaN figures for no rows."""
    pred, target = np.asarray(pred, dtype=float), np.asarray(target, dtype=float)
    if pred.size == 0:
        return Score(n=0, median_ape=float("nan"), mape=float("nan"), median_ratio=float("nan"))
    ratio = pred / target
    ape = np.abs(ratio - 1.0)
    return Score(n=int(pred.size), median_ape=float(np.median(ape)), mape=float(np.mean(ape)),
                 median_ratio=float(np.median(ratio)))  # fmt: skip


def group_scores(pred: np.ndarray, target: np.ndarray, labels: Sequence[str]) -> dict[str, Score]:
    """Score per label, largest group first."""
    lab = np.asarray(labels, dtype=object)
    keys = sorted(set(lab.tolist()), key=lambda k: (-int(np.sum(lab == k)), str(k)))
    return {k: score_of(pred[lab == k], target[lab == k]) for k in keys}


FitFn = Callable[[ParsedRows, np.ndarray], Calibration]
PredictFn = Callable[[ParsedRows, Calibration], np.ndarray]


def cross_validate(
    parsed: ParsedRows,
    target: np.ndarray,
    groups: Sequence[str],
    *,
    fit_fn: FitFn,
    predict_fn: PredictFn,
    progress: Callable[[str, int], None] | None = None,
    only: Callable[[str], bool] | None = None,
) -> tuple[np.ndarray, dict[str, Calibration]]:
    """Leave-one-group-out predictions.

    Parameters
    ----------
    parsed, target : rows and their target step times (seconds), aligned
    groups : one group label per row
    fit_fn : ``(rows, targets) -> Calibration``, the fit to repeat without each group
    predict_fn : ``(rows, calibration) -> step times (s)``
    progress : optional ``(group, rows held out)`` callback, called before each fold
    only : optional predicate on the group label; folds it rejects are not run and their rows
        stay NaN (a quick partial cross-validation while iterating)

    Returns
    -------
    pred : (N,) float64
        Each row predicted by the fit made without its group (NaN where ``only`` skipped it).
    cals : dict
        The fold's calibration per held-out group.
    """
    lab = np.asarray(groups, dtype=object)
    pred = np.full(len(target), np.nan)
    cals: dict[str, Calibration] = {}
    for g in sorted(set(lab.tolist())):
        if only is not None and not only(g):
            continue
        held = lab == g
        if progress is not None:
            progress(g, int(held.sum()))
        cal = fit_fn(subset(parsed, ~held), np.asarray(target)[~held])
        cals[g] = cal
        pred[held] = predict_fn(subset(parsed, held), cal)
    return pred, cals


def goals_line(loso_all: Score, loso_moe: Score, goals: Mapping[str, float] = ACCURACY_GOALS) -> str:
    """One closing line: each cross-validated goal, the figure reached and met / NOT met."""

    def part(name: str, value: float, goal: float) -> str:
        ok = bool(np.isfinite(value) and value <= goal)
        return f"{name} {100 * value:.1f}% (goal <= {100 * goal:.0f}%: {'met' if ok else 'NOT met'})"

    return "GOALS (leave-one-source-out): " + "; ".join([
        part("median APE", loso_all.median_ape, goals["loso_median_ape"]),
        part("MAPE", loso_all.mape, goals["loso_mape"]),
        part(f"MoE rows median APE (n={loso_moe.n})", loso_moe.median_ape, goals["loso_moe_median_ape"]),
    ])
