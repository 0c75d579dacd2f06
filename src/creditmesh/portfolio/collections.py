"""What collections achieved, from the book: recovery rate, cure and roll rates by bucket, cost per unit
collected and the promise-kept rate, for the book and by strategy arm.

A loan belongs to the arm that first acted on it (``collection_actions.arm``; champion and challengers split
loans, so a loan has one); a loan no arm acted on is in ``no action``. Over ``[start, end]``:

* **cost**: the actions' ``cost_minor`` (an agency's commission is not in the table);
* **collected**: principal of installments repaid late (after their due date), recoveries after charge-off
  included, on the arm's loans: what collections works for;
* **cost per unit collected**: cost / collected;
* **promise-kept rate**: promises kept over promises kept or broken, among the actions of the period;
* **recovery rate**: of the principal open when the arm's loans were charged off (on or before ``end``), the
  share recovered by ``end`` (:func:`creditmesh.portfolio.ecl.charged_off_recoveries`; 1 - the observed LGD);
* **cure rate** of a bucket: the share of loans in it at a month end that are current at the next
  (:func:`creditmesh.portfolio.rollrates.roll_rates`), and the whole month-to-month matrix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from creditmesh.portfolio.ecl import charged_off_recoveries
from creditmesh.portfolio.periods import as_day
from creditmesh.portfolio.registry import COUNT, MONEY, RATE, format_value
from creditmesh.portfolio.rollrates import (
    ABSORBING,
    BUCKETS,
    CREDIT_MODELS,
    month_end_buckets,
    transition_matrix,
)

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio.book import Book

#: The arm of loans no arm acted on.
NO_ACTION = "no action"
#: The buckets a cure rate is reported for (a loan in them can pay up and be current again).
DELINQUENT_BUCKETS = tuple(b for b in BUCKETS[1:] if b not in ABSORBING)
#: The arms table's figures as the report shows them: column, label, unit.
FIGURES = (
    ("actions", "Actions", COUNT),
    ("cost_minor", "Cost (CNY)", MONEY),
    ("collected_minor", "Principal collected late (CNY)", MONEY),
    ("cost_per_unit_collected", "Cost per unit collected", RATE),
    ("promise_kept_rate", "Promise-kept rate", RATE),
    ("recovery_rate", "Recovery rate after charge-off", RATE),
    *((f"cure_{b.replace('-', '_')}", f"Cure rate {b} dpd", RATE) for b in DELINQUENT_BUCKETS),
)

_ARMS_SQL = """
SELECT loan_id, arg_min(COALESCE(arm, ''), "at") AS arm FROM collection_actions GROUP BY loan_id
"""
_ACTIONS_SQL = """
SELECT COALESCE(arm, '') AS arm, COUNT(*) AS actions,
    CAST(COALESCE(SUM(cost_minor), 0) AS BIGINT) AS cost_minor,
    COUNT(*) FILTER (WHERE promise_status = 'kept') AS promises_kept,
    COUNT(*) FILTER (WHERE promise_status = 'broken') AS promises_broken
FROM collection_actions
WHERE CAST("at" AS DATE) BETWEEN $start AND $end
GROUP BY 1
"""
_COLLECTED_SQL = """
SELECT i.loan_id, CAST(SUM(i.principal_due_minor) AS BIGINT) AS collected_minor
FROM installments AS i
WHERE i.paid_at BETWEEN $start AND $end AND i.paid_at > i.due_date
GROUP BY i.loan_id
"""


@dataclass(frozen=True)
class CollectionFigures:
    """The collections page's figures: ``arms`` one row an arm (``actions, cost_minor, collected_minor,
    cost_per_unit_collected, promises_kept, promises_broken, promise_kept_rate, charged_off_minor,
    recovered_minor, recovery_rate`` and a cure rate per delinquent bucket, :func:`cure_column`), a ``total``
    row for the book; ``roll_rates`` the book's month-to-month matrix (shares by row)."""

    start: dt.date
    end: dt.date
    arms: pd.DataFrame
    roll_rates: pd.DataFrame


