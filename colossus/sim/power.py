"""Site power inside the simulation: facility draw, the grid cap, and a battery.

The facility draws, per GPU, its idle or busy power plus its share of host, network and
cooling (:meth:`colossus.scenario.types.Scenario.facility_mw_per_gpu`). The grid supplies up to
the cap in force; a battery of ``battery_mw`` / ``battery_mwh`` covers draw above the cap
while it holds energy and recharges (at up to ``battery_mw``) from the headroom below it.
Between events the draw is constant, so the battery's state of charge is integrated exactly,
piecewise linearly, at every change (:meth:`PowerState.advance`).

When ``power.enforce_cap`` is on, a job starts only if its added draw (busy minus idle power of
its GPUs) fits under what is available now: the grid cap, plus the battery's discharge power
while it holds energy. Running jobs are never stopped for power; draw that exceeds the grid and
battery together (e.g. when the battery runs empty under a busy fleet, or a phase's idle power
comes online) is reported as energy and hours over the cap.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PowerState"]

_H = 3600.0


@dataclass(kw_only=True, slots=True, eq=False)
class PowerState:
    """Mutable power bookkeeping of one simulation run (owned by the simulation loop).

    Attributes
    ----------
    busy_delta_mw : (num_skus,) float
        Facility MW a GPU of each SKU adds when it goes from idle to busy.
    idle_mw : (num_skus,) float
        Facility MW of an idle GPU of each SKU.
    grid_t_s, grid_mw : list of float
        Grid-cap steps: from ``grid_t_s[i]`` (simulated s, sorted) on the cap is ``grid_mw[i]``
        MW; before the first step the first cap applies.
    battery_mw, battery_mwh : float
        Battery power and energy.
    enforce : bool
        Gate job starts on the available power.
    draw_mw : float
        Facility draw now, MW.
    soc_mwh : float
        Battery state of charge, MWh (starts full).
    """

    busy_delta_mw: np.ndarray
    idle_mw: np.ndarray
    grid_t_s: list[float]
    grid_mw: list[float]
    battery_mw: float
    battery_mwh: float
    enforce: bool
    draw_mw: float = 0.0
    soc_mwh: float = 0.0
    t_s: float = 0.0
    over_cap_mwh: float = 0.0
    over_cap_s: float = 0.0
    battery_out_mwh: float = 0.0
    energy_mwh: float = 0.0
    peak_mw: float = 0.0
    above_grid_s: float = 0.0
    blocked_starts: int = 0
    busy_delta_list: list[float] = field(default_factory=list)
    """``busy_delta_mw`` as Python floats (scalar lookups on the hot path)."""
    busy_delta_max_mw: float = 0.0
    """The largest per-GPU busy delta of any SKU (what a start budget is counted in)."""

    def __post_init__(self) -> None:
        self.busy_delta_list = [float(x) for x in self.busy_delta_mw]
        self.busy_delta_max_mw = max(self.busy_delta_list, default=0.0)
        if not self.grid_mw or len(self.grid_t_s) != len(self.grid_mw):
            raise ValueError("grid_t_s and grid_mw must be non-empty and of one length")

    def grid_at(self, t_s: float) -> float:
        """The grid cap in force at ``t_s``, MW."""
        return self.grid_mw[max(bisect.bisect_right(self.grid_t_s, t_s) - 1, 0)]

    def advance(self, now_s: float) -> None:
        """Integrate the battery and the over-cap energy from the last update to ``now_s``."""
        dt = now_s - self.t_s
        if dt <= 0:
            return
        self.energy_mwh += self.draw_mw * dt / _H
        excess = self.draw_mw - self.grid_at(self.t_s)
        if excess > 1e-9:
            self.above_grid_s += dt
            rate = min(excess, self.battery_mw)
            t_empty = self.soc_mwh / rate * _H if rate > 0 else 0.0
            t_dis = min(dt, t_empty)
            out = rate * t_dis / _H
            self.soc_mwh = max(0.0, self.soc_mwh - out)
            self.battery_out_mwh += out
            over = (excess - rate) * t_dis + excess * (dt - t_dis)
            if over > 1e-9:
                self.over_cap_mwh += over / _H
                self.over_cap_s += dt if excess > rate else dt - t_dis
        elif excess < 0 and self.soc_mwh < self.battery_mwh:
            self.soc_mwh = min(self.battery_mwh, self.soc_mwh + min(-excess, self.battery_mw) * dt / _H)
        self.t_s = now_s

    def soc_at(self, now_s: float) -> float:
        """The battery's state of charge at ``now_s`` (MWh), without integrating to it."""
        dt = now_s - self.t_s
        if dt <= 0:
            return self.soc_mwh
        excess = self.draw_mw - self.grid_at(self.t_s)
        if excess > 1e-9:
            return max(0.0, self.soc_mwh - min(excess, self.battery_mw) * dt / _H)
        if excess < 0 and self.soc_mwh < self.battery_mwh:
            return min(self.battery_mwh, self.soc_mwh + min(-excess, self.battery_mw) * dt / _H)
        return self.soc_mwh

    def start_budget_gpus(self, now_s: float) -> int | None:
        """Most GPUs that may turn busy at ``now_s`` under the available power, or None when not enforced.

        The headroom (grid cap, plus the battery's power while it holds energy, minus the draw)
        over the largest per-GPU busy delta of any SKU, rounded down: every start set within it
        is admitted by :meth:`admits`, whatever SKUs its GPUs are on.
        """
        if not self.enforce:
            return None
        if self.busy_delta_max_mw <= 0:
            return None
        avail = self.grid_at(now_s) + (self.battery_mw if self.soc_at(now_s) > 1e-9 else 0.0)
        return max(0, int((avail - self.draw_mw + 1e-9) / self.busy_delta_max_mw))

    def available_mw(self) -> float:
        """What may be drawn now: the grid cap, plus the battery's power while it holds energy."""
        return self.grid_at(self.t_s) + (self.battery_mw if self.soc_mwh > 1e-9 else 0.0)

    def change(self, now_s: float, delta_mw: float) -> None:
        """The draw changes by ``delta_mw`` at ``now_s``."""
        self.advance(now_s)
        self.draw_mw += delta_mw
        if self.draw_mw > self.peak_mw:
            self.peak_mw = self.draw_mw

    def job_delta_mw(self, node_sku: np.ndarray, gpus: np.ndarray) -> float:
        """Draw a job adds when its GPUs (``gpus`` on nodes of SKU indices ``node_sku``) turn busy."""
        return float(self.busy_delta_mw[node_sku] @ gpus)

    def admits(self, delta_mw: float) -> bool:
        """Whether a start adding ``delta_mw`` fits under the available power (always when not enforced)."""
        return (not self.enforce) or delta_mw <= 0 or self.draw_mw + delta_mw <= self.available_mw() + 1e-9
