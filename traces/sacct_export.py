"""The exact ``sacct`` command lines that export what :mod:`traces.importers.sacct` reads.

A module of plain strings (no NumPy or Arrow), so the CLI's ``--help`` can show them cheaply.

``TZ=UTC`` comes first because Slurm prints (and reads ``--starttime`` in) the local time of the
``sacct`` process, and the importer reads times without a zone as UTC: a local-time export is
shifted by the UTC offset and, across a daylight-saving change, can show an End before its Start.
``--starttime 2026-01-01`` is an example: set it to the first day of the history you want.
"""

from __future__ import annotations

__all__ = ["SACCT_COMMAND", "SACCT_FIELDS", "SACCT_JSON_COMMAND", "STARTTIME_NOTE"]

#: The ``--format`` fields the importer reads (others are ignored; any order).
SACCT_FIELDS = (
    "JobID,JobIDRaw,Submit,Start,End,Elapsed,ElapsedRaw,State,AllocTRES,ReqTRES,"
    "Account,Partition,QOS,User,JobName,Timelimit,TimelimitRaw"
)
#: The text export (``|``-separated with a header row), times in UTC.
SACCT_COMMAND = (
    "TZ=UTC sacct --allusers --duplicates --parsable2 --starttime 2026-01-01 --endtime now "
    f"--format {SACCT_FIELDS} > jobs.sacct"
)
#: The same export as JSON.
SACCT_JSON_COMMAND = (
    "TZ=UTC sacct --allusers --duplicates --json --starttime 2026-01-01 --endtime now > jobs.json"
)
#: One line for help texts next to the command.
STARTTIME_NOTE = (
    "Set --starttime to the first day of the history you want; keep TZ=UTC (the importer reads "
    "Slurm's zone-less times as UTC)."
)
