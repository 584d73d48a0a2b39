"""Read a live Slurm cluster: nodes, and pending and running jobs with their GPUs.

Two readers give the same :class:`SlurmState`:

- ``json``: ``sinfo --json`` (nodes) and ``squeue --json`` (jobs), Slurm >= 21.08 with the
  openapi plugins (Debian's ``slurm-wlm-basic-plugins``);
- ``text``: ``scontrol show nodes -o`` and ``scontrol show jobs -d -o`` (one record per line;
  ``-d`` adds each running job's GPUs per node), for Slurms without the JSON output.

``auto`` tries JSON first and falls back to text when ``squeue --json`` is refused. Only the
Slurm commands run here (through a :class:`SlurmRunner`); parsing is pure and tested on
recorded output. GPUs are counted from ``gres/gpu`` TRES (typed ``gres/gpu:h100=N`` entries
repeat the untyped count and are not added twice).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from colossus.errors import InputError

__all__ = [
    "SlurmError",
    "SlurmJob",
    "SlurmNode",
    "SlurmRunner",
    "SlurmState",
    "expand_array_tasks",
    "expand_hostlist",
    "parse_json_state",
    "parse_text_state",
    "read_state",
    "subprocess_runner",
]

SlurmRunner = Callable[[Sequence[str]], str]
"""Runs one Slurm command (argv) and returns its stdout; raises :class:`SlurmError` on failure."""

# Node states (base or flag) that take a node out of scheduling: the snapshot marks it failed.
UNUSABLE_NODE_STATES = frozenset({"down", "drain", "drained", "fail", "failing", "maint", "future", "unknown",
                                  "not_responding", "power_down", "powered_down", "powering_down", "reboot_issued",
                                  "inval", "invalid", "no_respond", "planned_down"})
"""``draining`` (a drain flag on a node that still runs jobs) is *not* here: its jobs still
hold GPUs and the snapshot cannot say "busy but closed"; Slurm will not start new work there."""

HOLD_MARK = "colossus-hold"
"""``AdminComment`` the adapter sets on jobs it holds, so it releases only its own holds."""


class SlurmError(InputError):
    """A Slurm command failed or printed something we cannot read (one line, names the command)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SlurmNode:
    """One Slurm node as the snapshot needs it."""

    name: str
    state: str
    """Lower-case state words joined by ``+`` (e.g. ``idle``, ``mixed+drain``)."""
    gpus: int
    """GPUs configured (``gres/gpu`` of the node's TRES)."""
    gpus_used: int
    gpu_type: str | None
    partitions: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """False when Slurm will not schedule onto it (down, drained, failed, ...)."""
        return not (set(self.state.split("+")) & UNUSABLE_NODE_STATES)


@dataclass(frozen=True, kw_only=True, slots=True)
class SlurmJob:
    """One pending or running job (other states are dropped by the readers)."""

    job_id: str
    """Slurm's job id: numeric (a started or split-off array task has its own), or ``ARRAY_TASK``
    for the tasks of a pending array record that still holds several (scontrol accepts both)."""
    name: str
    user: str
    account: str
    partition: str
    state: str
    """``PENDING`` or ``RUNNING``."""
    reason: str
    num_gpus: int
    """GPUs in all (``gres/gpu`` of the allocated TRES when running, requested when pending)."""
    num_nodes: int
    alloc: tuple[tuple[str, int], ...]
    """Running jobs: (node name, GPUs on it), in Slurm's node order."""
    submit_time_s: float
    """Unix time, s."""
    start_time_s: float | None
    """Unix time the job started (running) or Slurm's expected start (pending), s; None if unknown."""
    time_limit_s: float | None
    """Time limit, s (None: unlimited)."""
    priority: int
    admin_comment: str = ""

    @property
    def held_by_us(self) -> bool:
        """Held by the adapter: an admin hold carrying its mark (a user hold, or a mark left on a job that
        is no longer held, is not the adapter's to release)."""
        return self.state == "PENDING" and self.reason == "JobHeldAdmin" and self.admin_comment == HOLD_MARK

    @property
    def held(self) -> bool:
        return self.state == "PENDING" and self.reason in ("JobHeldAdmin", "JobHeldUser")


