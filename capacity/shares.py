"""How a month's capacity is shared between divisions: the scheduler's rules, as the plan applies them.

The scheduler (DESIGN §3.3) gives each division its **guarantee** first and lends what is left
idle by **weight**; the hero run counts as its division's. The plan follows the same rules
when capacity is short (issue 12 item 2), and the Monte Carlo uses them to say when a
division's offered load reaches the capacity it could get (*overloaded*, item 1).

Rule (reference GPUs; ``S`` = non-hero capacity to share, ``H`` = the hero's GPUs)
-------------------------------------------------------------------------------------
1. Entitlements of the whole served capacity ``T = S + H``: ``E_d = g_d / sum(g) x T`` (the
   guarantees normalised to the usable capacity). The hero division's own non-hero entitlement
   is ``E_h - H``. When the hero holds more than its division's entitlement (``H > E_h``: it
   borrowed the difference), the hero division's non-hero entitlement is 0 and the others'
   entitlements are scaled down in proportion so that they add up to ``S`` again; otherwise
   they add up to ``S`` as they are. Either way a non-hero division's entitlement is at least
   ``g_d / sum(g) x S``.
2. Each division first gets ``min(demand_d, entitlement_d)`` (its *floor*).
3. What is left goes to divisions still short, in proportion to their weights, each capped at
   its demand (water-filling); capacity nobody asks for stays unallocated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["division_capacity", "entitlements", "share_capacity"]

_EPS = 1e-9


def entitlements(capacity: float, guarantees: Mapping[str, float], *, hero_division: str | None = None,
                 hero: float = 0.0) -> dict[str, float]:  # fmt: skip
    """Each division's entitlement of the non-hero ``capacity`` (step 1 of the module's rule).

    Parameters
    ----------
    capacity : float
        Non-hero capacity to share, reference GPUs (``S``).
    guarantees : mapping
        Division -> guaranteed share (normalised here; all zero means equal shares).
    hero_division : str, optional
        The division the hero run belongs to.
    hero : float
        The hero's GPUs, reference GPUs (``H``).

    Returns
    -------
    dict[str, float]
        Division -> entitlement, reference GPUs; they add up to ``capacity``.
    """
    names = list(guarantees)
    if not names:
        return {}
    total_g = sum(max(0.0, float(guarantees[d])) for d in names)
    g = {d: (max(0.0, float(guarantees[d])) / total_g) if total_g > 0 else 1.0 / len(names) for d in names}
    s = max(0.0, float(capacity))
    h = max(0.0, float(hero)) if hero_division in g else 0.0
    t = s + h
    ent = {d: g[d] * t for d in names}
    if h > 0:
        own = ent[hero_division] - h  # type: ignore[index]
        if own >= 0:
            ent[hero_division] = own  # type: ignore[index]
        else:  # the hero borrowed beyond its division's guarantee: the others share S pro rata
            ent[hero_division] = 0.0  # type: ignore[index]
            rest = sum(v for d, v in ent.items() if d != hero_division)
            for d in names:
                if d != hero_division:
                    ent[d] = ent[d] * s / rest if rest > 0 else s / (len(names) - 1)
    return ent


def share_capacity(capacity: float, demand: Mapping[str, float], guarantees: Mapping[str, float],
                   weights: Mapping[str, float] | None = None, *, hero_division: str | None = None,
                   hero: float = 0.0) -> dict[str, float]:  # fmt: skip
    """Share ``capacity`` between divisions by the scheduler's rules (see the module docstring).

    Parameters
    ----------
    capacity : float
        Non-hero capacity to share, reference GPUs.
    demand : mapping
        Division -> what it asks for, reference GPUs (``math.inf`` allowed).
    guarantees, hero_division, hero
        As in :func:`entitlements`.
    weights : mapping, optional
        Division -> fair-share weight for what is left (default 1).

    Returns
    -------
    dict[str, float]
        Division -> allocation: ``<= demand``, adds up to ``min(capacity, sum(demand))``, and each
        division gets at least ``min(demand, entitlement)``.
    """
    ent = entitlements(capacity, guarantees, hero_division=hero_division, hero=hero)
    want = {d: max(0.0, float(demand.get(d, 0.0))) for d in ent}
    alloc = {d: min(want[d], ent[d]) for d in ent}
    left = max(0.0, float(capacity)) - sum(alloc.values())
    w = {d: max(_EPS, float((weights or {}).get(d, 1.0))) for d in ent}
    short = {d for d in ent if want[d] - alloc[d] > _EPS}
    for _ in range(len(ent) + 1):  # each pass satisfies a division or hands out everything left
        if left <= _EPS * max(1.0, float(capacity)) or not short:
            break
        wsum = sum(w[d] for d in short)
        # the largest equal step (per unit weight) before some division is satisfied
        step = min(left / wsum, min((want[d] - alloc[d]) / w[d] for d in short))
        for d in list(short):
            give = step * w[d]
            alloc[d] += give
            left -= give
            if want[d] - alloc[d] <= _EPS * max(1.0, alloc[d]):
                alloc[d] = min(alloc[d], want[d])
                short.discard(d)
    return alloc


def division_capacity(capacity: float, load: Mapping[str, float], guarantees: Mapping[str, float],
                      weights: Mapping[str, float] | None = None, *, hero_division: str | None = None,
                      hero: float = 0.0) -> dict[str, float]:  # fmt: skip
    """The most each division could hold while the others keep their offered ``load``.

    Division ``d``'s capacity is its allocation by :func:`share_capacity` when it asks for
    everything (``demand_d = inf``) and the others ask for their load. ``load_d / capacity_d
    >= 1`` means the division's queue cannot be stable: it is *overloaded*.
    """
    out = {}
    for d in guarantees:
        asks = {k: (math.inf if k == d else max(0.0, float(load.get(k, 0.0)))) for k in guarantees}
        out[d] = share_capacity(capacity, asks, guarantees, weights, hero_division=hero_division, hero=hero)[d]
    return out
