"""The loan book on Apache Spark: the same metric queries as DuckDB's, in Spark SQL, past one machine.

A :class:`SparkBook` answers what a :class:`~creditmesh.portfolio.book.Book` answers, with the
book's tables as Spark temporary views over its Parquet files (or in-memory tables):
:func:`~creditmesh.portfolio.series.metric_series`, :func:`~creditmesh.portfolio.metrics.headline`
and the point functions run on it unchanged. Their SQL is written once, in
:mod:`~creditmesh.portfolio.series` and the registry, with the few words that differ between the
engines (a 128-bit integer, the loan key, a list of periods) taken from the book's ``dialect``, and
the delinquency rules from :mod:`creditmesh.delinquency`'s ``spark`` fragments. Only the per-period
sums come back to the driver; every scan, join and aggregate runs on the cluster. Intermediate
tables are cached (``CACHE TABLE``) and dropped after each call.

The views take the plain table names (``loans``, ``installments`` ...) in the session: one open
book per session at a time. Parameters are bound (``$name`` in the shared SQL becomes Spark's
``:name`` marker), never pasted into the text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creditmesh import schema
from creditmesh.errors import SchemaError
from creditmesh.portfolio.book import LAST_DATE_SQL, REQUIRED_TABLES, parquet_tables

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class SparkBook:
    """A loan book queried through Spark SQL; build one with :meth:`open` or :meth:`from_frames`."""

    #: The SQL dialect of :meth:`sql` (see :mod:`creditmesh.portfolio.series`).
    dialect = "spark"

    def __init__(self, session: SparkSession, frames: Mapping[str, DataFrame]) -> None:
        # Private: use SparkBook.open or SparkBook.from_frames, which check the tables first.
        self.session = session
        self.tables: tuple[str, ...] = tuple(frames)
        self._temporary: set[str] = set()
        for name, frame in frames.items():
            frame.createOrReplaceTempView(name)

    @classmethod
    def open(cls, directory: str | Path, session: SparkSession) -> SparkBook:
        """``directory/<table>.parquet`` for every declared table, checked as :meth:`Book.open` checks them."""
        found = parquet_tables(directory)
        frames = {
            name: session.read.parquet(str(path.resolve())).select(*schema.table(name).arrow_schema().names)
            for name, path in found.items()
        }
        return cls(session, frames)

    @classmethod
    def from_frames(cls, session: SparkSession, **tables: pd.DataFrame | pa.Table) -> SparkBook:
        """A book from in-memory tables, each checked with :func:`creditmesh.schema.validate`."""
        missing = [name for name in REQUIRED_TABLES if name not in tables]
        if missing:
            raise SchemaError(missing[0], f"missing table(s) {', '.join(missing)}")
        frames = {
            name: session.createDataFrame(schema.validate(name, frame)) for name, frame in tables.items()
        }
        return cls(session, frames)

    @cached_property
    def last_date(self) -> dt.date | None:
        """The last day in the data, as :attr:`Book.last_date`."""
        (day,) = self.one(LAST_DATE_SQL)
        return day

    def _run(self, query: str, params: Mapping[str, Any] | None) -> DataFrame:
        if params is not None and not isinstance(params, Mapping):
            raise TypeError("SparkBook binds named parameters only ($name)")
        return self.session.sql(_PARAMETER.sub(r":\1", query), args=dict(params) if params else None)

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a query with bound ``$name`` parameters; the (small) answer comes back as pandas."""
        return self._run(query, params).toPandas()

    def one(self, query: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
        rows = self._run(query, params).take(1)
        if not rows:
            raise RuntimeError("query returned no row")  # a bug in the query, not the user's input
        return tuple(rows[0])

    def temp_table(self, name: str, query: str) -> None:
        """Cache ``query`` (fixed text of our own) as the temporary view ``name``."""
        self.session.sql(f"CACHE TABLE {name} AS {query}")
        self._temporary.add(name)

    def drop_temp_table(self, name: str) -> None:
        if name in self._temporary:
            self.session.sql(f"UNCACHE TABLE IF EXISTS {name}")
            self.session.catalog.dropTempView(name)
            self._temporary.discard(name)

    def close(self) -> None:
        """Drop the book's views (the session stays: it may serve other work)."""
        for name in list(self._temporary):
            self.drop_temp_table(name)
        for name in self.tables:
            self.session.catalog.dropTempView(name)

    def __enter__(self) -> SparkBook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SparkBook(tables={list(self.tables)})"


def open_book(directory: str | Path, session: SparkSession | None = None) -> SparkBook:
    """:meth:`SparkBook.open` on ``session`` (default: :func:`creditmesh.spark.spark_session`)."""
    from creditmesh.spark import spark_session

    return SparkBook.open(directory, session or spark_session("creditmesh-portfolio"))


__all__: Sequence[str] = ("SparkBook", "open_book")