@dataclass(frozen=True, kw_only=True, slots=True)
class SlurmState:
    """Nodes and queue of a live cluster at one instant."""

    now_s: float
    """Unix time the state was read, s."""
    nodes: tuple[SlurmNode, ...]
    jobs: tuple[SlurmJob, ...]
    source: str
    """``json`` or ``text``: which reader produced it."""


# ---------------------------------------------------------------------------------------------
# small parsers

_GPU_TRES = re.compile(r"(?:^|,)gres/gpu=(\d+)")
_GRES_COUNT = re.compile(r"^gpu(?::([^:(]+))?:(\d+)")


def gpus_from_tres(tres: str | None) -> int:
    """``gres/gpu`` count from a TRES string (``cpu=2,...,gres/gpu=12,gres/gpu:h100=12`` -> 12)."""
    if not tres:
        return 0
    m = _GPU_TRES.search(tres)
    return int(m.group(1)) if m else 0


def _gres_gpus(gres: str | None) -> tuple[int, str | None]:
    """GPUs and type in a GRES string (``gpu:h100:8(IDX:0-7)`` -> (8, 'h100'); ``gpu:4`` -> (4, None))."""
    total, typ = 0, None
    for part in (gres or "").split(","):
        m = _GRES_COUNT.match(part.strip())
        if m:
            total += int(m.group(2))
            typ = typ or m.group(1)
    return total, typ


def expand_hostlist(expr: str) -> list[str]:
    """Slurm host list to names: ``n[1-3,5],gpu07`` -> ``['n1', 'n2', 'n3', 'n5', 'gpu07']``."""
    out: list[str] = []
    for item in re.findall(r"[^,\[]+(?:\[[^\]]*\][^,\[]*)*", expr or ""):
        m = re.fullmatch(r"([^\[]*)\[([^\]]*)\](.*)", item)
        if not m:
            out.append(item)
            continue
        prefix, ranges, rest = m.groups()
        for r in ranges.split(","):
            lo, _, hi = r.partition("-")
            width = len(lo)
            for i in range(int(lo), int(hi or lo) + 1):
                for tail in expand_hostlist(rest) if rest else [""]:
                    out.append(f"{prefix}{i:0{width}d}{tail}")
    return out


def expand_array_tasks(spec: str) -> list[int]:
    """Task ids of a Slurm array spec: ``0-3`` -> 0..3, ``1,3,5-9:2`` -> 1,3,5,7,9 (``%N`` limit ignored)."""
    out: list[int] = []
    for part in spec.split("%")[0].split(","):
        part = part.strip()
        if not part:
            continue
        rng, _, step = part.partition(":")
        lo, _, hi = rng.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1, int(step or 1)))
    return out


def _with_array_tasks(job: SlurmJob, array_job_id: str, task_spec: str) -> list[SlurmJob]:
    """A pending array record that still holds several tasks, as one job per task (``ID_TASK``)."""
    if job.state != "PENDING" or not task_spec:
        return [job]
    try:
        tasks = expand_array_tasks(task_spec)
    except ValueError:
        raise SlurmError(f"job {job.job_id}: cannot read array tasks {task_spec!r}") from None
    return [dataclasses.replace(job, job_id=f"{array_job_id}_{t}") for t in tasks]


def _limit_minutes_to_s(v: Any) -> float | None:
    if v is None or v == "" or (isinstance(v, str) and v.upper() in ("UNLIMITED", "INFINITE", "NONE")):
        return None
    n = int(v)
    return None if n >= 0xFFFFFFFE else n * 60.0


def _limit_text_to_s(v: str) -> float | None:
    """``[D-]HH:MM:SS`` / ``MM:SS`` / ``UNLIMITED`` -> seconds."""
    if not v or v.upper() in ("UNLIMITED", "INFINITE", "NONE", "N/A"):
        return None
    days, _, hms = v.rpartition("-")
    parts = [int(x) for x in hms.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return (int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]) * 1.0


def _time_text_to_s(v: str) -> float | None:
    """``2026-12-04T03:12:26`` (local time of the controller) -> Unix seconds; Unknown/None -> None."""
    if not v or v in ("Unknown", "None", "N/A", "(null)"):
        return None
    try:
        return datetime.fromisoformat(v).astimezone(UTC).timestamp()
    except ValueError:
        raise SlurmError(f"scontrol: cannot read time {v!r}") from None


