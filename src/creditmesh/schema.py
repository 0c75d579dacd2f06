"""The tables that pass between creditmesh's boxes, declared once.

Each :class:`Table` names its key, its columns (Arrow type, nullability, allowed
values, lower bound) and which columns are simulator truth that the platform
must never read. :func:`validate` checks a pandas or Arrow frame against a table
and raises one :class:`~creditmesh.errors.SchemaError` that names every bad
column and the first offending rows.

Conventions (DESIGN.md): snake_case names, string ids, UTC times, money as int64
minor units in ``*_minor`` columns (never floats), rates as float fractions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from creditmesh import stages
from creditmesh.delinquency import BUCKET_NAMES
from creditmesh.errors import SchemaError

# defined in creditmesh.funding; re-exported while portfolio/metrics.py, series.py and simulate/platform.py
# still import them from here
from creditmesh.funding import FUNDING_MODELS as FUNDING_MODELS
from creditmesh.funding import PLATFORM_SERVICE_MODELS as PLATFORM_SERVICE_MODELS
from creditmesh.funding import RISK_BEARING_MODELS as RISK_BEARING_MODELS

#: How many offending rows an error message quotes per problem.
ROWS_QUOTED = 5

CHANNELS = ("app", "embedded", "partner", "offline")
IDENTITY_KINDS = ("phone", "device", "ip", "address", "contact", "bank_card", "employer")
STAGES = stages.STAGE_NAMES  # the decision stages, one record each in creditmesh.stages
OUTCOMES = ("approve", "decline", "review")
SCHEDULES = ("equal_installment", "equal_principal")
EMPLOYMENT = ("salaried", "self_employed", "gig", "student", "retired", "unemployed")
LINE_STATUSES = ("active", "frozen", "closed")
#: A loan's status on a day in ``loan_days``: its delinquency bucket, or settled.
LOAN_STATUSES = (*BUCKET_NAMES, "settled")
#: What collections may do to a loan (a strategy's actions) and what may come of it; a promise to pay is an
#: action with outcome promise_to_pay, kept or broken when its due date passes.
COLLECTION_CHANNELS = ("reminder", "sms", "app_push", "call", "field_visit", "agency", "legal")
COLLECTION_OUTCOMES = (
    "sent",
    "no_answer",
    "contacted",
    "promise_to_pay",
    "paid",
    "refused",
    "dispute",
    "dispute_resolved",
    "placed",
)
PROMISE_STATUSES = ("open", "kept", "broken")

TIMESTAMP = pa.timestamp("us", tz="UTC")
DATE = pa.date32()


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table: its Arrow type and the values it may hold."""

    name: str
    type: pa.DataType
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    doc: str = ""

    @property
    def is_money(self) -> bool:
        return self.name.endswith("_minor")


