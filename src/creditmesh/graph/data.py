"""Reading the tables the graph needs from a dataset folder (the simulator's layout: ``<name>.parquet``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from creditmesh.errors import SchemaError


def read_table(directory: str | Path, name: str) -> pa.Table:
    """``<directory>/<name>.parquet``; a missing file is refused by name."""
    path = Path(directory) / f"{name}.parquet"
    if not path.is_file():
        raise SchemaError(name, f"missing file {path}")
    return pq.read_table(path)


def dataset_end(directory: str | Path) -> pd.Timestamp:
    """The dataset's last moment: the manifest's end_date (end of that day), else the latest application."""
    manifest = Path(directory) / "manifest.json"
    if manifest.is_file():
        end = json.loads(manifest.read_text()).get("end_date")
        if end:
            return end_of_day(end)
    applied = read_table(directory, "applications")["applied_at"].to_pandas()
    if applied.empty:
        raise SchemaError("applications", "empty: cannot tell the dataset's end; pass --as-of")
    return pd.Timestamp(applied.max())


def end_of_day(day: date | str) -> pd.Timestamp:
    """The last microsecond of ``day`` in UTC: what is known "as of" a day includes all of it."""
    return pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def timestamp_us(moment: pd.Timestamp) -> int:
    """A UTC timestamp as microseconds since the epoch."""
    return int(pd.Timestamp(moment).tz_convert("UTC").value // 1000)
