"""Fit the step-time model's few global constants on the calibration set, store them in code.

Run::

    python -m colossus.steptime.fit [--data ../shared/data/steptime/calibration.csv] [--no-public] [--write]

Rows: the calibration set plus the in-project public measurements
(``colossus/steptime/data/public_measurements.csv``).  Prints the constants with their bounds
and names every constant that ends at (within 1 % of) a bound.

Minimises the mean absolute log error of predicted vs ``target_step_time_s`` over all rows
(every row weighs the same; no per-source, per-model or per-row factors) with a bounded
Nelder-Mead search (pure NumPy, deterministic restarts).  ``--write`` rewrites the
``_FITTED`` block of :mod:`colossus.steptime.calibration`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from colossus.steptime.calibration import DEFAULT, FIT_PARAMS, Calibration
from colossus.steptime.kernel import evaluate, hardware_arrays, model_arrays
from colossus.steptime.predict import ParsedRows, parse_rows, read_csv_rows

__all__ = [
    "at_bounds",
    "default_data_path",
    "fit",
    "load_calibration_set",
    "load_fit_set",
    "nelder_mead",
    "predict_parsed",
    "public_data_path",
    "score",
]


def default_data_path() -> Path:
    """``<repo>/../shared/data/steptime/calibration.csv``."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "steptime" / "calibration.csv"


def public_data_path() -> Path:
    """The in-project public measurements (``colossus/steptime/data/public_measurements.csv``)."""
    return Path(__file__).with_name("data") / "public_measurements.csv"


def load_calibration_set(path: str | Path) -> tuple[list[dict[str, str]], ParsedRows, np.ndarray]:
    """Rows, parsed kernel inputs and targets (seconds, aligned with ``parsed.index``)."""
    return load_fit_set([path])


def load_fit_set(paths: list[str | Path] | list[Path]) -> tuple[list[dict[str, str]], ParsedRows, np.ndarray]:
    """Rows of several calibration-shaped CSVs (concatenated), parsed rows and targets (s).

    Files that do not exist are skipped (the shared calibration set may be absent).
    """
    rows: list[dict[str, str]] = []
    for path in paths:
        if Path(path).exists():
            rows.extend(read_csv_rows(path)[1])
    parsed = parse_rows(rows)
    target = np.array([float(rows[i]["target_step_time_s"]) for i in parsed.index])
    return rows, parsed, target


def _predictor(parsed: ParsedRows, key: str = "step_time_s") -> Callable[[Calibration], np.ndarray]:
    m = model_arrays(parsed.models, np)
    hw = hardware_arrays(parsed.gpus, np)
    lay = parsed.layout

    def run(cal: Calibration) -> np.ndarray:
        return np.asarray(evaluate(np, m, hw, lay, cal)[key])

    return run


def predict_parsed(parsed: ParsedRows, cal: Calibration, key: str = "step_time_s") -> np.ndarray:
    """One kernel output (default the step time, s) for every parsed row, NumPy."""
    return _predictor(parsed, key)(cal)


def at_bounds(cal: Calibration, rel_tol: float = 0.01) -> dict[str, tuple[float, str]]:
    """Fitted constants within ``rel_tol`` of their bound range's ends: name -> (value, "lower"/"upper")."""
    out: dict[str, tuple[float, str]] = {}
    for name, (lo, hi) in FIT_PARAMS.items():
        val = float(getattr(cal, name))
        span = (hi - lo) * rel_tol
        if val <= lo + span:
            out[name] = (val, "lower")
        elif val >= hi - span:
            out[name] = (val, "upper")
    return out


