"""The finance benchmark's synthetic journal balances and ties, and its pool book is a sound book."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

from pg_server import throwaway_pg_url

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_synthetic_journal_balances_and_fills_the_statement():
    from creditmesh.finance import LINES, income_statement
    from creditmesh.ledger import Ledger

    bench = _load("finance")
    with throwaway_pg_url() as url:
        ledger = Ledger.connect(url)
        try:
            counts = bench.write_journal(ledger.engine, 2_000)
            assert counts["loans"] == 2_000 and counts["payments"] > 0
            assert sum(ledger.trial_balance().values()) == 0 and ledger.unbalanced_entries() == []
            statement = income_statement(ledger, "2024Q4")  # ties to the balance sheet, or raises
        finally:
            ledger.close()
    revenue = [line.key for line in LINES if line.revenue and statement.amounts()[line.key] > 0]
    assert {"financing_income", "guarantee_release", "capital_light_fees", "referral_fees"} <= set(revenue)


def test_the_pool_book_runs_at_the_cut_off_and_enters_the_pool_whole():
    from creditmesh.finance.pool import EligibilityCriteria, select_pool
    from creditmesh.portfolio import book_problems

    bench = _load("finance")
    with bench.build_pool_book(3_000) as book:
        assert book_problems(book) == []
        pool = select_pool(
            book, date(2024, 12, 31), EligibilityCriteria(max_borrower_share=0.01, max_region_share=0.05)
        )
    assert len(pool.loans) == 3_000
