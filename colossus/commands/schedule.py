"""``colossus schedule``: run one scheduling round on a snapshot or a live Slurm, and explain it."""

from __future__ import annotations

import json
import time
from typing import Any

import click

COMMANDS: list[click.Command] = []


def _policy_choices() -> list[str]:
    from scheduler import policy_names

    return policy_names()


@click.command("schedule")
@click.argument("snapshot", type=click.Path(dir_okay=False), required=False)
@click.option("--policy", "policy_name", type=click.Choice(_policy_choices()), default="milp", show_default=True,
              help="Scheduling policy.")
@click.option("--solver", type=click.Choice(["highs", "cbc"]), default="highs", show_default=True,
              help="MILP solver (milp policy only); CBC is also the automatic fallback.")
@click.option("--time-limit", "time_limit_s", type=float, default=2.0, show_default=True,
              help="Solver time limit in seconds (milp policy only).")
@click.option("--slurm", is_flag=True,
              help="Read the snapshot from the live Slurm cluster (sinfo/squeue --json, else scontrol -o; "
                   "SLURM_CONF as for Slurm's own commands) instead of SNAPSHOT.")
@click.option("--scenario", default=None,
              help="Scenario (built-in name or TOML) whose [scheduler] settings the milp policy uses, as "
                   "`colossus simulate` does: the [scheduler.objective] weights, capacity.wait_p95_slo_s as the "
                   "divisions' wait targets, reserve_min_gpus, preempt_min_runtime_s, gap and threads "
                   "(--solver and --time-limit still come from this command line; other policies have no "
                   "scenario settings). Without it a SNAPSHOT is scheduled with the policy's defaults. With "
                   "--slurm it also gives the divisions and pool size (default there: memphis, whose settings "
                   "then apply).")
@click.option("--division-map", type=click.Path(dir_okay=False), default=None,
              help="With --slurm: CSV/JSON/TOML map of Slurm account (or 'partition:NAME') -> division; "
                   "'*' is the default. Unmapped: an account or partition named like a division, else a hash.")
@click.option("--slurm-source", type=click.Choice(["auto", "json", "text"]), default="auto", show_default=True,
              help="With --slurm: read with sinfo/squeue --json, scontrol show -o text, or JSON falling back to text.")
@click.option("--dump-snapshot", type=click.Path(dir_okay=False), default=None,
              help="With --slurm: write the snapshot built from Slurm to this JSON file (readable as SNAPSHOT).")
@click.option("--apply", "do_apply", is_flag=True,
              help="With --slurm: run the scontrol commands (default: print them only, a dry run).")
@click.option("--every", "every_s", type=click.FloatRange(min=0.1), default=None,
              help="With --slurm: repeat the round every this many seconds (Ctrl-C stops), so held jobs are "
                   "released when their turn comes.")
