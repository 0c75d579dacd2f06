"""A read-only loan book for analytics: one DuckDB view per table of :mod:`creditmesh.schema`.

A :class:`Book` is opened from a folder of Parquet files (``<table>.parquet``)
or built from in-memory frames. Every table is checked against its declared
schema at the boundary, so the metrics can trust column names and types. Only
the platform-visible columns are exposed: simulator truth columns (``true_pd``,
``is_fraud``, ``ring_id``) never reach a view.

Times: ``*_at`` timestamp columns are UTC; the connection's time zone is pinned
to UTC so that ``CAST(x AS DATE)`` gives the UTC calendar day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creditmesh import schema
from creditmesh.errors import SchemaError

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

#: Tables every book must hold: the disclosed metrics read all of them.
REQUIRED_TABLES = ("institutions", "borrowers", "credit_lines", "loans", "installments")

#: The last day the book has seen: the latest event of any kind it records.
LAST_DATE_SQL = """
SELECT MAX(day) FROM (
    SELECT MAX(CAST(originated_at AS DATE)) AS day FROM loans
    UNION ALL SELECT MAX(paid_at) FROM installments
    UNION ALL SELECT MAX(CAST(opened_at AS DATE)) FROM credit_lines
    UNION ALL SELECT MAX(CAST(registered_at AS DATE)) FROM borrowers
)
"""


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    # DuckDB cannot bind parameters in DDL (CREATE VIEW), so the path is quoted here.
    return "'" + text.replace("'", "''") + "'"


def parquet_tables(directory: str | Path) -> dict[str, Path]:
    """``directory/<table>.parquet`` for every declared table found there, each schema checked.

    The tables of :data:`REQUIRED_TABLES` must be present. Each file's schema is
    checked from the Parquet metadata alone (no rows read); any problem raises one
    :class:`SchemaError` naming the table and its bad columns.
    """
    import pyarrow.parquet as pq

    folder = Path(directory)
    if not folder.is_dir():
        raise SchemaError("directory", f"not a folder: {folder}")
    found: dict[str, Path] = {}
    for name in schema.TABLES:
        path = folder / f"{name}.parquet"
        if not path.is_file():
            if name in REQUIRED_TABLES:
                raise SchemaError(name, f"missing file {path}")
            continue
        try:
            file_schema = pq.read_schema(path)
        except Exception as error:  # pyarrow raises several types for unreadable files
            raise SchemaError(name, f"cannot read Parquet metadata of {path}: {error}") from None
        problems = schema.check_types(name, file_schema)
        if problems:
            raise SchemaError(name, "; ".join(problems))
        found[name] = path
    return found


def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    connection = duckdb.connect(database=":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    return connection


class Book:
    """A loan book: the tables of one platform, queried through DuckDB.

    Build one with :meth:`open` (a folder of Parquet files) or :meth:`from_frames`
    (pandas or Arrow tables). The book is read-only and not safe to share
    between threads (one DuckDB connection). Use it as a context manager or call
    :meth:`close`.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
        # Private: use Book.open or Book.from_frames, which check the tables first.
        self._connection = connection
        self.tables: tuple[str, ...] = tuple(tables)

    #: The SQL dialect of :meth:`sql` (the series' queries are written for it).
    dialect = "duckdb"

    @classmethod
    def open(cls, directory: str | Path) -> Book:
        """Open ``directory/<table>.parquet`` for every declared table found there (see :func:`parquet_tables`)."""
        found = parquet_tables(directory)
        connection = _connect()
        for name, path in found.items():
            columns = ", ".join(_quote_identifier(c) for c in schema.table(name).arrow_schema().names)
            connection.execute(
                f"CREATE VIEW {_quote_identifier(name)} AS "
                f"SELECT {columns} FROM read_parquet({_quote_literal(str(path.resolve()))})"
            )
        return cls(connection, found)

    @classmethod
    def from_frames(cls, **tables: pd.DataFrame | pa.Table) -> Book:
        """Build a book from in-memory tables, each checked with :func:`creditmesh.schema.validate`.

        Keyword names are table names; the tables of :data:`REQUIRED_TABLES`
        must all be given. Truth columns are dropped by the validation.
        """
        missing = [name for name in REQUIRED_TABLES if name not in tables]
        if missing:
            raise SchemaError(missing[0], f"missing table(s) {', '.join(missing)}")
        validated = {name: schema.validate(name, frame) for name, frame in tables.items()}
        connection = _connect()
        for name, data in validated.items():
            connection.register(name, data)
        return cls(connection, validated)

    @cached_property
    def last_date(self) -> dt.date | None:
        """The last day in the data: the latest origination, repayment, credit line or registration.

        ``None`` for a book without any of them. Cached: the book is read-only.
        """
        (day,) = self.one(LAST_DATE_SQL)
        return day

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a query with bound parameters (``?`` or ``$name``) and return a pandas DataFrame."""
        return self._connection.execute(query, params).df()

    def one(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> tuple[Any, ...]:
        """Run a query with bound parameters and return its single row as a tuple."""
        row = self._connection.execute(query, params).fetchone()
        if row is None:
            raise RuntimeError("query returned no row")  # a bug in the query, not the user's input
        return row

    def temp_table(self, name: str, query: str) -> None:
        """Materialise ``query`` (fixed text of our own) as the temporary table ``name``."""
        self._connection.execute(f"CREATE TEMP TABLE {name} AS {query}")

    def drop_temp_table(self, name: str) -> None:
        self._connection.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        """Close the DuckDB connection; the book cannot be queried afterwards."""
        self._connection.close()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Book(tables={list(self.tables)})"
