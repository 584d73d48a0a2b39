"""Importers of public GPU-cluster traces into schema v1: one registry, one function per format.

Each importer takes the source files and a :class:`~traces.importers.divisions.DivisionMap` and
returns an :class:`~traces.importers._common.ImportResult` (table in submit order, start,
source, rows left out by reason). Mapping rules per source: shared/reference/traces.md §9 and
each module's docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from traces.importers._common import ImportResult
from traces.importers.alibaba import import_openb, import_pai
from traces.importers.divisions import DivisionMap, hash_division, load_division_map
from traces.importers.itp import import_itp
from traces.importers.philly import import_philly_csv, import_philly_json
from traces.importers.sacct import read_sacct
from traces.importers.slurm_like import import_acme, import_helios

__all__ = [
    "IMPORTERS",
    "DivisionMap",
    "ImportResult",
    "Importer",
    "hash_division",
    "import_trace",
    "load_division_map",
    "read_sacct",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Importer:
    """One source format."""

    name: str
    """Format name on the command line."""
    summary: str
    """What files it reads."""
    run: Callable[..., ImportResult]
    """``run(paths, divisions=DivisionMap) -> ImportResult``."""


IMPORTERS: dict[str, Importer] = {
    imp.name: imp
    for imp in (
        Importer(
            name="itp",
            summary="Microsoft ITP clusterNN.csv (division key: file name)",
            run=import_itp,
        ),
        Importer(
            name="philly",
            summary="Philly job-level philly.csv (division key: cluster/VC)",
            run=import_philly_csv,
        ),
        Importer(
            name="philly-json",
            summary="Philly raw cluster_job_log JSON (division key: vc)",
            run=import_philly_json,
        ),
        Importer(
            name="helios", summary="Helios cluster_log.csv (division key: vc)", run=import_helios
        ),
        Importer(
            name="pai",
            summary="Alibaba PAI 2020 job table + task table, headerless (division key: user)",
            run=import_pai,
        ),
        Importer(
            name="openb",
            summary="Alibaba OpenB v2023 openb_pod_list_*.csv (division key: qos)",
            run=import_openb,
        ),
        Importer(
            name="acme",
            summary="Acme trace_seren.csv / trace_kalos.csv (division key: user; kind from type)",
            run=import_acme,
        ),
        Importer(
            name="sacct",
            summary="Slurm sacct --parsable2 or --json export (division key: account, else partition)",
            run=read_sacct,
        ),
    )
}


def import_trace(
    fmt: str,
    paths: Sequence[str | Path],
    *,
    divisions: DivisionMap,
    division_key: str | None = None,
) -> ImportResult:
    """Import source files of one format (see :data:`IMPORTERS`).

    ``division_key`` (sacct only: account, partition, qos or user) picks the source field that
    maps onto divisions; other formats have a fixed key and refuse it.
    """
    if fmt not in IMPORTERS:
        raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(IMPORTERS)})")
    if not paths:
        raise ValueError("no source files given")
    files = [Path(p) for p in paths]
    if division_key is not None:
        if fmt != "sacct":
            raise ValueError(f"--division-key applies to sacct only (format {fmt!r} has a fixed key)")
        return read_sacct(files, divisions=divisions, division_key=division_key)
    return IMPORTERS[fmt].run(files, divisions=divisions)
