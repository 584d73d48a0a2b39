"""Self-contained HTML reports (plotly.js inlined once): the expansion plan, and a simulation result.

Each chart is its own ``<div class="chart">`` built with ``to_html(full_html=False)``; only the
first carries plotly.js (ecosystem.md §5: one 4.9 MB file that opens with no network).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from capacity.montecarlo import McResult
from capacity.plan import Plan

__all__ = ["render_html", "write_plan_report", "write_sim_report"]

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f4f4f4}td.met{background:#c8e6c9}td.missed{background:#ffcc80}td.overloaded{background:#ef9a9a}
td.unchecked{background:#f5f5f5;color:#999}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.8em}.chart{min-height:420px}"""


def render_html(title: str, sections: list[tuple[str, Any]] | list[tuple[Any, ...]]) -> str:
    """One HTML page; ``sections`` are ``(heading, plotly Figure | HTML string[, section id])``, each a ``<section>``."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]  # fmt: skip
    first = True
    for i, (heading, body, *rest) in enumerate(sections):
        sid = f' id="{html.escape(str(rest[0]))}"' if rest else ""
        parts.append(f"<section{sid}><h2>{html.escape(heading)}</h2>")
        if isinstance(body, go.Figure):
            body.update_layout(template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 30, "b": 40})
            div = body.to_html(full_html=False, include_plotlyjs=first, div_id=f"chart-{i}",
                               config={"displaylogo": False, "responsive": True})  # fmt: skip
            first = False
            parts.append(f"<div class='chart'>{div}</div>")
        else:
            parts.append(str(body))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file, then rename)."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def plan_figures(plan: Plan, mc: McResult | None, phases: list[tuple[dt.date, str]]) -> list[tuple[str, Any]]:
    """The plan report's sections in order."""
    inp = plan.inputs
    x = [m.isoformat() for m in inp.months]
    out: list[tuple[str, Any]] = []

    fig = go.Figure()
    for s in inp.skus:
        fig.add_trace(go.Scatter(x=x, y=list(plan.gpus_installed[s]), name=s, stackgroup="sku", mode="lines"))
    for date, name in phases:
        if inp.months[0] <= date <= inp.months[-1] + dt.timedelta(days=31):
            fig.add_vline(x=date.isoformat(), line_dash="dot", line_color="gray")
            fig.add_annotation(x=date.isoformat(), y=1, yref="paper", text=name, showarrow=False, textangle=-90, xanchor="right", font={"size": 9})
    fig.update_layout(yaxis_title="GPUs installed", xaxis_title="month")
    out.append(("Capacity by SKU (phases dotted)", fig))

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=list(plan.power_mw), name="facility power", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=x, y=list(inp.power_cap_mw), name="cap", mode="lines", line={"dash": "dash", "shape": "hv"}))
    fig.update_layout(yaxis_title="MW")
    out.append(("Power against the cap", fig))

    fig = go.Figure()
    for d in inp.divisions:
        fig.add_trace(go.Scatter(x=x, y=list(plan.allocated_gpus[d]), name=d, stackgroup="div", mode="lines"))
    if inp.hero is not None:
        perf = inp.sku_perf[inp.hero.sku]
        fig.add_trace(go.Scatter(x=x, y=[g * perf for g in plan.hero_gpus], name=inp.hero.name, stackgroup="div", mode="lines"))
    total_need = [sum(inp.demand_gpus[d][m] for d in inp.divisions) for m in range(inp.horizon)]
    fig.add_trace(go.Scatter(x=x, y=total_need, name="divisions' need", mode="lines", line={"dash": "dash", "color": "black"}))
    fig.update_layout(yaxis_title=f"reference GPUs ({inp.reference_sku})")
    out.append(("GPUs allocated per division (stacked)", fig))

    if mc is not None and mc.months:
        fig = go.Figure()
        xm = [inp.months[m].isoformat() for m in mc.months]
        for d, w in mc.waits.items():
            for q, dash in (("p50", "dot"), ("p95", "solid")):
                hi, lo = [v / 3600 for v in w[f"{q}_hi"]], [v / 3600 for v in w[f"{q}_lo"]]
                fig.add_trace(go.Scatter(x=xm + xm[::-1], y=hi + lo[::-1], fill="toself", opacity=0.2, line={"width": 0},
                                         showlegend=False, hoverinfo="skip", legendgroup=d))  # fmt: skip
                cens = list(w.get("censored") or [False] * len(xm))
                fig.add_trace(go.Scatter(x=xm, y=[v / 3600 for v in w[f"{q}_mean"]], name=f"{d} {q}", legendgroup=d,
                                         mode="lines+markers", line={"dash": dash},
                                         marker={"symbol": ["triangle-up" if c else "circle" for c in cens],
                                                 "size": [11 if c else 6 for c in cens]},
                                         text=["censored: at least this (lower bound)" if c else "" for c in cens],
                                         hovertemplate="%{x}: %{y:.2f} h %{text}"))  # fmt: skip
        fig.update_layout(yaxis_title="wait, h (95% CI bands)", yaxis_type="log")
        out.append(("Waits p50/p95 per division (Monte Carlo; triangles: censored at the window, a lower bound: "
                    "the division is overloaded or its jobs were still queued when the window ended)", fig))

    if inp.hero is not None:
        h = inp.hero
        fig = go.Figure()
        cum, done = [], 0.0
        for t in plan.hero_tokens:
            done += t
            cum.append(min(done, h.tokens) / h.tokens * 100)
        fig.add_trace(go.Scatter(x=[m.isoformat() for m in inp.months[1:]] + [(inp.months[-1] + dt.timedelta(days=30)).isoformat()],
                                 y=cum, name="plan (end of month)", mode="lines+markers"))  # fmt: skip
        if mc is not None:
            finishes = [f for f in mc.hero_finish_months if f is not None]
            if finishes:
                from capacity.montecarlo import _month_frac_date

                fig.add_trace(go.Histogram(x=[_month_frac_date(plan, f).isoformat() for f in finishes], name="finish date (MC)",
                                           yaxis="y2", opacity=0.5))  # fmt: skip
        if h.target_finish_date:
            fig.add_vline(x=h.target_finish_date.isoformat(), line_dash="dash", line_color="red")
        fig.update_layout(yaxis_title="hero progress, %", yaxis2={"overlaying": "y", "side": "right", "title": "replications"})
        out.append((f"Hero run {h.name}: progress and finish-date distribution", fig))
        stitching = next((r["hero"].get("stitching") for r in (mc.replications if mc is not None else [])
                          if r.get("hero") and r["hero"].get("stitching")), None)  # fmt: skip
        if stitching:
            out.append(("How the hero's simulated finish is stitched from the windows",
                        f"<p>The finish-date distribution comes from simulated progress: {html.escape(stitching)}.</p>"))

    cq = plan.cost_by_quarter()
    fig = go.Figure()
    for key, name in (("capex_usd", "capex"), ("energy_usd", "energy"), ("penalty_usd", "unmet-demand penalty")):
        fig.add_trace(go.Bar(x=list(cq), y=[v[key] / 1e9 for v in cq.values()], name=name))
    fig.update_layout(barmode="stack", yaxis_title="USD billion")
    out.append(("Cost by quarter", fig))

    rows = []
    for m in range(inp.horizon):
        added = ", ".join(f"{plan.arrays_added[s][m]} x {s}" for s in plan.arrays_added if plan.arrays_added[s][m]) or "-"
        binds = "; ".join(b.constraint for b in plan.binding if b.month == m) or "-"
        rows.append([x[m], added, sum(plan.gpus_installed[s][m] for s in inp.skus), plan.power_mw[m], inp.power_cap_mw[m],
                     plan.capex_usd[m] / 1e6, sum(plan.unmet_gpus[d][m] for d in inp.divisions), binds])  # fmt: skip
    out.append(("Plan", _table(["month", "arrays online", "GPUs installed", "MW", "cap MW", "capex $M", "unmet ref GPUs", "binding"], rows)))
    if mc is not None and mc.slo_misses:
        h = lambda v: "-" if v is None else v / 3600  # noqa: E731
        r = lambda v: "no capacity" if v is None else f"{v:.2f}"  # noqa: E731
        p = lambda x: (f">= {x['p95_s'] / 3600:,.1f}" if x.get("p95_censored") and x["p95_s"] is not None  # noqa: E731
                       else h(x["p95_s"]))  # fmt: skip
        out.append(("Service-level misses (overloaded, or mean p95 above the SLO; >= : censored at the window, a lower "
                    "bound; - : month not simulated)", _table(
            ["month", "division", "reason", "load / capacity", "p95 h", "SLO h"],
            [[m["date"], m["division"], m["reason"], r(m["load_ratio"]), p(m), h(m["slo_s"])] for m in mc.slo_misses])))
    return out


