"""Step-time model of transformer training, written once for NumPy and CuPy.

Public API (stable; other parts of colossus call these):

- :mod:`~colossus.steptime.backend`: ``get_xp()``, ``to_numpy()`` (``COLOSSUS_ARRAY=numpy|cupy``)
- :mod:`~colossus.steptime.models`: ``ModelSpec``, ``get_model``, ``model_names``, ``load_models_toml``
- :mod:`~colossus.steptime.layout`: ``Layout``, ``LayoutResult``, ``parse_layout``
- :mod:`~colossus.steptime.search`: ``best_layout``, ``estimate``, ``enumerate_layouts``
- :mod:`~colossus.steptime.throughput`: ``throughput_table`` -> ``ThroughputTable.tokens_per_s(n)``
- :mod:`~colossus.steptime.kernel`: ``evaluate`` (the vectorised model itself), with its parts
  :mod:`~colossus.steptime.memory` (ZeRO/FSDP state, Korthikanti activations, pipeline in-flight)
  and :mod:`~colossus.steptime.moe` (hierarchical all-to-all, grouped-GEMM efficiency)
- :mod:`~colossus.steptime.validate`: in-sample and leave-one-source-out accuracy
- :mod:`~colossus.steptime.sensitivity`: the step time / days-to-train tornado over the fitted bounds
- :mod:`~colossus.steptime.predict`: ``predict_csv`` (rows shaped like calibration.csv)
- :mod:`~colossus.steptime.calibration`: ``Calibration``, ``DEFAULT``, ``FIT_BOUNDS`` (fitted by
  ``fit.py`` on the shared calibration set plus ``data/public_measurements.csv``)
"""

from colossus.steptime.backend import get_xp, to_numpy
from colossus.steptime.calibration import DEFAULT, Calibration
from colossus.steptime.layout import Layout, LayoutResult, parse_layout
from colossus.steptime.models import ModelSpec, get_model, load_models_toml, model_names
from colossus.steptime.search import best_layout, estimate
from colossus.steptime.throughput import ThroughputTable, default_grid, throughput_table

__all__ = [
    "DEFAULT",
    "Calibration",
    "Layout",
    "LayoutResult",
    "ModelSpec",
    "ThroughputTable",
    "best_layout",
    "default_grid",
    "estimate",
    "get_model",
    "get_xp",
    "load_models_toml",
    "model_names",
    "parse_layout",
    "throughput_table",
    "to_numpy",
]
