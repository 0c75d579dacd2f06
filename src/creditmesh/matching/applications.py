"""Approved applications as the arrays matching works on: PD, score, grade, amount, tenor, region, APR.

The input is the decision's answer joined to what the borrower asked: a table (batch) or one
mapping (online) with ``application_id``, ``pd``, ``score``, ``amount_minor`` (the approved line or
drawdown, integer minor units), ``tenor_months``, ``region`` and ``apr``; ``grade`` is taken from the
master scale when absent (the column, or a row's value).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring.serve import MASTER_SCALE, grade_of

GRADES = tuple(g for g, _ in MASTER_SCALE)
COLUMNS = ("application_id", "pd", "score", "amount_minor", "tenor_months", "region", "apr")
#: The most applications one batch takes (a limit on everything).
MAX_APPLICATIONS = 5_000_000


@dataclass(frozen=True)
class Applications:
    """Approved applications, one entry an application."""

    ids: np.ndarray  # object
    pd: np.ndarray
    score: np.ndarray
    amount_minor: np.ndarray  # int64
    tenor_months: np.ndarray  # int64
    region: np.ndarray  # object
    apr: np.ndarray
    grade: np.ndarray  # int8 index into GRADES

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: np.ndarray) -> Applications:
        return Applications(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


def applications_from_frame(frame: pd.DataFrame | pa.Table) -> Applications:
    """Check and convert a table of approved applications (columns :data:`COLUMNS`)."""
    if isinstance(frame, pa.Table):
        frame = frame.to_pandas()
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaError("applications", f"missing columns {missing}; the table has {list(frame.columns)}")
    if len(frame) > MAX_APPLICATIONS:
        raise SchemaError("applications", f"at most {MAX_APPLICATIONS} rows in one batch, got {len(frame)}")
    numbers = {}
    for name in ("pd", "score", "apr", "amount_minor", "tenor_months"):
        column = frame[name]
        if column.isna().any():
            raise SchemaError(
                f"applications.{name}", f"missing in rows {np.flatnonzero(column.isna())[:5].tolist()}"
            )
        numbers[name] = column.to_numpy()
    pd_values = numbers["pd"].astype(np.float64)
    if ((pd_values < 0) | (pd_values > 1)).any():
        raise SchemaError("applications.pd", "must be between 0 and 1")
    amount = numbers["amount_minor"]
    if amount.dtype.kind == "f":
        raise SchemaError("applications.amount_minor", "money is integer minor units, not floats")
    if (amount <= 0).any():
        raise SchemaError(
            "applications.amount_minor", f"must be > 0 (rows {np.flatnonzero(amount <= 0)[:5].tolist()})"
        )
    grade = grade_of(pd_values).astype(object)
    if "grade" in frame.columns:  # a given grade stands; a missing one comes from the master scale
        given = frame["grade"].notna().to_numpy()
        grade[given] = frame["grade"].to_numpy(dtype=object)[given]
    index = {g: k for k, g in enumerate(GRADES)}
    try:
        grade_index = np.fromiter((index[g] for g in grade), dtype=np.int8, count=len(grade))
    except KeyError as error:
        raise SchemaError(
            "applications.grade", f"unknown grade {error.args[0]!r}; known: {', '.join(GRADES)}"
        ) from None
    return Applications(
        frame["application_id"].astype(str).to_numpy(dtype=object),
        pd_values,
        numbers["score"].astype(np.float64),
        amount.astype(np.int64),
        numbers["tenor_months"].astype(np.int64),
        frame["region"].to_numpy(dtype=object),
        numbers["apr"].astype(np.float64),
        grade_index,
    )


def application_from_mapping(application: Mapping[str, Any]) -> Applications:
    """One application (a mapping with the fields of :data:`COLUMNS`) as a one-entry :class:`Applications`."""
    missing = [c for c in COLUMNS if application.get(c) is None]
    if missing:
        raise SchemaError("application", f"missing fields {missing}")
    amount = application["amount_minor"]
    if isinstance(amount, bool) or not isinstance(amount, (int, np.integer)) or amount <= 0:
        raise SchemaError(
            "application.amount_minor", f"must be a positive integer of minor units, got {amount!r}"
        )
    p = float(application["pd"])
    if not 0.0 <= p <= 1.0:
        raise SchemaError("application.pd", f"must be between 0 and 1, got {p}")
    grade = application.get("grade") or grade_of(np.array([p]))[0]
    if grade not in GRADES:
        raise SchemaError("application.grade", f"unknown grade {grade!r}; known: {', '.join(GRADES)}")
    return Applications(
        np.array([str(application["application_id"])], dtype=object),
        np.array([p]),
        np.array([float(application["score"])]),
        np.array([int(amount)], dtype=np.int64),
        np.array([int(application["tenor_months"])], dtype=np.int64),
        np.array([application["region"]], dtype=object),
        np.array([float(application["apr"])]),
        np.array([GRADES.index(grade)], dtype=np.int8),
    )


def approved_drawdowns(directory: str | Path, month: str) -> pd.DataFrame:
    """A month's approved drawdowns from a book folder (the simulator's or an export), as matching's input.

    Joins ``applications`` (the tenor asked for), ``decisions`` (PD, score, grade, APR and the approved
    amount, ``credit_line_minor``, which may be less than the amount asked) and ``borrowers`` (region) for
    drawdown applications approved in ``month`` (``YYYY-MM``).
    """
    import duckdb

    folder = Path(directory)
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ParameterError("month", f"expected YYYY-MM, got {month!r}") from None
    after = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    paths = {name: folder / f"{name}.parquet" for name in ("applications", "decisions", "borrowers")}
    for name, path in paths.items():
        if not path.is_file():
            raise SchemaError(
                name, f"{path} not found: the folder must hold applications, decisions and borrowers"
            )
    # A drawdown decision may carry no score of its own (the simulator's does not): the borrower's
    # latest approved credit-line score before the drawdown stands for it.
    query = """
        WITH a AS (SELECT * FROM read_parquet($applications)),
             d AS (SELECT * FROM read_parquet($decisions)),
             lines AS (SELECT a.borrower_id, a.applied_at, d.score FROM a JOIN d USING (application_id)
                       WHERE a.stage = 'credit_line' AND d.outcome = 'approve' AND d.score IS NOT NULL),
             drawdowns AS (SELECT a.*, d.pd, d.score AS own_score, d.grade, d.apr, d.credit_line_minor AS approved_minor FROM a JOIN d USING (application_id)
                           WHERE a.stage = 'drawdown' AND d.outcome = 'approve'
                             AND a.applied_at >= $first::TIMESTAMPTZ AND a.applied_at < $after::TIMESTAMPTZ)
        SELECT w.application_id, w.pd, COALESCE(w.own_score, l.score) AS score, w.grade,
               w.approved_minor AS amount_minor, w.requested_tenor::BIGINT AS tenor_months, b.region, w.apr
        FROM drawdowns w
        ASOF LEFT JOIN lines l ON w.borrower_id = l.borrower_id AND w.applied_at >= l.applied_at
        JOIN read_parquet($borrowers) b ON b.borrower_id = w.borrower_id
        ORDER BY w.applied_at, w.application_id
    """
    parameters = {
        "applications": str(paths["applications"]),
        "decisions": str(paths["decisions"]),
        "borrowers": str(paths["borrowers"]),
        "first": f"{first} 00:00:00+00",
        "after": f"{after} 00:00:00+00",
    }
    with duckdb.connect() as connection:
        return connection.execute(query, parameters).df()
