"""The disclosed metrics, each defined once: name, label, unit, the footnote it implements, the seeds' figure, its SQL.

A :class:`Metric` is a count or a sum (``numerator``) or a ratio of two
(``numerator / denominator``) of :data:`MEASURES`; a :class:`Measure` is one SQL
aggregate that :func:`~creditmesh.portfolio.series.metric_series` evaluates, for
every period at once, over the rows of one ``family`` of its set-based queries:

* ``originations``: the loans originated in the period (``principal_minor``,
  ``tenor_months``, ``model``, ``is_repeat``);
* ``balance``: an installment entering the outstanding balance on its loan's
  origination day and leaving it when settled or charged off (``amount``,
  ``model``); ``running`` measures add up from the book's first day, so the
  figure is taken at the period's end;
* ``ninety_plus``: the loans 91 to 180 days past due at the period's end
  (``outstanding``), from :mod:`creditmesh.delinquency`;
* ``falling_due``: installments falling due in the period on loans current when
  the due date began (``p``, ``due_date``, ``paid_at``, ``overdue``);
* ``people``: the first day each person registered, was approved a credit line
  or drew down (``kind``); running;
* ``partners``: the institutions.

``{platform_services}`` and ``{delinquency_rate}`` in a measure's SQL stand for
the codes of :data:`creditmesh.funding.PLATFORM_SERVICE_MODELS` and
:data:`creditmesh.funding.DELINQUENCY_RATE_MODELS`, ``{wide_integer}`` for the
engine's 128-bit integer (:data:`WIDE_INTEGER`: DuckDB's ``HUGEINT``, Spark's
``DECIMAL(38, 0)``), so the same text runs on both. Adding a metric is one
:class:`Metric` here (and a :class:`Measure` when it needs a new sum); the
series, :func:`~creditmesh.portfolio.metrics.headline`, the command line and the
quarterly report follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from creditmesh.errors import ParameterError

#: Units a metric is shown in.
COUNT, MONEY, RATE, MONTHS = "count", "money", "rate", "months"
#: When a metric is read: over the period, at its last day, or for the book as it is.
PERIOD, AS_OF, BOOK = "period", "as_of", "book"
#: An integer type wide enough for a sum of principal x tenor, per SQL dialect.
WIDE_INTEGER: Mapping[str, str] = MappingProxyType({"duckdb": "HUGEINT", "spark": "DECIMAL(38, 0)"})
#: The families of rows :data:`MEASURES` aggregate (see the module notes).
FAMILIES = ("originations", "balance", "ninety_plus", "falling_due", "people", "partners")


@dataclass(frozen=True, slots=True)
class SeedFigure:
    """A disclosed figure: its value (a fraction, or months for a tenor) and where the seeds state it."""

    value: float
    source: str


@dataclass(frozen=True, slots=True)
class Measure:
    """One SQL aggregate over the rows of a ``family``; ``running`` ones accumulate over time (as-of figures)."""

    family: str
    sql: str
    running: bool = False


@dataclass(frozen=True, slots=True)
class Metric:
    """A disclosed metric.

    ``label`` is what a reader sees; ``unit`` one of :data:`COUNT`, :data:`MONEY`
    (integer minor units), :data:`RATE` (a fraction), :data:`MONTHS`; ``timing``
    one of :data:`PERIOD`, :data:`AS_OF`, :data:`BOOK`; ``footnote`` quotes the
    seeds (seeds/002, Q4 2024) and ``seed`` is their figure when it is
    scale-free. The value is ``numerator`` (a :data:`MEASURES` key), divided by
    ``denominator`` when there is one (``None`` where it is zero). ``split_by``:
    the segments of :data:`~creditmesh.portfolio.series.SEGMENTS` it can be split
    by (``None``: every one).
    """

    name: str
    label: str
    unit: str
    timing: str
    footnote: str
    numerator: str
    denominator: str | None = None
    seed: SeedFigure | None = None
    split_by: tuple[str, ...] | None = None

    @property
    def heading(self) -> str:
        """The label with its unit where a number alone would not say it: ``Loan volume (CNY)``."""
        return {MONEY: f"{self.label} (CNY)", MONTHS: f"{self.label} (months)"}.get(self.unit, self.label)


def _sum(column: str, where: str | None = None) -> str:
    kept = f" FILTER (WHERE {where})" if where else ""
    return f"CAST(COALESCE(SUM({column}){kept}, 0) AS BIGINT)"


#: Every sum a metric is made of, by name.
MEASURES: Mapping[str, Measure] = MappingProxyType(
    {
        "loans": Measure("originations", "COUNT(*)"),
        "volume": Measure("originations", _sum("principal_minor")),
        "platform_volume": Measure("originations", _sum("principal_minor", "model IN {platform_services}")),
        "principal_months": Measure(
            "originations", _sum("CAST(principal_minor AS {wide_integer}) * tenor_months")
        ),
        "repeat_volume": Measure("originations", _sum("principal_minor", "is_repeat")),
        "balance": Measure("balance", _sum("amount"), running=True),
        "platform_balance": Measure("balance", _sum("amount", "model IN {platform_services}"), running=True),
        "rated_balance": Measure("balance", _sum("amount", "model IN {delinquency_rate}"), running=True),
        "ninety_plus_balance": Measure("ninety_plus", _sum("outstanding")),
        "day1_overdue": Measure("falling_due", _sum("p", "overdue")),
        "day1_due": Measure("falling_due", _sum("p", "paid_at IS NULL OR paid_at >= due_date")),
        "collected": Measure(
            "falling_due",
            _sum("p", "overdue AND due_date + 30 <= $observed_until AND paid_at <= due_date + 30"),
        ),
        "collectable": Measure("falling_due", _sum("p", "overdue AND due_date + 30 <= $observed_until")),
        "registered": Measure("people", "COUNT(*) FILTER (WHERE kind = 'registered')", running=True),
        "lines": Measure("people", "COUNT(*) FILTER (WHERE kind = 'lines')", running=True),
        "drawdowns": Measure("people", "COUNT(*) FILTER (WHERE kind = 'drawdowns')", running=True),
        "partners": Measure("partners", "COUNT(*)"),
    }
)

_PLATFORM_VOLUME = (
    'Seeds: "RMB47,796 million of such loan volume was under capital-light model, Intelligence Credit Engine '
    '("ICE") and total technology solutions^5, representing 53.2% of the total". Footnote 5: "For loans '
    "facilitated through 'ICE', the Company does not bear principal risk.\""
)

#: The disclosed metrics, in the order the seeds' highlights give them.
METRICS: tuple[Metric, ...] = (
    Metric(
        "financial_institution_partners",
        "Financial institution partners",
        COUNT,
        BOOK,
        'Seeds: "our platform has connected 162 financial institutional partners".',
        "partners",
        split_by=("funding_model", "institution"),
    ),
    Metric(
        "cumulative_registered_users",
        "Cumulative registered users",
        COUNT,
        AS_OF,
        'Footnote 1: "Refers to cumulative registered users across our platform."',
        "registered",
        split_by=("channel",),
    ),
    Metric(
        "cumulative_users_with_approved_credit_lines",
        "Cumulative users with approved credit lines",
        COUNT,
        AS_OF,
        "Footnote 2: \"'Cumulative users with approved credit lines' refers to the total number of users who had "
        'submitted their credit applications and were approved with a credit line at the end of each period."',
        "lines",
        split_by=("channel",),
    ),
    Metric(
        "cumulative_borrowers_with_drawdown",
        "Cumulative borrowers with successful drawdown",
        COUNT,
        AS_OF,
        'Seeds: "Cumulative borrowers with successful drawdown, including repeat borrowers".',
        "drawdowns",
    ),
    Metric(
        "loans_originated",
        "Loans originated",
        COUNT,
        PERIOD,
        "Footnote 3 splits the count by product: \"Including 2,799,208 loans across 'V-pocket', and 22,015,715 "
        'loans across other products".',
        "loans",
    ),
    Metric(
        "loan_volume_minor",
        "Loan volume",
        MONEY,
        PERIOD,
        'Footnote 4: "Refers to the total principal amount of loans facilitated and originated during the given '
        'period."',
        "volume",
    ),
    Metric(
        "platform_services_volume_share",
        "Capital-light, ICE and technology share of volume",
        RATE,
        PERIOD,
        _PLATFORM_VOLUME,
        "platform_volume",
        "volume",
        SeedFigure(
            0.532,
            "RMB47,796 million of such loan volume [RMB89,885 million] was under capital-light model, ICE and "
            "total technology solutions^5, representing 53.2% of the total (footnotes 4, 5)",
        ),
    ),
    Metric(
        "total_outstanding_balance_minor",
        "Outstanding loan balance",
        MONEY,
        AS_OF,
        "Footnote 6: \"'Total outstanding loan balance' refers to the total amount of principal outstanding for "
        "loans facilitated and originated at the end of each period, excluding loans delinquent for more than 180 "
        'days."',
        "balance",
    ),
    Metric(
        "platform_services_balance_share",
        "Capital-light, ICE and technology share of balance",
        RATE,
        AS_OF,
        "Seeds: \"RMB79,599 million of such loan balance was under capital-light model, 'ICE' and total "
        'technology solutions" (of RMB137,014 million).',
        "platform_balance",
        "balance",
        SeedFigure(
            round(79_599 / 137_014, 3),
            "RMB79,599 million of such loan balance [RMB137,014 million] was under capital-light model, ICE and "
            "total technology solutions (footnote 6); 79,599/137,014 = 58.1%, 'approximately 58%' in the text",
        ),
    ),
    Metric(
        "weighted_average_tenor_months",
        "Weighted average contractual tenor",
        MONTHS,
        PERIOD,
        'Seeds: "The weighted average contractual tenor of loans originated by financial institutions across our '
        'platform in the fourth quarter of 2024 was approximately 10.00 months".',
        "principal_months",
        "volume",
        SeedFigure(
            10.00,
            "weighted average contractual tenor ... in the fourth quarter of 2024 was approximately 10.00 months",
        ),
    ),
    Metric(
        "delinquency_rate_90_plus",
        "90 day+ delinquency rate",
        RATE,
        AS_OF,
        "Footnote 7: \"'90 day+ delinquency rate' refers to the outstanding principal balance of on- and "
        "off-balance sheet loans that were 91 to 180 calendar days past due as a percentage of the total "
        "outstanding principal balance of on- and off-balance sheet loans across our platform as of a specific "
        "date. Loans that are charged-off and loans under 'ICE' and total technology solutions are not included "
        'in the delinquency rate calculation."',
        "ninety_plus_balance",
        "rated_balance",
        SeedFigure(0.0209, "90 day+ delinquency rate^7 ... was 2.09% as of December 31, 2024 (footnote 7)"),
    ),
    Metric(
        "repeat_borrower_contribution",
        "Repeat borrower contribution",
        RATE,
        PERIOD,
        "Footnote 8: \"'Repeat borrower contribution' for a given period refers to (i) the principal amount of "
        "loans borrowed during that period by borrowers who had historically made at least one successful "
        "drawdown, divided by (ii) the total loan facilitation and origination volume through our platform "
        'during that period."',
        "repeat_volume",
        "volume",
        SeedFigure(
            0.939, "Repeat borrower contribution^8 ... for the fourth quarter of 2024 was 93.9% (footnote 8)"
        ),
    ),
    Metric(
        "day1_delinquency_rate",
        "Day-1 delinquency rate",
        RATE,
        PERIOD,
        "Footnote 10: \"'Day-1 delinquency rate' is defined as (i) the total amount of principal that became "
        "overdue as of a specified date, divided by (ii) the total amount of principal that was due for "
        'repayment as of such specified date."',
        "day1_overdue",
        "day1_due",
        SeedFigure(0.048, "Day-1 delinquency rate^10 was 4.8% in the fourth quarter (footnote 10)"),
    ),
    Metric(
        "collection_rate_30d",
        "30-day collection rate",
        RATE,
        PERIOD,
        "Footnote 11: \"'30-day collection rate' is defined as (i) the amount of principal that was repaid in one "
        "month among the total amount of principal that became overdue as of a specified date, divided by (ii) "
        'the total amount of principal that became overdue as of such specified date."',
        "collected",
        "collectable",
        SeedFigure(0.881, "30-day collection rate^11 was 88.1% (footnote 11)"),
    ),
)

#: Each metric by name.
BY_NAME: Mapping[str, Metric] = MappingProxyType({m.name: m for m in METRICS})
#: The metrics of :func:`~creditmesh.portfolio.metrics.headline`, in the order the seeds disclose them.
HEADLINE_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS)
#: The seeds' own figures (Q4 2024, seeds/002), scale-free ones only: a simulated platform is far
#: smaller than the disclosed one, so counts and RMB amounts do not compare.
SEED_FIGURES: Mapping[str, SeedFigure] = MappingProxyType({m.name: m.seed for m in METRICS if m.seed})


def metric(name: str) -> Metric:
    """The metric called ``name``; a :class:`ParameterError` naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except (KeyError, TypeError):
        raise ParameterError(
            "metric", f"unknown metric {name!r}; known: {', '.join(HEADLINE_METRICS)}"
        ) from None


def format_metric(name: str, value: float | int | None) -> str:
    """``value`` of metric ``name`` as a reader expects it: ``12.34 %``, ``1,234.56`` (CNY), ``10.00``, ``1,234``."""

    return format_value(metric(name).unit, value)


def format_value(unit: str, value: float | int | None) -> str:
    """A value in ``unit`` (:data:`COUNT`, :data:`MONEY` in minor units, :data:`RATE`, :data:`MONTHS`) as a
    reader expects it; ``no data`` for None or NaN."""
    from creditmesh.money import format_minor

    if value is None or value != value:
        return "no data"
    if unit == MONEY:
        return format_minor(int(value))
    if unit == RATE:
        return f"{100 * value:.2f} %"
    if unit == MONTHS:
        return f"{value:.2f}"
    return f"{int(value):,}"
