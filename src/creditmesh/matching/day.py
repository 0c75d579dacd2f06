"""A day's matching end to end: approved applications in, allocations, the left-out and revenue out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.funding import FUNDING_MODELS
from creditmesh.matching.allocate import (
    Allocation,
    Problem,
    allocate_day,
    allocations_table,
    build_problem,
    capacity_used,
    route,
    unallocated_table,
)
from creditmesh.matching.applications import applications_from_frame
from creditmesh.matching.partners import Partners
from creditmesh.matching.report import revenue_by_funding_model

#: A partner counts as at capacity when the allocation uses this share of it or more (what is left is
#: smaller than most loans).
FULL_SHARE = 0.98


@dataclass(frozen=True)
class DayResult:
    """The LP allocation and, on the same day, the online greedy router, with the tables they give."""

    allocation: Allocation
    greedy: Allocation
    allocations: pd.DataFrame
    unallocated: pd.DataFrame
    revenue: pd.DataFrame
    #: Partners whose capacity the allocation used to within :data:`FULL_SHARE`, by funding model.
    full_partners: dict[str, int]

    def summary(self) -> dict:
        a, g = self.allocation, self.greedy
        return {
            "applications": len(a.partner),
            "allocated": a.allocated,
            "objective_minor": round(a.objective, 2),
            "dual_bound_minor": round(a.bound, 2),
            "gap_to_bound": round(a.gap(a.bound), 6),
            "greedy_objective_minor": round(g.objective, 2),
            "greedy_gap_to_bound": round(g.gap(a.bound), 6),
            "seconds": round(a.seconds, 3),
            "method": a.method,
            "unallocated": self.unallocated["reason"].value_counts().to_dict(),
            "partners_at_capacity": self.full_partners,
            "platform_service_volume_share": round(
                float(self.revenue.set_index("funding_model").at["platform_service", "volume_share"]), 6
            ),
        }


def allocate_applications(
    frame: pd.DataFrame | pa.Table, partners: Partners, *, capacity_minor: np.ndarray | None = None
) -> DayResult:
    """Allocate a day's approved applications (columns of :data:`~creditmesh.matching.applications.COLUMNS`)."""
    problem = build_problem(applications_from_frame(frame), partners, capacity_minor=capacity_minor)
    allocation = allocate_day(problem)
    table = allocations_table(problem, allocation)
    return DayResult(
        allocation,
        route(problem),
        table,
        unallocated_table(problem, allocation),
        revenue_by_funding_model(table),
        partners_at_capacity(problem, allocation),
    )


def partners_at_capacity(problem: Problem, allocation: Allocation) -> dict[str, int]:
    """Per funding model, the partners with capacity whose allocation uses :data:`FULL_SHARE` of it or more:
    where capacity binds (models with none are left out)."""
    used, _ = capacity_used(problem, allocation)
    capacity = problem.capacity_minor
    full = (capacity > 0) & (used >= FULL_SHARE * capacity)
    counts = np.bincount(problem.partners.model[full], minlength=len(FUNDING_MODELS))
    return {name: int(c) for name, c in zip(FUNDING_MODELS, counts) if c}
