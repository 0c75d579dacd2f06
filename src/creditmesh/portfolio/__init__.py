"""Portfolio: the loan book as the seeds disclose it.

:class:`Book` opens a folder of Parquet tables (or in-memory frames) for
analytics in DuckDB; :mod:`~creditmesh.portfolio.metrics` computes each
disclosed metric exactly as its footnote defines it; :func:`headline` gathers
them for a quarter; :data:`SEED_FIGURES` holds the seeds' own figures to
compare with.
"""

from creditmesh.portfolio.book import REQUIRED_TABLES, Book
from creditmesh.portfolio.metrics import (
    HEADLINE_METRICS,
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
    quarter_start,
    repeat_borrower_contribution,
    total_outstanding_balance_minor,
    weighted_average_tenor_months,
)
from creditmesh.portfolio.seeds import SEED_FIGURES, SeedFigure

__all__ = [
    "Book",
    "REQUIRED_TABLES",
    "HEADLINE_METRICS",
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
]