# ---------------------------------------------------------------------------------------------
# JSON reader (Slurm 22.05 openapi v0.0.38 layout)

def parse_json_state(sinfo_json: str, squeue_json: str, now_s: float) -> SlurmState:
    """Build the state from ``sinfo --json`` and ``squeue --json`` output."""
    try:
        nodes_doc = json.loads(sinfo_json)
        jobs_doc = json.loads(squeue_json)
    except json.JSONDecodeError as exc:
        raise SlurmError(f"sinfo/squeue --json: not JSON ({exc.msg} at line {exc.lineno})") from None
    nodes = []
    for n in nodes_doc.get("nodes", []):
        total = gpus_from_tres(n.get("tres"))
        gtotal, typ = _gres_gpus(n.get("gres"))
        used, _ = _gres_gpus(n.get("gres_used"))
        state = "+".join([str(n.get("state", "unknown")).lower()] + [str(f).lower() for f in n.get("state_flags", [])])
        nodes.append(SlurmNode(name=str(n["name"]), state=state, gpus=total or gtotal, gpus_used=used,
                               gpu_type=typ, partitions=tuple(n.get("partitions") or ())))
    jobs = []
    for j in jobs_doc.get("jobs", []):
        st = str(j.get("job_state", ""))
        if st not in ("PENDING", "RUNNING"):
            continue
        alloc: tuple[tuple[str, int], ...] = ()
        if st == "RUNNING":
            names = [a["nodename"] for a in (j.get("job_resources") or {}).get("allocated_nodes", [])]
            detail = list(j.get("gres_detail") or [])
            alloc = tuple((nm, _gres_gpus(detail[i])[0] if i < len(detail) else 0) for i, nm in enumerate(names))
            num = gpus_from_tres(j.get("tres_alloc_str"))
        else:
            num = gpus_from_tres(j.get("tres_req_str")) or _pending_gpus(j)
        start = j.get("start_time") or None
        jobs.extend(_with_array_tasks(SlurmJob(
            job_id=str(j["job_id"]), name=str(j.get("name", "")), user=str(j.get("user_name", "")),
            account=str(j.get("account", "")), partition=str(j.get("partition", "")), state=st,
            reason=str(j.get("state_reason", "")), num_gpus=num, num_nodes=int(j.get("node_count") or 1),
            alloc=tuple(a for a in alloc if a[1] > 0), submit_time_s=float(j.get("submit_time") or now_s),
            start_time_s=float(start) if start else None, time_limit_s=_limit_minutes_to_s(j.get("time_limit")),
            priority=int(j.get("priority") or 0), admin_comment=str(j.get("admin_comment") or ""),
        ), str(j.get("array_job_id") or j["job_id"]), str(j.get("array_task_string") or "")))
    return SlurmState(now_s=now_s, nodes=tuple(nodes), jobs=tuple(jobs), source="json")


def _pending_gpus(j: Mapping[str, Any]) -> int:
    """GPUs of a pending job whose TRES string has none yet: per job, else per node x nodes."""
    per_job = _gres_gpus(str(j.get("tres_per_job", "")).replace("gres:", ""))[0]
    if per_job:
        return per_job
    per_node = _gres_gpus(str(j.get("tres_per_node", "")).replace("gres:", ""))[0]
    return per_node * int(j.get("node_count") or 1)


# ---------------------------------------------------------------------------------------------
# text reader (scontrol -o)

_NODE_SEG = re.compile(r"Nodes=(\S+) CPU_IDs=\S+ Mem=\S+ GRES=(\S*)")


def _kv(line: str) -> dict[str, str]:
    """``Key=Value`` pairs of one ``scontrol -o`` record (values without spaces; first wins)."""
    out: dict[str, str] = {}
    for tok in line.split():
        k, sep, v = tok.partition("=")
        if sep and k not in out:
            out[k] = v
    return out


