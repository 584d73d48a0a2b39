"""The scenario's ``[workload]`` section: parameters of the synthetic workload generator.

Placeholder until the traces generator lands; replaced by the traces work.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkloadSection(BaseModel):
    """Synthetic workload parameters (see :mod:`traces.generator`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs_per_day: float = Field(7200.0, gt=0, description="Jobs submitted per day across divisions (Meta RSC-1: 7.2k/day).")
