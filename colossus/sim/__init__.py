"""SimPy simulation of the supercluster: ``simulate(scenario, jobs, policy, seed, horizon_s) -> Results``."""

from colossus.sim.engine import SimulationError, simulate
from colossus.sim.results import JOB_STATES, Results, read_results

__all__ = ["JOB_STATES", "Results", "SimulationError", "read_results", "simulate"]
