"""The simulation's running jobs as columns, kept up to date as jobs start, restart and end.

A full scheduling round needs every running job's division, allocation, start and expected end,
priority, preemptibility and restart cost as arrays (:class:`scheduler._round.RoundInput`).
Building them from ~10k :class:`scheduler.types.RunningJob` objects every round cost about a
third of a full MILP round at 200k GPUs. :class:`RunningSet` keeps them as columns instead:
one slot per running job, appended when a run segment starts (updated in place when the same
job starts a new segment, e.g. a hero run after a failure), marked dead when it ends, and
compacted when dead slots pile up. Slots stay in start order, which is the order the simulator
has always listed running jobs in, so a round sees exactly the same input as before.
:meth:`RunningSet.snapshot` gives a :class:`RunningColumns`: a sequence of ``RunningJob`` (built
only for the few jobs a policy asks for by index) whose ``columns`` method hands the arrays to
``RoundInput.build``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["RunningColumns", "RunningSet"]


class RunningColumns(Sequence[Any]):
    """The running jobs of one round: a sequence of ``RunningJob`` plus their columns.

    Parameters
    ----------
    jobs : list
        The simulator's jobs, in start order.
    make : callable
        ``make(job) -> RunningJob`` (memoised by the simulator per run segment).
    arrays : dict
        ``div`` (codes into ``divisions``), ``lens``, ``nodes``, ``node_gpus``, ``end_s``,
        ``start_s``, ``prio``, ``preemptible``, ``hero``, ``restart_s``.
    divisions : sequence of str
        Division name of each division code.
    """

    __slots__ = ("_arrays", "_divisions", "_jobs", "_make")

    def __init__(self, jobs: list[Any], make: Callable[[Any], Any], arrays: dict[str, np.ndarray],
                 divisions: Sequence[str]) -> None:
        self._jobs = jobs
        self._make = make
        self._arrays = arrays
        self._divisions = tuple(divisions)

    def __len__(self) -> int:
        return len(self._jobs)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._make(j) for j in self._jobs[i]]
        return self._make(self._jobs[i])

    def columns(self, division_index: Mapping[str, int]) -> dict[str, np.ndarray]:
        """The arrays, with divisions as indices of ``division_index`` (the view's order)."""
        out = dict(self._arrays)
        remap = np.fromiter((division_index[d] for d in self._divisions), dtype=np.int64, count=len(self._divisions))
        out["div"] = remap[self._arrays["div"]] if remap.size else self._arrays["div"]
        return out


class RunningSet:
    """Columns of the running jobs, one slot each, in start order (see the module doc).

    A job's slot number is kept on the job (``job.slot``, -1 when it has none).
    """

    def __init__(self, divisions: Sequence[str], capacity: int = 1024) -> None:
        self.divisions = tuple(divisions)
        self.n = 0  # slots in use (alive or dead)
        self.n_alive = 0
        self.jobs: list[Any] = []
        self._alloc_slots(capacity)
        self.pool_nodes = np.zeros(4 * capacity, dtype=np.int64)
        self.pool_gpus = np.zeros(4 * capacity, dtype=np.int64)
        self.pool_n = 0
        self.live_entries = 0

    def _alloc_slots(self, cap: int) -> None:
        self.div = np.zeros(cap, dtype=np.int64)
        self.end_s = np.zeros(cap, dtype=np.float64)
        self.start_s = np.zeros(cap, dtype=np.float64)
        self.prio = np.zeros(cap, dtype=np.int64)
        self.preemptible = np.zeros(cap, dtype=bool)
        self.hero = np.zeros(cap, dtype=bool)
        self.restart_s = np.zeros(cap, dtype=np.float64)
        self.off = np.zeros(cap, dtype=np.int64)
        self.ln = np.zeros(cap, dtype=np.int64)
        self.alive = np.zeros(cap, dtype=bool)

    _COLS = ("div", "end_s", "start_s", "prio", "preemptible", "hero", "restart_s", "off", "ln", "alive")

    def _grow_slots(self) -> None:
        cap = 2 * self.div.size
        for name in self._COLS:
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: old.size] = old
            setattr(self, name, new)

    def _append_entries(self, nodes: np.ndarray, gpus: np.ndarray) -> int:
        k = int(nodes.size)
        if self.pool_n + k > self.pool_nodes.size:
            cap = max(2 * self.pool_nodes.size, self.pool_n + k)
            for name in ("pool_nodes", "pool_gpus"):
                old = getattr(self, name)
                new = np.zeros(cap, dtype=np.int64)
                new[: self.pool_n] = old[: self.pool_n]
                setattr(self, name, new)
        a = self.pool_n
        self.pool_nodes[a : a + k] = nodes
        self.pool_gpus[a : a + k] = gpus
        self.pool_n += k
        return a

    # -- changes ---------------------------------------------------------------------------------
    def put(self, job: Any, *, div: int, priority: int, preemptible: bool) -> None:
        """A run segment of ``job`` starts: its slot (new, or the same one) takes its current state."""
        s = job.slot
        if s < 0:
            if self.n == self.div.size:
                self._grow_slots()
            s = job.slot = self.n
            self.n += 1
            self.jobs.append(job)
            self.n_alive += 1
            self.alive[s] = True
        else:
            self.live_entries -= int(self.ln[s])
        nodes, gpus = job.nodes, job.gpus
        self.off[s] = self._append_entries(nodes, gpus)
        self.ln[s] = nodes.size
        self.live_entries += int(nodes.size)
        self.div[s] = div
        self.end_s[s] = job.expected_end_s()
        self.start_s[s] = job.seg_start_s
        self.prio[s] = priority
        self.preemptible[s] = preemptible
        self.hero[s] = job.is_hero
        self.restart_s[s] = job.restart_s

    def remove(self, job: Any) -> None:
        """``job`` stopped running (completed, failed or preempted)."""
        s = job.slot
        if s < 0:
            return
        self.alive[s] = False
        self.jobs[s] = None
        self.n_alive -= 1
        self.live_entries -= int(self.ln[s])
        job.slot = -1
        if self.n - self.n_alive > max(4096, self.n_alive) or self.pool_n > max(1 << 20, 4 * self.live_entries):
            self._compact()

    def _compact(self) -> None:
        """Drop dead slots and their entries; live slots keep their order."""
        keep = np.flatnonzero(self.alive[: self.n])
        e = self._entries(keep)
        nodes, gpus = self.pool_nodes[e], self.pool_gpus[e]
        lens = self.ln[keep]
        for name in self._COLS:
            col = getattr(self, name)
            col[: keep.size] = col[keep]
            col[keep.size : self.n] = 0
        self.alive[keep.size : self.n] = False
        self.off[: keep.size] = np.concatenate(([0], np.cumsum(lens)[:-1])) if keep.size else 0
        self.pool_nodes[: e.size] = nodes
        self.pool_gpus[: e.size] = gpus
        self.pool_n = int(e.size)
        jobs = [self.jobs[i] for i in keep.tolist()]
        for i, j in enumerate(jobs):
            j.slot = i
        self.jobs = jobs
        self.n = keep.size

    def _entries(self, slots: np.ndarray) -> np.ndarray:
        """Indices into the entry pool of ``slots``' allocations, slot by slot."""
        ln = self.ln[slots]
        ends = np.cumsum(ln)
        return np.repeat(self.off[slots] - (ends - ln), ln) + np.arange(int(ends[-1]) if ends.size else 0)

    # -- a round's view ----------------------------------------------------------------------------
    def snapshot(self, make: Callable[[Any], Any], exclude: Any = None) -> RunningColumns:
        """The running jobs now (without ``exclude``, e.g. a hero run waiting for nodes)."""
        alive = self.alive[: self.n]
        if exclude is not None and exclude.slot >= 0:
            alive = alive.copy()
            alive[exclude.slot] = False
        slots = np.flatnonzero(alive)
        e = self._entries(slots)
        arrays = {"div": self.div[slots], "lens": self.ln[slots], "nodes": self.pool_nodes[e],
                  "node_gpus": self.pool_gpus[e], "end_s": self.end_s[slots], "start_s": self.start_s[slots],
                  "prio": self.prio[slots], "preemptible": self.preemptible[slots], "hero": self.hero[slots],
                  "restart_s": self.restart_s[slots]}
        jobs = self.jobs
        return RunningColumns([jobs[i] for i in slots.tolist()], make, arrays, self.divisions)