@click.option("--rounds", type=click.IntRange(min=1), default=None, help="With --every: stop after this many rounds.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision (and with --slurm the actions) as JSON.")
@click.option("--limit", type=int, default=20, show_default=True, help="Rows per table (0: all).")
@click.option("--quiet", is_flag=True, help="Print only the one-line summary.")
def schedule_cmd(snapshot: str | None, policy_name: str, solver: str, time_limit_s: float, slurm: bool,
                 scenario: str | None, division_map: str | None, slurm_source: str, dump_snapshot: str | None,
                 do_apply: bool, every_s: float | None, rounds: int | None, as_json: bool, limit: int,
                 quiet: bool) -> None:
    """Run one scheduling round on SNAPSHOT.json (or a live Slurm) and print starts, preemptions and why jobs wait.

    The snapshot format (version 1) is documented in scheduler/snapshot.py and its JSON
    Schema ships as scheduler/snapshot.schema.json.

    With --scenario the milp policy takes the scenario's [scheduler] settings (objective
    weights, wait targets from capacity.wait_p95_slo_s, reservation and preemption settings),
    built by the same code as in `colossus simulate`; divisions of SNAPSHOT that the scenario
    gives no wait target use scheduler.objective.default_wait_target_s (a note says which).

    With --slurm the round runs on the live cluster: nodes, running and pending jobs are read
    from Slurm, accounts/partitions mapped to the scenario's divisions, and the decision becomes
    scontrol commands that make Slurm start jobs in the decided order: a priority for every
    pending job, a hold for jobs the policy keeps waiting although they would fit now
    (AdminComment=colossus-hold; released by a later round when their turn comes). They are
    printed (a dry run) unless --apply. Slurm still picks the nodes, a release resets a
    priority (the adapter sets it again), and Slurm's backfill may start a lower-ranked job
    into a gap before the next round. No preemption through Slurm: running jobs are never
    preempted. Needs Slurm's operator rights (root or SlurmUser) for --apply.

    \b
    Examples:
      colossus schedule examples/snapshots/small.json
      colossus schedule examples/snapshots/small.json --policy backfill
      colossus schedule examples/snapshots/small.json --scenario my_weights.toml
      colossus schedule examples/snapshots/contended.json --json | jq .record
      colossus schedule --slurm --scenario examples/slurm_4node.toml --policy fairshare
      colossus schedule --slurm --division-map accounts.csv --dump-snapshot now.json
      colossus schedule --slurm --scenario examples/slurm_4node.toml --apply --every 10
      python -m colossus.adapters.slurm.localcluster   # as root: a throwaway 4 x 8-GPU Slurm to try it on
    """
    import math

    from scheduler import SchedulerInputError

    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise SchedulerInputError(f"--time-limit: must be a finite number of seconds > 0, got {time_limit_s:g}")
    if limit < 0:
        raise SchedulerInputError(f"--limit: must be >= 0 (0: all rows), got {limit}")
    if not slurm:
        used = [n for n, v in (("--division-map", division_map), ("--dump-snapshot", dump_snapshot),
                               ("--every", every_s)) if v] + (["--apply"] if do_apply else [])
        if snapshot is None:
            raise click.UsageError("give a SNAPSHOT file, or --slurm to read a live Slurm cluster")
        if used:
            raise click.UsageError(f"{', '.join(used)}: only with --slurm")
    else:
        if snapshot is not None:
            raise click.UsageError("give either a SNAPSHOT file or --slurm, not both")
        if rounds is not None and every_s is None:
            raise click.UsageError("--rounds: only with --every")
    from colossus.scenario import load_scenario

    scn = load_scenario(scenario) if (slurm or scenario is not None) else None
    policy = make_scheduling_policy(policy_name, solver=solver, time_limit_s=time_limit_s, scenario=scn)
    if not slurm:
        assert snapshot is not None
        _from_file(snapshot, policy, as_json, limit, quiet, scenario_label=scenario)
        return
    _from_slurm(policy, scn, division_map, slurm_source, dump_snapshot, do_apply, every_s, rounds,
                as_json, limit, quiet)


def make_scheduling_policy(policy_name: str, *, solver: str = "highs", time_limit_s: float = 2.0,
                           scenario: Any = None) -> Any:
    """The policy ``colossus schedule`` runs.

    ``milp`` gets ``scenario``'s [scheduler] settings through
    :meth:`~colossus.scenario.types.SchedulerSection.milp_options` -- the options the simulator
    builds its milp policy from (objective weights, wait targets from
    ``capacity.wait_p95_slo_s``, ``reserve_min_gpus``, ``preempt_min_runtime_s``, gap, threads)
    -- with ``solver`` and ``time_limit_s`` from the command line; without a scenario, the
    policy's own defaults. The other policies take no settings.
    """
    from scheduler import make_policy

    if policy_name != "milp":
        return make_policy(policy_name)
    opts: dict[str, Any] = {}
    if scenario is not None:
        opts = scenario.milp_options()
    opts.update(solver=solver, time_limit_s=time_limit_s)
    return make_policy("milp", **opts)


