"""Writing a plan folder: ``plan.json``, ``plan.parquet`` and ``report.html`` (each atomically)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from capacity.montecarlo import CENSORING, STITCHING, McConfig, McResult
from capacity.plan import Plan, plan_table, plan_to_dict
from capacity.replan import Replan, replan_to_dict, simulated_hero_ettr
from capacity.report import write_plan_report
from capacity.summary import executive_summary
from colossus.scenario import Scenario

__all__ = ["make_plan", "plan_document", "write_plan_folder"]


def make_plan(scn: Scenario, *, horizon_months: int | None = None, hero_ettr: float | None = None,
              solver: str | None = None) -> Plan:  # fmt: skip
    """Build the inputs from ``scn`` and solve the planning MILP (solver: the scenario's by default)."""
    from capacity.inputs import plan_inputs
    from capacity.milp import solve_plan

    inp = plan_inputs(scn, horizon_months=horizon_months, hero_ettr=hero_ettr)
    return solve_plan(inp, solver=solver or scn.scheduler.solver)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


def plan_document(plan: Plan, mc: McResult | None, scn: Scenario, cfg: McConfig | None,
                  replan: Replan | None = None, sizing: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything ``plan.json`` holds: the plan, the Monte Carlo figures, the re-plan record and the inputs.

    ``plan.hero.ettr_source`` says which ETTR derated the hero's throughput in the MILP
    (``first-order (Young/Daly)`` or ``simulation``); ``replan`` (when given) records both
    ETTRs, the number of MILP passes and what the second pass changed (:mod:`capacity.replan`).
    """
    from colossus.scenario.loader import scenario_to_dict

    doc: dict[str, Any] = {"scenario": scn.name, "summary": {}, "plan": plan_to_dict(plan)}
    if mc is not None:
        doc["monte_carlo"] = {
            "config": dataclasses.asdict(cfg) if cfg else None,
            "evaluator": cfg.evaluator if cfg else "queue",
            "months": [plan.inputs.months[m].isoformat() for m in mc.months],
            "waits_s": mc.waits, "wait_censoring": CENSORING,
            "slo_misses": mc.slo_misses, "load_ratio": mc.load_ratio, "slo_status": mc.slo_status,
            "hero_finish": mc.hero_finish,
            "hero_finish_source": ("simulated progress" if cfg and cfg.evaluator == "sim" else "first-order failure model (queue)"),
            "hero_stitching": (STITCHING if cfg and cfg.evaluator == "sim" else None),
            "hero_ettr": mc.hero_ettr, "replications_computed": mc.computed, "replications_cached": mc.cached,
        }  # fmt: skip
    hero_doc = doc["plan"].get("hero")
    measured = simulated_hero_ettr(mc)
    if hero_doc is not None and measured is not None:  # issue 7 §3: the ETTR the simulation measures
        hero_doc["ettr_simulated"] = measured
        hero_doc["tokens_per_gpu_s_effective_simulated"] = hero_doc["tokens_per_gpu_s"] * measured
    doc["summary"] = executive_summary(plan, mc, sizing)
    if sizing is not None:
        doc["sizing"] = sizing
    if replan is not None:
        doc["replan"] = replan_to_dict(replan)
        if hero_doc is not None:
            hero_doc["ettr_first_order"] = replan.ettr_first_order
    full = scenario_to_dict(scn)
    doc["inputs"] = {k: full.get(k) for k in ("scenario", "capacity", "power", "phases", "divisions", "hero", "checkpoint")}
    return doc


def _dump(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_plan_folder(out_dir: Path, plan: Plan, mc: McResult | None, scn: Scenario, cfg: McConfig | None,
                      replan: Replan | None = None, sizing: dict[str, Any] | None = None) -> dict[str, Path]:  # fmt: skip
    """Write ``plan.json``, ``plan.parquet`` and ``report.html`` into ``out_dir``; return their paths.

    ``sizing`` is :func:`capacity.replan.sizing_to_dict` of the run (the SLO-sizing rounds), when there was one.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = plan_document(plan, mc, scn, cfg, replan, sizing)
    doc_timeless = json.loads(json.dumps(doc, default=_json_default))
    # solve times differ run to run; keep them out of the file so the same seed gives the same bytes
    doc_timeless["plan"].pop("build_s", None)
    doc_timeless["plan"].pop("solve_s", None)
    _dump(out / "plan.json", json.dumps(doc_timeless, indent=2, sort_keys=False) + "\n")
    fd, tmp = tempfile.mkstemp(prefix=".plan.parquet.", suffix=".tmp", dir=out)
    os.close(fd)
    pq.write_table(plan_table(plan), tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out / "plan.parquet")
    phases = [(p.date, p.name) for p in scn.phases]
    report = write_plan_report(plan, mc, out / "report.html", title=f"Capacity plan: {scn.name}",
                               inputs=doc_timeless["inputs"], phases=phases, replan=doc_timeless.get("replan"),
                               sizing=doc_timeless.get("sizing"), summary=doc_timeless["summary"])  # fmt: skip
    return {"plan.json": out / "plan.json", "plan.parquet": out / "plan.parquet", "report.html": report}
