"""Every per-model table in creditmesh holds every funding model of ``creditmesh.funding`` and nothing else.

A new :class:`~creditmesh.funding.FundingModel` record must reach every box: its journal accounts, its
margin formula, matching's defaults, the simulator's shares and partners, the schema's allowed values
and the ledger's CHECK. Each failure says which table lacks which model and where to add it.
(The CHECK at migration head is held in ``tests/ledger/test_funding_check.py``.)
"""

from __future__ import annotations

import re

import pytest

from creditmesh.funding import FEE_INCOMES, FUNDING_MODELS, MARGIN_FORMULAS, MODELS


def _per_model_tables() -> dict[str, object]:
    from creditmesh.ledger import journal
    from creditmesh.matching import partners
    from creditmesh.portfolio import ecl
    from creditmesh.simulate import institutions
    from creditmesh.simulate.config import SimulationConfig

    tables: dict[str, object] = {
        f"ledger/journal.py {name}": getattr(journal, name)
        for name in (
            "PRINCIPAL_ACCOUNT",
            "FUNDING_ACCOUNT",
            "INTEREST_ACCOUNT",
            "FEE_ACCOUNT",
            "ORIGINATION_FEE_ACCOUNT",
            "RECOVERY_ACCOUNT",
            "LOSS_ACCOUNT",
        )
    }
    tables["matching/partners.py DEFAULT_FEE_RATE"] = partners.DEFAULT_FEE_RATE
    tables["matching/partners.py DEFAULT_ACCEPTANCE_RATE"] = partners.DEFAULT_ACCEPTANCE_RATE
    tables["portfolio/ecl.py BEARER"] = ecl.BEARER
    tables["simulate/config.py SimulationConfig().funding_shares"] = SimulationConfig().funding_shares
    tables["simulate/institutions.py MODEL_WEIGHTS"] = institutions.MODEL_WEIGHTS
    tables["simulate/institutions.py MAX_PD_RANGE"] = institutions.MAX_PD_RANGE
    return tables


def _missing_and_extra(keys) -> str:
    missing = [m for m in FUNDING_MODELS if m not in keys]
    extra = [k for k in keys if k not in FUNDING_MODELS]
    return f"lacks {missing}, has unknown {extra}"


@pytest.mark.parametrize("where", list(_per_model_tables()))
def test_every_per_model_table_holds_every_funding_model(where):
    keys = list(_per_model_tables()[where])
    assert keys == list(FUNDING_MODELS), (
        f"{where} {_missing_and_extra(keys)} (derive it from creditmesh.funding)"
    )


def test_every_fee_income_has_its_journal_account():
    from creditmesh.ledger.journal import ACCOUNTS, FEE_INCOME_ACCOUNT

    missing = [kind for kind in FEE_INCOMES if kind not in FEE_INCOME_ACCOUNT]
    assert not missing, f"ledger/journal.py FEE_INCOME_ACCOUNT lacks an income account for {missing}"
    assert all(ACCOUNTS[FEE_INCOME_ACCOUNT[k]].kind == "income" for k in FEE_INCOMES)


def test_every_margin_formula_is_written_in_matching():
    from creditmesh.matching.margin import FORMULA_OF_MODEL, FORMULAS

    missing = [f for f in MARGIN_FORMULAS if f not in FORMULAS]
    assert not missing, f"matching/margin.py FORMULAS lacks the formula(s) {missing}"
    assert list(FORMULAS) == list(MARGIN_FORMULAS)
    assert [list(FORMULAS)[k] for k in FORMULA_OF_MODEL] == [m.margin_formula for m in MODELS]


@pytest.mark.parametrize("table", ["institutions", "allocations", "loans"])
def test_the_schema_allows_exactly_the_funding_models(table):
    from creditmesh.schema import TABLES

    allowed = TABLES[table].column("funding_model").allowed
    assert allowed == FUNDING_MODELS, f"schema.py {table}.funding_model {_missing_and_extra(allowed)}"


def test_the_ledger_tables_check_allows_exactly_the_funding_models():
    from sqlalchemy import CheckConstraint

    from creditmesh.ledger.tables import loans

    (check,) = [
        c for c in loans.constraints if isinstance(c, CheckConstraint) and "funding_model" in str(c.sqltext)
    ]
    allowed = tuple(re.findall(r"'([a-z0-9_]+)'", str(check.sqltext)))
    assert allowed == FUNDING_MODELS, f"ledger/tables.py loans CHECK {_missing_and_extra(allowed)}"
    assert max(len(m) for m in FUNDING_MODELS) <= loans.c.funding_model.type.length


def test_the_simulator_gives_every_funding_model_a_partner_named_by_its_record():
    import numpy as np

    from creditmesh.simulate.institutions import draw_institutions

    table, model = draw_institutions(np.random.default_rng(0), len(FUNDING_MODELS))
    assert sorted(set(model.tolist())) == list(range(len(FUNDING_MODELS)))
    for name, funding_model in zip(table["name"].to_pylist(), table["funding_model"].to_pylist()):
        assert name.startswith(next(m for m in MODELS if m.name == funding_model).simulated_partner_name)
