"""Expected credit loss in the style of IFRS 9 (three stages) and CECL (lifetime), from the book.

For every loan not charged off at ``as_of`` (charged-off loans are written off;
their recoveries feed the LGD):

* **Stage** (IFRS 9 5.5.3, 5.5.5; the 30/90 dpd rebuttable presumptions of
  B5.5.19 and B5.5.37): stage 3 (credit-impaired) at more than 90 dpd; stage 2
  (significant increase in credit risk, SICR) at more than 30 dpd, or when a
  current 12-month PD is given and it is at least ``sicr_pd_ratio`` times the PD
  at origination (``decisions.pd`` of the loan's application); else stage 1.
* **EAD** (exposure at default) = the outstanding principal at ``as_of`` from the
  schedule: the principal due of the installments still open (interest and
  undrawn lines are left out).
* **PD** from the roll rates (default): ``M`` is the month-to-month transition
  matrix over the ``history_months`` before ``as_of`` (:func:`roll_rates`) with
  ``91-180`` and ``charged_off`` made absorbing (the default event is 90+ dpd).
  For a loan in bucket ``b`` with ``r`` months left on its schedule,
  ``PD_h(b) = (M^h)[b, 91-180] + (M^h)[b, charged_off]``;
  12-month PD = ``PD_min(12, r)``; lifetime PD = ``PD_r``. Or from a supplied
  12-month PD per loan (``pd_12m``, e.g. the scoring model's): lifetime PD =
  ``1 - (1 - PD_12)^(r / 12)`` (a constant hazard). Stage 3: PD = 1.
* **LGD** (loss given default) = ``1 - recovered / exposure`` pooled over loans
  charged off on or before ``as_of``: exposure is the principal open on the
  charge-off day, recovered the part of it settled by ``as_of``. ``lgd``
  overrides it; a book without charge-offs uses 1 (nothing recovered yet).
* **ECL** = PD x LGD x EAD, with the 12-month PD in stage 1 and the lifetime PD in
  stages 2 and 3 (CECL: ``basis="lifetime"`` uses the lifetime PD everywhere).
  Undiscounted (the loans are short; the effective-interest discount is not
  applied). In minor units: ``EAD x round(PD x LGD, 1e-6)``, rounded half up.
* **Who carries it**: ``capital_heavy_on`` loans are on the platform's balance
  sheet: a *loss allowance*. ``capital_heavy_off`` loans are funded by partners
  under the platform's guarantee: the same ECL is the *guarantee liability*
  (IFRS 9 4.2.1(c), the loss allowance of a financial guarantee contract).
  Capital-light, ICE and technology-solution loans carry no principal risk for
  the platform (footnote 5): their ECL is computed for information, and the
  provision is zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from creditmesh import delinquency
from creditmesh.errors import ParameterError
from creditmesh.funding import MODELS
from creditmesh.money import Rounding, mul_rate_array, rate_to_ppm
from creditmesh.portfolio.periods import as_day
from creditmesh.portfolio.rollrates import BUCKETS, CREDIT_MODELS, TransitionMatrix, roll_rates

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio.book import Book

#: Who carries the expected loss of each funding model: the platform's own loans, its guarantees, or partners.
BEARER = {
    m.name: "loss_allowance" if m.on_balance_sheet else "guarantee_liability" if m.guarantees else "partner"
    for m in MODELS
}

# dpd at $as_of from the oldest installment open then and due before it
_DPD = delinquency.dpd_sql(
    f"MIN(i.due_date) FILTER (WHERE i.due_date < $as_of AND {delinquency.open_on_sql('i.paid_at', '$as_of')})",
    "$as_of",
    "duckdb",
)

_EXPOSURES_SQL = f"""
WITH charge_offs AS ({delinquency.charge_offs_sql()})
SELECT l.loan_id, l.funding_model, l.application_id,
    CAST(COALESCE(SUM(i.principal_due_minor) FILTER (WHERE i.paid_at IS NULL OR i.paid_at > $as_of), 0) AS BIGINT)
        AS ead_minor,
    CAST({_DPD} AS INTEGER) AS dpd,
    CAST(COUNT(*) FILTER (WHERE i.due_date >= $as_of AND (i.paid_at IS NULL OR i.paid_at > $as_of)) AS INTEGER)
        AS remaining_months
