"""Accuracy of the step-time model on the calibration set.

Prints median APE and MAPE of predicted vs ``target_step_time_s`` on
``../shared/data/steptime/calibration.csv``, overall and by source, GPU, precision and
dense/MoE (targets: median APE <= 8 %, MAPE <= 12 %).  ``--worst N`` lists the worst rows.

    python benchmarks/steptime_accuracy.py [--data PATH] [--worst 15]
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

# benchmarks/scheduler.py and benchmarks/traces.py would shadow our packages when this folder is sys.path[0]
_sys.path[:] = [p for p in _sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from colossus.steptime.predict import predict_rows, read_csv_rows

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "steptime" / "calibration.csv"


def _line(name: str, ape: np.ndarray, ratio: np.ndarray) -> str:
    return (f"  {name[:58]:58s} n={ape.size:4d}  median APE {100 * np.median(ape):6.2f}%  "
            f"MAPE {100 * np.mean(ape):6.2f}%  median pred/target {np.median(ratio):.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--worst", type=int, default=10)
    args = ap.parse_args()
    if not args.data.exists():
        print(f"calibration data not found: {args.data}", file=sys.stderr)
        return 2
    _, rows = read_csv_rows(args.data)
    out = predict_rows(rows)
    ok = [i for i, r in enumerate(out) if not r["error"]]
    print(f"rows: {len(rows)}, modelled: {len(ok)}, unmodelable: {len(rows) - len(ok)}")
    pred = np.array([float(out[i]["predicted_step_time_s"]) for i in ok])
    tgt = np.array([float(rows[i]["target_step_time_s"]) for i in ok])
    ratio = pred / tgt
    ape = np.abs(ratio - 1.0)
    print(_line("OVERALL", ape, ratio))
    fits = sum(out[i]["fits_memory"] == "true" for i in ok)
    print(f"  rows predicted to fit in HBM: {fits}/{len(ok)}")
    for col in ("source", "gpu", "precision", "arch", "recompute", "fsdp"):
        print(f"by {col}:")
        groups: dict[str, list[int]] = defaultdict(list)
        for j, i in enumerate(ok):
            groups[rows[i][col]].append(j)
        for key in sorted(groups, key=lambda k: -len(groups[k])):
            sel = np.array(groups[key])
            print(_line(key, ape[sel], ratio[sel]))
    if args.worst:
        print(f"worst {args.worst} rows:")
        for j in np.argsort(-ape)[: args.worst]:
            r = rows[ok[j]]
            print(f"  {r['point_id']:18s} {r['model_name'][:22]:22s} {r['gpu']:14s} n={r['num_gpus']:>5s} "
                  f"tp{r['tp'] or '-'} pp{r['pp'] or '-'} cp{r['cp'] or '-'} ep{r['ep'] or '-'} "
                  f"mb{r['micro_batch'] or '-'} gb{r['global_batch']} {r['precision']} {r['recompute']} "
                  f"fsdp={r['fsdp']}: pred {pred[j]:.3f} s vs {tgt[j]:.3f} s ({100 * (ratio[j] - 1):+.0f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
