"""traces: job traces as Parquet (schema v1), streaming reader, writer, generator, importers.

Imports nothing of this distribution's other packages. Modules (imported on demand, so that
``import traces`` stays cheap):

- :mod:`traces.schema`: ``SCHEMA_V1``, kinds, per-kind default priority/preemptibility, metadata keys;
- :mod:`traces.reader`: ``iter_batches(path, *, batch_rows=65536, columns=None, divisions=None,
  validate=True)``, ``read_table(path)``, ``read_metadata(path)``;
- :mod:`traces.writer`: ``write_trace(path, table_or_batches, *, start, source, divisions=None)``;
- :mod:`traces.generator`: ``WorkloadParams``, ``KindProfile``, ``DivisionLoad``, ``HeroJob``,
  ``generate_batches(params, divisions, *, days, seed | rng, hero=None, start=...)``,
  ``expected_statistics(params, divisions)``;
- :mod:`traces.importers`: ``IMPORTERS`` (itp, philly, philly-json, helios, pai, openb, acme),
  ``import_trace(fmt, paths, divisions=DivisionMap(...))``, ``load_division_map(path, divisions)``;
- :mod:`traces.stats`: ``summarize(batches) -> TraceSummary``;
- :mod:`traces.errors`: ``TraceError`` (bad input: one line naming file, row/line and column).
"""

__colossus_planner__ = True  # marker checked by the colossus CLI (PyPI has a 'traces' too)
