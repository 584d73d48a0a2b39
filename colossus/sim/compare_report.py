"""The ``colossus compare`` report: per-division wait CDFs of each policy side by side, and the metric table.

:func:`summarise_run` turns one policy's jobs table into the metrics of
:mod:`colossus.sim.policy_metrics` and its per-division wait CDFs; :func:`render_compare_html` draws one self-contained page
(plotly.js inlined once, opens with no network) and :func:`write_compare_report` writes it
atomically. Pure apart from the final write (and, when the caller passes no replay blocks,
reading each policy's ``summary.json`` beside the report).

With a trace that has recorded waits (``compare --trace``, issue #14), the page also shows the
replay against what happened: a table of recorded vs each policy's simulated wait p50 / p95 /
p99 / mean per division with the start-order Kendall tau, and one panel per division drawing the
recorded wait distribution and each policy's simulated one (the ``quantiles`` of
:func:`colossus.sim.replay.replay_comparison`, the same data the per-policy report.html charts).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from colossus.fileio import atomic_path
from colossus.sim.policy_metrics import (
    METRICS,
    PolicyMetrics,
    censored_waits,
    format_metric,
    policy_metrics,
)

__all__ = ["CDF_POINTS", "format_wait", "read_policy_replays", "render_compare_html", "replay_figure", "summarise_run",
           "wait_cdf", "wait_cells", "write_compare_report"]

CDF_POINTS = 400
"""Most points per drawn CDF (quantiles evenly spaced in probability; the report stays small)."""

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.best{font-weight:bold;background:#eef7ee}p.note{color:#555;font-size:.9em}
td.rec{background:#f7f7fb}"""


