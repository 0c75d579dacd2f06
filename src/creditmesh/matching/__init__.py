"""Matching (ICE): each approved application to the funding partner that fits, and its investigation report.

:func:`load_partners` reads and checks partner definitions; :func:`expected_margin` prices an
(application, partner) pair by funding model; :func:`eligible_pairs` / :func:`eligible_one` apply the
partners' rules to a day or one application; :func:`build_problem` and :func:`allocate_day` allocate a
day with HiGHS, :func:`route` replays the online routers over a day, :class:`OnlineMatcher` ranks
partners for one application; :func:`investigation_report`, :func:`report_html` and
:func:`revenue_by_funding_model` report.
"""

from creditmesh.matching.allocate import (
    Allocation,
    Prices,
    Problem,
    allocate_day,
    allocations_table,
    build_problem,
    capacity_used,
    dual_bound,
    route,
    unallocated_table,
)
from creditmesh.matching.applications import Applications, application_from_mapping, applications_from_frame
from creditmesh.matching.eligibility import RULES, eligible_one, eligible_pairs
from creditmesh.matching.margin import expected_margin, pair_margin
from creditmesh.matching.online import Match, Offer, OnlineMatcher
from creditmesh.matching.partners import Partner, PartnerError, Partners, fit_acceptance, load_partners
from creditmesh.matching.report import investigation_report, report_html, revenue_by_funding_model

__all__ = [
    "Allocation",
    "Applications",
    "Match",
    "Offer",
    "OnlineMatcher",
    "Partner",
    "PartnerError",
    "Partners",
    "Prices",
    "Problem",
    "RULES",
    "allocate_day",
    "allocations_table",
    "application_from_mapping",
    "applications_from_frame",
    "build_problem",
    "capacity_used",
    "dual_bound",
    "eligible_one",
    "eligible_pairs",
    "expected_margin",
    "fit_acceptance",
    "investigation_report",
    "load_partners",
    "pair_margin",
    "report_html",
    "revenue_by_funding_model",
    "route",
    "unallocated_table",
]