@dataclass(frozen=True, slots=True)
class Table:
    """A table of DESIGN.md: its key and columns; ``truth`` lists simulator-only columns."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    truth: tuple[str, ...] = ()
    doc: str = ""
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def arrow_schema(self, *, with_truth: bool = False) -> pa.Schema:
        """The Arrow schema of the platform-visible columns (truth columns only if asked)."""
        return pa.schema(
            [
                pa.field(c.name, c.type, nullable=c.nullable)
                for c in self.columns
                if with_truth or c.name not in self.truth
            ]
        )


def _c(name: str, type_: pa.DataType, doc: str = "", **kw: Any) -> Column:
    return Column(name, type_, doc=doc, **kw)


def _money(name: str, doc: str = "", *, nullable: bool = False, signed: bool = False) -> Column:
    return Column(name, pa.int64(), nullable=nullable, min_value=None if signed else 0, doc=doc)


_FEATURES = (
    _c("age", pa.int16(), "age in years at application", min_value=16, max_value=100),
    _c("monthly_income_minor", pa.int64(), "self-declared monthly income", nullable=True, min_value=0),
    _c("employment", pa.string(), nullable=True, allowed=EMPLOYMENT),
    _c(
        "bureau_score",
        pa.int16(),
        "credit bureau score; null for a thin file",
        nullable=True,
        min_value=300,
        max_value=900,
    ),
    _c("bureau_inquiries_6m", pa.int16(), "hard inquiries in the last 6 months", nullable=True, min_value=0),
    _c(
        "bureau_delinquencies_24m",
        pa.int16(),
        "delinquencies in the last 24 months",
        nullable=True,
        min_value=0,
    ),
    _c("device_age_days", pa.int32(), "days since the device was first seen", min_value=0),
    _c("apply_hour", pa.int8(), "local hour of the application", min_value=0, max_value=23),
    _c("contacts_count", pa.int32(), "contacts the applicant shared", min_value=0),
    _c(
        "months_on_book",
        pa.int16(),
        "months since the first drawdown; null before it",
        nullable=True,
        min_value=0,
    ),
    _c(
        "max_dpd_on_book",
        pa.int16(),
        "worst days past due on the platform so far",
        nullable=True,
        min_value=0,
    ),
    _c("line_utilization", pa.float32(), "outstanding principal / credit line", nullable=True, min_value=0),
)
#: The feature columns every application carries (null where a stage has no such signal).
FEATURE_COLUMNS = tuple(c.name for c in _FEATURES)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "institutions",
            ("institution_id",),
            (
                _c("institution_id", pa.string()),
                _c("name", pa.string()),
                _c("funding_model", pa.string(), allowed=FUNDING_MODELS),
                _c("max_pd", pa.float64(), min_value=0, max_value=1),
                _c("min_score", pa.int16(), min_value=0),
                _money("max_amount_minor"),
                _c("tenors", pa.list_(pa.int16()), "tenors in months the institution funds"),
                _c("regions", pa.list_(pa.string()), "regions served; empty means all"),
                _c("apr_min", pa.float64(), min_value=0, max_value=1),
                _c("apr_max", pa.float64(), min_value=0, max_value=1),
                _c("funding_cost", pa.float64(), "annual cost of funds", min_value=0, max_value=1),
                _money("monthly_capacity_minor"),
            ),
        ),
        Table(
            "borrowers",
            ("borrower_id",),
            (
                _c("borrower_id", pa.string()),
                _c("registered_at", TIMESTAMP),
                _c("channel", pa.string(), allowed=CHANNELS),
                _c("region", pa.string()),
                _c("birth_year", pa.int16(), min_value=1900),
                _c(
                    "true_pd",
                    pa.float64(),
                    "12-month probability of default (truth)",
                    min_value=0,
                    max_value=1,
                ),
                _c("is_fraud", pa.bool_(), "the borrower is a fraudster (truth)"),
                _c("ring_id", pa.string(), "fraud ring the borrower belongs to (truth)", nullable=True),
            ),
            truth=("true_pd", "is_fraud", "ring_id"),
        ),
        Table(
            "identities",
            ("borrower_id", "kind", "value"),
            (
                _c("borrower_id", pa.string()),
                _c("kind", pa.string(), allowed=IDENTITY_KINDS),
                _c("value", pa.string(), "salted hash of the identifier"),
            ),
        ),
        Table(
            "applications",
            ("application_id",),
            (
                _c("application_id", pa.string()),
                _c("borrower_id", pa.string()),
                _c("applied_at", TIMESTAMP),
                _c("stage", pa.string(), allowed=STAGES),
                _c("channel", pa.string(), allowed=CHANNELS),
                _money("requested_amount_minor"),
                _c("requested_tenor", pa.int16(), "months", min_value=1),
                *_FEATURES,
                _c("true_pd", pa.float64(), "(truth)", min_value=0, max_value=1),
                _c("is_fraud", pa.bool_(), "(truth)"),
                _c("ring_id", pa.string(), "(truth)", nullable=True),
            ),
            truth=("true_pd", "is_fraud", "ring_id"),
        ),
        Table(
            "decisions",
            ("application_id",),
            (
                _c("application_id", pa.string()),
                _c("decided_at", TIMESTAMP),
                _c("outcome", pa.string(), allowed=OUTCOMES),
                _c("automated", pa.bool_()),
                _c("score", pa.float64(), nullable=True),
                _c("pd", pa.float64(), nullable=True, min_value=0, max_value=1),
                _c("grade", pa.string(), nullable=True),
                _money(
                    "credit_line_minor",
                    "; ".join(f"{s.grants} ({s.name})" for s in stages.STAGES.values()),
                ),
                _c("apr", pa.float64(), nullable=True, min_value=0, max_value=1),
                _c("reasons", pa.list_(pa.string()), "reason codes, most important first"),
                _c("policy_version", pa.string()),
                _c("arm", pa.string(), "champion or a challenger's name"),
            ),
        ),
        Table(
            "allocations",
            ("application_id",),
            (
                _c("application_id", pa.string()),
                _c("institution_id", pa.string()),
                _c("funding_model", pa.string(), allowed=FUNDING_MODELS),
                _c(
                    "expected_margin",
                    pa.float64(),
                    "expected annual margin to the platform, fraction of principal",
                ),
            ),
        ),
        Table(
            "credit_lines",
            ("credit_line_id",),
            (
                _c("credit_line_id", pa.string()),
                _c("borrower_id", pa.string()),
                _c("application_id", pa.string()),
                _money("limit_minor"),
                _c("apr", pa.float64(), min_value=0, max_value=1),
                _c("opened_at", TIMESTAMP),
                _c("status", pa.string(), allowed=LINE_STATUSES),
                _c("last_adjusted_at", TIMESTAMP, nullable=True),
            ),
        ),
        Table(
            "loans",
            ("loan_id",),
            (
                _c("loan_id", pa.string()),
                _c("borrower_id", pa.string()),
                _c(
                    "credit_line_id",
                    pa.string(),
                    "null for a loan booked outside a credit line",
                    nullable=True,
                ),
                _c(
                    "application_id",
                    pa.string(),
                    "null for a loan booked outside the decision flow",
                    nullable=True,
                ),
                _c("institution_id", pa.string()),
                _c("funding_model", pa.string(), allowed=FUNDING_MODELS),
                _money("principal_minor"),
                _c("apr", pa.float64(), min_value=0, max_value=1),
                _c("tenor_months", pa.int16(), min_value=1),
                _c("schedule", pa.string(), allowed=SCHEDULES),
                _c("originated_at", TIMESTAMP),
                _c("repeat_borrower", pa.bool_(), "the borrower had drawn down before this loan"),
            ),
        ),
        Table(
            "installments",
            ("loan_id", "seq"),
            (
                _c("loan_id", pa.string()),
                _c("seq", pa.int16(), "1 for the first installment", min_value=1),
                _c("due_date", DATE),
                _money("principal_due_minor"),
                _money("interest_due_minor"),
                _money("fee_due_minor"),
                _money("principal_paid_minor"),
                _money("interest_paid_minor"),
                _money("fee_paid_minor"),
                _c(
                    "paid_at",
                    DATE,
                    "day the installment was settled in full; null while it is open",
                    nullable=True,
                ),
            ),
            doc="An installment settled before its due date by an early settlement keeps its due date; "
            "its paid_at is the settlement day and its interest_paid_minor the interest actually charged.",
        ),
        Table(
            "payments",
            ("payment_id",),
            (
                _c("payment_id", pa.string()),
                _c("loan_id", pa.string()),
                _c("paid_at", TIMESTAMP),
                _money("amount_minor"),
                _c("idempotency_key", pa.string()),
            ),
        ),
        Table(
            "loan_days",
            ("loan_id", "as_of"),
            (
                _c("loan_id", pa.string()),
                _c("as_of", DATE),
                _money("outstanding_principal_minor"),
                _money("overdue_principal_minor"),
                _c("dpd", pa.int32(), "days past due of the oldest unpaid installment", min_value=0),
                _c("status", pa.string(), allowed=LOAN_STATUSES),
            ),
        ),
        Table(
            "collection_actions",
            ("action_id",),
            (
                _c("action_id", pa.string()),
                _c("loan_id", pa.string()),
                _c("at", TIMESTAMP),
                _c("channel", pa.string(), allowed=COLLECTION_CHANNELS),
                _c("outcome", pa.string(), allowed=COLLECTION_OUTCOMES),
                _money("promised_minor"),
                _c("promise_due_on", DATE, "the day a promise to pay falls due", nullable=True),
                _c("promise_status", pa.string(), nullable=True, allowed=PROMISE_STATUSES),
                _money("cost_minor"),
                _c("arm", pa.string(), "the strategy arm that took the action", nullable=True),
            ),
        ),
    )
}


def table(name: str) -> Table:
    """The declared table called ``name``; an unknown name raises a :class:`SchemaError`."""
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError("table", f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


def _rows(mask: np.ndarray) -> str:
    index = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in index[:ROWS_QUOTED])
    more = f" and {len(index) - ROWS_QUOTED} more" if len(index) > ROWS_QUOTED else ""
    return f"{len(index)} row(s): {shown}{more}"


def _type_compatible(actual: pa.DataType, wanted: pa.DataType) -> bool:
    if actual.equals(wanted):
        return True
    if pa.types.is_null(actual):
        return True
    if pa.types.is_integer(wanted):
        return pa.types.is_integer(actual)
    if pa.types.is_floating(wanted):
        return pa.types.is_floating(actual) or pa.types.is_integer(actual)
    if pa.types.is_string(wanted) or pa.types.is_large_string(wanted):
        return (
            pa.types.is_string(actual) or pa.types.is_large_string(actual) or pa.types.is_dictionary(actual)
        )
    if pa.types.is_timestamp(wanted):
        return pa.types.is_timestamp(actual) or pa.types.is_date(actual)
    if pa.types.is_date(wanted):
        return pa.types.is_date(actual) or pa.types.is_timestamp(actual)
    if pa.types.is_list(wanted):
        return pa.types.is_list(actual) or pa.types.is_large_list(actual)
    return False


def _to_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pd.DataFrame):
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise SchemaError("frame", f"cannot be read as a table: {error}") from None
    raise SchemaError("frame", f"expected a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")


def check_types(table_name: str, schema: pa.Schema, *, with_truth: bool = False) -> list[str]:
    """Problems of a schema alone (missing columns, wrong types), read without touching the rows.

    Used on Parquet metadata, so that a malformed file is refused before it is read.
    """
    spec = table(table_name)
    problems: list[str] = []
    present = {f.name: f.type for f in schema}
    wanted = [c for c in spec.columns if with_truth or c.name not in spec.truth]
    missing = [c.name for c in wanted if c.name not in present]
    if missing:
        problems.append(f"{table_name}: missing column(s) {', '.join(missing)}")
    for column in wanted:
        actual = present.get(column.name)
        if actual is None:
            continue
        where = f"{table_name}.{column.name}"
        if column.is_money and pa.types.is_floating(actual):
            problems.append(f"{where}: money must be integer minor units, got {actual}")
        elif not _type_compatible(actual, column.type):
            problems.append(f"{where}: expected {column.type}, got {actual}")
    return problems


def check(table_name: str, frame: pd.DataFrame | pa.Table, *, with_truth: bool = False) -> list[str]:
    """Every problem of ``frame`` against the declared table, as readable lines (empty when valid).

    A pure function: it raises only for an unknown table name.
    """
    spec = table(table_name)
    data = _to_arrow(frame)
    problems = check_types(table_name, data.schema, with_truth=with_truth)
    if problems:
        return problems
    wanted = [c for c in spec.columns if with_truth or c.name not in spec.truth]
    for column in wanted:
        values = data.column(column.name)
        where = f"{table_name}.{column.name}"
        nulls = values.is_null().to_numpy(zero_copy_only=False)
        if not column.nullable and nulls.any():
            problems.append(f"{where}: nulls not allowed, found in {_rows(nulls)}")
        if column.allowed is not None:
            bad = ~pc.is_in(values, value_set=pa.array(column.allowed, type=pa.string())).to_numpy(
                zero_copy_only=False
            )
            bad &= ~nulls
            if bad.any():
                seen = sorted({str(v) for v in pc.filter(values, pa.array(bad)).unique().to_pylist()})[
                    :ROWS_QUOTED
                ]
                problems.append(
                    f"{where}: values {seen} not in {list(column.allowed)}, found in {_rows(bad)}"
                )
        is_number = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
        if is_number and (column.min_value is not None or column.max_value is not None):
            numbers = values.to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                if column.min_value is not None:
                    below = np.asarray(numbers < column.min_value) & ~nulls
                    if below.any():
                        problems.append(f"{where}: values below {column.min_value:g} in {_rows(below)}")
                if column.max_value is not None:
                    above = np.asarray(numbers > column.max_value) & ~nulls
                    if above.any():
                        problems.append(f"{where}: values above {column.max_value:g} in {_rows(above)}")
    if data.num_rows:
        keys = data.select(list(spec.key)).to_pandas()
        duplicated = keys.duplicated(keep="first").to_numpy()
        if duplicated.any():
            problems.append(f"{table_name} key ({', '.join(spec.key)}) repeats in {_rows(duplicated)}")
    return problems


def validate(table_name: str, frame: pd.DataFrame | pa.Table, *, with_truth: bool = False) -> pa.Table:
    """Check ``frame`` against the declared table and return it as Arrow in the declared types.

    Raises one :class:`SchemaError` naming every bad column and its first rows.
    Columns beyond the declared ones are dropped; truth columns are kept only
    with ``with_truth=True``.
    """
    problems = check(table_name, frame, with_truth=with_truth)
    if problems:
        raise SchemaError(table_name, "; ".join(problems))
    data = _to_arrow(frame)
    schema = table(table_name).arrow_schema(with_truth=with_truth)
    columns = []
    for wanted in schema:
        values = data.column(wanted.name)
        if not values.type.equals(wanted.type):
            try:
                values = values.cast(wanted.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise SchemaError(
                    f"{table_name}.{wanted.name}", f"cannot convert to {wanted.type}: {error}"
                ) from None
        columns.append(values)
    return pa.Table.from_arrays(columns, schema=schema)


def empty(table_name: str, *, with_truth: bool = False) -> pa.Table:
    """An empty Arrow table with the declared schema."""
    return table(table_name).arrow_schema(with_truth=with_truth).empty_table()
