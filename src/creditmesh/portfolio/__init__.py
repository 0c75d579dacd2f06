"""Portfolio: the loan book as the seeds disclose it.

:class:`Book` opens a folder of Parquet tables (or in-memory frames) for
analytics in DuckDB; :mod:`~creditmesh.portfolio.metrics` computes each
disclosed metric exactly as its footnote defines it; :data:`METRICS` (the
registry) names each one once: label, unit, footnote, the seeds' figure
(:data:`SEED_FIGURES`) and its SQL; :func:`headline` gathers them for a quarter.

Over time: :func:`metric_series` (every headline metric by day, month or
quarter and segment, set-based in DuckDB), :func:`vintage_curves`,
:func:`roll_rates` / :func:`transition_matrix` (with bootstrap intervals),
:func:`expected_credit_loss` (IFRS 9 / CECL), :func:`validate_book` and the
quarterly HTML page :func:`write_quarterly_report`.
"""

from creditmesh.portfolio.book import REQUIRED_TABLES, Book
from creditmesh.portfolio.ecl import ECLResult, expected_credit_loss
from creditmesh.portfolio.metrics import (
    collection_rate_30d,
    cumulative_borrowers_with_drawdown,
    cumulative_registered_users,
    cumulative_users_with_approved_credit_lines,
    day1_delinquency_rate,
    delinquency_rate_90_plus,
    financial_institution_partners,
    headline,
    loan_states,
    loan_volume_minor,
    loans_originated,
    platform_services_balance_share,
    platform_services_volume_share,
    repeat_borrower_contribution,
    total_outstanding_balance_minor,
    weighted_average_tenor_months,
)
from creditmesh.portfolio.periods import FREQUENCIES, quarter_start
from creditmesh.portfolio.registry import (
    HEADLINE_METRICS,
    METRICS,
    SEED_FIGURES,
    Metric,
    SeedFigure,
    format_metric,
    metric,
)
from creditmesh.portfolio.report import quarterly_report, write_quarterly_report
from creditmesh.portfolio.rollrates import (
    BUCKETS,
    TransitionMatrix,
    flow_rates,
    month_end_buckets,
    roll_rates,
    transition_matrix,
)
from creditmesh.portfolio.series import SEGMENTS, metric_series
from creditmesh.portfolio.validate import book_problems, validate_book
from creditmesh.portfolio.vintage import vintage_curves

__all__ = [
    "Book",
    "REQUIRED_TABLES",
    "HEADLINE_METRICS",
    "METRICS",
    "Metric",
    "metric",
    "format_metric",
    "SEED_FIGURES",
    "SeedFigure",
    "headline",
    "quarter_start",
    "loan_states",
    "collection_rate_30d",
    "cumulative_borrowers_with_drawdown",
    "cumulative_registered_users",
    "cumulative_users_with_approved_credit_lines",
    "day1_delinquency_rate",
    "delinquency_rate_90_plus",
    "financial_institution_partners",
    "loan_volume_minor",
    "loans_originated",
    "platform_services_balance_share",
    "platform_services_volume_share",
    "repeat_borrower_contribution",
    "total_outstanding_balance_minor",
    "weighted_average_tenor_months",
    "FREQUENCIES",
    "SEGMENTS",
    "metric_series",
    "vintage_curves",
    "BUCKETS",
    "TransitionMatrix",
    "transition_matrix",
    "roll_rates",
    "flow_rates",
    "month_end_buckets",
    "ECLResult",
    "expected_credit_loss",
    "book_problems",
    "validate_book",
    "quarterly_report",
    "write_quarterly_report",
]
