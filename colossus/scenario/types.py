"""Scenario value types: frozen keyword-only dataclasses, validated by pydantic at load time.

One definition serves both purposes: the rest of the code reads these frozen dataclasses, and
:mod:`colossus.scenario.loader` validates TOML tables straight into them with a pydantic
``TypeAdapter`` (unknown keys, wrong types and out-of-range values are errors that name the key).
Scalar types are *strict*: a string where a number belongs is an error, never coerced.

Units are in the names: ``_s`` seconds, ``_mw`` megawatts, ``_usd`` US dollars, ``_per_gpu_year``
events per GPU-year. Sources for the built-in values are in ``builtin/memphis.toml``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, Strict

from colossus.hardware import GpuSpec
from colossus.scenario.workload import WorkloadSection

__all__ = [
    "CapacitySection",
    "CheckpointSection",
    "ClusterSection",
    "Division",
    "FailureSection",
    "GridStep",
    "HeroSection",
    "Phase",
    "PowerSection",
    "PurchaseOption",
    "RepairSection",
    "Scenario",
    "ScenarioInfo",
    "ObjectiveSection",
    "SchedulerSection",
    "SimulationSection",
    "SkuSection",
]

_CFG = ConfigDict(extra="forbid")

Float = Annotated[float, Strict()]
Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
Date = Annotated[dt.date, Strict()]

PosFloat = Annotated[Float, Field(gt=0)]
NonNegFloat = Annotated[Float, Field(ge=0)]
PosInt = Annotated[Int, Field(gt=0)]
NonNegInt = Annotated[Int, Field(ge=0)]
Fraction = Annotated[Float, Field(ge=0, le=1)]


def _d(doc: str, **kw: object) -> object:
    """A pydantic ``Field`` carrying the description shown by ``colossus scenario schema``."""
    return Field(description=doc, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True, slots=True)
class ScenarioInfo:
    """Name and calendar anchor of a scenario."""

    __pydantic_config__ = _CFG
    name: Annotated[Str, _d("Short name, shown in reports.", min_length=1)]
    description: Annotated[Str, _d("One-paragraph description.")] = ""
    start_date: Annotated[Date, _d("Calendar date of simulation day 0 (UTC).")]


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterSection:
    """Physical topology: GPUs per node, nodes per rack, racks per array, halls."""

    __pydantic_config__ = _CFG
    gpus_per_node: Annotated[PosInt, _d("GPUs per server (node).")] = 8
    nodes_per_rack: Annotated[PosInt, _d("Servers per rack.")] = 8
    racks_per_array: Annotated[PosInt, _d("Racks per array (an array is one scheduling pool).")] = 8
    halls: Annotated[PosInt, _d("Compute halls; arrays of each phase are spread over them round-robin.")] = 4

    @property
    def gpus_per_array(self) -> int:
        """GPUs in one array (512 for 8 x 8 x 8)."""
        return self.gpus_per_node * self.nodes_per_rack * self.racks_per_array

    @property
    def nodes_per_array(self) -> int:
        """Nodes in one array (64 for 8 x 8)."""
        return self.nodes_per_rack * self.racks_per_array


@dataclass(frozen=True, kw_only=True, slots=True)
class SkuSection:
    """One GPU SKU as the scenario buys and runs it (per-GPU figures)."""

    __pydantic_config__ = _CFG
    bf16_tflops: Annotated[PosFloat, _d("Dense BF16 TFLOP/s per GPU.")]
    fp8_tflops: Annotated[PosFloat, _d("Dense FP8 TFLOP/s per GPU.")]
    hbm_gb: Annotated[PosFloat, _d("HBM capacity per GPU, GB.")]
    hbm_tb_s: Annotated[PosFloat, _d("HBM bandwidth per GPU, TB/s.")]
    nvlink_gb_s: Annotated[PosFloat, _d("NVLink bandwidth per GPU, GB/s bidirectional.")]
    nvlink_domain_gpus: Annotated[PosInt, _d("GPUs per NVLink domain.")] = 8
    network_gbit_s: Annotated[PosFloat, _d("Back-end network per GPU, Gbit/s.")] = 400.0
    power_w: Annotated[PosFloat, _d("GPU board power (TDP), W.")]
    busy_power_w: Annotated[PosFloat, _d("Sustained GPU draw while training, W.")]
    idle_power_w: Annotated[NonNegFloat, _d("GPU draw while idle, W.")]
    host_power_w_per_gpu: Annotated[NonNegFloat, _d("Non-GPU server power (CPU, NIC, PSU, fans) per GPU, W.")]
    price_usd: Annotated[NonNegFloat, _d("GPU purchase price, USD.")]
    system_capex_usd_per_gpu: Annotated[NonNegFloat, _d("All-in capex per GPU (server share, network, storage), USD.")]

    def gpu_spec(self, name: str) -> GpuSpec:
        """The :class:`~colossus.hardware.GpuSpec` the step-time model reads."""
        return GpuSpec(
            name=name,
            bf16_tflops=self.bf16_tflops,
            fp8_tflops=self.fp8_tflops,
            hbm_gb=self.hbm_gb,
            hbm_tb_s=self.hbm_tb_s,
            nvlink_gb_s=self.nvlink_gb_s,
            nvlink_domain_gpus=self.nvlink_domain_gpus,
            network_gbit_s=self.network_gbit_s,
            power_w=self.power_w,
            price_usd=self.price_usd,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Phase:
    """Arrays of one SKU that come online on one date."""

    __pydantic_config__ = _CFG
    name: Annotated[Str, _d("Phase label.", min_length=1)]
    date: Annotated[Date, _d("Date the arrays join the pools.")]
    sku: Annotated[Str, _d("A key of [skus].")]
    arrays: Annotated[PosInt, _d("Number of arrays (of cluster.gpus_per_array GPUs).")]


@dataclass(frozen=True, kw_only=True, slots=True)
class GridStep:
    """Grid power available from a date on."""

    __pydantic_config__ = _CFG
    date: Annotated[Date, _d("Date from which this cap applies.")]
    mw: Annotated[PosFloat, _d("Facility power cap, MW.")]


@dataclass(frozen=True, kw_only=True, slots=True)
class PowerSection:
    """Site power: grid cap over time, PUE, overheads, batteries, prices."""

    __pydantic_config__ = _CFG
    grid: Annotated[tuple[GridStep, ...], _d("Grid cap steps, in date order.", min_length=1)]
    pue: Annotated[Float, _d("Power usage effectiveness (facility / IT).", ge=1.0, le=3.0)] = 1.2
    it_overhead_fraction: Annotated[Fraction, _d("Storage and network power as a fraction of server power.")] = 0.10
    battery_mw: Annotated[NonNegFloat, _d("Battery discharge power, MW.")] = 0.0
    battery_mwh: Annotated[NonNegFloat, _d("Battery energy, MWh.")] = 0.0
    enforce_cap: Annotated[Bool, _d("Simulation: start a job only when its added draw fits under the grid cap plus the battery's power (while charged); running jobs are never stopped for power.")] = True
    electricity_usd_per_mwh: Annotated[NonNegFloat, _d("Energy price, USD/MWh.")] = 70.0
    demand_charge_usd_per_kw_month: Annotated[NonNegFloat, _d("Demand charge, USD per kW-month.")] = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class FailureSection:
    """Failure processes: per-component rates per GPU-year, superposed into one process."""

    __pydantic_config__ = _CFG
    distribution: Annotated[Literal["exponential"], _d("Inter-failure distribution.")] = "exponential"
    rates_per_gpu_year: Annotated[dict[Str, NonNegFloat], _d("Component -> interruptions per GPU-year.")]
    lemon_node_fraction: Annotated[Fraction, _d("Fraction of nodes that fail more often.")] = 0.0
    lemon_rate_multiplier: Annotated[Float, _d("Rate multiplier for lemon nodes.", ge=1.0)] = 1.0
    enabled: Annotated[Bool, _d("Switch failures off for what-if runs.")] = True

    @property
    def total_per_gpu_year(self) -> float:
        """Sum of the component rates, interruptions per GPU-year."""
        return float(sum(self.rates_per_gpu_year.values()))


@dataclass(frozen=True, kw_only=True, slots=True)
class RepairSection:
    """Detection and repair of a failed node."""

    __pydantic_config__ = _CFG
    detection_s: Annotated[NonNegFloat, _d("Time from fault to detection, s.")] = 120.0
    soft_fix_fraction: Annotated[Fraction, _d("Fraction of faults fixed by reset/reboot.")] = 0.5
    soft_fix_s: Annotated[NonNegFloat, _d("Soft-fix time (reset, reboot, drain and return), s.")] = 3600.0
    manual_repair_s: Annotated[NonNegFloat, _d("Manual repair or part swap, s.")] = 172_800.0
    false_fixed_probability: Annotated[Fraction, _d("Chance a repaired node fails again soon.")] = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckpointSection:
    """Checkpointing of training jobs and the restart after an interruption."""

    __pydantic_config__ = _CFG
    state_bytes_per_param: Annotated[PosFloat, _d("Checkpoint bytes per parameter.")] = 14.0
    write_tb_s: Annotated[PosFloat, _d("Sustained storage write bandwidth, TB/s.")] = 2.0
    blocking_s: Annotated[NonNegFloat, _d("Blocking time per checkpoint (async writes), s.")] = 10.0
    interval_policy: Annotated[Literal["fixed", "young", "daly"], _d("Checkpoint interval rule.")] = "daly"
    fixed_interval_s: Annotated[PosFloat, _d("Interval for the 'fixed' policy, s.")] = 3600.0
    restart_s: Annotated[NonNegFloat, _d("Restart overhead after an interruption, s.")] = 600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Division:
    """A tenant of the cluster with its guarantee and workload share."""

    __pydantic_config__ = _CFG
    name: Annotated[Str, _d("Division name, as used in traces.", min_length=1)]
    guaranteed_share: Annotated[Fraction, _d("Guaranteed fraction of online GPUs.")]
    weight: Annotated[PosFloat, _d("Fair-share weight for idle capacity.")] = 1.0
    borrow_limit_share: Annotated[Fraction, _d("Max fraction of online GPUs it may hold above its guarantee.")] = 1.0
    load_share: Annotated[Fraction, _d("Share of the generated workload's GPU-time.")]


@dataclass(frozen=True, kw_only=True, slots=True)
class HeroSection:
    """The giant pretraining run (Grok 3)."""

    __pydantic_config__ = _CFG
    enabled: Annotated[Bool, _d("Include the hero run.")] = True
    name: Annotated[Str, _d("Job id of the hero run.")] = "grok-3"
    division: Annotated[Str, _d("Owning division.")]
    model: Annotated[Str, _d("Step-time model preset.")]
    sku: Annotated[Str, _d("SKU the run trains on.")]
    gpus: Annotated[PosInt, _d("GPUs of the run (whole arrays).")]
    tokens: Annotated[PosFloat, _d("Training tokens.")]
    start_day: Annotated[NonNegFloat, _d("Simulation day the run is submitted.")] = 0.0
    target_finish_date: Annotated[Date | None, _d("Deadline used by the planner.")] = None
    hot_spare_nodes: Annotated[NonNegInt, _d("Nodes held idle to replace failed ones.")] = 0
    on_failure: Annotated[Literal["wait", "shrink"], _d("Without a spare: wait for repair, or shrink and regrow.")] = "wait"


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectiveSection:
    """Weights of the MILP policy's objective (``[scheduler.objective]``; meaning and units in
    :mod:`scheduler.objective`). One value unit is one GPU started by a fresh job."""

    __pydantic_config__ = _CFG
    w_wait: Annotated[NonNegFloat, _d("Value per GPU per wait target waited.")] = 0.25
    wait_cap: Annotated[NonNegFloat, _d("Cap on a job's wait over its target.")] = 8.0
    w_job: Annotated[NonNegFloat, _d("Value per job started.")] = 0.1
    w_priority: Annotated[NonNegFloat, _d("Value per GPU of the top priority rank (ranks scaled to 0..1).")] = 0.1
    w_division: Annotated[NonNegFloat, _d("Value per GPU of the largest division weight (weights scaled to 0..1).")] = 0.0
    w_fairshare: Annotated[NonNegFloat, _d("Value per GPU of a fair-share factor of 1 (Slurm 2**(-U/S)).")] = 8.0
    w_short: Annotated[NonNegFloat, _d("Value per GPU of a job expected to end at once, falling to 0 at short_ref_s.")] = 1.0
    short_ref_s: Annotated[PosFloat, _d("Expected run time at and beyond which a job gets no w_short bonus, s.")] = 28800.0
    w_guarantee: Annotated[NonNegFloat, _d("Value per GPU started inside its division's unused guarantee.")] = 10.0
    w_frag_node: Annotated[NonNegFloat, _d("Cost per whole free node broken by sub-node jobs.")] = 0.5
    w_frag_array: Annotated[NonNegFloat, _d("Cost per whole free 512-GPU array broken by sub-array jobs.")] = 8.0
    preempt_base: Annotated[NonNegFloat, _d("Cost per GPU of any preemption.")] = 2.0
    preempt_per_gpu_h: Annotated[NonNegFloat, _d("Cost per GPU-hour of work a preemption loses.")] = 4.0
    preempt_lost_cap_s: Annotated[NonNegFloat, _d("Run time counted as lost by a preemption at most, s.")] = 21600.0
    preempt_after: Annotated[NonNegFloat, _d("Wait targets a division's job must wait before its guarantee may preempt.")] = 8.0
    reserve_after: Annotated[NonNegFloat, _d("Wait targets a big gang job waits before it gets a reservation.")] = 8.0
    default_wait_target_s: Annotated[PosFloat, _d("Wait target of divisions without capacity.wait_p95_slo_s, s.")] = 3600.0

    def milp_weights(self, wait_targets_s: dict[str, float]) -> Any:
        """The :class:`scheduler.objective.MilpWeights` of this section and the divisions' wait targets."""
        from scheduler.objective import MilpWeights

        return MilpWeights(**{f.name: getattr(self, f.name) for f in fields(self)}, wait_targets_s=dict(wait_targets_s))


