"""The ledger's CHECK on ``loans.funding_model`` at migration head is the one derived from creditmesh.funding."""

from __future__ import annotations

import re
from datetime import date

import pytest

from creditmesh.funding import FUNDING_MODELS, sql_in


def test_the_funding_model_check_at_migration_head_is_the_one_funding_py_derives(ledger):
    from sqlalchemy import inspect

    checks = {c["name"]: c["sqltext"] for c in inspect(ledger.engine).get_check_constraints("loans")}
    allowed = tuple(re.findall(r"'([a-z0-9_]+)'", checks["ck_loans_funding_model"]))
    assert allowed == FUNDING_MODELS, (
        f"the database at migration head allows {list(allowed)}, creditmesh.funding lists {list(FUNDING_MODELS)}:"
        " add an Alembic revision under ledger/migrations/versions that recreates ck_loans_funding_model as"
        f" {sql_in('funding_model', FUNDING_MODELS)!r}"
    )


@pytest.mark.parametrize("model", FUNDING_MODELS)
def test_a_loan_of_every_funding_model_books_and_an_unknown_one_is_refused_by_the_database(ledger, model):
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from creditmesh.ledger import LoanTerms
    from creditmesh.ledger.tables import loans

    ledger.book_loan(LoanTerms("L1", "B1", 100_000, 180_000, 6, date(2024, 1, 15), funding_model=model))
    assert ledger.loan("L1").funding_model == model
    assert sum(ledger.trial_balance().values()) == 0
    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:
        conn.execute(
            insert(loans).values(
                loan_id="L2",
                borrower_id="B1",
                institution_id="FI1",
                funding_model="p2p",
                currency="CNY",
                principal_minor=1,
                apr_ppm=0,
                tenor_months=1,
                schedule="equal_installment",
                originated_on=date(2024, 1, 15),
                status="active",
            )
        )
