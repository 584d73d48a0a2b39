"""traces: job traces as Parquet (schema v1), streaming reader, writer, generator, importers.

Imports nothing of this distribution's other packages.
"""

__colossus_planner__ = True  # marker checked by the colossus CLI (PyPI has a 'traces' too)