def summary_html(summary: dict[str, Any]) -> str:
    """The executive summary (:func:`capacity.summary.executive_summary`) as HTML: buys, capex, hero, SLO heatmap,
    binding constraints and what it would take."""
    e = html.escape
    parts = [f"<p><b>{e(summary['headline'])}</b></p>"]
    buys = summary["buys"]
    parts.append(f"<p>Total capex: ${summary['total_capex_usd'] / 1e9:,.2f}B.</p>")
    parts.append(_table(["online", "SKU", "arrays", "GPUs"], [[b["date"], b["sku"], b["arrays"], b["gpus"]] for b in buys])
                 if buys else "<p>Nothing to buy.</p>")
    h = summary.get("hero")
    if h:
        sim = (f"simulated p50 {h['simulated_p50']} (5-95%: {h['simulated_lo']} to {h['simulated_hi']})"
               if h.get("simulated_p50") else "not simulated")  # fmt: skip
        on = f", on time in {h['on_time_fraction']:.0%} of replications" if h.get("on_time_fraction") is not None else ""
        parts.append(f"<p>Hero {e(h['name'])}: planned finish {e(str(h['planned_finish']))} (target {e(str(h['target']))}); "
                     f"{e(sim)}{e(on)}.</p>")  # fmt: skip
    status = summary.get("slo_status") or {}
    if status:
        months = [m[:7] for m in summary["months"]]
        head = "".join(f"<th>{e(m)}</th>" for m in months)
        letter = {"met": "ok", "missed": "wait", "overloaded": "over", "unchecked": "."}
        rows = "".join("<tr><th>" + e(d) + "</th>" + "".join(f"<td class='{v}' title='{v}'>{letter.get(v, v)}</td>" for v in row)
                       + "</tr>" for d, row in status.items())  # fmt: skip
        parts.append("<p>SLO by division and month (ok = met in simulation, wait = simulated p95 above the SLO, "
                     "over = overloaded: forecast load at or above the capacity it could get, . = not simulated):</p>"
                     f"<table class='heatmap'><thead><tr><th>division</th>{head}</tr></thead><tbody>{rows}</tbody></table>")
    binding = summary.get("binding") or {}
    if binding:
        parts.append("<p>Binding constraints: " + e("; ".join(f"{c} in {r['months']} month(s) from {r['first']}"
                                                              for c, r in binding.items())) + ".</p>")  # fmt: skip
    take = summary.get("what_it_would_take") or []
    if take:
        parts.append("<p>What it would take to meet every SLO:</p><ul>" + "".join(f"<li>{e(t['text'])}</li>" for t in take) + "</ul>")
    elif status:
        parts.append("<p>Nothing is left missing that a constraint prevents.</p>")
    return "\n".join(parts)