def wait_cdf(jobs: Any, horizon_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Division -> ``(wait_s, fraction)`` points of the empirical CDF of one run's background waits.

    ``jobs`` is ``Results.jobs``. Never-started jobs count with their wait up to the horizon. At
    most :data:`CDF_POINTS` points per curve (quantiles at evenly spaced probabilities, the
    last one the maximum).
    """
    hero = np.asarray(jobs.column("is_hero").to_pylist(), dtype=bool)
    div = np.asarray(jobs.column("division").to_pylist(), dtype=object)
    w = censored_waits(jobs, horizon_s)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for d in sorted(set(div[~hero].tolist())):
        sel = np.sort(w[(div == d) & ~hero])
        q = np.linspace(0.0, 1.0, min(CDF_POINTS, sel.size))
        out[d] = (np.quantile(sel, q), np.maximum(q, 1.0 / sel.size))
    return out


def summarise_run(jobs: Any, horizon_s: float, *, wait_targets_s: Mapping[str, float] | None = None,
                  default_target_s: float = 3600.0, grace_s: float = 0.0) -> tuple[PolicyMetrics, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The metrics and wait CDFs of one run (what the report keeps of it, so runs can be dropped);
    ``wait_targets_s`` / ``default_target_s`` / ``grace_s`` as in :func:`~colossus.sim.policy_metrics.policy_metrics`."""
    return (policy_metrics(jobs, horizon_s, wait_targets_s=wait_targets_s, default_target_s=default_target_s, grace_s=grace_s),
            wait_cdf(jobs, horizon_s))


def _table(rows: Mapping[str, PolicyMetrics]) -> str:
    pols = list(rows)
    head = "".join(f"<th>{html.escape(p)}</th>" for p in pols)
    body = []
    for field, label, better in METRICS:
        vals = [getattr(rows[p], field) for p in pols]
        finite = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
        best = (min(finite) if better == "lower" else max(finite)) if finite else None
        cells = "".join(f"<td class='{'best' if v == best and len(pols) > 1 else ''}'>{format_metric(field, v)}</td>" for v in vals)
        body.append(f"<tr><th style='text-align:left'>{html.escape(label)} ({better} is better)</th>{cells}</tr>")
    return f"<table id='metrics'><tr><th>metric (background jobs)</th>{head}</tr>{''.join(body)}</table>"


def format_wait(s: float | None) -> str:
    """A wait for a table: seconds below an hour, hours above ("-" when missing)."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    return f"{s / 3600.0:,.2f} h" if s >= 3600 else f"{s:,.0f} s"


def wait_cells(stats: Mapping[str, Any]) -> str:
    """``p50 / p95 / p99 / mean`` of one side (recorded or simulated) of a replay block's entry."""
    return " / ".join(format_wait(stats.get(k)) for k in ("p50_s", "p95_s", "p99_s", "mean_s"))


def _replay_table(replays: Mapping[str, Mapping[str, Any]]) -> str:
    """Recorded and each policy's simulated wait p50 / p95 / p99 / mean per division, and tau."""
    pols = list(replays)
    first = replays[pols[0]]
    names = [*sorted({d for b in replays.values() for d in b["divisions"]}), "all"]
    head = "".join(f"<th>{html.escape(p)} (simulated)</th>" for p in pols)
    body = []
    for name in names:
        ref = first if name == "all" else next(b for b in replays.values() if name in b["divisions"])
        rec = ref["all"] if name == "all" else ref["divisions"][name]
        cells = []
        for p in pols:
            d = replays[p]["all"] if name == "all" else replays[p]["divisions"].get(name)
            cells.append(f"<td>{wait_cells(d['simulated'])}</td>" if d else "<td>-</td>")
        body.append(f"<tr><th style='text-align:left'>{html.escape(name)}</th><td>{rec['jobs']:,}</td>"
                    f"<td class='rec'>{wait_cells(rec['recorded'])}</td>{''.join(cells)}</tr>")
    taus = [replays[p].get("kendall_tau_start_order") for p in pols]
    finite = [t for t in taus if isinstance(t, (int, float))]
    best = max(finite) if finite else None
    tau_cells = "".join(
        f"<td class='{'best' if t == best and len(pols) > 1 else ''}'>{t:.3f}</td>" if isinstance(t, (int, float))
        else "<td>-</td>" for t in taus)
    body.append(f"<tr><th style='text-align:left'>start-order Kendall tau (1 = same order)</th><td></td>"
                f"<td class='rec'>(reference)</td>{tau_cells}</tr>")
    return (f"<table id='replay'><tr><th>division</th><th>jobs</th><th>recorded</th>{head}</tr>"
            f"{''.join(body)}</table>")


def replay_figure(replays: Mapping[str, Mapping[str, Any]], colours: list[str]) -> Any:
    """One panel per division: the recorded wait distribution (black, dotted) and each policy's
    simulated one, from the blocks' ``quantiles`` (fraction of jobs vs wait, log axis)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pols = list(replays)
    divs = sorted({d for b in replays.values() for d in b.get("quantiles", {}) if d != "levels"})
    if not divs:
        return None
    fig = make_subplots(rows=1, cols=len(divs), subplot_titles=divs, shared_yaxes=True)
    for c, d in enumerate(divs, start=1):
        ref = next(b["quantiles"] for b in replays.values() if d in b.get("quantiles", {}))
        levels = list(ref["levels"])
        fig.add_trace(go.Scatter(x=[max(w, 1.0) for w in ref[d]["recorded"]], y=levels, mode="lines+markers",
                                 name="recorded", legendgroup="recorded", showlegend=(c == 1),
                                 line={"color": "#222", "dash": "dot"},
                                 hovertemplate="recorded: %{y:.0%} waited <= %{x:,.0f} s<extra></extra>"),
                      row=1, col=c)
        for k, p in enumerate(pols):
            q = replays[p].get("quantiles", {})
            if d not in q:
                continue
            fig.add_trace(go.Scatter(x=[max(w, 1.0) for w in q[d]["simulated"]], y=list(q["levels"]),
                                     mode="lines", name=f"{p} (simulated)", legendgroup=p, showlegend=(c == 1),
                                     line={"color": colours[k % len(colours)]},
                                     hovertemplate=f"{html.escape(p)}: %{{y:.0%}} waited <= %{{x:,.0f}} s<extra></extra>"),
                          row=1, col=c)
        fig.update_xaxes(type="log", title_text="wait, s (log; < 1 s drawn at 1 s)", row=1, col=c)
    fig.update_yaxes(title_text="fraction of jobs", range=[0, 1.02], row=1, col=1)
    fig.update_layout(template="plotly_white", height=460, margin={"l": 60, "r": 20, "t": 40, "b": 50})
    return fig


def render_compare_html(title: str, rows: Mapping[str, PolicyMetrics],
                        cdfs: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
                        replays: Mapping[str, Mapping[str, Any] | None] | None = None) -> str:
    """The report page: the metric table, then one CDF panel per division with a line per policy,
    then (when ``replays`` has a block) the replay against what happened.

    ``rows``: policy -> metrics; ``cdfs``: policy -> division -> ``(wait_s, fraction)``;
    ``replays``: policy -> the summary's ``replay`` block (:func:`colossus.sim.replay.replay_comparison`)
    or None; policies without a block are left out of the replay section.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    divs = sorted({d for per in cdfs.values() for d in per})
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             "<h2>Metrics</h2>", _table(rows),
             "<p class='note'>Background jobs only (the hero run is protected by every policy). A job never "
             "started by the horizon counts with its wait up to the horizon; \"jobs never started\" leaves out the jobs "
             "submitted within the scheduler's periodic round interval (<code>round_s</code>) of the horizon, which "
             "had no round in which to start. Useful GPU-hours exclude work lost "
             "to preemptions and failures. Jain index of the divisions' mean bounded slowdowns "
             "((wait + d) / d, d = max(run time, 60 s)): 1 means every division waits alike.</p>",
             "<h2>Wait distributions per division (CDF)</h2>"]
    if divs:
        fig = make_subplots(rows=1, cols=len(divs), subplot_titles=divs, shared_yaxes=True)
        colours = qualitative.Plotly
        pols = list(cdfs)
        for c, d in enumerate(divs, start=1):
            for k, p in enumerate(pols):
                if d not in cdfs[p]:
                    continue
                xs, ys = cdfs[p][d]
                fig.add_trace(go.Scatter(x=np.maximum(xs, 1.0).tolist(), y=ys.tolist(), mode="lines", name=p,
                                         legendgroup=p, showlegend=(c == 1), line={"color": colours[k % len(colours)]},
                                         hovertemplate=f"{html.escape(p)}: %{{y:.1%}} waited <= %{{x:,.0f}} s<extra></extra>"),
                              row=1, col=c)
            fig.update_xaxes(type="log", title_text="wait, s (log; < 1 s drawn at 1 s)", row=1, col=c)
        fig.update_yaxes(title_text="fraction of jobs", range=[0, 1.02], row=1, col=1)
        fig.update_layout(template="plotly_white", height=460, margin={"l": 60, "r": 20, "t": 40, "b": 50})
        parts.append("<div class='chart' id='wait-cdfs'>"
                     + fig.to_html(full_html=False, include_plotlyjs=True, div_id="wait-cdf-chart",
                                   config={"displaylogo": False, "responsive": True}) + "</div>")
    else:
        parts.append("<p>No background jobs.</p>")
    blocks = {p: b for p, b in (replays or {}).items() if b}
    if blocks:
        trace = next(iter(blocks.values())).get("trace", "")
        parts += ["<h2>Replay against what happened: recorded vs simulated waits</h2>",
                  f"<p class='note'>Trace {html.escape(str(trace))}: each job's recorded wait (start - submit in "
                  "the source) beside its simulated wait under each policy, p50 / p95 / p99 / mean. A job never "
                  "started by the horizon counts with its wait up to the horizon. Recorded waits include time the "
                  "simulator does not model (holds, --begin, dependencies). The start-order Kendall tau compares "
                  "the recorded and simulated order of starts (1 = the same order; the highest is marked).</p>",
                  _replay_table(blocks)]
        rfig = replay_figure(blocks, list(qualitative.Plotly))
        if rfig is not None:
            parts.append("<div class='chart' id='replay-waits'>"
                         + rfig.to_html(full_html=False, include_plotlyjs=not divs, div_id="replay-chart",
                                        config={"displaylogo": False, "responsive": True}) + "</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def read_policy_replays(folder: str | Path, policies: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Policy -> the ``replay`` block of ``folder/<policy>/summary.json``, for policies that have one
    (``colossus compare --trace T --out DIR`` writes it when T has recorded waits)."""
    out: dict[str, dict[str, Any]] = {}
    for p in policies:
        path = Path(folder) / p / "summary.json"
        if path.is_file():
            block = json.loads(path.read_text(encoding="utf-8")).get("replay")
            if isinstance(block, dict):
                out[p] = block
    return out


def write_compare_report(path: str | Path, title: str, rows: Mapping[str, PolicyMetrics],
                         cdfs: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
                         replays: Mapping[str, Mapping[str, Any] | None] | None = None) -> Path:
    """Write the compare report (see :func:`render_compare_html`) to ``path`` atomically.

    ``replays`` None: the replay blocks are read from each policy's ``summary.json`` beside the
    report (``path.parent/<policy>/summary.json``, see :func:`read_policy_replays`).
    """
    p = Path(path)
    if replays is None:
        replays = read_policy_replays(p.parent, rows)
    with atomic_path(p) as tmp:
        tmp.write_text(render_compare_html(title, rows, cdfs, replays), encoding="utf-8")
    return p
