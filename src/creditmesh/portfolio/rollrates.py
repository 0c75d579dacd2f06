"""Roll rates and flow rates between delinquency buckets, as a transition matrix with bootstrap intervals.

Buckets (:data:`BUCKETS`) at each month end, by days past due as
:mod:`creditmesh.delinquency` defines them, by display label: ``current`` (0 dpd), ``1-30``,
``31-60``, ``61-90``, ``91-180``, then two absorbing states: ``charged_off``
(from the day a loan shows 181 dpd, footnote 6's "delinquent for more than 180
days") and ``paid_off`` (every installment settled).

The *roll rate* from bucket ``a`` to ``b`` is the share of loans in ``a`` at one
month end that are in ``b`` at the next: ``P[a, b] = n(a -> b) / n(a -> .)``.
With ``weight="balance"`` the counts are the outstanding principal in ``a`` at
the first month end, which makes ``P[a, next(a)]`` the classic *flow rate*
(the balance that rolls one bucket further). Rows of absorbing states are
``e_a`` (a loan stays charged off or paid off).

Confidence intervals come from a cluster (Poisson) bootstrap: each loan (or
customer) gets a Poisson(1) weight per replicate, so the correlation of one
loan's transitions over months is kept; the interval is the percentile range of
the replicated rates.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from creditmesh import delinquency
from creditmesh.errors import ParameterError
from creditmesh.funding import FUNDING_MODELS, VINTAGE_MODELS
from creditmesh.portfolio.periods import as_day, periods

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio.book import Book

#: Delinquency buckets by their display labels (:data:`creditmesh.delinquency.BUCKETS`), then paid off.
BUCKETS = (*delinquency.BUCKET_LABELS, "paid_off")
#: States a loan never leaves.
ABSORBING = ("charged_off", "paid_off")
#: Funding models in the roll rates by default: the vintage figures' population (ICE and technology solutions out).
CREDIT_MODELS = VINTAGE_MODELS


@dataclass(frozen=True)
class TransitionMatrix:
    """An estimated transition matrix: ``counts`` (weighted), ``rates`` and the bootstrap interval ``lower``/``upper``.

    All four are DataFrames indexed by from-state, with to-states as columns.
    ``observations`` is the number of (unweighted) transitions, ``clusters``
    the number of independent units resampled, ``n_boot`` the replicates.
    """

    states: tuple[str, ...]
    counts: pd.DataFrame
    rates: pd.DataFrame
    lower: pd.DataFrame
    upper: pd.DataFrame
    observations: int
    clusters: int
    n_boot: int
    confidence: float

    def table(self, digits: int = 3) -> pd.DataFrame:
        """Rates with their interval as text cells, ``0.912 [0.905, 0.918]``, for printing."""
        cells = self.rates.copy().astype(object)
        for a in self.rates.index:
            for b in self.rates.columns:
                r = self.rates.at[a, b]
                cells.at[a, b] = (
                    ""
                    if np.isnan(r)
                    else (
                        f"{r:.{digits}f} [{self.lower.at[a, b]:.{digits}f}, {self.upper.at[a, b]:.{digits}f}]"
                    )
                )
        return cells

    def absorbing_matrix(self) -> np.ndarray:
        """The one-step matrix as a numpy array, absorbing rows set to the identity and empty rows too."""
        matrix = np.nan_to_num(self.rates.to_numpy(dtype=float), nan=0.0)
        for k, state in enumerate(self.states):
            if state in ABSORBING or matrix[k].sum() == 0:
                matrix[k] = 0.0
                matrix[k, k] = 1.0
        return matrix


def transition_matrix(
    from_state: Sequence,
    to_state: Sequence,
    *,
    states: Sequence[str],
    cluster: Sequence | None = None,
    weight: Sequence[float] | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> TransitionMatrix:
    """Estimate ``P[a, b]`` from paired observations, with a cluster bootstrap interval.

    ``from_state``/``to_state`` hold labels from ``states``; ``cluster`` groups
    observations that are resampled together (default: each on its own);
    ``weight`` (default 1) weighs each observation (e.g. its balance). Rows with
    no observation are NaN.
    """
    import pandas as pd
    import scipy.sparse as sp

    states = tuple(states)
    index = {s: k for k, s in enumerate(states)}
    k = len(states)
    try:
        a = np.array([index[s] for s in from_state], dtype=np.int64)
        b = np.array([index[s] for s in to_state], dtype=np.int64)
    except KeyError as error:
        raise ParameterError(
            "states", f"unknown state {error.args[0]!r}; expected one of {list(states)}"
        ) from None
    if len(a) != len(b):
        raise ParameterError("to_state", f"{len(b)} values for {len(a)} from_state values")
    if not 0 < confidence < 1:
        raise ParameterError("confidence", f"must be in (0, 1), got {confidence}")
    if n_boot < 0:
        raise ParameterError("n_boot", f"must be >= 0, got {n_boot}")
    w = np.ones(len(a)) if weight is None else np.asarray(weight, dtype=float)
    if cluster is None:
        groups = np.arange(len(a))
    else:
        groups = pd.factorize(np.asarray(cluster))[0]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    cell = a * k + b
    counts = np.bincount(cell, weights=w, minlength=k * k).reshape(k, k)
    rates = _normalise(counts)
    lower = upper = np.full((k, k), np.nan)
    if n_boot and n_groups:
        per_group = sp.csr_matrix((w, (groups, cell)), shape=(n_groups, k * k))
        rng = np.random.default_rng(seed)
        replicates = np.empty((n_boot, k, k))
        step = max(1, 20_000_000 // max(n_groups, 1))  # bound the dense weight block to ~160 MB
        for start in range(0, n_boot, step):
            stop = min(n_boot, start + step)
            poisson = rng.poisson(1.0, size=(stop - start, n_groups)).astype(float)
            boot = np.asarray(per_group.T @ poisson.T).T.reshape(stop - start, k, k)
            replicates[start:stop] = _normalise(boot)
        tail = (1 - confidence) / 2 * 100
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows never observed in a replicate are all-NaN
            lower = np.nanpercentile(replicates, tail, axis=0)
            upper = np.nanpercentile(replicates, 100 - tail, axis=0)
        lower = np.where(np.isnan(rates), np.nan, lower)
        upper = np.where(np.isnan(rates), np.nan, upper)

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=pd.Index(states, name="from"), columns=pd.Index(states, name="to"))

    return TransitionMatrix(
        states, frame(counts), frame(rates), frame(lower), frame(upper), len(a), n_groups, n_boot, confidence
    )


def _normalise(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)


_MONTH_END_STATES_SQL = f"""
WITH month_ends AS (SELECT UNNEST($ends) AS d),
schedule AS (
    SELECT loan_id, SUM(principal_due_minor) AS principal,
        MAX(COALESCE(paid_at, DATE '9999-12-31')) AS closed_on,
        {delinquency.charged_off_on_sql()} AS charged_off_on
    FROM installments GROUP BY loan_id
),
pairs AS (
    SELECT l.loan_id, m.d, s.principal, s.closed_on, s.charged_off_on
    FROM loans AS l JOIN schedule AS s ON s.loan_id = l.loan_id
    JOIN month_ends AS m ON m.d >= CAST(l.originated_at AS DATE)
    WHERE list_contains($models, l.funding_model)
),
late AS (
    SELECT p.loan_id, p.d, {delinquency.dpd_sql("MIN(i.due_date)", "p.d", "duckdb")} AS dpd
    FROM pairs AS p JOIN installments AS i ON i.loan_id = p.loan_id
    WHERE i.due_date < p.d AND {delinquency.open_on_sql("i.paid_at", "p.d")}
    GROUP BY p.loan_id, p.d
),
repaid AS (
    SELECT p.loan_id, p.d, SUM(i.principal_due_minor) AS settled
    FROM pairs AS p JOIN installments AS i ON i.loan_id = p.loan_id
    WHERE i.paid_at <= p.d
    GROUP BY p.loan_id, p.d
)
SELECT p.loan_id, p.d AS as_of,
    CASE
        WHEN p.charged_off_on <= p.d THEN 'charged_off'
        WHEN p.closed_on <= p.d THEN 'paid_off'
        ELSE {delinquency.bucket_sql("COALESCE(l.dpd, 0)", label=True)}
    END AS bucket,
    CAST(p.principal - COALESCE(r.settled, 0) AS BIGINT) AS balance_minor
