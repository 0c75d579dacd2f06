"""Book validation naming rows, and the quarterly report through the command line."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from creditmesh import schema
from creditmesh.cli import app
from creditmesh.errors import ParameterError, SchemaError
from creditmesh.portfolio.report import parse_quarter, quarterly_report
from creditmesh.portfolio.series import metric_series
from creditmesh.portfolio.validate import book_problems, validate_book

runner = CliRunner()


def bad_book(loan_book):
    lb = loan_book()
    lb.single(
        "settled_early",
        principal=100,
        originated=dt.date(2024, 1, 1),
        due=dt.date(2024, 2, 1),
        paid=dt.date(2023, 12, 1),
    )
    lb.loan("backwards", principal=300, originated=dt.date(2024, 1, 1))
    lb.installment("backwards", dt.date(2024, 3, 1), 100)
    lb.installment("backwards", dt.date(2024, 2, 1), 200)
    for n in range(7):
        lb.installments.append({**lb.installments[0], "loan_id": f"ghost{n}"})
    lb.installments.append({**lb.installments[1], "seq": 3, "principal_paid_minor": 1_000})
    return lb.book()


def test_each_problem_is_named_with_its_first_rows_and_a_count(loan_book):
    problems = book_problems(bad_book(loan_book))
    assert len(problems) == 5
    orphans = next(p for p in problems if "orphan" in p)
    assert "7 row(s)" in orphans and "loan_id=ghost0 seq=1" in orphans and "and 2 more" in orphans
    assert any(
        "negative balances" in p and "loan_id=backwards seq=3 due=100 paid=1000" in p for p in problems
    )
    assert any("principal repaid above principal lent" in p and "lent=300 repaid=1000" in p for p in problems)
    assert any("before the loan was originated" in p and "loan_id=settled_early" in p for p in problems)
    assert any("not after the previous" in p and "loan_id=backwards seq=2" in p for p in problems)
    with pytest.raises(SchemaError) as raised:
        validate_book(bad_book(loan_book))
    assert raised.value.field == "book" and "orphan installments" in raised.value.reason


def test_a_simulated_book_is_sound(simulated_book):
    assert book_problems(simulated_book) == []


@pytest.fixture(scope="module")
def book_dir(simulated_tables, tmp_path_factory):
    folder = tmp_path_factory.mktemp("portfolio") / "book"
    folder.mkdir()
    for name, table in simulated_tables.items():
        pq.write_table(schema.validate(name, table), folder / f"{name}.parquet")
    return folder


def test_report_command_writes_the_business_highlights_page(book_dir, simulated_book, tmp_path):
    out = tmp_path / "q4.html"
    result = runner.invoke(app, ["report", str(book_dir), "--quarter", "2024Q4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "Fourth Quarter 2024 Business Highlights" in page
    assert (
        len(re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]{200,}", page)) == 5
    )  # two vintage, two trend charts, collections' cure rates
    q4 = metric_series(simulated_book, "quarter", dt.date(2024, 10, 1), dt.date(2024, 12, 31)).iloc[0]
    rate = 100 * q4["delinquency_rate_90_plus"]
    assert (
        f"90 day+ delinquency rate of loans originated by financial institutions across our platform was {rate:.2f}%"
        in page
    )
    assert f"originated {q4['loans_originated']:,} loans" in page
    assert "2023Q4" in page and "2024Q3" in page  # the comparison columns


def test_report_refuses_a_bad_quarter_and_an_invalid_book(book_dir, loan_book, tmp_path):
    result = runner.invoke(app, ["report", str(book_dir), "--quarter", "2024Q5"])
    assert result.exit_code != 0 and "quarter" in result.output
    with pytest.raises(ParameterError):
        quarterly_report(loan_book().book(), "2024Q4")  # an empty book ends before the quarter
    with pytest.raises(SchemaError) as raised:
        quarterly_report(bad_book(loan_book), "2024Q1")
    assert "orphan installments" in raised.value.reason


def test_parse_quarter():
    assert parse_quarter("2024Q4") == (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    assert parse_quarter("2023q1") == (dt.date(2023, 1, 1), dt.date(2023, 3, 31))


def test_series_command_prints_csv_and_writes_parquet(book_dir, simulated_book, tmp_path):
    import io

    import pandas as pd

    result = runner.invoke(app, ["series", str(book_dir), "--freq", "quarter", "--by", "funding_model"])
    assert result.exit_code == 0, result.output
    printed = pd.read_csv(io.StringIO(result.stdout))
    expected = metric_series(simulated_book, "quarter", by="funding_model")
    assert len(printed) == len(expected)
    assert printed["loan_volume_minor"].sum() == expected["loan_volume_minor"].sum()
    out = tmp_path / "monthly.parquet"
    result = runner.invoke(app, ["series", str(book_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == len(metric_series(simulated_book, "month"))
    result = runner.invoke(app, ["series", str(book_dir), "--freq", "week"])
    assert result.exit_code != 0 and "freq" in result.output
