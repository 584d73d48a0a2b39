"""``colossus scenario``: list, show, validate and describe scenario files."""

from __future__ import annotations

from typing import Any

import click

from colossus.commands.common import console, emit_json
from colossus.scenario import Scenario, builtin_names, load_scenario, scenario_json_schema


@click.group("scenario")
def scenario_group() -> None:
    """Scenario files: the cluster, its phases, power, failures, divisions and the hero run.

    \b
    A scenario is one TOML file; the built-in `memphis` (Colossus 1) is the default everywhere.
    Copy it to start your own:  colossus scenario show memphis --toml > my.toml

    \b
    Examples:
      colossus scenario list
      colossus scenario show                 # memphis timeline
      colossus scenario validate my.toml
      colossus scenario schema > scenario.schema.json
    """


@scenario_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print names as a JSON list.")
def list_cmd(as_json: bool) -> None:
    """List the built-in scenarios."""
    names = builtin_names()
    if as_json:
        emit_json(names)
        return
    for name in names:
        scn = load_scenario(name)
        click.echo(f"{name:12s} {scn.total_gpus:>9,d} GPUs  {scn.scenario.description}")


def timeline(scn: Scenario) -> list[dict[str, Any]]:
    """One row per phase: date, day, SKU, GPUs added, GPUs online by SKU, peak MW, capex."""
    rows: list[dict[str, Any]] = []
    online: dict[str, int] = {}
    capex_usd = 0.0
    for ph in scn.phases:
        gpus = ph.arrays * scn.cluster.gpus_per_array
        online[ph.sku] = online.get(ph.sku, 0) + gpus
        capex_usd += gpus * scn.skus[ph.sku].system_capex_usd_per_gpu
        day = scn.day_of(ph.date)
        peak_mw = sum(n * scn.facility_mw_per_gpu(sku) for sku, n in online.items())
        rows.append(
            {
                "phase": ph.name,
                "date": ph.date.isoformat(),
                "day": day,
                "sku": ph.sku,
                "gpus_added": gpus,
                "gpus_online": dict(online),
                "gpus_total": sum(online.values()),
                "peak_mw": round(peak_mw, 2),
                "grid_mw": scn.grid_mw(day),
                "capex_usd_cumulative": capex_usd,
            }
        )
    return rows


@scenario_group.command("show")
@click.argument("scenario", required=False, metavar="[NAME|FILE]")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline and key figures as JSON.")
@click.option("--toml", "as_toml", is_flag=True, help="Print the scenario as TOML (a template to edit).")
def show_cmd(scenario: str | None, as_json: bool, as_toml: bool) -> None:
    """Show a scenario's timeline: GPUs online per phase by SKU, peak MW, capex.

    SCENARIO is a built-in name (default: memphis) or a TOML file.
    Peak MW is facility power with every online GPU busy: (GPU + host) x (1 + IT overhead) x PUE.
    """
    scn = load_scenario(scenario)
    if as_toml:
        from importlib import resources
        from pathlib import Path

        if scenario is None or scenario in builtin_names():
            name = scenario or "memphis"
            click.echo(resources.files("colossus.scenario.builtin").joinpath(f"{name}.toml").read_text("utf-8"), nl=False)
        else:
            click.echo(Path(scenario).read_text("utf-8"), nl=False)
        return
    rows = timeline(scn)
    hero = scn.hero
    if as_json:
        emit_json(
            {
                "scenario": scn.name,
                "start_date": scn.scenario.start_date.isoformat(),
                "total_gpus": scn.total_gpus,
                "timeline": rows,
                "divisions": [
                    {"name": d.name, "guaranteed_share": d.guaranteed_share, "weight": d.weight,
                     "borrow_limit_share": d.borrow_limit_share, "load_share": d.load_share}
                    for d in scn.divisions
                ],
                "hero": None if hero is None else {"name": hero.name, "model": hero.model, "gpus": hero.gpus,
                                                   "tokens": hero.tokens, "division": hero.division},
            }
        )
        return
    from rich.table import Table

    con = console()
    skus = list(dict.fromkeys(ph.sku for ph in scn.phases))
    table = Table(title=f"{scn.name}: timeline (day 0 = {scn.scenario.start_date})")
    for col in ("phase", "date", "day", "added", *skus, "total GPUs", "peak MW", "grid MW", "capex $B"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for r in rows:
        table.add_row(
            r["phase"], r["date"], f"{r['day']:.0f}", f"{r['gpus_added']:,} {r['sku']}",
            *(f"{r['gpus_online'].get(s, 0):,}" for s in skus),
            f"{r['gpus_total']:,}", f"{r['peak_mw']:.0f}", f"{r['grid_mw']:.0f}",
            f"{r['capex_usd_cumulative'] / 1e9:.1f}",
        )
    con.print(table)
    div = Table(title="divisions")
    for col in ("division", "guarantee", "weight", "borrow limit", "load share"):
        div.add_column(col, justify="left" if col == "division" else "right")
    for d in scn.divisions:
        div.add_row(d.name, f"{d.guaranteed_share:.0%}", f"{d.weight:g}", f"{d.borrow_limit_share:.0%}", f"{d.load_share:.0%}")
    con.print(div)
    if hero is not None and hero.enabled:
        con.print(
            f"hero run [bold]{hero.name}[/]: model {hero.model}, {hero.gpus:,} {hero.sku} GPUs "
            f"(+{hero.hot_spare_nodes} spare nodes), {hero.tokens:.3g} tokens, owner {hero.division}, "
            f"submitted day {hero.start_day:g}"
        )
    fail = scn.failures
    con.print(
        f"failures: {fail.total_per_gpu_year:.3f} interruptions per GPU-year "
        f"(cluster MTTI at {scn.total_gpus:,} GPUs: {8766 * 60 / (fail.total_per_gpu_year * scn.total_gpus):.1f} min); "
        f"policy {scn.scheduler.policy}"
    )


@scenario_group.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def validate_cmd(files: tuple[str, ...]) -> None:
    """Check scenario files; print 'ok' per file, or one error line and exit 2."""
    for f in files:
        scn = load_scenario(f)
        click.echo(f"{f}: ok ({scn.name}, {scn.total_gpus:,} GPUs, {len(scn.phases)} phases, {len(scn.divisions)} divisions)")


@scenario_group.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of scenario files (for editor completion and checks)."""
    click.echo(scenario_json_schema())


COMMANDS: list[click.Command] = [scenario_group]

