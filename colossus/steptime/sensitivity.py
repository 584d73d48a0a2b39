"""How the step time and the days to train move when each fitted constant moves across its bounds.

For every constant in :data:`colossus.steptime.calibration.FIT_PARAMS` the model is evaluated
with that constant at its lower and at its upper bound (all others at their fitted values):

* on the **fixed** layout chosen with the fitted constants (what changes if the plan is kept), and
* on the **re-chosen** best layout under the moved constant (what changes if the plan adapts).

Rows are sorted by the swing of the fixed-layout step time, largest first (a tornado).
"""

from __future__ import annotations

from dataclasses import dataclass

from colossus.hardware import GpuSpec
from colossus.steptime.calibration import DEFAULT, FIT_PARAMS, Calibration
from colossus.steptime.layout import Layout
from colossus.steptime.models import ModelSpec
from colossus.steptime.search import best_layout, estimate

__all__ = ["SensitivityRow", "sensitivity"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SensitivityRow:
    """One bar of the tornado.

    Attributes
    ----------
    name : str
        Fitted constant.
    fitted, lower, upper : float
        Its fitted value and bounds.
    step_lower_s, step_upper_s : float
        Step time of the fixed layout with the constant at the lower / upper bound, seconds.
    days_lower, days_upper : float
        Days to train the token budget on the fixed layout at the lower / upper bound.
    best_days_lower, best_days_upper : float
        Days to train on the best layout re-chosen under the moved constant (inf: none fits).
    """

    name: str
    fitted: float
    lower: float
    upper: float
    step_lower_s: float
    step_upper_s: float
    days_lower: float
    days_upper: float
    best_days_lower: float
    best_days_upper: float

    @property
    def swing_s(self) -> float:
        """Spread of the fixed-layout step time across the bounds, seconds."""
        return abs(self.step_upper_s - self.step_lower_s)


def _days(tokens: float, tokens_per_s: float) -> float:
    return tokens / tokens_per_s / 86400.0 if tokens_per_s > 0 else float("inf")


def sensitivity(model: ModelSpec, gpu: GpuSpec, num_gpus: int, layout: Layout, *, tokens: float,
                cal: Calibration = DEFAULT, global_batch_tokens: int | None = None,
                precisions: tuple[str, ...] = ("bf16",), rechoose: bool = True) -> list[SensitivityRow]:  # fmt: skip
    """Tornado rows for ``layout`` of ``model`` on ``num_gpus`` x ``gpu`` (see module docstring).

    Parameters
    ----------
    tokens : float
        Token budget for the days to train.
    rechoose : bool
        Also re-run the layout search at each bound (``best_days_*``; NaN when False).
    """
    rows: list[SensitivityRow] = []
    for name, (lo, hi) in FIT_PARAMS.items():
        vals: dict[str, tuple[float, float, float]] = {}
        for side, x in (("lower", lo), ("upper", hi)):
            c = cal.with_values(**{name: float(x)})
            res, _ = estimate(model, gpu, layout, num_gpus=num_gpus, cal=c)
            best = float("nan")
            if rechoose:
                found = best_layout(model, gpu, num_gpus, global_batch_tokens=global_batch_tokens,
                                    precisions=precisions, allow_idle=True, cal=c)  # fmt: skip
                best = _days(tokens, found[0].tokens_per_s) if found else float("inf")
            vals[side] = (res.step_time_s, _days(tokens, res.tokens_per_s), best)
        rows.append(SensitivityRow(name=name, fitted=float(getattr(cal, name)), lower=float(lo), upper=float(hi),
                                   step_lower_s=vals["lower"][0], step_upper_s=vals["upper"][0],
                                   days_lower=vals["lower"][1], days_upper=vals["upper"][1],
                                   best_days_lower=vals["lower"][2], best_days_upper=vals["upper"][2]))  # fmt: skip
    rows.sort(key=lambda r: -r.swing_s)
    return rows
