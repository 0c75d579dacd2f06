"""The figures the seeds disclose for the fourth quarter of 2024 (seeds/002), to compare a book against.

Only scale-free figures (rates, shares, a tenor) are kept: a simulated platform
is far smaller than the disclosed one, so counts and RMB amounts do not compare.
Keys are the names of :mod:`creditmesh.portfolio.metrics` functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class SeedFigure:
    """A disclosed figure: its value (a fraction, or months for a tenor) and where the seeds state it."""

    value: float
    source: str


#: Q4 2024 (as of December 31, 2024), from seeds/002_5b49af29f191b8f7.txt.
SEED_FIGURES: Mapping[str, SeedFigure] = MappingProxyType(
    {
        "day1_delinquency_rate": SeedFigure(
            0.048, "Day-1 delinquency rate^10 was 4.8% in the fourth quarter (footnote 10)"
        ),
        "collection_rate_30d": SeedFigure(0.881, "30-day collection rate^11 was 88.1% (footnote 11)"),
        "delinquency_rate_90_plus": SeedFigure(
            0.0209, "90 day+ delinquency rate^7 ... was 2.09% as of December 31, 2024 (footnote 7)"
        ),
        "repeat_borrower_contribution": SeedFigure(
            0.939, "Repeat borrower contribution^8 ... for the fourth quarter of 2024 was 93.9% (footnote 8)"
        ),
        "weighted_average_tenor_months": SeedFigure(
            10.00,
            "weighted average contractual tenor ... in the fourth quarter of 2024 was approximately 10.00 months",
        ),
        "platform_services_volume_share": SeedFigure(
            0.532,
            "RMB47,796 million of such loan volume [RMB89,885 million] was under capital-light model, ICE and "
            "total technology solutions^5, representing 53.2% of the total (footnotes 4, 5)",
        ),
        "platform_services_balance_share": SeedFigure(
            round(79_599 / 137_014, 3),
            "RMB79,599 million of such loan balance [RMB137,014 million] was under capital-light model, ICE and "
            "total technology solutions (footnote 6); 79,599/137,014 = 58.1%, 'approximately 58%' in the text",
        ),
    }
)
