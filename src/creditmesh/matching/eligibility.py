"""Which partners may fund which applications: one set of rules for a whole day and for one application.

A partner is eligible for an application when every rule of :data:`RULES` holds: the PD within its
appetite, the score at or above its minimum, the amount in its range, the tenor among its tenors,
the region among its regions (none listed: every region) and the APR in its range. The batch path
evaluates the rules densely a chunk of applications at a time and keeps only the eligible pairs
(sparse); the online path evaluates the same function on one application and also says which
rules excluded partners, for a "no partner" answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditmesh.matching.applications import Applications
from creditmesh.matching.partners import Partners

#: Rule name → the reason an application gets when that rule excludes partners.
RULES = (
    "pd_above_partner_max",
    "score_below_partner_min",
    "amount_outside_partner_range",
    "tenor_not_funded",
    "region_not_served",
    "apr_outside_partner_range",
)
#: Applications a chunk of the batch path evaluates at once (memory: chunk × partners booleans per rule).
CHUNK = 4_096


def rule_masks(
    applications: Applications, partners: Partners, rows: slice | np.ndarray = slice(None)
) -> dict[str, np.ndarray]:
    """Each rule's (applications[rows] × partners) boolean matrix: True where the rule holds."""
    pd_ = applications.pd[rows, None]
    amount = applications.amount_minor[rows, None]
    apr = applications.apr[rows, None]
    return {
        "pd_above_partner_max": pd_ <= partners.max_pd,
        "score_below_partner_min": applications.score[rows, None] >= partners.min_score,
        "amount_outside_partner_range": (amount >= partners.min_amount_minor)
        & (amount <= partners.max_amount_minor),
        "tenor_not_funded": partners.tenor_ok[partners.tenor_rows(applications.tenor_months[rows])],
        "region_not_served": partners.region_ok[partners.region_rows(applications.region[rows])],
        "apr_outside_partner_range": (apr >= partners.apr_min - 1e-12) & (apr <= partners.apr_max + 1e-12),
    }


def eligible_matrix(
    applications: Applications, partners: Partners, rows: slice | np.ndarray = slice(None)
) -> np.ndarray:
    """The (applications[rows] × partners) eligibility matrix: every rule holds."""
    masks = iter(rule_masks(applications, partners, rows).values())
    out = next(masks).copy()
    for mask in masks:
        out &= mask
    return out


@dataclass(frozen=True)
class Pairs:
    """The eligible (application, partner) pairs, sorted by application then partner."""

    app: np.ndarray  # int64 index into the applications
    partner: np.ndarray  # int64 index into the partners

    def __len__(self) -> int:
        return len(self.app)


def eligible_pairs(applications: Applications, partners: Partners, *, chunk: int = CHUNK) -> Pairs:
    """Every eligible pair of a batch, computed a chunk of applications at a time (never the dense matrix whole)."""
    apps, parts = [], []
    for start in range(0, len(applications), chunk):
        i, j = np.nonzero(eligible_matrix(applications, partners, slice(start, start + chunk)))
        apps.append(i + start)
        parts.append(j)
    if not apps:
        return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Pairs(np.concatenate(apps).astype(np.int64), np.concatenate(parts).astype(np.int64))


def eligible_one(application: Applications, partners: Partners) -> tuple[np.ndarray, tuple[str, ...]]:
    """The partners eligible for one application (indices), and, when there are none, the rules that
    excluded partners, the one that excluded most first."""
    masks = rule_masks(application, partners, slice(0, 1))
    ok = np.ones(len(partners), dtype=bool)
    for mask in masks.values():
        ok &= mask[0]
    index = np.flatnonzero(ok)
    if index.size:
        return index, ()
    failed = sorted(
        ((int((~m[0]).sum()), name) for name, m in masks.items() if not m[0].all()),
        key=lambda t: (-t[0], t[1]),
    )
    return index, tuple(name for _, name in failed)
