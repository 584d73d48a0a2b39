"""Predict step times for rows shaped like ``shared/data/steptime/calibration.csv``.

Required columns per row: ``layers``, ``hidden``, ``seq_len``, ``num_gpus``, ``global_batch``,
``gpu``.  Blank fields get these documented defaults:

=============== =====================================================================
column          default when blank
=============== =====================================================================
heads           hidden / 128 (head width 128)
kv_heads        heads (multi-head attention)
ffn_hidden      4 * hidden
vocab           51200 (Megatron GPT padding of the GPT-2 vocabulary)
moe_experts     dense model (``moe_topk`` 1)
head_dim        the built-in preset of the same shape (layers, hidden, ffn_hidden, heads,
                kv_heads, moe_experts) when one exists (Qwen3: 128, GPT-OSS: 64), else hidden / heads
moe_shared_experts, dense_layers, dense_ffn_hidden, moe_node_limit
                0 (optional columns: always-active experts, leading dense layers and
                their FFN width, node-limited routing; blank dense_ffn_hidden = ffn_hidden)
kv_lora_rank, q_lora_rank, rope_head_dim, v_head_dim
                0 (optional; kv_lora_rank > 0 selects MLA attention, see ModelSpec)
ffn_act         the same-shape preset's activation, else gelu (also for ``unknown``)
tp, pp          both blank with dp stated: model-parallel size num_gpus/(dp cp) split as
                TP up to the NVLink domain (8), the rest PP (Megatron practice); else 1
cp, ep          1
vpp             1 (no interleaving)
dp              num_gpus / (tp pp cp)
micro_batch     1
precision       bf16
recompute       none for the step time; ``unknown`` rows are predicted to fit in memory
                when the layout fits under none, selective or full recompute (the run
                ran, its setting is not stated)
fsdp            false
zero            1 (Megatron distributed optimizer: optimizer states sharded over DP);
                0 plain DDP, 2 also gradients, 3 also parameters (= ``fsdp`` true)
ep_overlap      false (MoE all-to-all not overlapped with compute)
etp             Megatron's default expert tensor parallelism: tp, or as large as ep allows
                when ep > dp cp (see :class:`colossus.steptime.layout.Layout`)
=============== =====================================================================

A row that cannot be modelled (missing required column, unknown GPU, non-numeric or impossible
value) gets a message in an ``error`` column; the other rows are still predicted.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from colossus.errors import InputError
from colossus.hardware import GpuSpec, get_gpu
from colossus.steptime.backend import get_xp, to_numpy
from colossus.steptime.calibration import DEFAULT, Calibration
from colossus.steptime.kernel import PRECISIONS, RECOMPUTES, evaluate, hardware_arrays, model_arrays
from colossus.steptime.models import ACTIVATIONS, ModelSpec, preset_of_shape

__all__ = ["OUTPUT_COLUMNS", "ParsedRows", "fits_memory", "parse_rows", "predict_csv", "predict_rows", "read_csv_rows"]

OUTPUT_COLUMNS = (
    "predicted_step_time_s",
    "predicted_tokens_per_s_per_gpu",
    "predicted_mfu",
    "predicted_memory_gb_per_gpu",
    "fits_memory",
    "error",
)
REQUIRED = ("layers", "hidden", "seq_len", "num_gpus", "global_batch", "gpu")


@dataclass(frozen=True, kw_only=True, slots=True)
class ParsedRows:
    """Modelable rows as kernel inputs, plus per-row errors.

    Attributes
    ----------
    index : (N,) int64
        Positions of the modelable rows in the input.
    models, gpus : list
        One ModelSpec / GpuSpec per modelable row.
    layout : dict of (N,) float64
        Kernel layout arrays (see :data:`colossus.steptime.kernel.LAYOUT_KEYS`).
    num_gpus : (N,) float64
        GPUs in each job as stated in the row.
    errors : dict[int, str]
        Row position -> why it cannot be modelled.
    recompute_known : (N,) bool or None
        False where the row's ``recompute`` is blank or ``unknown`` (None: all known).
    """

    index: np.ndarray
    models: list[ModelSpec]
    gpus: list[GpuSpec]
    layout: dict[str, np.ndarray]
    num_gpus: np.ndarray
    errors: dict[int, str]
    recompute_known: np.ndarray | None = None


def _num(row: Mapping[str, str], key: str, default: float | None = None) -> float:
    raw = (row.get(key) or "").strip()
    if raw == "":
        if default is None:
            raise ValueError(f"column {key!r} is blank")
        return default
    try:
        val = float(raw)
    except ValueError:
        raise ValueError(f"column {key!r}: {raw!r} is not a number") from None
    if not np.isfinite(val) or val <= 0:
        raise ValueError(f"column {key!r}: {raw!r} must be > 0")
    return val


def _bool(row: Mapping[str, str], key: str) -> bool:
    raw = (row.get(key) or "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ValueError(f"column {key!r}: {raw!r} is not true/false")


def _parse_one(row: Mapping[str, str]) -> tuple[ModelSpec, GpuSpec, dict[str, float], float]:
    for key in REQUIRED:
        if not (row.get(key) or "").strip():
            raise ValueError(f"column {key!r} is blank (required)")
    hidden = int(_num(row, "hidden"))
    heads = int(_num(row, "heads", max(hidden // 128, 1)))
    experts = int(_num(row, "moe_experts", 0.0)) if (row.get("moe_experts") or "").strip() else 0
    like = preset_of_shape(layers=int(_num(row, "layers")), hidden=hidden, heads=heads,
                           kv_heads=int(_num(row, "kv_heads", heads)),
                           ffn_hidden=int(_num(row, "ffn_hidden", 4.0 * hidden)), moe_experts=experts)
    act = (row.get("ffn_act") or "").strip().lower()
    act = act if act in ACTIVATIONS else (like.activation if like is not None else "gelu")
    def opt_int(key: str) -> int:
        return int(_num(row, key)) if (row.get(key) or "").strip() else 0

    model = ModelSpec(
        name=(row.get("model_name") or "row").strip() or "row",
        layers=int(_num(row, "layers")),
        hidden=hidden,
        ffn_hidden=int(_num(row, "ffn_hidden", 4.0 * hidden)),
        heads=heads,
        kv_heads=int(_num(row, "kv_heads", heads)),
        head_dim=opt_int("head_dim") or (like.head_dim if like is not None else 0)
        or (hidden // heads if hidden % heads == 0 else 0),
        vocab=int(_num(row, "vocab", 51200.0)),
        seq_len=int(_num(row, "seq_len")),
        activation=act,
        moe_experts=experts,
        moe_topk=int(_num(row, "moe_topk", 1.0)) if experts else 1,
        moe_shared_experts=opt_int("moe_shared_experts") if experts else 0,
        dense_layers=opt_int("dense_layers") if experts else 0,
        moe_node_limit=opt_int("moe_node_limit") if experts else 0,
        dense_ffn_hidden=opt_int("dense_ffn_hidden"),
        kv_lora_rank=opt_int("kv_lora_rank"), q_lora_rank=opt_int("q_lora_rank"),
        rope_head_dim=opt_int("rope_head_dim"), v_head_dim=opt_int("v_head_dim"),
    )
    gpu_name = (row.get("gpu") or "").strip()
    try:
        gpu = get_gpu(gpu_name)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    n = _num(row, "num_gpus")
    cp = _num(row, "cp", 1.0)
    tp_raw, pp_raw = (row.get("tp") or "").strip(), (row.get("pp") or "").strip()
    if not tp_raw and not pp_raw and (row.get("dp") or "").strip():
        # model-parallel size implied by the stated DP: TP up to the NVLink domain, rest PP
        mp = max(round(n / (_num(row, "dp") * cp)), 1)
        tp = float(min(mp, gpu.nvlink_domain_gpus))
        pp = float(max(mp // int(tp), 1))
    else:
        tp, pp = _num(row, "tp", 1.0), _num(row, "pp", 1.0)
    dp = _num(row, "dp", max(n / (tp * pp * cp), 1.0))
    prec = (row.get("precision") or "bf16").strip().lower() or "bf16"
    if prec not in PRECISIONS:
        raise ValueError(f"column 'precision': {prec!r} not in {sorted(PRECISIONS)}")
    rc = (row.get("recompute") or "none").strip().lower() or "none"
    rc = rc if rc in RECOMPUTES else "none"
    zero = (row.get("zero") or "").strip()
    if zero and zero not in ("0", "1", "2", "3"):
        raise ValueError(f"column 'zero': {zero!r} is not a ZeRO stage 0-3")
    lay = {
        "tp": tp, "pp": pp, "dp": dp, "cp": cp, "ep": _num(row, "ep", 1.0),
        "vpp": _num(row, "vpp", 1.0), "mb": _num(row, "micro_batch", 1.0),
        "gb": _num(row, "global_batch"), "recompute": float(RECOMPUTES[rc]),
        "precision": float(PRECISIONS[prec]), "fsdp": float(_bool(row, "fsdp")),
        "zero": float(zero or 1), "ep_overlap": float(_bool(row, "ep_overlap")),
        "etp": _num(row, "etp", 0.0) if (row.get("etp") or "").strip() else 0.0,
    }  # fmt: skip
    if lay["ep"] > max(experts, 1):
        raise ValueError(f"column 'ep': {lay['ep']:g} exceeds moe_experts {experts}")
    return model, gpu, lay, n


def parse_rows(rows: Sequence[Mapping[str, str]]) -> ParsedRows:
    """Turn CSV rows into kernel inputs; unmodelable rows go to ``errors``."""
    idx: list[int] = []
    models: list[ModelSpec] = []
    gpus: list[GpuSpec] = []
    lays: list[dict[str, float]] = []
    ns: list[float] = []
    errors: dict[int, str] = {}
    for i, row in enumerate(rows):
        try:
            mdl, gpu, lay, n = _parse_one(row)
        except ValueError as exc:
            errors[i] = " ".join(str(exc).split())
            continue
        idx.append(i)
        models.append(mdl)
        gpus.append(gpu)
        lays.append(lay)
        ns.append(n)
    keys = ("tp", "pp", "dp", "cp", "ep", "vpp", "mb", "gb", "recompute", "precision", "fsdp", "zero", "ep_overlap",
            "etp")
    layout = {k: np.array([lay[k] for lay in lays], dtype=np.float64) for k in keys}
    known = np.array([(rows[i].get("recompute") or "").strip().lower() in RECOMPUTES for i in idx], dtype=bool)
    return ParsedRows(index=np.array(idx, dtype=np.int64), models=models, gpus=gpus,
                      layout=layout, num_gpus=np.array(ns, dtype=np.float64), errors=errors,
                      recompute_known=known)  # fmt: skip


def fits_memory(parsed: ParsedRows, res_fits: np.ndarray, *, cal: Calibration = DEFAULT,
                xp: ModuleType | None = None) -> np.ndarray:  # fmt: skip
    """Whether each row fits in HBM: as parsed, or (``recompute`` unknown) under any recompute choice.

    ``res_fits`` is the kernel's ``fits`` for the rows as parsed (NumPy bool array).
    """
    out = np.asarray(res_fits, dtype=bool).copy()
    unknown = ~parsed.recompute_known if parsed.recompute_known is not None else np.zeros(out.size, bool)
    if not unknown.any():
        return out
    xp = xp or get_xp()
    m, hw = model_arrays(parsed.models, xp), hardware_arrays(parsed.gpus, xp)
    for code in (RECOMPUTES["selective"], RECOMPUTES["full"]):
        lay = {k: xp.asarray(v) for k, v in parsed.layout.items()}
        lay["recompute"] = xp.full_like(lay["recompute"], float(code))
        out |= unknown & to_numpy(evaluate(xp, m, hw, lay, cal)["fits"]).astype(bool)
    return out


def predict_rows(
    rows: Sequence[Mapping[str, str]],
    *,
    cal: Calibration = DEFAULT,
    xp: ModuleType | None = None,
    parsed: ParsedRows | None = None,
) -> list[dict[str, str]]:
    """Return the rows with :data:`OUTPUT_COLUMNS` added (strings, ready for CSV)."""
    xp = xp or get_xp()
    pr = parsed or parse_rows(rows)
    out = [dict(r) for r in rows]
    if len(pr.index):
        res = evaluate(
            xp,
            model_arrays(pr.models, xp),
            hardware_arrays(pr.gpus, xp),
            {k: xp.asarray(v) for k, v in pr.layout.items()},
            cal,
        )
        step = to_numpy(res["step_time_s"])
        tps = to_numpy(res["tokens_per_s"])
        mfu = to_numpy(res["mfu"])
        mem = to_numpy(res["memory_bytes"])
        fits = fits_memory(pr, to_numpy(res["fits"]), cal=cal, xp=xp)
        for j, i in enumerate(pr.index):
            out[i] |= {
                "predicted_step_time_s": f"{step[j]:.6g}",
                "predicted_tokens_per_s_per_gpu": f"{tps[j] / pr.num_gpus[j]:.6g}",
                "predicted_mfu": f"{mfu[j]:.4f}",
                "predicted_memory_gb_per_gpu": f"{mem[j] / 1e9:.2f}",
                "fits_memory": "true" if fits[j] else "false",
                "error": "",
            }
    for i, msg in pr.errors.items():
        out[i] |= {c: "" for c in OUTPUT_COLUMNS} | {"error": msg}
    return out


def read_csv_rows(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Read a CSV file: (header, rows).

    Raises
    ------
    InputError
        When the file cannot be read or has no header.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{p}: cannot read CSV ({exc})") from None
    if not header:
        raise InputError(f"{p}: empty file (no header row)")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"{p}: missing required column(s) {', '.join(missing)}")
    return header, rows


def predict_csv(in_path: str | Path, out_path: str | Path, *, cal: Calibration = DEFAULT,
                xp: ModuleType | None = None) -> list[dict[str, str]]:  # fmt: skip
    """Predict every row of ``in_path`` and write ``out_path`` atomically; returns the rows."""
    header, rows = read_csv_rows(in_path)
    out = predict_rows(rows, cal=cal, xp=xp)
    cols = header + [c for c in OUTPUT_COLUMNS if c not in header]
    dest = Path(out_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