@dataclass(frozen=True, kw_only=True, slots=True)
class SchedulerSection:
    """Which policy allocates GPUs, and how often."""

    __pydantic_config__ = _CFG
    policy: Annotated[Str, _d("Policy name: milp, fifo, backfill or fairshare.")] = "milp"
    round_s: Annotated[PosFloat, _d("Periodic scheduling tick, s.")] = 300.0
    min_interval_s: Annotated[NonNegFloat, _d("Minimum time between event-triggered rounds, s.")] = 30.0
    solver: Annotated[Literal["highs", "cbc"], _d("MILP solver.")] = "highs"
    time_limit_s: Annotated[PosFloat, _d("Wall-clock budget of one milp round, s (model, solve and fill; the solve stops at a deadline inside it and keeps its best solution, see scheduler.milp).")] = 10.0
    gap: Annotated[Fraction, _d("Relative MIP gap.")] = 0.01
    threads: Annotated[PosInt, _d("Solver threads.")] = 1
    preempt_min_runtime_s: Annotated[NonNegFloat, _d("A job is preemptible only after running this long, s.")] = 7200.0
    usage_half_life_s: Annotated[PosFloat, _d("Half-life of decayed usage for fair share, s.")] = 604_800.0
    reserve_min_gpus: Annotated[PosInt, _d("Jobs at least this big may get a reservation (milp).")] = 256
    objective: ObjectiveSection = field(default_factory=ObjectiveSection)

    def milp_options(self, wait_targets_s: dict[str, float]) -> dict[str, Any]:
        """Keyword options of the ``milp`` policy from this section (solver settings and weights)."""
        return {"time_limit_s": self.time_limit_s, "solver": self.solver, "gap_rel": self.gap, "threads": self.threads,
                "min_runtime_s": self.preempt_min_runtime_s, "reserve_min_gpus": self.reserve_min_gpus,
                "weights": self.objective.milp_weights(wait_targets_s)}


