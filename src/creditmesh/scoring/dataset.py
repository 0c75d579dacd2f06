"""Modelling tables from a simulated platform: the credit-line applications, their features and outcomes.

The outcome ``bad_12m`` is a draw of 12-month default from the simulator's truth
(``true_pd``; fraudsters always default), made for every applicant, declined ones
included, with a fixed seed. A real lender observes it only for approved
applications (``approved``); the simulator lets reject inference be graded on the
whole through-the-door population.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.schema import FEATURE_COLUMNS

#: Features known at a credit-line application (behaviour on book is empty before the first drawdown).
APPLICATION_FEATURES = tuple(
    c for c in FEATURE_COLUMNS if c not in ("months_on_book", "max_dpd_on_book", "line_utilization")
)
CATEGORICAL = ("channel", "employment")


def credit_line_table(
    applications: pd.DataFrame, decisions: pd.DataFrame, truth: pd.DataFrame, *, seed: int = 0
) -> pd.DataFrame:
    """One row per credit-line application: id, applied_at, features, ``approved``, ``bad_12m``."""
    frame = applications.loc[applications["stage"] == "credit_line"]
    frame = frame.merge(
        decisions[["application_id", "outcome"]], on="application_id", how="left", validate="1:1"
    )
    frame = frame.merge(truth[["application_id", "true_pd"]], on="application_id", how="left", validate="1:1")
    if frame["outcome"].isna().any() or frame["true_pd"].isna().any():
        raise SchemaError("applications", "every credit-line application needs a decision and a truth row")
    frame = frame.sort_values("application_id", ignore_index=True)
    draw = np.random.default_rng(seed).random(len(frame))
    features = [c for c in ("channel", *APPLICATION_FEATURES) if c in frame.columns]
    out = frame[["application_id", "applied_at", *features]].copy()
    for column in features:
        if column not in CATEGORICAL:
            out[column] = out[column].astype("float64")
        else:
            out[column] = out[column].astype(object)
    out["approved"] = (frame["outcome"] == "approve").to_numpy()
    out["bad_12m"] = (draw < frame["true_pd"].to_numpy()).astype(np.int64)
    return out


def read_credit_line_table(directory: str | Path, *, seed: int = 0) -> pd.DataFrame:
    """:func:`credit_line_table` from a folder written by ``creditmesh simulate``."""
    root = Path(directory)
    paths = {
        "applications": root / "applications.parquet",
        "decisions": root / "decisions.parquet",
        "truth": root / "truth" / "applications.parquet",
    }
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise SchemaError(str(root), f"not a simulated dataset (missing {', '.join(missing)})")
    return credit_line_table(*(pq.read_table(p).to_pandas() for p in paths.values()), seed=seed)


def feature_frame(frame: pd.DataFrame, target: str | None, drop: list[str]) -> pd.DataFrame:
    """The feature columns: everything but the target, ``drop``, identifiers (``*_id``) and timestamps."""
    if target is not None and target not in frame.columns:
        raise ParameterError("target", f"{target!r} is not a column; columns are {list(frame.columns)}")
    absent = [c for c in drop if c not in frame.columns]
    if absent:
        raise ParameterError("drop", f"not columns of the table: {absent}")
    keep = [
        c
        for c in frame.columns
        if c != target
        and c not in drop
        and not c.endswith("_id")
        and not pd.api.types.is_datetime64_any_dtype(frame[c])
    ]
    return frame[keep]
