"""Benchmark: the income statement of a 1,000,000-loan book from its journal, and an ABS deal of 500,000 loans.

Goals (issue 18): the statement for a quarter of a 1M-loan book from the journal in under 30 s; an ABS
pool of 500,000 loans projected over 36 months under 100 scenarios with the waterfall in under 60 s.

What runs:

1. **Statement** (PostgreSQL, a throw-away database ``cm_bench_finance``). Not timed: the journal of
   ``--loans`` loans (default 1,000,000), written set-based in SQL in the shape the ledger writes it:
   every funding model in its simulated share (``funding.MODELS``), originated day by day from
   2023-07-01 to 2024-12-31, one disbursement entry a day (``journal.entry_for_disbursement``'s lines
   per loan) and one payment entry a day in the nine months the statement reads (2023Q4, 2024Q3,
   2024Q4): each loan pays a twelfth of its principal, a month's interest and a fee every 30 days for 12
   months, with ``journal.entry_for_payment``'s lines per loan and one cash line per day (as the bulk
   path books them). Then month-end provisions and funding costs through the ledger's own methods, and
   ``VACUUM ANALYZE``. Timed: ``income_statement(ledger, "2024Q4")`` (three quarters of profit and loss
   by line and two balance sheets), which checks net income = change in retained earnings.
2. **ABS** (in memory, DuckDB). Not timed: a book of ``--pool-loans`` own loans (default 500,000)
   all running at the 2024-12-31 cut-off (tenors 3 to 36 months, equal installments, every installment
   due by the cut-off paid), their 32 regions; the caps (a borrower at most 0.1 %, a region 5 %) keep
   nearly all of them. Timed: ``select_pool`` (eligibility and caps), the scenarios
   (``--scenarios``, default 100) from default and prepayment curves by months on book (a synthetic
   curve: the book has no losses yet), ``project_pool`` over 36 months, ``run_waterfall``; the sum of
   tranche cash flows = pool cash flows is checked.

Usage::

    python benchmarks/finance.py                  # the goals' sizes
    python benchmarks/finance.py --quick          # 50,000 loans and a 25,000-loan pool

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _books as books
from _common import load_average, make_console, peak_rss_bytes, print_json_line, result_row

from creditmesh import funding
from creditmesh.ledger import journal

START = date(2023, 7, 1)
DAYS = (date(2024, 12, 31) - START).days + 1
#: The months the statement of 2024Q4 reads (the quarter, the prior one, a year earlier).
MONTHS_READ = (
    "2023-10",
    "2023-11",
    "2023-12",
    "2024-07",
    "2024-08",
    "2024-09",
    "2024-10",
    "2024-11",
    "2024-12",
)


def _case(mapping: dict[str, str]) -> str:
    """A CASE over l.funding_model from one of journal.py's maps (our constants, never user text)."""
    arms = " ".join(f"WHEN '{model}' THEN '{account}'" for model, account in mapping.items())
    return f"CASE l.funding_model {arms} END"


def _model_case() -> str:
    """Loan g's funding model by the simulated volume shares of funding.MODELS, in basis points (g spread
    over them, so a small book holds every model)."""
    arms, edge = [], 0
    for model in funding.MODELS:
        edge += round(model.simulated_volume_share * 10_000)
        arms.append(f"WHEN (g::bigint * 7919) % 10000 < {edge} THEN '{model.name}'")
    return f"CASE {' '.join(arms)} ELSE '{funding.MODELS[-1].name}' END"