FROM loans AS l
JOIN installments AS i ON i.loan_id = l.loan_id
LEFT JOIN charge_offs AS c ON c.loan_id = l.loan_id
WHERE CAST(l.originated_at AS DATE) <= $as_of AND (c.charged_off_on IS NULL OR c.charged_off_on > $as_of)
GROUP BY l.loan_id, l.funding_model, l.application_id
HAVING SUM(i.principal_due_minor) FILTER (WHERE i.paid_at IS NULL OR i.paid_at > $as_of) > 0
ORDER BY l.loan_id
"""

_RECOVERIES_SQL = f"""
WITH charge_offs AS ({delinquency.charge_offs_sql()})
SELECT c.loan_id, l.funding_model, c.charged_off_on,
    CAST(COALESCE(SUM(i.principal_due_minor), 0) AS BIGINT) AS exposure_minor,
    CAST(COALESCE(SUM(i.principal_due_minor) FILTER (WHERE i.paid_at <= $as_of), 0) AS BIGINT) AS recovered_minor
FROM charge_offs AS c
JOIN installments AS i ON i.loan_id = c.loan_id
JOIN loans AS l ON l.loan_id = c.loan_id
WHERE c.charged_off_on <= $as_of AND (i.paid_at IS NULL OR i.paid_at > c.charged_off_on)
  AND list_contains($models, l.funding_model)
GROUP BY c.loan_id, l.funding_model, c.charged_off_on
ORDER BY c.loan_id
"""


def charged_off_recoveries(book: Book, as_of: dt.date, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Every loan charged off on or before ``as_of`` (of ``models``; default: every funding model): the principal
    open on its charge-off day (``exposure_minor``) and the part of it settled by ``as_of`` (``recovered_minor``).
    The observed LGD is ``1 - recovered / exposure`` pooled over them."""
    from creditmesh.funding import FUNDING_MODELS

    chosen = list(FUNDING_MODELS if models is None else models)
    return book.sql(_RECOVERIES_SQL, {"as_of": as_day(as_of, "as_of"), "models": chosen})


@dataclass(frozen=True)
class ECLResult:
    """The loan-level table and its summaries.

    ``loans``: one row per loan with ``loan_id, funding_model, bearer, bucket, dpd,
    stage, remaining_months, ead_minor, pd_12m, pd_lifetime, lgd, ecl_minor,
    provision_minor``. ``lgd`` the pooled LGD used; ``matrix`` the roll-rate
    matrix the PDs came from (None with a supplied PD).
    """

    as_of: dt.date
    loans: pd.DataFrame
    lgd: float
    lgd_source: str
    matrix: TransitionMatrix | None
    basis: str

    def by_stage(self) -> pd.DataFrame:
        """EAD, ECL, provision and coverage (ECL / EAD) by stage and funding model, with totals per stage."""
        grouped = self.loans.groupby(["stage", "funding_model"], as_index=False)[
            ["ead_minor", "ecl_minor", "provision_minor"]
        ].sum()
        grouped.insert(2, "loans", self.loans.groupby(["stage", "funding_model"]).size().to_numpy())
        grouped["coverage"] = grouped["ecl_minor"] / grouped["ead_minor"].where(grouped["ead_minor"] > 0)
        return grouped

    def provisions(self) -> dict[str, int]:
        """The amounts to book: the loss allowance (on-balance loans) and the guarantee liability (off-balance)."""
        sums = self.loans.groupby("bearer")["provision_minor"].sum()
        return {
            "loss_allowance_minor": int(sums.get("loss_allowance", 0)),
            "guarantee_liability_minor": int(sums.get("guarantee_liability", 0)),
            "total_minor": int(sums.sum()),
        }


