"""Export the book as the Arrow/Parquet tables of :mod:`creditmesh.schema`, for ``portfolio/``.

Rows move through ADBC, which hands query results over as Arrow with no Python
object per value: the same path on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine

from creditmesh.schema import TABLES, validate

# Fixed SQL: the ledger's columns renamed and converted into the schema's.
_QUERIES = {
    "loans": """
        SELECT loan_id, borrower_id, credit_line_id, application_id, institution_id, funding_model,
               principal_minor, apr_ppm, tenor_months, schedule, originated_on,
               ROW_NUMBER() OVER (PARTITION BY borrower_id ORDER BY originated_on, loan_id) > 1 AS repeat_borrower
        FROM loans ORDER BY loan_id""",
    "installments": """
        SELECT loan_id, seq, due_date, principal_due_minor, interest_due_minor,
               fee_due_minor + late_fee_due_minor AS fee_due_minor,
               principal_paid_minor, interest_paid_minor,
               fee_paid_minor + late_fee_paid_minor AS fee_paid_minor, paid_on AS paid_at
        FROM installment_balances ORDER BY loan_id, seq""",
    "payments": """
        SELECT payment_id, loan_id, paid_on AS paid_at, amount_minor, idempotency_key
        FROM payments ORDER BY paid_on, payment_id""",
    "loan_days": """
        SELECT loan_id, as_of, outstanding_principal_minor, overdue_principal_minor, dpd, status
        FROM loan_days ORDER BY as_of, loan_id""",
}
EXPORTED = tuple(_QUERIES)


@contextmanager
def adbc_connection(engine: Engine) -> Iterator[object]:
    """An ADBC connection to the same database as ``engine``."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as driver

        connection = driver.connect(url.database or ":memory:")
    else:
        import adbc_driver_postgresql.dbapi as driver

        connection = driver.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        yield connection
    finally:
        connection.close()


def _to_schema(name: str, data: pa.Table) -> pa.Table:
    """Convert the ledger's types (text dates on SQLite, ppm rates, dates for timestamps) to the schema's."""
    columns = {}
    for field in data.schema:
        values = data.column(field.name)
        if pa.types.is_string(values.type) and field.name in (
            "due_date",
            "paid_at",
            "as_of",
            "originated_on",
        ):
            values = values.cast(pa.date32())
        columns[field.name] = values
    if "apr_ppm" in columns:
        columns["apr"] = pc.divide(columns.pop("apr_ppm").cast(pa.float64()), 1e6)
    if "originated_on" in columns:
        columns["originated_at"] = (
            columns.pop("originated_on").cast(pa.timestamp("s")).cast(pa.timestamp("us", tz="UTC"))
        )
    if name == "payments":
        columns["paid_at"] = columns["paid_at"].cast(pa.timestamp("s")).cast(pa.timestamp("us", tz="UTC"))
    if "repeat_borrower" in columns:
        columns["repeat_borrower"] = columns["repeat_borrower"].cast(pa.bool_())
    declared = TABLES[name].arrow_schema()
    for column, values in columns.items():  # an all-null column arrives untyped (SQLite reports no type)
        if values.null_count == len(values) and column in declared.names:
            columns[column] = pa.nulls(len(values), type=declared.field(column).type)
    return validate(name, pa.table(columns))


def read_tables(
    engine: Engine, names: tuple[str, ...] = EXPORTED, *, through_engine: bool = False
) -> dict[str, pa.Table]:
    """The book's tables as Arrow, in the schema's types.

    ``through_engine``: read through ``engine``'s own driver instead of ADBC (slower). A process that keeps SQLite
    connections open (the service) must read this way: ADBC brings a second copy of the SQLite library, and a copy
    closing the file drops the file locks the other copy holds (SQLite's documented hazard), which breaks the
    database for the open connections.
    """
    out = {}
    if through_engine:
        with engine.connect() as connection:
            for name in names:
                result = connection.exec_driver_sql(_QUERIES[name])
                columns = list(result.keys())
                rows = result.fetchall()
                data = pa.table({c: pa.array([r[k] for r in rows]) for k, c in enumerate(columns)})
                out[name] = _to_schema(name, data)
        return out
    with adbc_connection(engine) as connection:
        cursor = connection.cursor()
        for name in names:
            cursor.execute(_QUERIES[name])
            out[name] = _to_schema(name, cursor.fetch_arrow_table())
        cursor.close()
    return out


def export(engine: Engine, directory: str | Path, *, names: tuple[str, ...] = EXPORTED) -> dict[str, int]:
    """Write ``<name>.parquet`` for each exported table; returns the row counts."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, data in read_tables(engine, names).items():
        pq.write_table(data, target / f"{name}.parquet", compression="zstd")
        counts[name] = data.num_rows
    return counts