def _untargeted_divisions(policy: Any, division_names: list[str]) -> list[str]:
    """Divisions the milp policy's weights name no wait target for, when they name some."""
    weights = getattr(policy, "weights", None)
    targets = getattr(weights, "wait_targets_s", None)
    if not targets:
        return []
    return [n for n in division_names if n not in targets]


def _from_file(snapshot: str, policy: Any, as_json: bool, limit: int, quiet: bool,
               scenario_label: str | None = None) -> None:
    from scheduler import check_decision, decision_to_dict, load_snapshot

    view, pending, running, now_s = load_snapshot(snapshot)
    missing = _untargeted_divisions(policy, [d.name for d in view.divisions]) if scenario_label else []
    if missing:
        click.echo(f"note: --scenario {scenario_label}: capacity.wait_p95_slo_s names no wait target for division(s) "
                   f"{', '.join(missing)} of {snapshot}; they use scheduler.objective.default_wait_target_s "
                   f"({policy.weights.default_wait_target_s:g} s)", err=True)
    decision = policy.schedule(view, pending, running, now_s)
    check_decision(view, pending, running, decision)
    if as_json:
        click.echo(json.dumps(decision_to_dict(decision), indent=1))
        return
    _print_decision(view, decision, limit, quiet)


def _summary(decision: Any) -> str:
    r = decision.record
    return (
        f"{r.policy}: {r.n_started} started, {r.n_preempted} preempted, "
        f"{len(decision.explanations)} waiting of {r.n_pending} pending; solver {r.solver} status {r.status}"
        f"{' (fallback: ' + str(r.fallback_reason) + ')' if r.fallback_used else ''}; "
        f"build {r.build_s * 1e3:.0f} ms, solve {r.solve_s * 1e3:.0f} ms, total {r.total_s * 1e3:.0f} ms"
    )


def _print_decision(view: Any, decision: Any, limit: int, quiet: bool, node_names: list[str] | None = None) -> None:
    """The summary line and the starts / preemptions / reservations / waiting tables."""
    from rich.table import Table

    from colossus.commands.common import console

    con = console()
    con.print(_summary(decision))
    if quiet:
        return
    n = None if limit <= 0 else limit
    if decision.starts:
        t = Table(title="starts")
        for c in ("job", "GPUs", "nodes", "pools"):
            t.add_column(c)
        for jid, alloc in list(decision.starts.items())[:n]:
            nodes = [a[0] for a in alloc]
            pools = sorted({int(view.node_pool[x]) for x in nodes})
            labels = [node_names[x] if node_names else str(x) for x in nodes]
            shown = ",".join(labels[:6]) + ("..." if len(nodes) > 6 else "")
            t.add_row(jid, str(sum(g for _, g in alloc)), shown, ",".join(map(str, pools[:6])))
        con.print(t)
    if decision.preemptions:
        t = Table(title="preemptions")
        t.add_column("job")
        t.add_column("reason")
        for p in decision.preemptions[:n]:
            t.add_row(p.job_id, p.reason)
        con.print(t)
    for res in decision.reservations:
        when = "unknown" if res.start_s is None else f"t={res.start_s:.0f} s"
        con.print(f"reservation: {res.job_id} ({res.num_gpus} GPUs) expected to start at {when}")
    if decision.explanations:
        t = Table(title="waiting")
        for c in ("job", "reason", "est. start (s)", "why"):
            t.add_column(c)
        for jid, e in list(decision.explanations.items())[:n]:
            t.add_row(jid, str(e.reason), "-" if e.estimated_start_s is None else f"{e.estimated_start_s:.0f}", e.text)
        con.print(t)


