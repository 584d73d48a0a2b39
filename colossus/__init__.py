"""colossus: simulate, schedule and plan an AI supercluster of 100k-200k GPUs.

Top-level packages of the ``colossus-planner`` distribution:

- :mod:`traces`    job-trace schema, Parquet I/O, generator, importers (imports nothing of ours)
- :mod:`scheduler` pure allocation: snapshot in, decision out (imports nothing of ours)
- :mod:`colossus`  scenario, hardware, step-time kernels, SimPy simulation, CLI
- :mod:`capacity`  expansion planning, Monte Carlo evaluation, reports
"""

__version__ = "0.1.0"
__colossus_planner__ = True
