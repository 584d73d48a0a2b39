"""``colossus steptime``: training step time, best parallel layout, and CSV prediction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from colossus.commands.common import console, emit_json
from colossus.errors import InputError

COMMANDS: list[click.Command] = []


def _model(name: str, models_file: Path | None) -> Any:
    from colossus.steptime.models import get_model, load_models_toml, register_models

    if models_file is not None:
        register_models(load_models_toml(models_file))
    try:
        return get_model(name)
    except KeyError as exc:
        raise InputError(f"--model: {exc.args[0]}") from None


def _gpu(name: str) -> Any:
    from colossus.hardware import get_gpu

    try:
        return get_gpu(name)
    except KeyError as exc:
        raise InputError(f"--gpu: {exc.args[0]}") from None


def _precisions(text: str) -> tuple[str, ...]:
    from colossus.steptime.kernel import PRECISIONS

    out = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    bad = [p for p in out if p not in PRECISIONS]
    if bad or not out:
        raise InputError(f"--precision: {','.join(bad) or text!r} not in {', '.join(PRECISIONS)}")
    return out


_model_opt = click.option("--model", "-m", "model_name", required=True,
                          help="Model preset (see `colossus steptime models`) or a name from --models.")  # fmt: skip
_models_file_opt = click.option("--models", "models_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                help="TOML file with [models.<name>] tables (user presets).")  # fmt: skip
_gpus_opt = click.option("--gpus", "-n", "num_gpus", type=click.IntRange(min=1), required=True, help="Number of GPUs.")
_gpu_opt = click.option("--gpu", "gpu_name", default="H100", show_default=True, help="GPU SKU (A100-40GB, A100-80GB, H100, H200, H800, B200, ...).")
_batch_opt = click.option("--batch-tokens", type=click.IntRange(min=1), default=None,
                          help="Global batch in tokens per step [default: the model's].")  # fmt: skip
_json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


@click.group("steptime")
def steptime_group() -> None:
    """Step time of transformer training: estimate, search layouts, predict a CSV.

    An analytic model (FLOPs with size-dependent GEMM efficiency, memory-bound ops, TP/CP/PP/DP
    communication, hierarchical MoE all-to-all and grouped expert GEMMs, MLA attention, pipeline
    bubble, optimizer; memory under ZeRO 0-3/FSDP with Korthikanti activations) whose bounded
    constants are fitted on published measurements. Accuracy on sources the fit never saw:
    python benchmarks/steptime_accuracy.py. Runs on CuPy when a GPU is usable, else NumPy
    (force with COLOSSUS_ARRAY=numpy|cupy; an unusable choice is an error, exit 2).

    \b
    Examples:
      colossus steptime models
      colossus steptime estimate --model grok-3 --gpus 100352
      colossus steptime estimate --model grok-3 --gpus 100352 --sensitivity
      colossus steptime estimate -m llama-3-70b -n 1024 --layout tp=8,pp=4,mb=1,recompute=selective
      colossus steptime search --model grok-1 --gpus 2048 --top 5 --precision bf16,fp8
      colossus steptime predict ../shared/data/steptime/calibration.csv -o predicted.csv
    """


@steptime_group.command("models")
@_models_file_opt
@_json_opt
def models_cmd(models_file: Path | None, as_json: bool) -> None:
    """List model presets with their parameter counts.

    \b
    Example:
      colossus steptime models --json
    """
    from colossus.steptime.models import get_model, load_models_toml, model_names, register_models

    if models_file is not None:
        register_models(load_models_toml(models_file))
    specs = [get_model(n) for n in model_names()]
    if as_json:
        emit_json([s.to_dict() | {"params_total": s.params_total(), "params_active": s.params_active()} for s in specs])
        return
    from rich.table import Table

    tab = Table(title="model presets")
    for col in ("name", "layers", "hidden", "heads/kv", "experts", "seq", "params (B)", "active (B)"):
        tab.add_column(col, justify="right" if col != "name" else "left")
    for s in specs:
        exp = f"{s.moe_experts} top-{s.moe_topk}" if s.is_moe else "-"
        tab.add_row(s.name, str(s.layers), str(s.hidden), f"{s.heads}/{s.kv_heads}", exp, str(s.seq_len),
                    f"{s.params_total() / 1e9:.1f}", f"{s.params_active() / 1e9:.1f}")  # fmt: skip
    console().print(tab)


def _result_rows(r: Any, tokens: float) -> list[tuple[str, str]]:
    days = tokens / r.tokens_per_s / 86400.0 if r.tokens_per_s > 0 else float("inf")
    return [
        ("layout", str(r.layout)),
        ("GPUs used / given", f"{r.layout.num_gpus} / {r.num_gpus}"),
        ("step time", f"{r.step_time_s:.3f} s"),
        ("tokens/s (job)", f"{r.tokens_per_s:,.0f}"),
        ("tokens/s per GPU", f"{r.tokens_per_s_per_gpu:,.1f}"),
        ("MFU", f"{100 * r.mfu:.1f} %"),
        ("memory per GPU", f"{r.memory_gb_per_gpu:.1f} GB ({'fits' if r.fits else 'DOES NOT FIT'})"),
        (f"days to train {tokens:.3g} tokens", f"{days:,.1f}"),
    ]


@steptime_group.command("estimate")
@_model_opt
@_gpus_opt
@_gpu_opt
@click.option("--layout", "layout_text", default=None,
              help="Layout, e.g. tp=8,pp=16,cp=1,ep=8,vpp=1,mb=1,recompute=full,precision=fp8,fsdp=false "
                   "(also zero=0..3 for the ZeRO stage, ep_overlap=true for an overlapped MoE all-to-all). "
                   "dp defaults to gpus/(tp pp cp), gb to the model's batch. Omit to use the best layout.")  # fmt: skip
@click.option("--tokens", type=float, default=None, help="Token budget for 'days to train' [default: the model's].")
@_batch_opt
@click.option("--sensitivity", is_flag=True,
              help="Also show a tornado: step time and days to train with each fitted constant at its "
                   "lower and upper bound, on this layout and on the layout re-chosen under that bound.")  # fmt: skip
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --sensitivity: also write the tornado as a plotly HTML chart (atomic write).")  # fmt: skip
@_models_file_opt
@_json_opt
def estimate_cmd(model_name: str, num_gpus: int, gpu_name: str, layout_text: str | None, tokens: float | None,
                 batch_tokens: int | None, sensitivity: bool, html_path: Path | None, models_file: Path | None,
                 as_json: bool) -> None:  # fmt: skip
    """Step time, tokens/s, MFU, memory per GPU and days to train, for one layout.

    Without --layout the fastest layout that fits is chosen (as `steptime search`). With
    --sensitivity a tornado table follows: for every fitted constant (bounds from
    colossus.steptime.calibration.FIT_PARAMS) the step time and days to train with the constant
    at each bound, on the chosen layout ("fixed") and on the best layout re-chosen under that
    bound ("re-chosen"), largest swing first.

    \b
    Examples:
      colossus steptime estimate --model grok-3 --gpus 100352
      colossus steptime estimate --model grok-3 --gpus 100352 --sensitivity
      colossus steptime estimate --model grok-3 --gpus 100352 --sensitivity --html tornado.html
      colossus steptime estimate -m gpt-3-175b -n 1024 --gpu A100-80GB --layout tp=8,pp=8,mb=1 --json
      colossus steptime estimate -m llama-3-70b -n 512 --layout tp=8,pp=2,zero=2,recompute=selective
    """
    if html_path is not None and not sensitivity:
        raise InputError("--html: needs --sensitivity")
    from colossus.steptime.layout import parse_layout
    from colossus.steptime.search import best_layout, estimate

    model = _model(model_name, models_file)
    gpu = _gpu(gpu_name)
    tokens = tokens or model.train_tokens
    parts: dict[str, float] = {}
    if layout_text is None:
        found = best_layout(model, gpu, num_gpus, global_batch_tokens=batch_tokens, allow_idle=True)
        if not found:
            raise InputError(f"--gpus {num_gpus}: no layout of {model.name} fits on {gpu.name}")
        res, parts = estimate(model, gpu, found[0].layout, num_gpus=num_gpus, breakdown=True)
    else:
        try:
            lay = parse_layout(layout_text)
            if "dp=" not in layout_text.replace(" ", ""):
                lay = parse_layout(f"dp={max(num_gpus // (lay.tp * lay.pp * lay.cp), 1)}", lay)
            if "gb=" not in layout_text.replace(" ", "") and "global_batch=" not in layout_text:
                seqs = (batch_tokens or model.global_batch_tokens) / model.seq_len
                m = max(round(seqs / (lay.dp * lay.micro_batch)), 1)
                lay = parse_layout(f"gb={m * lay.dp * lay.micro_batch}", lay)
        except ValueError as exc:
            raise InputError(f"--layout: {exc}") from None
        if lay.num_gpus > num_gpus:
            raise InputError(f"--layout: uses {lay.num_gpus} GPUs (tp*pp*dp*cp) but --gpus is {num_gpus}")
        res, parts = estimate(model, gpu, lay, num_gpus=num_gpus, breakdown=True)
    tornado: list[Any] = []
    if sensitivity:
        from colossus.steptime.sensitivity import sensitivity as run_sensitivity

        tornado = run_sensitivity(model, gpu, num_gpus, res.layout, tokens=tokens,
                                  global_batch_tokens=batch_tokens)  # fmt: skip
        if html_path is not None:
            _write_tornado_html(html_path, tornado, title=f"{model.name} on {num_gpus:,} x {gpu.name}: "
                                f"step time {res.step_time_s:.2f} s ({res.layout})")  # fmt: skip
    if as_json:
        from dataclasses import asdict

        days = tokens / res.tokens_per_s / 86400.0
        out = {"model": model.name, "gpu": gpu.name, **res.to_dict(), "train_tokens": tokens,
               "days_to_train": days, "breakdown_s": parts}  # fmt: skip
        if sensitivity:
            out["sensitivity"] = [asdict(r) for r in tornado]
        emit_json(out)
        return
    from rich.table import Table

    tab = Table(title=f"{model.name} on {num_gpus:,} x {gpu.name}", show_header=False)
    tab.add_column("quantity")
    tab.add_column("value", justify="right")
    for k, v in _result_rows(res, tokens):
        tab.add_row(k, v)
    for k, v in parts.items():
        tab.add_row(f"  {k.removesuffix('_s').replace('_', ' ')}", f"{v:.3f} s")
    console().print(tab)
    if sensitivity:
        days = tokens / res.tokens_per_s / 86400.0
        console().print(_tornado_table(tornado, res.step_time_s, days))
        if html_path is not None:
            click.echo(f"wrote {html_path}")


def _tornado_table(rows: list[Any], step_s: float, days: float) -> Any:
    from rich.table import Table

    tab = Table(title=f"sensitivity: each fitted constant at its bounds (fitted: {step_s:.3f} s/step, "
                      f"{days:,.1f} days)")  # fmt: skip
    for col in ("constant", "fitted", "bounds", "step s @lo", "step s @hi", "days @lo", "days @hi",
                "re-chosen days @lo", "@hi", "swing"):  # fmt: skip
        tab.add_column(col, justify="left" if col in ("constant", "swing") else "right")
    widest = max((r.swing_s for r in rows), default=0.0) or 1.0
    for r in rows:
        lo_x, hi_x = sorted((r.step_lower_s, r.step_upper_s))
        bar = "#" * max(1, round(10 * r.swing_s / widest)) if r.swing_s > 0 else ""
        tab.add_row(r.name, f"{r.fitted:.4g}", f"[{r.lower:.3g}, {r.upper:.3g}]", f"{r.step_lower_s:.3f}",
                    f"{r.step_upper_s:.3f}", f"{r.days_lower:,.1f}", f"{r.days_upper:,.1f}",
                    f"{r.best_days_lower:,.1f}", f"{r.best_days_upper:,.1f}",
                    f"{bar} {100 * (hi_x - lo_x) / step_s:.0f} %")  # fmt: skip
    return tab


def _write_tornado_html(path: Path, rows: list[Any], *, title: str) -> None:
    import plotly.graph_objects as go

    from colossus.commands.common import atomic_path

    names = [r.name for r in rows][::-1]
    fig = go.Figure()
    fig.add_bar(y=names, x=[r.days_lower for r in rows][::-1], orientation="h", name="constant at lower bound")
    fig.add_bar(y=names, x=[r.days_upper for r in rows][::-1], orientation="h", name="constant at upper bound")
    fig.update_layout(title=title, barmode="overlay", xaxis_title="days to train (fixed layout)")
    with atomic_path(path) as tmp:
        fig.write_html(tmp, include_plotlyjs=True)  # self-contained: readable offline


@steptime_group.command("search")
@_model_opt
@_gpus_opt
@_gpu_opt
@click.option("--top", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Layouts to show.")
@click.option("--precision", "precision", default="bf16", show_default=True, help="Comma list: bf16, fp16, fp8.")
@click.option("--allow-idle", is_flag=True, help="Allow layouts that leave N mod (tp pp cp) GPUs idle.")
@_batch_opt
@_models_file_opt
@_json_opt
def search_cmd(model_name: str, num_gpus: int, gpu_name: str, top_k: int, precision: str, allow_idle: bool,
               batch_tokens: int | None, models_file: Path | None, as_json: bool) -> None:  # fmt: skip
    """Enumerate every valid layout on N GPUs and show the fastest that fit in memory.

    \b
    Examples:
      colossus steptime search --model grok-3 --gpus 100352 --top 10
      colossus steptime search -m llama-3-405b -n 16384 --precision bf16,fp8 --json
    """
    from colossus.steptime.search import best_layout

    model = _model(model_name, models_file)
    gpu = _gpu(gpu_name)
    found = best_layout(model, gpu, num_gpus, global_batch_tokens=batch_tokens, top_k=top_k,
                        precisions=_precisions(precision), allow_idle=allow_idle)  # fmt: skip
    if as_json:
        emit_json({"model": model.name, "gpu": gpu.name, "num_gpus": num_gpus, "results": [r.to_dict() for r in found]})
        return
    if not found:
        raise InputError(f"--gpus {num_gpus}: no layout of {model.name} fits on {gpu.name}"
                         + ("" if allow_idle else " (try --allow-idle)"))  # fmt: skip
    from rich.table import Table

    tab = Table(title=f"best layouts: {model.name} on {num_gpus:,} x {gpu.name}")
    for col in ("#", "tp", "pp", "dp", "cp", "ep", "vpp", "mb", "gb", "recompute", "prec", "fsdp", "a2a ovl",
                "step s", "tok/s/GPU", "MFU %", "mem GB"):  # fmt: skip
        tab.add_column(col, justify="right")
    for i, r in enumerate(found, 1):
        lay = r.layout
        tab.add_row(str(i), str(lay.tp), str(lay.pp), str(lay.dp), str(lay.cp), str(lay.ep), str(lay.vpp),
                    str(lay.micro_batch), str(lay.global_batch), lay.recompute, lay.precision,
                    "y" if lay.fsdp else "n", "y" if lay.ep_overlap else "n", f"{r.step_time_s:.3f}", f"{r.tokens_per_s_per_gpu:,.0f}",
                    f"{100 * r.mfu:.1f}", f"{r.memory_gb_per_gpu:.1f}")  # fmt: skip
    console().print(tab)


@steptime_group.command("predict")
@click.argument("in_csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_csv", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output CSV (written atomically).")  # fmt: skip
@_json_opt
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
def predict_cmd(in_csv: Path, out_csv: Path, as_json: bool, quiet: bool) -> None:
    """Predict step time for rows shaped like calibration.csv; write them back with predictions.

    Adds predicted_step_time_s, predicted_tokens_per_s_per_gpu, predicted_mfu,
    predicted_memory_gb_per_gpu, fits_memory and error (rows that cannot be modelled get a
    message there instead of stopping the run). Required columns: layers, hidden, seq_len,
    num_gpus, global_batch, gpu; blank fields get documented defaults (kv_heads = heads,
    ffn_hidden = 4 hidden, vocab 51200, tp/pp/cp/ep/vpp 1, micro_batch 1, bf16, recompute none).

    \b
    Example:
      colossus steptime predict ../shared/data/steptime/calibration.csv -o predicted.csv
    """
    from colossus.steptime.predict import predict_csv

    if not in_csv.exists():
        raise InputError(f"{in_csv}: file not found")
    rows = predict_csv(in_csv, out_csv)
    n_err = sum(1 for r in rows if r["error"])
    summary: dict[str, Any] = {"rows": len(rows), "predicted": len(rows) - n_err, "errors": n_err, "out": str(out_csv)}
    if "target_step_time_s" in (rows[0] if rows else {}):
        apes = [abs(float(r["predicted_step_time_s"]) / float(r["target_step_time_s"]) - 1.0)
                for r in rows if not r["error"] and (r.get("target_step_time_s") or "").strip()]  # fmt: skip
        if apes:
            apes.sort()
            summary["median_ape"] = apes[len(apes) // 2]
            summary["mape"] = sum(apes) / len(apes)
    if as_json:
        emit_json(summary)
    elif not quiet:
        msg = f"wrote {out_csv}: {summary['predicted']} rows predicted, {n_err} with errors"
        if "mape" in summary:
            msg += f"; vs target_step_time_s: median APE {100 * summary['median_ape']:.1f} %, MAPE {100 * summary['mape']:.1f} %"
        click.echo(msg)


COMMANDS.append(steptime_group)
