"""``colossus schedule``: run one scheduling round on a snapshot and explain the decision."""

from __future__ import annotations

import json

import click

COMMANDS: list[click.Command] = []


def _policy_choices() -> list[str]:
    from scheduler import policy_names

    return policy_names()


@click.command("schedule")
@click.argument("snapshot", type=click.Path(dir_okay=False))
@click.option("--policy", "policy_name", type=click.Choice(_policy_choices()), default="milp", show_default=True,
              help="Scheduling policy.")
@click.option("--solver", type=click.Choice(["highs", "cbc"]), default="highs", show_default=True,
              help="MILP solver (milp policy only); CBC is also the automatic fallback.")
@click.option("--time-limit", "time_limit_s", type=float, default=2.0, show_default=True,
              help="Solver time limit in seconds (milp policy only).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON on stdout.")
@click.option("--limit", type=int, default=20, show_default=True, help="Rows per table (0: all).")
@click.option("--quiet", is_flag=True, help="Print only the one-line summary.")
def schedule_cmd(snapshot: str, policy_name: str, solver: str, time_limit_s: float, as_json: bool, limit: int, quiet: bool) -> None:
    """Run one scheduling round on SNAPSHOT.json and print starts, preemptions and why jobs wait.

    The snapshot format (version 1) is documented in scheduler/snapshot.py and its JSON
    Schema ships as scheduler/snapshot.schema.json. Examples:

    \b
      colossus schedule examples/snapshots/small.json
      colossus schedule examples/snapshots/small.json --policy backfill
      colossus schedule examples/snapshots/contended.json --json | jq .record
    """
    import math

    from scheduler import SchedulerInputError, check_decision, decision_to_dict, load_snapshot, make_policy

    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise SchedulerInputError(f"--time-limit: must be a finite number of seconds > 0, got {time_limit_s:g}")
    if limit < 0:
        raise SchedulerInputError(f"--limit: must be >= 0 (0: all rows), got {limit}")
    view, pending, running, now_s = load_snapshot(snapshot)
    opts = {"solver": solver, "time_limit_s": time_limit_s} if policy_name == "milp" else {}
    policy = make_policy(policy_name, **opts)
    decision = policy.schedule(view, pending, running, now_s)
    check_decision(view, pending, running, decision)
    if as_json:
        click.echo(json.dumps(decision_to_dict(decision), indent=1))
        return
    r = decision.record
    summary = (
        f"{r.policy}: {r.n_started} started, {r.n_preempted} preempted, "
        f"{len(decision.explanations)} waiting of {r.n_pending} pending; solver {r.solver} status {r.status}"
        f"{' (fallback: ' + str(r.fallback_reason) + ')' if r.fallback_used else ''}; "
        f"build {r.build_s * 1e3:.0f} ms, solve {r.solve_s * 1e3:.0f} ms, total {r.total_s * 1e3:.0f} ms"
    )
    if quiet:
        click.echo(summary)
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(summary)
    n = None if limit <= 0 else limit
    if decision.starts:
        t = Table(title="starts")
        for c in ("job", "GPUs", "nodes", "pools"):
            t.add_column(c)
        for jid, alloc in list(decision.starts.items())[:n]:
            nodes = [a[0] for a in alloc]
            pools = sorted({int(view.node_pool[x]) for x in nodes})
            shown = ",".join(map(str, nodes[:6])) + ("..." if len(nodes) > 6 else "")
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


COMMANDS.append(schedule_cmd)
