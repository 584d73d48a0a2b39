"""The ``colossus compare`` report: per-division wait CDFs of each policy side by side, and the metric table.

:func:`summarise_run` turns one policy's jobs table into the metrics of
:mod:`colossus.sim.policy_metrics` and its per-division wait CDFs; :func:`render_compare_html` draws one self-contained page
(plotly.js inlined once, opens with no network) and :func:`write_compare_report` writes it
atomically. Pure apart from the final write.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from colossus.fileio import atomic_path
from colossus.sim.policy_metrics import METRICS, PolicyMetrics, censored_waits, policy_metrics

__all__ = ["CDF_POINTS", "render_compare_html", "summarise_run", "wait_cdf", "write_compare_report"]

CDF_POINTS = 400
"""Most points per drawn CDF (quantiles evenly spaced in probability; the report stays small)."""

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td.best{font-weight:bold;background:#eef7ee}p.note{color:#555;font-size:.9em}"""


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


def summarise_run(jobs: Any, horizon_s: float) -> tuple[PolicyMetrics, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The metrics and wait CDFs of one run (what the report keeps of it, so runs can be dropped)."""
    return policy_metrics(jobs, horizon_s), wait_cdf(jobs, horizon_s)


def _fmt(field: str, v: float | int | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if field == "jain_slowdown":
        return f"{v:.3f}"
    return f"{v:,.0f}"


def _table(rows: Mapping[str, PolicyMetrics]) -> str:
    pols = list(rows)
    head = "".join(f"<th>{html.escape(p)}</th>" for p in pols)
    body = []
    for field, label, better in METRICS:
        vals = [getattr(rows[p], field) for p in pols]
        finite = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
        best = (min(finite) if better == "lower" else max(finite)) if finite else None
        cells = "".join(f"<td class='{'best' if v == best and len(pols) > 1 else ''}'>{_fmt(field, v)}</td>" for v in vals)
        body.append(f"<tr><th style='text-align:left'>{html.escape(label)} ({better} is better)</th>{cells}</tr>")
    return f"<table id='metrics'><tr><th>metric (background jobs)</th>{head}</tr>{''.join(body)}</table>"


def render_compare_html(title: str, rows: Mapping[str, PolicyMetrics],
                        cdfs: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]) -> str:
    """The report page: the metric table, then one CDF panel per division with a line per policy.

    ``rows``: policy -> metrics; ``cdfs``: policy -> division -> ``(wait_s, fraction)``.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    divs = sorted({d for per in cdfs.values() for d in per})
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             "<h2>Metrics</h2>", _table(rows),
             "<p class='note'>Background jobs only (the hero run is protected by every policy). A job never "
             "started by the horizon counts with its wait up to the horizon. Useful GPU-hours exclude work lost "
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
    parts.append("</body></html>")
    return "\n".join(parts)


def write_compare_report(path: str | Path, title: str, rows: Mapping[str, PolicyMetrics],
                         cdfs: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]) -> Path:
    """Write the compare report (see :func:`render_compare_html`) to ``path`` atomically."""
    p = Path(path)
    with atomic_path(p) as tmp:
        tmp.write_text(render_compare_html(title, rows, cdfs), encoding="utf-8")
    return p