def collection_figures(
    book: Book, start: dt.date, end: dt.date, *, funding_models: tuple[str, ...] = CREDIT_MODELS
) -> CollectionFigures:
    """Collections' outcomes over ``[start, end]``, by strategy arm and for the book (see the module notes);
    cure and roll rates over the month ends from ``start`` to ``end`` of ``funding_models``' loans."""
    import pandas as pd

    start, end = as_day(start, "start"), as_day(end, "end")
    has_actions = "collection_actions" in book.tables
    arm_of = book.sql(_ARMS_SQL) if has_actions else pd.DataFrame({"loan_id": [], "arm": []})
    arm_of = arm_of.set_index("loan_id")["arm"]
    acts = (
        book.sql(_ACTIONS_SQL, {"start": start, "end": end}).set_index("arm")
        if has_actions
        else pd.DataFrame(columns=["actions", "cost_minor", "promises_kept", "promises_broken"])
    )

    def arms(loan_ids: pd.Series) -> np.ndarray:
        return loan_ids.map(arm_of).astype(object).fillna(NO_ACTION).to_numpy(dtype=object)

    collected = book.sql(_COLLECTED_SQL, {"start": start, "end": end})
    collected = collected.groupby(arms(collected["loan_id"]))["collected_minor"].sum()
    charged = charged_off_recoveries(book, end)
    charged = charged.groupby(arms(charged["loan_id"]))[["exposure_minor", "recovered_minor"]].sum()
    states = month_end_buckets(book, start, end, funding_models)
    following = states.groupby("loan_id", sort=False).shift(-1)
    pairs = states.assign(to=following["bucket"]).dropna(subset=["to"])
    pairs = pairs[~pairs["bucket"].isin(ABSORBING)]
    pairs = pairs.assign(arm=arms(pairs["loan_id"]))
    names = sorted(set(acts.index) | set(collected.index) | set(charged.index) | set(pairs["arm"]))
    rows = []
    for name in [*names, "total"]:
        chosen = pairs if name == "total" else pairs[pairs["arm"] == name]
        cures = _cure_rates(chosen)

        def pick(frame, column, name=name):
            if name == "total":
                return int(frame[column].sum()) if len(frame) else 0
            return int(frame.at[name, column]) if name in frame.index else 0

        row = {
            "arm": name,
            "actions": pick(acts, "actions"),
            "cost_minor": pick(acts, "cost_minor"),
            "collected_minor": int(collected.sum() if name == "total" else collected.get(name, 0)),
            "promises_kept": pick(acts, "promises_kept"),
            "promises_broken": pick(acts, "promises_broken"),
            "charged_off_minor": pick(charged, "exposure_minor"),
            "recovered_minor": pick(charged, "recovered_minor"),
            **{cure_column(bucket): cures.get(bucket, np.nan) for bucket in DELINQUENT_BUCKETS},
        }
        rows.append(row)
    table = pd.DataFrame(rows)
    table["cost_per_unit_collected"] = table["cost_minor"] / table["collected_minor"].where(
        table["collected_minor"] > 0
    )
    promised = table["promises_kept"] + table["promises_broken"]
    table["promise_kept_rate"] = table["promises_kept"] / promised.where(promised > 0)
    table["recovery_rate"] = table["recovered_minor"] / table["charged_off_minor"].where(
        table["charged_off_minor"] > 0
    )
    matrix = transition_matrix(
        pairs["bucket"].to_numpy(),
        pairs["to"].to_numpy(),
        states=BUCKETS,
        cluster=pairs["loan_id"].to_numpy(),
    )
    return CollectionFigures(start, end, table, matrix.rates)


def cure_column(bucket: str) -> str:
    """The arms table's column of a bucket's cure rate: ``cure_31_60``."""
    return "cure_" + bucket.replace("-", "_")


def shown(figures: CollectionFigures) -> list[dict[str, str]]:
    """The arms table as the report prints it: one row a figure, one column an arm (and the total)."""
    arms = figures.arms
    return [
        {
            "label": label,
            **{arm: format_value(unit, value) for arm, value in zip(arms["arm"], arms[column], strict=True)},
        }
        for column, label, unit in FIGURES
    ]


def cure_chart(figures: CollectionFigures) -> str:
    """Cure rate by bucket, one bar an arm: a base64 PNG."""
    from creditmesh.charts import new_figure, png_base64

    fig, ax = new_figure((5.5, 3.8))
    arms = figures.arms[figures.arms["arm"] != "total"]
    width = 0.8 / max(len(arms), 1)
    x = np.arange(len(DELINQUENT_BUCKETS))
    for k, (_, row) in enumerate(arms.iterrows()):
        rates = [100 * row[cure_column(b)] for b in DELINQUENT_BUCKETS]
        ax.bar(x + k * width, np.nan_to_num(rates), width, label=row["arm"])
    ax.set_xticks(x + width * (len(arms) - 1) / 2, [f"{b} dpd" for b in DELINQUENT_BUCKETS])
    ax.set(ylabel="% current a month later", title="Cure rate by bucket and strategy arm")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return png_base64(fig)


def _cure_rates(pairs: pd.DataFrame) -> dict[str, float]:
    """Per delinquent bucket: the share of its month-end loans current at the next month end."""
    out = {}
    for bucket in DELINQUENT_BUCKETS:
        rows = pairs[pairs["bucket"] == bucket]
        if len(rows):
            out[bucket] = float((rows["to"] == "current").mean())
    return out


def platform_comparison(books: dict[str, Book]) -> pd.DataFrame:
    """Collections' figures of several books side by side (one column a book): the quarter's headline rates that
    collections move (Day-1 delinquency, 30-day collection, 90 day+), and over the whole book the cure rates,
    the recovery rate after charge-off, the actions taken and their cost per unit collected."""
    import pandas as pd

    from creditmesh.portfolio.metrics import headline
    from creditmesh.portfolio.registry import metric

    columns = {}
    for name, book in books.items():
        figures = headline(book)
        first = book.one("SELECT MIN(CAST(originated_at AS DATE)) FROM loans")[0]
        whole = collection_figures(book, first, book.last_date)
        total = whole.arms.set_index("arm").loc["total"]
        column = {
            metric(m).label: format_value(RATE, figures[m])
            for m in ("day1_delinquency_rate", "collection_rate_30d", "delinquency_rate_90_plus")
        }
        for key, label, unit in FIGURES:
            column[label] = format_value(unit, total[key])
        columns[name] = column
    return pd.DataFrame(columns)