def default_probabilities(matrix: TransitionMatrix, horizons: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """``PD_h(b)`` from matrix powers, for each (bucket, horizon) pair (see the module notes)."""
    one_step = matrix.absorbing_matrix()
    default = [BUCKETS.index(delinquency.NINETY_PLUS.label), BUCKETS.index("charged_off")]
    one_step[default[0]] = 0.0
    one_step[default[0], default[0]] = 1.0
    index = np.array([BUCKETS.index(b) for b in buckets], dtype=np.int64)
    horizons = np.asarray(horizons, dtype=np.int64)
    out = np.zeros(len(index))
    power = np.eye(len(BUCKETS))
    for h in range(0, int(horizons.max(initial=0)) + 1):
        if h:
            power = power @ one_step
        hit = horizons == h
        if hit.any():
            out[hit] = power[index[hit]][:, default].sum(axis=1)
    return out


def expected_credit_loss(
    book: Book,
    as_of: dt.date,
    *,
    pd_12m: pd.Series | None = None,
    lgd: float | None = None,
    sicr_pd_ratio: float = 2.0,
    history_months: int = 12,
    basis: str = "ifrs9",
    n_boot: int = 0,
) -> ECLResult:
    """Stage, PD, LGD, EAD and ECL of every open loan at ``as_of`` (formulas in the module docstring).

    ``pd_12m``: optional current 12-month PDs indexed by ``loan_id`` (loans
    missing from it are refused); without it PDs come from the roll rates of the
    ``history_months`` month ends up to ``as_of``. ``basis``: ``ifrs9`` (12-month
    ECL in stage 1) or ``cecl`` (lifetime everywhere).
    """
    import pandas as pd

    as_of = as_day(as_of, "as_of")
    if basis not in ("ifrs9", "cecl"):
        raise ParameterError("basis", f"expected 'ifrs9' or 'cecl', got {basis!r}")
    if lgd is not None and not 0 <= lgd <= 1:
        raise ParameterError("lgd", f"must be in [0, 1], got {lgd}")
    if sicr_pd_ratio <= 1:
        raise ParameterError("sicr_pd_ratio", f"must be above 1, got {sicr_pd_ratio}")
    if history_months < 1:
        raise ParameterError("history_months", f"must be at least 1, got {history_months}")

    loans = book.sql(_EXPOSURES_SQL, {"as_of": as_of})
    loans["bearer"] = loans["funding_model"].map(BEARER)
    loans["bucket"] = delinquency.bucket(loans["dpd"].to_numpy(), label=True)
    months_left = np.maximum(loans["remaining_months"].to_numpy(), 1)
    loans["remaining_months"] = months_left

    matrix = None
    sicr_by_pd = np.zeros(len(loans), dtype=bool)
    if pd_12m is None:
        start = (pd.Timestamp(as_of) - pd.DateOffset(months=history_months + 1)).date()
        matrix = roll_rates(book, start, as_of, funding_models=CREDIT_MODELS, n_boot=n_boot)
        buckets = loans["bucket"].to_numpy()
        twelve = default_probabilities(matrix, np.minimum(months_left, 12), buckets)
        lifetime = default_probabilities(matrix, months_left, buckets)
    else:
        current = pd.Series(pd_12m, dtype=float).reindex(loans["loan_id"])
        missing = loans["loan_id"][current.isna().to_numpy()]
        if len(missing):
            shown = ", ".join(missing.head(5))
            raise ParameterError("pd_12m", f"no PD for {len(missing)} open loan(s): {shown}")
        annual = np.clip(current.to_numpy(), 0, 1)
        if "decisions" in book.tables:  # SICR compares 12-month PDs, now against at origination
            origin = book.sql("SELECT application_id, pd FROM decisions WHERE pd IS NOT NULL")
            at_origin = (
                loans["application_id"].map(origin.set_index("application_id")["pd"]).to_numpy(dtype=float)
            )
            with np.errstate(invalid="ignore"):
                sicr_by_pd = np.nan_to_num(annual >= sicr_pd_ratio * at_origin, nan=False).astype(bool)
        lifetime = 1 - (1 - annual) ** (months_left / 12)
        twelve = np.where(months_left < 12, lifetime, annual)

    dpd = loans["dpd"].to_numpy()
    # the 90 and 30 dpd presumptions are the bucket edges: 91-180 dpd is credit-impaired, 31+ a SICR
    impaired, sicr = delinquency.NINETY_PLUS.first_dpd, delinquency.BY_NAME["dpd_31_60"].first_dpd
    stage = np.where(dpd >= impaired, 3, np.where((dpd >= sicr) | sicr_by_pd, 2, 1))
    twelve = np.where(stage == 3, 1.0, twelve)
    lifetime = np.where(stage == 3, 1.0, np.maximum(lifetime, twelve))
    loans["stage"] = stage
    loans["pd_12m"] = twelve
    loans["pd_lifetime"] = lifetime

    source = "given"
    if lgd is None:
        models = [m for m, bearer in BEARER.items() if bearer != "partner"]
        charged = charged_off_recoveries(book, as_of, models)
        exposure, recovered = int(charged["exposure_minor"].sum()), int(charged["recovered_minor"].sum())
        if exposure:
            lgd, source = (
                1 - recovered / exposure,
                f"observed: {recovered} of {exposure} minor units recovered",
            )
        else:
            lgd, source = 1.0, "no charge-off observed: nothing recovered yet"
    loans["lgd"] = lgd
    used = lifetime if basis == "cecl" else np.where(stage == 1, twelve, lifetime)
    loss_rate = rate_to_ppm(used * lgd)
    loans["ecl_minor"] = mul_rate_array(
        loans["ead_minor"].to_numpy(), loss_rate, 1, rounding=Rounding.HALF_UP
    )
    loans["provision_minor"] = np.where(loans["bearer"] == "partner", 0, loans["ecl_minor"])
    columns = [
        "loan_id",
        "funding_model",
        "bearer",
        "bucket",
        "dpd",
        "stage",
        "remaining_months",
        "ead_minor",
        "pd_12m",
        "pd_lifetime",
        "lgd",
        "ecl_minor",
        "provision_minor",
    ]
    return ECLResult(as_of, loans[columns], float(lgd), source, matrix, basis)
