"""The exact ``sacct`` command lines that export what :mod:`traces.importers.sacct` reads.

A module of plain strings (no NumPy or Arrow), so the CLI's ``--help`` can show them cheaply.
"""

from __future__ import annotations

__all__ = ["SACCT_COMMAND", "SACCT_FIELDS", "SACCT_JSON_COMMAND"]

#: The ``--format`` fields the importer reads (others are ignored; any order).
SACCT_FIELDS = (
    "JobID,JobIDRaw,Submit,Start,End,Elapsed,ElapsedRaw,State,AllocTRES,ReqTRES,"
    "Account,Partition,QOS,User,JobName,Timelimit,TimelimitRaw"
)
#: The text export (``|``-separated with a header row).
SACCT_COMMAND = (
    "sacct --allusers --duplicates --parsable2 --starttime 2026-01-01 --endtime now "
    f"--format {SACCT_FIELDS} > jobs.sacct"
)
#: The same export as JSON.
SACCT_JSON_COMMAND = (
    "sacct --allusers --duplicates --json --starttime 2026-01-01 --endtime now > jobs.json"
)
