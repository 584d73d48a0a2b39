"""The scenario's generated workload as a stream of trace record batches (:mod:`traces.generator`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa

from colossus.errors import InputError
from colossus.scenario.types import Scenario
from colossus.scenario.workload import division_loads, to_workload_params
from colossus.streams import Streams
from traces.generator import generate_batches

__all__ = ["workload_batches"]


def workload_batches(scenario: Scenario, days: float, seed: int) -> Iterator[pa.RecordBatch]:
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

    Notes
    -----
    The hero run is not in these batches: :func:`colossus.sim.simulate` submits it from the
    scenario's ``[hero]`` section.
    """
    start = dt.datetime.combine(scenario.scenario.start_date, dt.time(), tzinfo=dt.UTC)
    params = to_workload_params(scenario.workload, gpus_per_node=scenario.cluster.gpus_per_node)
    try:
        loads = division_loads(scenario.workload, scenario.divisions)
    except ValueError as exc:
        raise InputError(f"scenario {scenario.name!r}: {exc}") from None
    yield from generate_batches(params, loads, days=days, seed=Streams(seed).sequence("workload"), start=start)