def score(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Median APE, MAPE and mean |log ratio| (fractions)."""
    ape = np.abs(pred / target - 1.0)
    return {"median_ape": float(np.median(ape)), "mape": float(np.mean(ape)),
            "mean_abs_log": float(np.mean(np.abs(np.log(pred / target))))}  # fmt: skip


def nelder_mead(f: Callable[[np.ndarray], float], x0: np.ndarray, *, step: float = 0.1,
                iters: int = 2000, tol: float = 1e-9) -> tuple[np.ndarray, float]:  # fmt: skip
    """Minimise ``f`` from ``x0`` (standard coefficients 1, 2, 0.5, 0.5)."""
    n = x0.size
    pts = np.vstack([x0] + [x0 + step * np.eye(n)[i] for i in range(n)])
    vals = np.array([f(x) for x in pts])
    for _ in range(iters):
        order = np.argsort(vals, kind="stable")
        pts, vals = pts[order], vals[order]
        if vals[-1] - vals[0] < tol:
            break
        cen = pts[:-1].mean(axis=0)
        xr = cen + (cen - pts[-1])
        fr = f(xr)
        if fr < vals[0]:
            xe = cen + 2.0 * (cen - pts[-1])
            fe = f(xe)
            pts[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = xr, fr
        else:
            xc = cen + 0.5 * (pts[-1] - cen)
            fc = f(xc)
            if fc < vals[-1]:
                pts[-1], vals[-1] = xc, fc
            else:
                pts[1:] = pts[0] + 0.5 * (pts[1:] - pts[0])
                vals[1:] = [f(x) for x in pts[1:]]
    i = int(np.argmin(vals))
    return pts[i], float(vals[i])


def fit(parsed: ParsedRows, target: np.ndarray, *, start: Calibration = DEFAULT,
        restarts: int = 4, starts: int = 1, seed: int = 0) -> tuple[Calibration, dict[str, float]]:  # fmt: skip
    """Fit :data:`FIT_PARAMS` (bounded via a logistic map) and return (calibration, score).

    Parameters
    ----------
    start : Calibration
        First starting point (its values are clipped into the bounds).
    restarts : int
        Nelder-Mead restarts from each starting point (shrinking simplex).
    starts : int
        Starting points: ``start``, then the middle of the bounds, then points drawn in the
        bounds from ``numpy.random.default_rng(seed)`` (deterministic).  The best objective wins;
        the objective is not convex, so one start can stall several points of error away.
    """
    run = _predictor(parsed)
    names = list(FIT_PARAMS)
    lo = np.array([FIT_PARAMS[n][0] for n in names])
    hi = np.array([FIT_PARAMS[n][1] for n in names])
    logt = np.log(target)

    def to_cal(z: np.ndarray) -> Calibration:
        x = lo + (hi - lo) / (1.0 + np.exp(-z))
        return start.with_values(**{n: float(v) for n, v in zip(names, x, strict=True)})

    def obj(z: np.ndarray) -> float:
        pred = run(to_cal(z))
        if not np.all(np.isfinite(pred)) or np.any(pred <= 0):
            return 1e9
        r = np.abs(np.log(pred) - logt)
        return float(np.mean(r) + 0.5 * np.median(r))

    x0 = np.array([getattr(start, n) for n in names], dtype=float)
    frac = np.clip((x0 - lo) / (hi - lo), 0.02, 0.98)
    rng = np.random.default_rng(seed)
    inits = [np.log(frac / (1.0 - frac)), np.zeros(len(names))]
    inits += [rng.uniform(-1.5, 1.5, len(names)) for _ in range(max(starts - 2, 0))]
    best_z, best = inits[0], float("inf")
    for z in inits[: max(starts, 1)]:
        val = obj(z)
        for k in range(restarts):
            z_new, v_new = nelder_mead(obj, z, step=0.6 / (k + 1), iters=3000)
            if v_new <= val:
                z, val = z_new, v_new
        if val < best:
            best_z, best = z, val
    cal = to_cal(best_z)
    return cal, score(run(cal), target)


def write_fitted(cal: Calibration, path: Path | None = None) -> Path:
    """Rewrite the ``_FITTED`` block of calibration.py with the fitted constants."""
    dest = path or Path(__file__).with_name("calibration.py")
    text = dest.read_text(encoding="utf-8")
    body = "".join(f"    {n!r}: {getattr(cal, n)!r},\n" for n in FIT_PARAMS)
    block = f"_FITTED: dict[str, float] = {{\n{body}}}\n"
    new, count = re.subn(r"_FITTED: dict\[str, float\] = \{.*?\}\n", lambda _m: block, text,
                         count=1, flags=re.S)  # fmt: skip
    if count != 1:
        raise RuntimeError(f"{dest}: _FITTED block not found")
    dest.write_text(new, encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_path())
    ap.add_argument("--no-public", action="store_true",
                    help="fit on --data only (default: also the in-project public measurements)")
    ap.add_argument("--write", action="store_true", help="store the fitted constants in calibration.py")
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--starts", type=int, default=4, help="starting points (see fit())")
    ap.add_argument("--from-defaults", action="store_true",
                    help="start from the class defaults instead of the stored fit")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"error: {args.data}: calibration data not found", file=sys.stderr)
        return 2
    _, parsed, target = load_fit_set([args.data] + ([] if args.no_public else [public_data_path()]))
    start = Calibration() if args.from_defaults else DEFAULT
    before = score(_predictor(parsed)(start), target)
    cal, after = fit(parsed, target, start=start, restarts=args.restarts, starts=args.starts)
    print(f"rows: {len(target)} modelled, {len(parsed.errors)} unmodelable")
    print("before: " + ", ".join(f"{k} {v:.4f}" for k, v in before.items()))
    print("after:  " + ", ".join(f"{k} {v:.4f}" for k, v in after.items()))
    for n, (lo, hi) in FIT_PARAMS.items():
        print(f"  {n:24s} {getattr(cal, n):<12.6g} bounds [{lo:g}, {hi:g}]")
    edge = at_bounds(cal)
    print("constants at a bound: " + (", ".join(f"{n} = {v:.4g} ({side})" for n, (v, side) in edge.items()) or "none"))
    if args.write:
        print(f"wrote {write_fitted(cal)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
