"""An ABS pool from the book: eligible loans, the book's default and prepayment curves, projected cash flows.

* **Eligibility** is data (:class:`EligibilityCriteria`): funding models (only the platform's own loans can
  be sold into a trust), days past due, contractual and remaining tenor, and concentration caps by region
  and by borrower, as shares of the pool: the most borrowers, smallest first, that keep each within its
  cap, and regions above theirs cut (loans in id order) to the cap of what the pool becomes, repeated
  until both hold.
* **Curves** come from the book (:func:`book_curves`): by months on book, the share of loans still
  performing that default (first reach 90 days past due) and that prepay in full.
* **Scenarios** scale the curves by seeded log-normal multipliers (:func:`scenario_curves`); scenario 0
  is the book's own curves.
* **Projection** (:func:`project_pool`) runs loans grouped by months on book, each group's schedule
  summed, through every scenario: in month ``t`` a group's performing share ``F`` defaults at the
  hazard for its age, the rest pays its scheduled installment and prepays at the prepayment hazard;
  defaulted balance recovers ``recovery_rate`` after ``recovery_lag_months``. Amounts are rounded once,
  to minor units per scenario and month, and the pool balance is the opening balance less the principal
  collected and defaulted, exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from creditmesh import funding
from creditmesh.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio import Book

#: Default and prepayment curves are kept to this many months on book (older loans use the last value).
MAX_AGE_MONTHS = 60
#: Days past due at which a loan counts as defaulted in the curves (the ECL's default event).
DEFAULT_DPD = 90

_LOANS_SQL = """
SELECT l.loan_id, l.borrower_id, COALESCE(b.region, 'unknown') AS region, l.funding_model, l.apr,
    CAST(l.tenor_months AS INTEGER) AS tenor_months,
    CAST(date_diff('month', CAST(l.originated_at AS DATE), $cutoff) AS INTEGER) AS age_months,
    CAST(SUM(i.principal_due_minor) FILTER (WHERE i.paid_at IS NULL OR i.paid_at > $cutoff) AS BIGINT)
        AS balance_minor,
    CAST(COALESCE($cutoff - MIN(i.due_date) FILTER (
        WHERE i.due_date < $cutoff AND (i.paid_at IS NULL OR i.paid_at > $cutoff)), 0) AS INTEGER) AS dpd,
    CAST(COUNT(*) FILTER (WHERE i.due_date >= $cutoff AND (i.paid_at IS NULL OR i.paid_at > $cutoff))
        AS INTEGER) AS remaining_months
FROM loans AS l
JOIN installments AS i ON i.loan_id = l.loan_id
LEFT JOIN borrowers AS b ON b.borrower_id = l.borrower_id
WHERE CAST(l.originated_at AS DATE) <= $cutoff AND list_contains($models, l.funding_model)
GROUP BY ALL
HAVING SUM(i.principal_due_minor) FILTER (WHERE i.paid_at IS NULL OR i.paid_at > $cutoff) > 0
ORDER BY l.loan_id
"""

_SCHEDULE_SQL = """
SELECT i.loan_id, CAST(GREATEST(1, date_diff('month', $cutoff, i.due_date)) AS INTEGER) AS month,
    CAST(date_diff('month', CAST(l.originated_at AS DATE), $cutoff) AS INTEGER) AS age,
    i.principal_due_minor, i.interest_due_minor
FROM installments AS i JOIN loans AS l ON l.loan_id = i.loan_id
WHERE (i.paid_at IS NULL OR i.paid_at > $cutoff) AND CAST(l.originated_at AS DATE) <= $cutoff
  AND list_contains($models, l.funding_model)
"""

_LIVES_SQL = """
SELECT l.loan_id, CAST(l.originated_at AS DATE) AS originated_on, CAST(l.tenor_months AS INTEGER) AS tenor,
    MIN(i.due_date + $default_dpd) FILTER (WHERE i.paid_at IS NULL OR i.paid_at > i.due_date + $default_dpd)
        AS defaulted_on,
    CASE WHEN COUNT(*) = COUNT(i.paid_at) THEN MAX(i.paid_at) END AS settled_on,
    MAX(i.due_date) AS matures_on
