"""A day's matching end to end: approved applications in, allocations, the left-out and revenue out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.matching.allocate import (
    Allocation,
    allocate_day,
    allocations_table,
    build_problem,
    route,
    unallocated_table,
)
from creditmesh.matching.applications import applications_from_frame
from creditmesh.matching.partners import Partners
from creditmesh.matching.report import revenue_by_funding_model


@dataclass(frozen=True)
class DayResult:
    """The LP allocation and, on the same day, the online greedy router, with the tables they give."""

    allocation: Allocation
    greedy: Allocation
    allocations: pd.DataFrame
    unallocated: pd.DataFrame
    revenue: pd.DataFrame

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
    )
