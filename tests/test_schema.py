import pandas as pd
import pyarrow as pa
import pytest

from creditmesh.errors import SchemaError
from creditmesh.schema import TABLES, check, check_types, empty, validate


def _payments(**overrides):
    data = {
        "payment_id": ["P1", "P2", "P3"],
        "loan_id": ["L1", "L1", "L2"],
        "paid_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01"], utc=True),
        "amount_minor": [100, 200, 300],
        "idempotency_key": ["k1", "k2", "k3"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_every_table_declares_its_key_among_its_columns():
    for table in TABLES.values():
        assert set(table.key) <= set(table.column_names), table.name
        assert set(table.truth) <= set(table.column_names), table.name
        for column in table.columns:
            if column.name.endswith("_minor"):
                assert pa.types.is_integer(column.type), f"{table.name}.{column.name} must be integer money"


def test_validate_returns_arrow_in_the_declared_types():
    out = validate("payments", _payments())
    assert out.schema.equals(TABLES["payments"].arrow_schema())
    assert out.num_rows == 3


def test_validate_names_every_bad_column_and_the_first_rows():
    bad = _payments(amount_minor=[100.5, 2.0, 3.0])
    with pytest.raises(SchemaError, match=r"payments.amount_minor: money must be integer minor units"):
        validate("payments", bad)
    bad = _payments(amount_minor=[100, -1, -2], loan_id=["L1", None, "L2"])
    with pytest.raises(SchemaError) as caught:
        validate("payments", bad)
    message = str(caught.value)
    assert "payments.amount_minor: values below 0 in 2 row(s): 1, 2" in message
    assert "payments.loan_id: nulls not allowed, found in 1 row(s): 1" in message


def test_validate_reports_missing_columns_and_repeated_keys():
    with pytest.raises(SchemaError, match="missing column"):
        validate("payments", _payments().drop(columns=["idempotency_key"]))
    with pytest.raises(SchemaError, match=r"key \(payment_id\) repeats in 1 row\(s\): 2"):
        validate("payments", _payments(payment_id=["P1", "P2", "P1"]))


def test_allowed_values_are_checked_and_quoted():
    problems = check(
        "loan_days",
        pd.DataFrame(
            {
                "loan_id": ["L1"],
                "as_of": pd.to_datetime(["2024-01-01"]).date,
                "outstanding_principal_minor": [1],
                "overdue_principal_minor": [0],
                "dpd": [0],
                "status": ["late-ish"],
            }
        ),
    )
    assert problems == [
        "loan_days.status: values ['late-ish'] not in "
        + str(list(TABLES["loan_days"].column("status").allowed))
        + ", found in 1 row(s): 0"
    ]


def test_truth_columns_are_kept_out_unless_asked_for():
    assert "true_pd" not in TABLES["borrowers"].arrow_schema().names
    assert "true_pd" in TABLES["borrowers"].arrow_schema(with_truth=True).names


def test_check_types_reads_a_schema_without_rows():
    schema = pa.schema(
        [
            ("payment_id", pa.string()),
            ("loan_id", pa.string()),
            ("paid_at", pa.timestamp("us", tz="UTC")),
            ("amount_minor", pa.float64()),
            ("idempotency_key", pa.string()),
        ]
    )
    assert check_types("payments", schema) == [
        "payments.amount_minor: money must be integer minor units, got double"
    ]


def test_unknown_table_is_a_clear_error():
    with pytest.raises(SchemaError, match="unknown table 'loanz'"):
        empty("loanz")