FROM loans AS l JOIN installments AS i ON i.loan_id = l.loan_id
WHERE CAST(l.originated_at AS DATE) < $cutoff AND list_contains($models, l.funding_model)
GROUP BY ALL
"""


@dataclass(frozen=True, slots=True)
class EligibilityCriteria:
    """What a loan must be to enter the pool, and how concentrated the pool may be."""

    funding_models: tuple[str, ...] = funding.ON_BALANCE_MODELS
    max_dpd: int = 0
    min_tenor_months: int = 1
    max_tenor_months: int = 36
    min_remaining_months: int = 1
    #: Largest share of the pool's balance from one region, and from one borrower.
    max_region_share: float = 0.25
    max_borrower_share: float = 0.005
    #: Pool size wanted, minor units (None: every eligible loan that the caps allow).
    target_balance_minor: int | None = None

    def __post_init__(self) -> None:
        funding.check_names(self.funding_models, field="funding_models")
        for name in ("max_region_share", "max_borrower_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ParameterError(name, f"must be a share in (0, 1], got {value}")
        if self.min_tenor_months > self.max_tenor_months:
            raise ParameterError("min_tenor_months", "must not exceed max_tenor_months")
        if self.max_dpd < 0:
            raise ParameterError("max_dpd", f"must be >= 0, got {self.max_dpd}")


@dataclass(frozen=True)
class Pool:
    """The selected loans (one row each) and their remaining schedule grouped by months on book."""

    cutoff: dt.date
    loans: pd.DataFrame
    #: Months on book of each schedule group.
    group_age: np.ndarray
    #: Scheduled principal and interest of each group in each month after the cutoff (groups x months).
    scheduled_principal: np.ndarray
    scheduled_interest: np.ndarray

    @property
    def balance_minor(self) -> int:
        return int(self.loans["balance_minor"].sum())

    def concentration(self) -> dict[str, float]:
        """The largest region's and the largest borrower's share of the pool balance."""
        total = self.balance_minor or 1
        return {
            "largest_region_share": float(self.loans.groupby("region")["balance_minor"].sum().max() / total),
            "largest_borrower_share": float(
                self.loans.groupby("borrower_id")["balance_minor"].sum().max() / total
            ),
        }


def _borrowers_within_cap(frame: pd.DataFrame, cap: float) -> pd.DataFrame:
    """The most borrowers, smallest first, such that none holds more than ``cap`` of their total."""
    import pandas as pd

    if cap >= 1 or frame.empty:
        return frame
    sizes = frame.groupby("borrower_id", sort=False)["balance_minor"].sum().sort_values(kind="stable")
    fits = np.flatnonzero(sizes.to_numpy() <= cap * sizes.cumsum().to_numpy())
    if not len(fits):
        return frame.iloc[:0]
    kept = sizes.index[: fits[-1] + 1]
    return frame[pd.Index(kept).get_indexer(frame["borrower_id"]) >= 0]


def _regions_within_cap(frame: pd.DataFrame, cap: float) -> pd.DataFrame:
    """Regions above ``cap`` of the pool cut (their loans in order) to ``cap`` of what the pool becomes."""
    if cap >= 1 or frame.empty:
        return frame
    totals = frame.groupby("region", sort=False)["balance_minor"].sum()
    capped: set[str] = set()
    while True:
        room = 1 - cap * len(capped)
        if room <= 0:
            return frame.iloc[:0]
        size = totals[~totals.index.isin(list(capped))].sum() / room
        over = totals[(totals > cap * size) & ~totals.index.isin(list(capped))]
        if over.empty:
            break
        capped |= set(over.index)
    running = frame.groupby("region", sort=False)["balance_minor"].cumsum()
    return frame[~frame["region"].isin(list(capped)) | (running <= cap * size)]


def select_pool(
    book: Book, cutoff: dt.date, criteria: EligibilityCriteria | None = None, *, horizon_months: int = 36
) -> Pool:
    """The eligible loans at ``cutoff``, kept in loan order while every concentration cap holds."""
    import pandas as pd

    criteria = criteria or EligibilityCriteria()
    params = {"cutoff": cutoff, "models": list(criteria.funding_models)}
    loans = book.sql(_LOANS_SQL, params)
    eligible = (
        (loans["dpd"] <= criteria.max_dpd)
        & loans["tenor_months"].between(criteria.min_tenor_months, criteria.max_tenor_months)
        & (loans["remaining_months"] >= criteria.min_remaining_months)
    )
    chosen = loans[eligible.to_numpy()].reset_index(drop=True)
    # a book that records no regions (the ledger keeps none) cannot be capped by region
    region_cap = criteria.max_region_share if (chosen["region"] != "unknown").any() else 1.0
    if criteria.target_balance_minor is not None:
        chosen = chosen[chosen["balance_minor"].cumsum() <= criteria.target_balance_minor]
    for _ in range(100):  # each cut raises the others' shares: repeat until both caps hold
        chosen = _regions_within_cap(_borrowers_within_cap(chosen, criteria.max_borrower_share), region_cap)
        total = chosen["balance_minor"].sum()
        holds = (
            chosen.groupby("borrower_id")["balance_minor"].sum().max() <= criteria.max_borrower_share * total
            and chosen.groupby("region")["balance_minor"].sum().max() <= region_cap * total
        )
        if chosen.empty or holds:
            break
    chosen = chosen.reset_index(drop=True)
    schedule = book.sql(_SCHEDULE_SQL, params)
    # the pool's installments, found by hash lookup (a string isin or map costs seconds at 500,000 loans)
    kept = pd.Index(chosen["loan_id"]).get_indexer(schedule["loan_id"]) >= 0
    schedule = schedule.loc[kept, ["age", "month", "principal_due_minor", "interest_due_minor"]]
    schedule["month"] = np.minimum(schedule["month"].to_numpy(), horizon_months + 1)
    grouped = schedule.groupby(["age", "month"])[["principal_due_minor", "interest_due_minor"]].sum()
    ages = np.sort(chosen["age_months"].unique())
    principal = np.zeros((len(ages), horizon_months + 1), dtype=np.int64)
    interest = np.zeros_like(principal)
    if len(grouped):
        index = grouped.index.to_frame(index=False)
        rows = np.searchsorted(ages, index["age"].to_numpy())
        cols = index["month"].to_numpy() - 1
        np.add.at(principal, (rows, cols), grouped["principal_due_minor"].to_numpy())
        np.add.at(interest, (rows, cols), grouped["interest_due_minor"].to_numpy())
    # the last column holds what falls due after the horizon: it stays in the pool balance at the end
    loans_frame = pd.DataFrame(chosen)
    return Pool(cutoff, loans_frame, ages, principal[:, :horizon_months], interest[:, :horizon_months])


@dataclass(frozen=True)
class Curves:
    """Monthly default and prepayment hazards by months on book (index = age)."""

    default: np.ndarray
    prepayment: np.ndarray
    source: str = field(default="")


def book_curves(
    book: Book, cutoff: dt.date, *, funding_models: tuple[str, ...] = funding.VINTAGE_MODELS
) -> Curves:
    """The book's hazards up to ``cutoff``: defaults (first 90 days past due) and full prepayments by age."""
    lives = book.sql(
        _LIVES_SQL, {"cutoff": cutoff, "models": list(funding_models), "default_dpd": DEFAULT_DPD}
    )
    if lives.empty:
        raise ParameterError("book", f"no loans of {list(funding_models)} originated before {cutoff}")

    import pandas as pd

    def month_number(values) -> np.ndarray:
        stamps = pd.to_datetime(values)
        return (stamps.dt.year * 12 + stamps.dt.month).to_numpy(dtype=float)

    start = month_number(lives["originated_on"])
    cutoff_month = cutoff.year * 12 + cutoff.month

    def age_at(column: str) -> np.ndarray:
        """Months on book when ``column`` happened, or -1 when it had not by the cutoff."""
        months = month_number(lives[column]) - start
        happened = (
            lives[column].notna().to_numpy()
            & (pd.to_datetime(lives[column]) <= pd.Timestamp(cutoff)).to_numpy()
        )
        return np.where(happened, months, -1).astype(np.int64)

    default_age = age_at("defaulted_on")
    settled_age = age_at("settled_on")
    early = (
        pd.to_datetime(lives["settled_on"]) < pd.to_datetime(lives["matures_on"]) - pd.Timedelta(days=20)
    ).to_numpy()
    prepay_age = np.where((settled_age >= 0) & early & (default_age < 0), settled_age, -1)
    end_age = (cutoff_month - start).astype(np.int64)
    for ages in (default_age, prepay_age, age_at("matures_on")):
        end_age = np.where(ages >= 0, np.minimum(end_age, ages), end_age)
    top = MAX_AGE_MONTHS + 1
    # a loan leaving at age e was performing at the start of ages 0..e
    leaving = np.bincount(np.clip(end_age, 0, MAX_AGE_MONTHS), minlength=top)
    alive = leaving[::-1].cumsum()[::-1].astype(float)
    defaults = np.bincount(np.clip(default_age[default_age >= 0], 0, MAX_AGE_MONTHS), minlength=top)
    prepays = np.bincount(np.clip(prepay_age[prepay_age >= 0], 0, MAX_AGE_MONTHS), minlength=top)
    with np.errstate(invalid="ignore", divide="ignore"):
        default = np.where(alive > 0, defaults / alive, np.nan)
        prepayment = np.where(alive > 0, prepays / alive, np.nan)
    default = _fill(default, defaults.sum() / max(alive.sum(), 1))
    prepayment = _fill(prepayment, prepays.sum() / max(alive.sum(), 1))
    return Curves(default, prepayment, f"{len(lives):,} loans of {', '.join(funding_models)} before {cutoff}")