def write_plan_report(plan: Plan, mc: McResult | None, path: Path, *, title: str, inputs: dict[str, Any],
                      phases: list[tuple[dt.date, str]], replan: dict[str, Any] | None = None,
                      sizing: dict[str, Any] | None = None, summary: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Write the plan's ``report.html`` (atomically) and return its path.

    ``replan`` is ``plan.json``'s ``replan`` section (:func:`capacity.replan.replan_to_dict`): both
    hero ETTRs, the MILP passes and what the second pass changed.
    """
    sections: list[tuple[Any, ...]] = list(plan_figures(plan, mc, phases))
    if summary is not None:
        sections.insert(0, ("Summary", summary_html(summary), "summary"))
    if replan is not None and replan.get("ettr_first_order") is not None:
        f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        rows = [["first-order (Young/Daly)", f(replan["ettr_first_order"])], ["simulated", f(replan["ettr_simulated"])],
                ["used by the final plan", f(replan["ettr_used"])], ["MILP passes", replan["passes"]],
                ["plan changed", "yes" if replan["plan_changed"] else "no"], ["why", replan["reason"]]]  # fmt: skip
        rows += [["change", c] for c in replan["changes"]]
        sections.append(("Hero ETTR and re-plan", _table(["", ""], rows)))
    if sizing is not None and sizing.get("iterations"):
        rows = [[it["index"], f"{it['total_capex_usd'] / 1e9:.2f}", it["requirement_gpu_months"], it["unmet_gpu_months"],
                 it["misses_wait"], it["misses_overloaded"], len(it["raised"])] for it in sizing["iterations"]]  # fmt: skip
        from capacity.replan import sizing_state

        body = f"<p>{html.escape(sizing['method'])}; {html.escape(sizing_state(sizing))}.</p>" + _table(
            ["round", "capex $B", "requirement GPU-months", "unmet GPU-months", "wait misses", "overloaded", "raised"], rows)
        if sizing.get("unresolved"):
            body += "<p>Misses the plan cannot fix, and why:</p>" + _table(
                ["month", "division", "reason", "constraint", "detail"],
                [[u["date"], u["division"], u["reason"], u["constraint"], u["detail"]] for u in sizing["unresolved"]])
        sections.append(("SLO sizing rounds", body))
    sections.append(("Inputs", f"<pre>{html.escape(json.dumps(inputs, indent=2, default=str))}</pre>"))
    return _write(Path(path), render_html(title, sections))


def write_sim_report(results_dir: str | Path) -> Path:
    """Write ``results_dir/report.html`` for a simulation result folder and return its path.

    Reads ``summary.json`` and ``timeseries.parquet`` (either may be absent); charts every
    numeric time-series column grouped by name (``gpus_*``, ``power*``, ``hero*``, ``pending*``)
    and the per-division waits from the summary.
    """
    import pyarrow.parquet as pq

    rd = Path(results_dir)
    summary: dict[str, Any] = {}
    if (rd / "summary.json").exists():
        summary = json.loads((rd / "summary.json").read_text(encoding="utf-8"))
    sections: list[tuple[str, Any]] = []
    ts_path = rd / "timeseries.parquet"
    if ts_path.exists():
        tbl = pq.read_table(ts_path)
        cols = tbl.column_names
        tcol = next((c for c in cols if c in ("time_s", "t_s", "time")), cols[0] if cols else None)
        if tcol is not None:
            t_days = [v / 86400.0 for v in tbl.column(tcol).to_pylist()] if tcol.endswith("_s") else tbl.column(tcol).to_pylist()
            groups: dict[str, list[str]] = {}
            import pyarrow as pa

            for c in cols:
                if c == tcol or not (pa.types.is_integer(tbl.schema.field(c).type) or pa.types.is_floating(tbl.schema.field(c).type)):
                    continue
                key = next((g for g in ("alloc", "gpus", "power", "hero", "pending", "battery") if c.startswith(g)), "other")
                groups.setdefault(key, []).append(c)
            for key, members in groups.items():
                fig = go.Figure()
                stacked = key in ("alloc",) or (key == "gpus" and any("alloc" in m for m in members))
                for c in members:
                    fig.add_trace(go.Scatter(x=t_days, y=tbl.column(c).to_pylist(), name=c, mode="lines",
                                             stackgroup="s" if stacked else None))  # fmt: skip
                fig.update_layout(xaxis_title="day")
                sections.append((f"Time series: {key}", fig))
    waits = _find_waits(summary)
    if waits:
        fig = go.Figure()
        divs = list(waits)
        for q in ("p50", "p95", "p99"):
            ys = [_num(waits[d], q) for d in divs]
            if any(y is not None for y in ys):
                fig.add_trace(go.Bar(x=divs, y=[(y or 0) / 3600 for y in ys], name=q))
        fig.update_layout(yaxis_title="wait, h", barmode="group")
        sections.append(("Waits per division", fig))
    if isinstance(summary.get("replay"), dict):
        sections.append(_replay_section(summary["replay"], str(summary.get("policy") or "simulated")))
    sections.append(("Summary", f"<pre>{html.escape(json.dumps(summary, indent=2, default=str))}</pre>"))
    return _write(rd / "report.html", render_html(f"Simulation report: {rd.name}", sections))


def _replay_section(replay: dict[str, Any], policy: str) -> tuple[str, Any]:
    """Recorded vs simulated wait distributions per division (summary.json ``replay``, issue #14),
    drawn as ``colossus compare``'s report draws them (one panel per division)."""
    from plotly.colors import qualitative

    from colossus.sim.compare_report import replay_figure

    fig = replay_figure({policy: replay}, list(qualitative.Plotly)) or go.Figure()
    tau = replay.get("kendall_tau_start_order")
    fig.update_layout(title=f"{replay.get('jobs_matched', 0):,} jobs; start-order Kendall tau "
                            + (f"{tau:.3f}" if isinstance(tau, (int, float)) else "-"), margin={"t": 80})  # fmt: skip
    return ("Replay: recorded vs simulated waits", fig)


def _num(d: Any, q: str) -> float | None:
    if not isinstance(d, dict):
        return None
    for k in (q, f"{q}_s", f"wait_{q}_s", f"wait_{q}"):
        if isinstance(d.get(k), (int, float)):
            return float(d[k])
    return None


def _find_waits(summary: dict[str, Any]) -> dict[str, Any]:
    """Division -> wait dict, from whichever shape the summary uses."""
    for key in ("divisions", "waits", "wait"):
        v = summary.get(key)
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            out = {}
            for d, x in v.items():
                w = x.get("wait") or x.get("wait_s") or x
                if isinstance(w, dict):
                    out[d] = w
            if out:
                return out
    return {}
