import datetime as dt

import pandas as pd
import pytest

from creditmesh.errors import SchemaError
from creditmesh.graph.labels import blacklist_from_book, delinquency_from_book, read_operator_list


def _book():
    loans = pd.DataFrame({"loan_id": ["L1", "L2"], "borrower_id": ["A", "B"]})
    installments = pd.DataFrame(
        {
            "loan_id": ["L1", "L1", "L2", "L2"],
            "seq": [1, 2, 1, 2],
            "due_date": [dt.date(2024, 2, 1), dt.date(2024, 3, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)],
            "paid_at": [None, None, dt.date(2024, 2, 1), dt.date(2024, 4, 15)],
        }
    )
    return loans, installments


def test_first_payment_default_is_blacklisted_when_it_becomes_known():
    loans, installments = _book()
    early = blacklist_from_book(loans, installments, as_of=pd.Timestamp("2024-03-01", tz="UTC"))
    assert early.empty  # 60 days past the first due date have not passed yet
    later = blacklist_from_book(loans, installments, as_of=pd.Timestamp("2024-06-01", tz="UTC"))
    assert list(later["borrower_id"]) == ["A"]
    assert later["listed_at"].iloc[0] == pd.Timestamp("2024-04-01", tz="UTC")


def test_delinquency_is_the_first_installment_thirty_days_late():
    loans, installments = _book()
    late = delinquency_from_book(loans, installments, as_of=pd.Timestamp("2024-06-01", tz="UTC")).set_index(
        "borrower_id"
    )
    assert late.loc["A", "delinquent_at"] == pd.Timestamp("2024-03-02", tz="UTC")
    assert late.loc["B", "delinquent_at"] == pd.Timestamp("2024-03-31", tz="UTC")  # paid 45 days late


def test_operator_import_reads_csv_and_refuses_bad_times(tmp_path):
    good = tmp_path / "list.csv"
    good.write_text("borrower_id,listed_at,reason\n007,2024-01-05T00:00:00Z,chargeback\n")
    frame = read_operator_list(good)
    assert frame.loc[0, "borrower_id"] == "007" and frame.loc[0, "reason"] == "chargeback"
    bad = tmp_path / "bad.csv"
    bad.write_text("borrower_id,listed_at\nA,someday\n")
    with pytest.raises(SchemaError) as caught:
        read_operator_list(bad)
    assert caught.value.field == "blacklist.listed_at"
    with pytest.raises(SchemaError):
        read_operator_list(tmp_path / "absent.csv")


EDGE_DPD = (0, 1, 30, 31, 90, 91, 180, 181)


@pytest.mark.parametrize("days", [1, 30, 31, 90, 91, 180, 181])
def test_delinquency_label_at_each_dpd_edge(days):
    # one borrower per edge: a single installment unpaid since `dpd` days before as_of
    as_of = dt.date(2024, 12, 31)
    loans = pd.DataFrame({"loan_id": [f"L{d}" for d in EDGE_DPD], "borrower_id": [f"B{d}" for d in EDGE_DPD]})
    installments = pd.DataFrame(
        {
            "loan_id": [f"L{d}" for d in EDGE_DPD] + ["L0"],
            "seq": [1] * len(EDGE_DPD) + [2],
            "due_date": [as_of - dt.timedelta(days=d) for d in EDGE_DPD] + [dt.date(2024, 1, 1)],
            # B0 also settled an installment on the very day it reached `days` dpd: never late by then
            "paid_at": [None] * len(EDGE_DPD) + [dt.date(2024, 1, 1) + dt.timedelta(days=days)],
        }
    )
    late = delinquency_from_book(loans, installments, as_of=pd.Timestamp(as_of, tz="UTC"), days=days)
    assert sorted(late["borrower_id"]) == sorted(f"B{d}" for d in EDGE_DPD if d >= days)
    first = late.set_index("borrower_id")["delinquent_at"]
    for d in EDGE_DPD:
        if d >= days:
            assert first[f"B{d}"] == pd.Timestamp(as_of - dt.timedelta(days=d - days), tz="UTC")
