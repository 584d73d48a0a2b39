"""The scenario's generated workload as a stream of trace record batches (:mod:`traces.generator`).

One place turns a scenario into the generator's inputs (:func:`generator_inputs`), so
``colossus simulate`` (generated workload), ``colossus trace generate`` and the planner's
simulation evaluator draw the same jobs from the same seed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from colossus.errors import InputError
from colossus.scenario.types import Scenario
from colossus.scenario.workload import division_loads, to_workload_params
from colossus.streams import Streams
from traces.generator import DivisionLoad, WorkloadParams, generate_batches

__all__ = ["GeneratorInputs", "background_load_steps", "generator_inputs", "workload_batches"]

DAY_S = 86_400.0


def background_load_steps(scenario: Scenario) -> tuple[tuple[float, float], ...]:
    """``(from_s, offered_load_gpus)`` steps of the background load, one per distinct date.

    With ``workload.offered_load_share`` unset the load is ``workload.offered_load_gpus``
    throughout (one step at 0). Otherwise, at t = 0 and at every later phase date and hero
    start, the load is ``offered_load_share`` x (GPUs online - hero GPUs - hero hot-spare
    GPUs, the latter two once the hero has started), floored at 0.
    """
    w = scenario.workload
    if w.offered_load_share is None:
        return ((0.0, float(w.offered_load_gpus)),)
    gpa = scenario.cluster.gpus_per_array
    gpn = scenario.cluster.gpus_per_node
    h = scenario.hero if (scenario.hero is not None and scenario.hero.enabled) else None
    times = {0.0} | {max(0.0, scenario.day_of(ph.date) * DAY_S) for ph in scenario.phases}
    if h is not None:
        times.add(max(0.0, h.start_day * DAY_S))
    out = []
    for t in sorted(times):
        online = sum(ph.arrays for ph in scenario.phases if scenario.day_of(ph.date) * DAY_S <= t) * gpa
        hero = (h.gpus + h.hot_spare_nodes * gpn) if (h is not None and h.start_day * DAY_S <= t) else 0
        load = w.offered_load_share * max(0, online - hero)
        if not out or out[-1][1] != load:
            out.append((t, float(load)))
    return tuple(out)


@dataclass(frozen=True, kw_only=True, slots=True)
class GeneratorInputs:
    """Arguments of :func:`traces.generator.generate_batches` for a scenario."""

    params: WorkloadParams
    loads: tuple[DivisionLoad, ...]
    start: dt.datetime
    load_scale: tuple[tuple[float, float], ...]
    """(from_s, factor) relative to ``params.offered_load_gpus``."""


def generator_inputs(scenario: Scenario, *, offered_load_gpus: float | None = None) -> GeneratorInputs:
    """The generator's parameters for ``scenario``; ``offered_load_gpus`` overrides the load.

    Raises
    ------
    InputError
        When the workload section does not fit the scenario (unknown division in
        ``division_kind_weights``, or no background capacity ever with ``offered_load_share``).
    """
    start = dt.datetime.combine(scenario.scenario.start_date, dt.time(), tzinfo=dt.UTC)
    try:
        loads = division_loads(scenario.workload, scenario.divisions)
    except ValueError as exc:
        raise InputError(f"scenario {scenario.name!r}: {exc}") from None
    steps = ((0.0, float(offered_load_gpus)),) if offered_load_gpus is not None else background_load_steps(scenario)
    base = max(load for _, load in steps)
    if not base > 0:
        raise InputError(f"scenario {scenario.name!r}: workload.offered_load_share: no GPUs are ever left for "
                         "background work (the hero run and its spares take the whole cluster)")
    params = to_workload_params(scenario.workload, gpus_per_node=scenario.cluster.gpus_per_node)
    params = dataclasses.replace(params, offered_load_gpus=base)
    scale = tuple((t, load / base) for t, load in steps)
    return GeneratorInputs(params=params, loads=loads, start=start, load_scale=scale)


def workload_batches(scenario: Scenario, days: float, seed: int, *,
                     offered_load_gpus: float | None = None) -> Iterator[pa.RecordBatch]:
    """Schema-v1 record batches of the scenario's synthetic background workload, in submit order.

    Parameters
    ----------
    scenario : Scenario
        Its ``[workload]`` section and divisions drive :func:`traces.generator.generate_batches`;
        ``submit_time_s == 0`` is midnight UTC of ``scenario.start_date``.
    days : float
        Submit window, days.
    seed : int
        Root seed; the generator gets the ``workload`` stream of :class:`colossus.streams.Streams`.
    offered_load_gpus : float, optional
        A constant background load instead of the scenario's (GPU-seconds per second).

    Notes
    -----
    The hero run is not in these batches: :func:`colossus.sim.simulate` submits it from the
    scenario's ``[hero]`` section.
    """
    gi = generator_inputs(scenario, offered_load_gpus=offered_load_gpus)
    yield from generate_batches(gi.params, gi.loads, days=days, seed=workload_seed(seed), start=gi.start,
                                load_scale=gi.load_scale)


def workload_seed(seed: int) -> np.random.SeedSequence:
    """The generator's root sequence for a simulation seed (the ``workload`` stream)."""
    return Streams(seed).sequence("workload")
