"""Labels the graph propagates, each with the moment it became known: black list entries and delinquencies.

A label is a frame (borrower_id, known_at) plus, for the black list, a reason.
The black list comes from the book's outcomes (a first-payment default: the
first installment still unpaid ``fpd_days`` after its due date) or from an
operator's import file (Parquet or CSV with borrower_id, listed_at, reason).
Delinquency: the first time any installment is ``days`` past due.
Labels never come from simulator truth columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from creditmesh import delinquency
from creditmesh.errors import SchemaError

DAY_US = 86_400_000_000
FPD_DAYS = 60
DELINQUENT_DAYS = 30


def _frame(data: pa.Table | pd.DataFrame, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = data.to_pandas() if isinstance(data, pa.Table) else data
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            name, f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}"
        )
    return frame


def _due_plus(installments: pd.DataFrame, days: int) -> tuple[pd.Series, pd.Series]:
    """The day each installment shows ``days`` dpd (UTC midnight), and whether it is still open then."""
    due = pd.to_datetime(installments["due_date"]).to_numpy().astype("datetime64[us]")
    paid = pd.to_datetime(installments["paid_at"])
    paid = paid.dt.tz_convert("UTC").dt.tz_localize(None) if paid.dt.tz is not None else paid
    day = delinquency.day_at_dpd(due, days)
    late = delinquency.open_on(paid.to_numpy().astype("datetime64[us]"), day)
    return (
        pd.Series(day, index=installments.index).dt.tz_localize("UTC"),
        pd.Series(late, index=installments.index),
    )


def _by_borrower(
    loans: pd.DataFrame, installments: pd.DataFrame, mask: pd.Series, when: pd.Series, as_of: pd.Timestamp
) -> pd.DataFrame:
    hits = pd.DataFrame({"loan_id": installments["loan_id"], "known_at": when})[mask & (when <= as_of)]
    hits = hits.merge(loans[["loan_id", "borrower_id"]], on="loan_id")
    return hits.groupby("borrower_id", as_index=False)["known_at"].min()


def blacklist_from_book(
    loans: pa.Table | pd.DataFrame,
    installments: pa.Table | pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    fpd_days: int = FPD_DAYS,
) -> pd.DataFrame:
    """Borrowers whose first installment was still unpaid ``fpd_days`` after its due date, listed that day."""
    loans = _frame(loans, "loans", ("loan_id", "borrower_id"))
    inst = _frame(installments, "installments", ("loan_id", "seq", "due_date", "paid_at"))
    due, late = _due_plus(inst, fpd_days)
    out = _by_borrower(loans, inst, late & (inst["seq"] == 1), due, as_of)
    return out.rename(columns={"known_at": "listed_at"}).assign(reason="first_payment_default")


def delinquency_from_book(
    loans: pa.Table | pd.DataFrame,
    installments: pa.Table | pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    days: int = DELINQUENT_DAYS,
) -> pd.DataFrame:
    """The first moment each borrower had an installment ``days`` past due."""
    loans = _frame(loans, "loans", ("loan_id", "borrower_id"))
    inst = _frame(installments, "installments", ("loan_id", "seq", "due_date", "paid_at"))
    due, late = _due_plus(inst, days)
    return _by_borrower(loans, inst, late, due, as_of).rename(columns={"known_at": "delinquent_at"})


def read_operator_list(path: str | Path) -> pd.DataFrame:
    """An operator's black list import: Parquet or CSV with borrower_id, listed_at (UTC) and an optional reason."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError("blacklist", f"{path} is not a file")
    frame = (
        pq.read_table(path).to_pandas()
        if path.suffix == ".parquet"
        else pd.read_csv(path, dtype={"borrower_id": str})
    )
    frame = _frame(frame, "blacklist", ("borrower_id", "listed_at"))
    listed = pd.to_datetime(frame["listed_at"], utc=True, errors="coerce")
    if listed.isna().any():
        rows = np.flatnonzero(listed.isna().to_numpy())[:5].tolist()
        raise SchemaError("blacklist.listed_at", f"not a timestamp in row(s) {rows}")
    reason = frame["reason"].astype(str) if "reason" in frame.columns else "operator"
    return pd.DataFrame(
        {"borrower_id": frame["borrower_id"].astype(str), "listed_at": listed, "reason": reason}
    )


def label_times_us(graph, table: pd.DataFrame) -> np.ndarray:
    """Per borrower of ``graph``: when the label became known (µs since epoch), int64 max where never."""
    time_column = "listed_at" if "listed_at" in table.columns else "delinquent_at"
    out = np.full(graph.n_borrowers, np.iinfo(np.int64).max, dtype=np.int64)
    if len(table) == 0:
        return out
    who = graph.index_of(pa.array(table["borrower_id"].astype(str).to_numpy(), type=pa.string()))
    when = (
        pd.to_datetime(table[time_column], utc=True)
        .dt.tz_convert(None)
        .to_numpy()
        .astype("datetime64[us]")
        .astype(np.int64)
    )
    known = who >= 0
    np.minimum.at(out, who[known], when[known])
    return out


def labelled_before(graph, table: pd.DataFrame, before_us: int) -> np.ndarray:
    """Per borrower: was the label known strictly before ``before_us``."""
    return label_times_us(graph, table) < before_us