FROM pairs AS p
LEFT JOIN late AS l ON l.loan_id = p.loan_id AND l.d = p.d
LEFT JOIN repaid AS r ON r.loan_id = p.loan_id AND r.d = p.d
-- keep a loan until the first month end it is absorbed at
WHERE p.d < LEAST(p.closed_on, COALESCE(p.charged_off_on, DATE '9999-12-31')) + INTERVAL 1 MONTH
ORDER BY p.loan_id, p.d
"""


def month_end_buckets(
    book: Book, start: dt.date, end: dt.date, funding_models: Sequence[str] = CREDIT_MODELS
) -> pd.DataFrame:
    """Each loan's bucket and outstanding principal at every month end in ``[start, end]`` (one query).

    A loan appears from the first month end after its origination until the first
    month end it is charged off or paid off. ``balance_minor`` is its principal
    not yet settled (charged-off loans keep theirs, for the flow into charge-off).
    """
    ends = [e for _, e in periods("month", as_day(start, "start"), as_day(end, "end"))]
    if ends and ends[-1] != (ends[-1].replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(
        days=1
    ):
        ends = ends[:-1]  # a month cut short is not a month end
    models = list(funding_models)
    bad = [m for m in models if m not in FUNDING_MODELS]
    if bad or not models:
        raise ParameterError(
            "funding_models", f"expected a non-empty subset of {list(FUNDING_MODELS)}, got {models}"
        )
    frame = book.sql(_MONTH_END_STATES_SQL, {"ends": ends, "models": models})
    frame["as_of"] = frame["as_of"].dt.date
    return frame


def roll_rates(
    book: Book,
    start: dt.date,
    end: dt.date,
    *,
    weight: str = "count",
    funding_models: Sequence[str] = CREDIT_MODELS,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> TransitionMatrix:
    """The month-to-month transition matrix of the book between the month ends in ``[start, end]``.

    ``weight="count"`` counts loans (roll rates); ``weight="balance"`` weighs each
    transition by the loan's outstanding principal at the first month end (flow
    rates). Loans are the bootstrap clusters.
    """
    if weight not in ("count", "balance"):
        raise ParameterError("weight", f"expected 'count' or 'balance', got {weight!r}")
    buckets = month_end_buckets(book, start, end, funding_models)
    following = buckets.groupby("loan_id", sort=False).shift(-1)
    pairs = buckets.assign(to=following["bucket"]).dropna(subset=["to"])
    pairs = pairs[~pairs["bucket"].isin(ABSORBING)]
    return transition_matrix(
        pairs["bucket"].to_numpy(),
        pairs["to"].to_numpy(),
        states=BUCKETS,
        cluster=pairs["loan_id"].to_numpy(),
        weight=None if weight == "count" else pairs["balance_minor"].to_numpy(dtype=float),
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )


def flow_rates(matrix: TransitionMatrix) -> pd.Series:
    """The one-bucket-further rates ``P[current, 1-30], P[1-30, 31-60], ... P[91-180, charged_off]``."""
    import pandas as pd

    chain = BUCKETS[:6]
    return pd.Series(
        {f"{a} -> {b}": matrix.rates.at[a, b] for a, b in zip(chain, chain[1:])},
        name="flow_rate",
        dtype=float,
    )