def write_journal(engine, loans: int) -> dict[str, int]:
    """The synthetic journal (see the module notes); returns row counts."""
    from sqlalchemy import text

    interest_account, counter = journal.INTEREST_ACCOUNT, journal.FUNDING_ACCOUNT
    guaranteed = funding.sql_in("l.funding_model", funding.GUARANTEED_MODELS)
    months = ", ".join(f"'{m}'" for m in MONTHS_READ)
    statements = [
        # the ledger's indexes on postings are built after the rows, as a bulk load would (not timed either way)
        "DROP INDEX ix_postings_entry",
        f"""INSERT INTO loans (loan_id, borrower_id, institution_id, funding_model, currency, principal_minor, apr_ppm,
                tenor_months, schedule, originated_on, status)
            SELECT 'L' || g, 'B' || (g % {max(loans // 2, 1)}), 'fi', {_model_case()}, 'CNY', 100000 + (g::bigint * 7919) % 2000000,
                   120000 + (g % 13) * 10000, 12, 'equal_installment', DATE '{START}' + (g % {DAYS}), 'active'
            FROM generate_series(1, {loans}) AS g""",
        f"""INSERT INTO journal_entries (entry_id, occurred_on, kind, reference)
            SELECT 2 * d + k, DATE '{START}' + d, CASE k WHEN 1 THEN 'disbursement' ELSE 'payment' END, 'bench'
            FROM generate_series(0, {DAYS - 1}) AS d CROSS JOIN (VALUES (1), (2)) AS kinds(k)""",
        f"""INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
            SELECT 2 * (l.originated_on - DATE '{START}') + 1, a.account_code, l.loan_id, a.amount
            FROM loans AS l CROSS JOIN LATERAL (VALUES
                ({_case(journal.PRINCIPAL_ACCOUNT)}, l.principal_minor),
                ({_case(counter)}, -l.principal_minor)) AS a(account_code, amount)""",
        f"""CREATE TEMP TABLE bench_payments AS
            SELECT l.loan_id, l.funding_model, l.originated_on + 30 * m AS paid_on,
                   l.principal_minor / 12 AS principal, l.principal_minor * l.apr_ppm / 12000000 AS interest,
                   l.principal_minor / 200 AS fee
            FROM loans AS l CROSS JOIN generate_series(1, 12) AS m
            WHERE l.originated_on + 30 * m <= DATE '2024-12-31'
              AND to_char(l.originated_on + 30 * m, 'YYYY-MM') IN ({months})""",
        f"""INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
            SELECT 2 * (l.paid_on - DATE '{START}') + 2, a.account_code, l.loan_id, a.amount
            FROM bench_payments AS l CROSS JOIN LATERAL (VALUES
                ({_case(journal.PRINCIPAL_ACCOUNT)}, -l.principal),
                ({_case(interest_account)}, -l.interest),
                ({_case(journal.FEE_ACCOUNT)}, -l.fee),
                (CASE WHEN {guaranteed} THEN '{journal.GUARANTEE_LIABILITY}' END, l.fee),
                (CASE WHEN {guaranteed} THEN '{journal.GUARANTEE_RELEASE}' END, -l.fee)
            ) AS a(account_code, amount)
            WHERE a.account_code IS NOT NULL AND a.amount <> 0""",
        f"""INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
            SELECT p.entry_id, '{journal.CASH}', NULL, -SUM(p.amount_minor) FROM postings AS p
            WHERE p.entry_id % 2 = 0 GROUP BY p.entry_id HAVING SUM(p.amount_minor) <> 0""",
        "SELECT setval(pg_get_serial_sequence('journal_entries', 'entry_id'), (SELECT MAX(entry_id) FROM journal_entries))",
        "CREATE INDEX ix_postings_entry ON postings (entry_id)",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        counts = {
            name: int(conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one())
            for name in ("loans", "journal_entries", "postings")
        }
        counts["payments"] = int(conn.execute(text("SELECT COUNT(*) FROM bench_payments")).scalar_one())
    return counts


def bench_statement(loans: int, console) -> dict:
    from sqlalchemy import text

    from creditmesh.finance import income_statement
    from creditmesh.finance.provisions import month_ends
    from creditmesh.ledger import Ledger

    reason = books.pg_available()
    if reason:
        console.print(f"[yellow]PostgreSQL unavailable, statement skipped: {reason}")
        return {}
    url = books.pg_create("cm_bench_finance")
    ledger = Ledger.connect(url)
    try:
        started = time.perf_counter()
        counts = write_journal(ledger.engine, loans)
        for n, month_end in enumerate(month_ends(date(2023, 7, 1), date(2024, 12, 31))):
            ledger.book_provisions(
                month_end,
                loss_allowance_minor=loans * (400 + 7 * n),
                contingent_liability_minor=loans * (900 - 5 * n),
                reference=f"bench {month_end}",
            )
            ledger.book_funding_cost(month_end, loans * 60, reference=f"bench {month_end}")
        with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        built = time.perf_counter() - started
        console.print(f"journal written in {built:.1f} s: {counts}")
        console.print(f"load average {load_average()} before the statement")
        started = time.perf_counter()
        statement = income_statement(ledger, "2024Q4")
        seconds = time.perf_counter() - started
        unbalanced = sum(ledger.trial_balance().values())
    finally:
        ledger.close()
        books.pg_drop("cm_bench_finance")
    from creditmesh.cli.common import print_frame

    print_frame(statement.readable(), f"Income statement 2024Q4 of {loans:,} loans ({seconds:.2f} s)")
    console.print(f"load average {load_average()} after; trial balance {unbalanced}")
    return {
        "seconds": seconds,
        "built": built,
        "postings": counts["postings"],
        "net_income": statement.net_income(),
    }


def build_pool_book(loans: int, seed: int = 5):
    """A book of own loans all running at the 2024-12-31 cut-off, paid up to it, with 32 regions."""
    import numpy as np
    import pyarrow as pa

    from creditmesh import schema
    from creditmesh.portfolio import Book
    from creditmesh.schedules import build_schedules

    rng = np.random.default_rng(seed)
    cutoff = np.datetime64("2024-12-31")
    tenor = rng.choice(np.array([3, 6, 9, 12, 18, 24, 36]), loans, p=[0.1, 0.2, 0.15, 0.3, 0.1, 0.1, 0.05])
    # every loan still running at the cut-off: originated within its tenor less a month
    originated = cutoff - (rng.random(loans) * 30 * (tenor - 1)).astype(np.int64)
    principal = rng.integers(100, 50_000, loans) * 100
    apr_ppm = rng.integers(100, 240, loans) * 1_000
    ids = np.char.add("L", np.arange(loans).astype(str))
    borrower = np.char.add("B", rng.integers(0, loans, loans).astype(str))
    schedules = build_schedules(principal, apr_ppm, tenor, originated)
    due = schedules.due_date
    paid = due <= cutoff
    loan_index = schedules.loan
    zero = np.zeros(len(due), dtype=np.int64)
    installments = pa.table(
        {
            "loan_id": ids[loan_index],
            "seq": schedules.seq.astype(np.int16),
            "due_date": due.astype("datetime64[D]"),
            "principal_due_minor": schedules.principal_due_minor,
            "interest_due_minor": schedules.interest_due_minor,
            "fee_due_minor": zero,
            "principal_paid_minor": np.where(paid, schedules.principal_due_minor, 0),
            "interest_paid_minor": np.where(paid, schedules.interest_due_minor, 0),
            "fee_paid_minor": zero,
            "paid_at": pa.array(
                np.where(paid, due, np.datetime64("NaT")).astype("datetime64[D]"), mask=~paid
            ),
        }
    )
    stamps = (originated.astype("datetime64[s]") + np.timedelta64(36_000, "s")).astype("datetime64[us]")
    loans_table = pa.table(
        {
            "loan_id": ids,
            "borrower_id": borrower,
            "credit_line_id": pa.nulls(loans, pa.string()),
            "application_id": pa.nulls(loans, pa.string()),
            "institution_id": np.full(loans, "fi"),
            "funding_model": np.full(loans, funding.ON_BALANCE_MODELS[0]),
            "principal_minor": principal,
            "apr": apr_ppm / 1e6,
            "tenor_months": tenor.astype(np.int16),
            "schedule": np.full(loans, "equal_installment"),
            "originated_at": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "repeat_borrower": np.zeros(loans, bool),
        }
    )
    unique_borrowers = np.unique(borrower)
    borrowers = pa.table(
        {
            "borrower_id": unique_borrowers,
            "registered_at": pa.array(
                np.full(len(unique_borrowers), np.datetime64("2021-01-01", "us")),
                pa.timestamp("us", tz="UTC"),
            ),
            "channel": np.full(len(unique_borrowers), "app"),
            "region": np.char.add("R", (np.arange(len(unique_borrowers)) % 32).astype(str)),
            "birth_year": np.full(len(unique_borrowers), 1990, dtype=np.int16),
        }
    )
    tables = {"loans": loans_table, "installments": installments, "borrowers": borrowers}
    tables |= {name: schema.empty(name) for name in ("institutions", "credit_lines")}
    return Book.from_frames(**tables)


def bench_abs(pool_loans: int, scenarios: int, console) -> dict:
    import numpy as np

    from creditmesh.finance.deal import Deal, run_waterfall
    from creditmesh.finance.pool import (
        MAX_AGE_MONTHS,
        Curves,
        EligibilityCriteria,
        project_pool,
        scenario_curves,
        select_pool,
    )

    started = time.perf_counter()
    book = build_pool_book(pool_loans)
    built = time.perf_counter() - started
    console.print(f"pool book of {pool_loans:,} loans built in {built:.1f} s; load average {load_average()}")
    ages = np.arange(MAX_AGE_MONTHS + 1)
    curves = Curves(np.clip(0.004 + 0.0015 * ages, 0, 0.02), np.full(len(ages), 0.02), "synthetic")
    laps = {}
    started = time.perf_counter()
    criteria = EligibilityCriteria(max_borrower_share=0.001, max_region_share=0.05)
    pool = select_pool(book, date(2024, 12, 31), criteria, horizon_months=36)
    laps["select_pool"] = time.perf_counter() - started
    mark = time.perf_counter()
    defaults, prepayments = scenario_curves(curves, scenarios, seed=7)
    flows = project_pool(pool, defaults, prepayments)
    laps["project"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = run_waterfall(Deal.sized(pool.balance_minor), flows)
    laps["waterfall"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    book.close()
    problems = result.problems()
    console.print(f"pool {len(pool.loans):,} loans, balance {pool.balance_minor:,}; {pool.concentration()}")
    console.print(f"laps (s): { {k: round(v, 2) for k, v in laps.items()} }; problems {problems}")
    from creditmesh.cli.common import print_frame

    print_frame(result.tranche_table(), f"Tranches over {scenarios} scenarios x 36 months ({seconds:.2f} s)")
    return {"seconds": seconds, "pool_loans": len(pool.loans), "tied": not problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--pool-loans", type=int, default=500_000)
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.loans, args.pool_loans = 50_000, 25_000
    console = make_console()
    statement = bench_statement(args.loans, console)
    deal = bench_abs(args.pool_loans, args.scenarios, console)
    console.print(f"peak memory {peak_rss_bytes() / 1e9:.2f} GB")
    print_json_line(
        "finance",
        [
            result_row(
                f"income statement of a quarter from the journal, {args.loans:,} loans",
                "s",
                round(statement["seconds"], 2) if statement else None,
                goal="< 30 s",
            ),
            result_row("journal postings read", "rows", statement.get("postings")),
            result_row(
                f"ABS pool of {deal['pool_loans']:,} loans x 36 months x {args.scenarios} scenarios with the waterfall",
                "s",
                round(deal["seconds"], 2),
                goal="< 60 s",
            ),
            result_row("tranche cash flows = pool cash flows", "bool", deal["tied"]),
        ],
    )


if __name__ == "__main__":
    main()