def _fill(curve: np.ndarray, average: float) -> np.ndarray:
    return np.clip(np.where(np.isnan(curve), average, curve), 0.0, 1.0)


def scenario_curves(
    curves: Curves,
    scenarios: int,
    *,
    default_volatility: float = 0.5,
    prepayment_volatility: float = 0.3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(defaults, prepayments), each scenarios x ages: scenario 0 the book's curves, the rest scaled by
    log-normal multipliers with mean 1."""
    if scenarios < 1:
        raise ParameterError("scenarios", f"must be at least 1, got {scenarios}")
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((scenarios, 2))
    shocks[0] = 0.0
    scale_d = np.exp(
        default_volatility * shocks[:, :1] - (default_volatility**2 / 2) * (np.arange(scenarios) > 0)[:, None]
    )
    scale_p = np.exp(
        prepayment_volatility * shocks[:, 1:]
        - (prepayment_volatility**2 / 2) * (np.arange(scenarios) > 0)[:, None]
    )
    return np.clip(curves.default[None, :] * scale_d, 0, 1), np.clip(
        curves.prepayment[None, :] * scale_p, 0, 1
    )


@dataclass(frozen=True)
class PoolCashFlows:
    """Per scenario and month (scenarios x months), minor units: what the pool collects and loses."""

    opening_balance_minor: int
    interest: np.ndarray
    scheduled_principal: np.ndarray
    prepayment: np.ndarray
    defaults: np.ndarray
    recoveries: np.ndarray

    @property
    def collections(self) -> np.ndarray:
        return self.interest + self.scheduled_principal + self.prepayment + self.recoveries

    @property
    def principal_reduction(self) -> np.ndarray:
        """The fall in the performing balance: principal collected and defaulted."""
        return self.scheduled_principal + self.prepayment + self.defaults

    @property
    def closing_balance(self) -> np.ndarray:
        return self.opening_balance_minor - np.cumsum(self.principal_reduction, axis=1)


def project_pool(
    pool: Pool,
    defaults: np.ndarray,
    prepayments: np.ndarray,
    *,
    recovery_rate: float = 0.1,
    recovery_lag_months: int = 6,
) -> PoolCashFlows:
    """The pool's monthly cash flows in every scenario (the method in the module notes)."""
    if not 0 <= recovery_rate <= 1:
        raise ParameterError("recovery_rate", f"must be in [0, 1], got {recovery_rate}")
    scenarios, ages = defaults.shape
    principal = pool.scheduled_principal.astype(float)
    interest = pool.scheduled_interest.astype(float)
    groups, months = principal.shape
    # each group's balance open at the start of each month: everything scheduled from then on
    open_balance = principal[:, ::-1].cumsum(axis=1)[:, ::-1]
    tail = pool.loans.groupby("age_months")["balance_minor"].sum().reindex(pool.group_age).to_numpy(
        dtype=float
    ) - principal.sum(axis=1)  # due after the horizon
    open_balance = open_balance + tail[:, None]
    performing = np.ones((scenarios, groups))
    flows = {
        name: np.zeros((scenarios, months)) for name in ("interest", "scheduled", "prepaid", "defaulted")
    }
    for t in range(months):
        age = np.minimum(pool.group_age + t, ages - 1)
        d = defaults[:, age]
        p = prepayments[:, age]
        defaulted = performing * d
        paying = performing - defaulted
        flows["defaulted"][:, t] = defaulted @ open_balance[:, t]
        flows["interest"][:, t] = paying @ interest[:, t]
        flows["scheduled"][:, t] = paying @ principal[:, t]
        after = open_balance[:, t] - principal[:, t]
        flows["prepaid"][:, t] = (paying * p) @ after
        performing = paying * (1 - p)
    rounded = {name: np.rint(values).astype(np.int64) for name, values in flows.items()}
    recovered = np.zeros_like(rounded["defaulted"])
    if recovery_lag_months < months:
        recovered[:, recovery_lag_months:] = np.rint(
            rounded["defaulted"][:, : months - recovery_lag_months] * recovery_rate
        ).astype(np.int64)
    return PoolCashFlows(
        pool.balance_minor,
        rounded["interest"],
        rounded["scheduled"],
        rounded["prepaid"],
        rounded["defaulted"],
        recovered,
    )
