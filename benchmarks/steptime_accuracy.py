"""Accuracy of the step-time model: in-sample and leave-one-source-out (cross-validated).

In-sample: the stored constants (fitted on all rows) predict every row.  Leave-one-source-out
(LOSO): for each source group the constants are refitted from the class defaults without that
group's rows (``colossus.steptime.fit.fit``, same procedure as ``python -m colossus.steptime.fit
--from-defaults``, 4 starting points) and that fit predicts the group, so no row is predicted by a fit that saw its
source.  Prints median APE and MAPE overall, dense/MoE, by GPU, precision and source group, the
share of rows (all of which ran) predicted to fit in HBM, and a closing line with the issue #13
goals (LOSO median APE <= 8 %, MAPE <= 15 %, MoE rows <= 15 %) and whether each is met.

Rows: ``../shared/data/steptime/calibration.csv`` plus the in-project public measurements
(``colossus/steptime/data/public_measurements.csv``).

    python benchmarks/steptime_accuracy.py [--data PATH] [--no-public] [--worst 15] [--restarts 3] [--starts 4]
    python benchmarks/steptime_accuracy.py --only Megatron-Bridge --only AutoModel --starts 2   # quick, MoE folds
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# benchmarks/scheduler.py and benchmarks/traces.py would shadow our packages when this folder is sys.path[0]
_sys.path[:] = [p for p in _sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from colossus.steptime.calibration import DEFAULT, Calibration
from colossus.steptime.fit import at_bounds, default_data_path, fit, load_fit_set, predict_parsed, public_data_path
from colossus.steptime.predict import fits_memory
from colossus.steptime.validate import Score, cross_validate, goals_line, group_scores, score_of, source_group, subset


def _fmt(s: Score) -> str:
    return (f"n={s.n:4d}  median APE {100 * s.median_ape:6.2f}%  MAPE {100 * s.mape:6.2f}%  "
            f"median pred/target {s.median_ratio:.3f}")  # fmt: skip


def _table(title: str, labels: list[str], pred_in: np.ndarray, pred_cv: np.ndarray, tgt: np.ndarray) -> None:
    print(f"by {title}:                                           in-sample"
          "                                   | leave-one-source-out")
    cv = group_scores(pred_cv, tgt, labels)
    for key, s_in in group_scores(pred_in, tgt, labels).items():
        s_cv = cv[key]
        print(f"  {key[:44]:44s} {_fmt(s_in)} | {100 * s_cv.median_ape:6.2f}% / {100 * s_cv.mape:6.2f}% "
              f"ratio {s_cv.median_ratio:.3f}")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_path())
    ap.add_argument("--no-public", action="store_true", help="leave out the in-project public measurements")
    ap.add_argument("--worst", type=int, default=10)
    ap.add_argument("--restarts", type=int, default=3, help="Nelder-Mead restarts per start per LOSO fold")
    ap.add_argument("--starts", type=int, default=4, help="starting points per LOSO fold (as the fit CLI)")
    ap.add_argument("--only", action="append", default=[], metavar="TEXT",
                    help="quick partial run: only the folds whose source group contains TEXT (repeatable; "
                         "e.g. --only Megatron-Bridge --only AutoModel for the MoE rows); the leave-one-"
                         "source-out figures then cover those groups' rows only")
    args = ap.parse_args()
    if not args.data.exists():
        print(f"calibration data not found: {args.data}", file=sys.stderr)
        return 2
    paths = [args.data] + ([] if args.no_public else [public_data_path()])
    rows, parsed, tgt = load_fit_set(paths)
    print(f"rows: {len(rows)} from {', '.join(p.name for p in paths)}; modelled {len(tgt)}, "
          f"unmodelable {len(parsed.errors)}")  # fmt: skip
    kept = [rows[i] for i in parsed.index]
    groups = [source_group(r["source"]) for r in kept]
    pred_in = predict_parsed(parsed, DEFAULT)
    t0 = time.perf_counter()

    def fold_fit(p, t):  # type: ignore[no-untyped-def]
        return fit(p, t, start=Calibration(), restarts=args.restarts, starts=args.starts)[0]

    only = (lambda g: any(o.lower() in g.lower() for o in args.only)) if args.only else None
    pred_cv, fold_cals = cross_validate(parsed, tgt, groups, fit_fn=fold_fit, predict_fn=predict_parsed, only=only,
                                progress=lambda g, n: print(f"  fold: without {g} ({n} rows)", file=sys.stderr))  # fmt: skip
    if args.only:  # score only the rows whose fold ran
        ran = np.isfinite(pred_cv)
        if not ran.any():
            print(f"no source group matches --only {args.only}", file=sys.stderr)
            return 2
        print(f"PARTIAL run (--only {' '.join(args.only)}): {int(ran.sum())} of {ran.size} rows")
        kept, groups = [r for r, k in zip(kept, ran) if k], [g for g, k in zip(groups, ran) if k]
        parsed, tgt, pred_in, pred_cv = subset(parsed, ran), tgt[ran], pred_in[ran], pred_cv[ran]
    print(f"leave-one-source-out: {len(set(groups))} folds in {time.perf_counter() - t0:.0f} s")
    edge_in = at_bounds(DEFAULT)
    print("stored constants at a bound: " + (", ".join(f"{n} ({side})" for n, (_, side) in edge_in.items()) or "none"))
    for g, c in fold_cals.items():
        edge = at_bounds(c)
        if edge:
            print(f"  fold without {g[:40]}: at a bound: " + ", ".join(f"{n} ({side})" for n, (_, side) in edge.items()))
    s_in, s_cv = score_of(pred_in, tgt), score_of(pred_cv, tgt)
    print(f"OVERALL in-sample            {_fmt(s_in)}")
    print(f"OVERALL leave-one-source-out {_fmt(s_cv)}")
    strict = np.asarray(predict_parsed(parsed, DEFAULT, key="fits"), dtype=bool)
    mem = fits_memory(parsed, strict, xp=np)
    print(f"rows predicted to fit in HBM (all of them ran): {int(mem.sum())}/{mem.size} "
          f"({100 * mem.mean():.1f} %; goal >= 97 %: {'met' if mem.mean() >= 0.97 else 'NOT met'}); "
          f"strict, an unknown recompute taken as none (as the step time is): {int(strict.sum())}/{strict.size} "
          f"({100 * strict.mean():.1f} %)")  # fmt: skip
    _table("arch", [r["arch"] or "dense" for r in kept], pred_in, pred_cv, tgt)
    _table("gpu", [r["gpu"] for r in kept], pred_in, pred_cv, tgt)
    _table("precision", [r["precision"] or "bf16" for r in kept], pred_in, pred_cv, tgt)
    _table("source group", groups, pred_in, pred_cv, tgt)
    _table("recompute", [r["recompute"] or "unknown" for r in kept], pred_in, pred_cv, tgt)
    if args.worst:
        ape = np.abs(pred_cv / tgt - 1.0)
        print(f"worst {args.worst} rows (leave-one-source-out):")
        for j in np.argsort(-ape)[: args.worst]:
            r = kept[j]
            print(f"  {r['point_id']:18s} {r['model_name'][:22]:22s} {r['gpu']:14s} n={r['num_gpus']:>5s} "
                  f"tp{r['tp'] or '-'} pp{r['pp'] or '-'} cp{r['cp'] or '-'} ep{r['ep'] or '-'} "
                  f"mb{r['micro_batch'] or '-'} gb{r['global_batch']} {r['precision']} {r['recompute']} "
                  f"fsdp={r['fsdp']}: in-sample {pred_in[j]:.3f} s, LOSO {pred_cv[j]:.3f} s vs {tgt[j]:.3f} s "
                  f"({100 * (pred_cv[j] / tgt[j] - 1):+.0f}%)")  # fmt: skip
    moe = np.array([r["arch"] == "moe" for r in kept])
    prefix = "PARTIAL (not the full cross-validation) " if args.only else ""
    print(prefix + goals_line(s_cv, score_of(pred_cv[moe], tgt[moe])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