def _from_slurm(policy: Any, scn: Any, division_map: str | None, source: str, dump: str | None,
                do_apply: bool, every_s: float | None, rounds: int | None, as_json: bool, limit: int,
                quiet: bool) -> None:
    from colossus.adapters.slurm import divisions_from_scenario, subprocess_runner
    from traces.importers.divisions import load_division_map

    divisions = divisions_from_scenario(scn)
    dmap = load_division_map(division_map, [d.name for d in divisions]) if division_map else None
    runner = subprocess_runner()
    try:
        _rounds(runner, divisions, policy, scn.cluster.nodes_per_array, dmap, source, dump, do_apply, every_s, rounds,
                as_json, limit, quiet)
    except KeyboardInterrupt:  # Ctrl-C ends --every; an action half-run is re-planned by the next round
        click.echo("interrupted", err=True)


def _rounds(runner: Any, divisions: Any, policy: Any, nodes_per_pool: int, dmap: Any, source: str, dump: str | None,
            do_apply: bool, every_s: float | None, rounds: int | None, as_json: bool, limit: int, quiet: bool) -> None:
    from colossus.adapters.slurm import apply_actions, live_round

    done = 0
    while True:
        rnd = live_round(runner, divisions, policy, nodes_per_pool=nodes_per_pool, dmap=dmap, source=source)
        if dump is not None:
            from colossus.commands.common import atomic_path
            from colossus.errors import InputError

            try:
                with atomic_path(dump) as tmp:
                    tmp.write_text(json.dumps(rnd.live.snapshot, indent=1) + "\n", encoding="utf-8")
            except OSError as exc:
                raise InputError(f"{dump}: cannot write ({exc.strerror})") from None
        results = apply_actions(rnd.plan, runner) if do_apply else None
        _report_round(rnd, results, do_apply, as_json, limit, quiet)
        done += 1
        if every_s is None or (rounds is not None and done >= rounds):
            return
        time.sleep(every_s)


def _report_round(rnd: Any, results: list[Any] | None, applied: bool, as_json: bool, limit: int, quiet: bool) -> None:
    from scheduler import decision_to_dict

    from colossus.commands.common import console

    plan = rnd.plan
    names = list(rnd.live.node_ids)
    if as_json:
        click.echo(json.dumps({
            "source": rnd.state.source,
            "decision": decision_to_dict(rnd.decision),
            "order": list(plan.order), "start_now": list(plan.start_now), "hold": list(plan.hold),
            "actions": [{"job_id": a.job_id, "command": list(a.argv), "why": a.why} for a in plan.actions],
            "applied": None if results is None else [{"command": list(r.action.argv), "ok": r.ok, "message": r.message}
                                                     for r in results],
            "skipped_jobs": [{"job_id": j, "why": w} for j, w in rnd.live.skipped],
            "notes": list(plan.notes),
        }, indent=1))
        return
    con = console()
    snap = rnd.live.snapshot
    con.print(f"slurm ({rnd.state.source}): {len(names)} GPU nodes, {int(rnd.view.free_gpus.sum())} GPUs free, "
              f"{len(snap['running'])} running, {len(snap['pending'])} pending"
              f"{f', {len(rnd.live.skipped)} left out' if rnd.live.skipped else ''}")
    _print_decision(rnd.view, rnd.decision, limit, quiet, names)
    if quiet:
        return
    n = None if limit <= 0 else limit
    for jid, why in rnd.live.skipped[:n]:
        con.print(f"left out: job {jid}: {why}")
    for note in plan.notes:
        con.print(f"note: {note}")
    if plan.order:
        con.print("decided order: " + " ".join(plan.order[: n or len(plan.order)]) + (" ..." if n and len(plan.order) > n else ""))
    if not plan.actions:
        con.print("slurm already follows the decision: no commands")
        return
    con.print("commands (applied):" if applied else "commands (dry run; --apply runs them):")
    res = {id(r.action): r for r in results or []}
    for a in plan.actions:
        r = res.get(id(a))
        mark = "" if r is None else ("  ok" if r.ok else f"  skipped ({r.message})")
        con.print(f"  {a.shell}    # {a.why}{mark}", markup=False)


COMMANDS.append(schedule_cmd)