def parse_text_state(nodes_text: str, jobs_text: str, now_s: float) -> SlurmState:
    """Build the state from ``scontrol show nodes -o`` and ``scontrol show jobs -d -o`` output."""
    nodes = []
    for line in nodes_text.splitlines():
        if not line.startswith("NodeName="):
            continue
        kv = _kv(line)
        total = gpus_from_tres(kv.get("CfgTRES"))
        gtotal, typ = _gres_gpus(kv.get("Gres"))
        nodes.append(SlurmNode(name=kv["NodeName"], state=kv.get("State", "UNKNOWN").lower().replace("*", ""),
                               gpus=total or gtotal, gpus_used=gpus_from_tres(kv.get("AllocTRES")), gpu_type=typ,
                               partitions=tuple(p for p in kv.get("Partitions", "").split(",") if p)))
    jobs = []
    for line in jobs_text.splitlines():
        if not line.startswith("JobId="):
            continue
        kv = _kv(line)
        st = kv.get("JobState", "")
        if st not in ("PENDING", "RUNNING"):
            continue
        alloc: list[tuple[str, int]] = []
        if st == "RUNNING":
            for seg_nodes, gres in _NODE_SEG.findall(line):
                g = _gres_gpus(gres)[0]
                alloc += [(nm, g) for nm in expand_hostlist(seg_nodes)]
        num = gpus_from_tres(kv.get("TRES") or kv.get("ReqTRES"))
        if not num:
            num = _pending_gpus({"tres_per_job": kv.get("TresPerJob", ""), "tres_per_node": kv.get("TresPerNode", ""),
                                 "node_count": kv.get("NumNodes", "1").split("-")[0]})
        task_spec = kv.get("ArrayTaskId", "")
        jobs.extend(_with_array_tasks(SlurmJob(
            job_id=kv["JobId"], name=kv.get("JobName", ""), user=kv.get("UserId", "").split("(")[0],
            account=kv.get("Account", ""), partition=kv.get("Partition", ""), state=st,
            reason=kv.get("Reason", ""), num_gpus=num, num_nodes=int(kv.get("NumNodes", "1").split("-")[0]),
            alloc=tuple(a for a in alloc if a[1] > 0),
            submit_time_s=_time_text_to_s(kv.get("SubmitTime", "")) or now_s,
            start_time_s=_time_text_to_s(kv.get("StartTime", "")), time_limit_s=_limit_text_to_s(kv.get("TimeLimit", "")),
            priority=int(kv.get("Priority", "0") or 0), admin_comment=kv.get("AdminComment", ""),
        ), kv.get("ArrayJobId", kv["JobId"]), task_spec if not task_spec.isdigit() else ""))
    return SlurmState(now_s=now_s, nodes=tuple(nodes), jobs=tuple(jobs), source="text")


# ---------------------------------------------------------------------------------------------
# running the commands

def subprocess_runner(env: Mapping[str, str] | None = None, timeout_s: float = 30.0) -> SlurmRunner:
    """A runner that executes Slurm's commands (``SLURM_CONF`` etc. from ``env`` or the process)."""
    run_env = dict(os.environ if env is None else env)

    def run(argv: Sequence[str]) -> str:
        try:
            out = subprocess.run(list(argv), env=run_env, capture_output=True, text=True, timeout=timeout_s)
        except FileNotFoundError:
            raise SlurmError(f"{argv[0]}: not found (is Slurm's client installed and on PATH?)") from None
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{' '.join(argv)}: no answer in {timeout_s:.0f} s (is slurmctld running?)") from None
        if out.returncode != 0:
            msg = " ".join((out.stderr.strip() or out.stdout.strip() or f"exit {out.returncode}").split())
            raise SlurmError(f"{' '.join(argv)}: {msg[:300]}")
        return out.stdout

    return run


def read_state(runner: SlurmRunner, *, source: str = "auto", now_s: float | None = None) -> SlurmState:
    """Read nodes and queue from a live cluster with ``runner`` (``source``: auto, json or text)."""
    import time

    if source not in ("auto", "json", "text"):
        raise ValueError(f"source must be auto, json or text, got {source!r}")
    t = time.time() if now_s is None else now_s
    if source in ("auto", "json"):
        try:
            jobs = runner(["squeue", "--json"])
            nodes = runner(["sinfo", "--json"])
            return parse_json_state(nodes, jobs, t)
        except SlurmError:
            if source == "json":
                raise
    return parse_text_state(runner(["scontrol", "show", "nodes", "-o"]), runner(["scontrol", "show", "jobs", "-d", "-o"]), t)