@dataclass(frozen=True, kw_only=True, slots=True)
class SimulationSection:
    """Defaults of ``colossus simulate``."""

    __pydantic_config__ = _CFG
    days: Annotated[PosFloat, _d("Simulated days.")] = 30.0
    sample_interval_s: Annotated[PosFloat, _d("Time-series sampling interval, s.")] = 3600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class PurchaseOption:
    """A unit the planner can buy: one array of one SKU."""

    __pydantic_config__ = _CFG
    sku: Annotated[Str, _d("A key of [skus].")]
    lead_time_months: Annotated[NonNegInt, _d("Months from order to online.")]
    max_arrays_per_month: Annotated[PosInt, _d("Delivery and installation limit.")]
    available_from: Annotated[Date | None, _d("First month it can come online.")] = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CapacitySection:
    """Inputs of the expansion planner."""

    __pydantic_config__ = _CFG
    horizon_months: Annotated[PosInt, _d("Planning horizon, months.")] = 24
    budget_usd_per_quarter: Annotated[NonNegFloat, _d("Capex budget per quarter, USD.")]
    demand_growth_per_month: Annotated[dict[Str, Float], _d("Division -> monthly demand growth (0.05 = 5%).")] = field(default_factory=dict)
    wait_p95_slo_s: Annotated[dict[Str, PosFloat], _d("Division -> p95 wait service level, s.")] = field(default_factory=dict)
    unmet_penalty_usd_per_gpu_month: Annotated[NonNegFloat, _d("Cost of one GPU-month of unmet demand.")] = 20_000.0
    options: Annotated[tuple[PurchaseOption, ...], _d("Purchasable units.")] = ()
    start_date: Annotated[Date | None, _d("First month of the plan; default scenario.start_date.")] = None
    base_demand_gpus: Annotated[dict[Str, NonNegFloat], _d("Division -> demand in reference-SKU GPUs at the plan start; default guaranteed_share x all phases' GPUs x usable_fraction (less the hero's GPUs for its division).")] = field(default_factory=dict)
    usable_fraction: Annotated[Float, _d("Fraction of installed GPUs the divisions can use (the rest are spares and maintenance).", gt=0, le=1)] = 0.95
    discount_rate_per_year: Annotated[NonNegFloat, _d("Yearly discount rate applied to costs (later spending is cheaper; breaks ties towards buying when needed).")] = 0.08
    target_utilization: Annotated[Float, _d("Planned busy fraction of each division's GPUs (headroom so queues stay short): capacity needed = demand / target_utilization.", gt=0, le=1)] = 0.85
    hero_late_penalty_usd_per_gpu_month: Annotated[NonNegFloat, _d("Cost of one hero GPU-month of work not done by the hero's target finish date.")] = 200_000.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Scenario:
    """A whole what-if: cluster, hardware, phases, power, reliability, tenants, policy, plans."""

    __pydantic_config__ = _CFG
    scenario: ScenarioInfo
    cluster: ClusterSection = field(default_factory=ClusterSection)
    skus: Annotated[dict[Str, SkuSection], _d("SKU name -> per-GPU figures.", min_length=1)]
    phases: Annotated[tuple[Phase, ...], _d("What comes online when, in date order.", min_length=1)]
    power: PowerSection
    failures: FailureSection
    repair: RepairSection = field(default_factory=RepairSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    divisions: Annotated[tuple[Division, ...], _d("The tenants.", min_length=1)]
    hero: HeroSection | None = None
    scheduler: SchedulerSection = field(default_factory=SchedulerSection)
    simulation: SimulationSection = field(default_factory=SimulationSection)
    capacity: CapacitySection | None = None
    workload: WorkloadSection = field(default_factory=WorkloadSection)

    # -- derived views (cheap; nothing here is stored twice) ---------------------------------
    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.scenario.name

    def day_of(self, date: dt.date) -> float:
        """Simulation day of a calendar date (day 0 = ``scenario.start_date``)."""
        return float((date - self.scenario.start_date).days)

    def date_of(self, day: float) -> dt.date:
        """Calendar date of a simulation day."""
        return self.scenario.start_date + dt.timedelta(days=int(day))

    def gpu_spec(self, sku: str) -> GpuSpec:
        """Hardware record of one of the scenario's SKUs."""
        return self.skus[sku].gpu_spec(sku)

    def gpus_online(self, day: float) -> dict[str, int]:
        """GPUs online by SKU on simulation ``day`` (phases whose date is on or before it)."""
        out: dict[str, int] = {}
        for ph in self.phases:
            if self.day_of(ph.date) <= day:
                out[ph.sku] = out.get(ph.sku, 0) + ph.arrays * self.cluster.gpus_per_array
        return out

    @property
    def total_gpus(self) -> int:
        """GPUs once every phase is online."""
        return sum(ph.arrays for ph in self.phases) * self.cluster.gpus_per_array

    @property
    def wait_targets_s(self) -> dict[str, float]:
        """Division -> wait target, s: ``capacity.wait_p95_slo_s`` (empty without a capacity section)."""
        return dict(self.capacity.wait_p95_slo_s) if self.capacity is not None else {}

    def milp_options(self) -> dict[str, Any]:
        """Keyword options of the ``milp`` policy for this scenario: :meth:`SchedulerSection.milp_options`
        with the divisions' wait targets (what ``colossus simulate`` and ``colossus schedule`` both use)."""
        return self.scheduler.milp_options(self.wait_targets_s)

    def starting_on(self, date: dt.date) -> Scenario:
        """This scenario simulated from ``date`` on: phases dated on or before it are online at
        t = 0 and the hero run (``hero.start_day`` counted from the new start) starts afresh.
        Grid steps, phases and the hero target keep their calendar dates."""
        return replace(self, scenario=replace(self.scenario, start_date=date))

    def division(self, name: str) -> Division:
        """The division called ``name`` (KeyError if none)."""
        for d in self.divisions:
            if d.name == name:
                return d
        raise KeyError(name)

    def grid_mw(self, day: float) -> float:
        """Grid cap in force on simulation ``day``, MW."""
        cap = self.power.grid[0].mw
        for step in self.power.grid:
            if self.day_of(step.date) <= day:
                cap = step.mw
        return cap

    def facility_mw_per_gpu(self, sku: str, busy: bool = True) -> float:
        """Facility power of one GPU with its share of host, network and cooling, MW."""
        s = self.skus[sku]
        gpu_w = s.busy_power_w if busy else s.idle_power_w
        it_w = (gpu_w + s.host_power_w_per_gpu) * (1.0 + self.power.it_overhead_fraction)
        return it_w * self.power.pue / 1e6
