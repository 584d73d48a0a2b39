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
- :mod:`traces.importers`: ``IMPORTERS`` (itp, philly, philly-json, helios, pai, openb, acme,
  sacct), ``import_trace(fmt, paths, divisions=DivisionMap(...), division_key=None)``,
  ``load_division_map(path, divisions)``; :mod:`traces.importers.sacct`: ``read_sacct(paths, *,
  divisions, division_key="account")`` (Slurm ``sacct --parsable2`` / ``--json``);
- :mod:`traces.sacct_export`: ``SACCT_COMMAND`` (the exact export command line);
- :mod:`traces.fit`: ``read_sample(batches, start)``, ``fit_workload(sample) -> FittedWorkload``,
  ``compare_traces(reference, generated)``; :mod:`traces.empirical`: ``FittedWorkload`` and its
  generator (used by ``generate_batches`` when ``WorkloadParams.fitted`` is set);
- :mod:`traces.stats`: ``summarize(batches) -> TraceSummary``;
- :mod:`traces.errors`: ``TraceError`` (bad input: one line naming file, row/line and column).
"""

__colossus_planner__ = True  # marker checked by the colossus CLI (PyPI has a 'traces' too)
