"""Scenario files: one TOML file describes a whole what-if (built-in ``memphis`` is the default).

>>> from colossus.scenario import load_scenario
>>> scn = load_scenario()            # the built-in memphis scenario
>>> scn.gpus_online(0)["H100"]
100352
"""

from colossus.scenario.loader import (
    DEFAULT_SCENARIO,
    builtin_names,
    load_scenario,
    parse_scenario,
    scenario_json_schema,
    scenario_to_dict,
)
from colossus.scenario.types import Division, HeroSection, Phase, Scenario, SkuSection

__all__ = [
    "DEFAULT_SCENARIO",
    "Division",
    "HeroSection",
    "Phase",
    "Scenario",
    "SkuSection",
    "builtin_names",
    "load_scenario",
    "parse_scenario",
    "scenario_json_schema",
    "scenario_to_dict",
]
