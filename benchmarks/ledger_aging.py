"""Benchmark: month-end aging of a book of about 1,000,000 loans (about 10 million installments).

Goal (from the ledger issue): ``Ledger.age`` over 1,000,000 loans in under 60 s, on
PostgreSQL and on SQLite; print the rows/s.

What runs:

1. The book: ``simulate`` (485,000 borrowers x 24 months by default, seed 1: about
   1,000,000 loans and 10,000,000 installments), timed.
2. Per engine (a throw-away PostgreSQL database ``cm_bench_aging``, dropped before and
   after; a SQLite file under /tmp, removed afterwards): ``Ledger.connect`` (migrates),
   then ``Ledger.load_loans`` books the whole book set-based, timed (loans/s,
   installments/s, with the statements it spends its time in). Every installment
   starts unpaid: no payment is posted, so aging sees a book where nothing was ever
   repaid, a harsher month end than a real one (every loan past its first due date is
   late, every loan more than 180 days past it is charged off, and every overdue
   installment gets a late fee: the charge-off and late-fee statements work on far
   more rows than in a real month). Then, not timed, what a running server would have
   done by month end: PostgreSQL ``VACUUM ANALYZE`` + ``CHECKPOINT`` (autovacuum would
   have analysed the tables), SQLite a WAL checkpoint.
3. Timed: ``ledger.age(as_of)``, by default 2023-12-31, the month end 12 months into the
   simulated 24 (loans originated after it are not aged). Reported: seconds, loans
   aged/s, installments/s (the installments of the loans aged), the goal met or not,
   the AgingReport, the share of loans per bucket, and the SQL statements the time went
   to (SQLAlchemy's before/after_cursor_execute events; "untracked" is Python and work
   on the raw driver connection). A step still running after ``--timeout`` seconds is
   cancelled (rolled back) and reported as not finished, with the statement it was in.
   Only the loans originated by ``as_of`` are aged: about half the book on 2023-12-31.
4. For information (no goal), the same book is then aged at the month ends of ``--then``,
   each timed the same way: 2024-01-31, an ordinary month after the one before (late
   fees only on installments newly overdue, charge-offs only for loans crossing 180
   days), and 2024-12-31, the simulation's last month end, where every loan of the book
   is aged (~1,000,000, the goal's count, but with eleven months of arrears to catch up).

The machine's load average is printed before and after each timed step: other work on
the machine (a 2-core box shared with other jobs) shows up there.

Usage::

    python benchmarks/ledger_aging.py                        # ~1,000,000 loans, PostgreSQL and SQLite
    python benchmarks/ledger_aging.py --quick                # 20,000 borrowers (~41,000 loans)
    python benchmarks/ledger_aging.py --loans-scale 0.1      # ~100,000 loans
    python benchmarks/ledger_aging.py --borrowers 50000 --engines sqlite --as-of 2024-06-30 --then ""

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _books as books
from _common import GB, make_console, peak_rss_bytes, print_json_line, result_row

BENCHMARK = "ledger_aging"
GOAL_S = 60.0
DEFAULT_AS_OF = date(2023, 12, 31)
#: Aged after the headline month end, for information: the next month end (an ordinary month after a
#: catch-up), and the simulation's last, where every loan of the book has been originated (~1,000,000 aged).
DEFAULT_THEN = (date(2024, 1, 31), date(2024, 12, 31))


def _count(ledger, sql: str, **params) -> int:
    from sqlalchemy import text

    with ledger.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one() or 0)


def _bucket_shares(ledger, as_of: date) -> dict[str, int]:
    from sqlalchemy import text

    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, COUNT(*) FROM loan_days WHERE as_of = :as_of GROUP BY status"),
            {"as_of": as_of},
        ).all()
    return {status: int(n) for status, n in rows}


def age_step(
    kind: str, target, ledger, as_of: date, booked: int, timeout: float, console, *, headline: bool
) -> dict[str, Any]:
    """Time ``ledger.age(as_of)``; print the rates, the buckets and the statements. The headline step is the
    goal's; the following ones (``--then``) are month ends aged after it, for information."""
    from rich.table import Table

    out: dict[str, Any] = {"as_of": as_of}
    load_before = books.loadavg()
    cpu_before = books.cpu_seconds()
    timer = books.StatementTimer(ledger.engine)
    with books.Watchdog(target, ledger.engine, timeout) as watchdog, timer:
        started = time.perf_counter()
        try:
            report = ledger.age(as_of)
            error = None
        except Exception as exc:  # noqa: BLE001 - a cancelled or failed step is reported, not raised
            report, error = None, exc
        out["age_s"] = time.perf_counter() - started
        stuck = books.in_flight(timer) if report is None else None
    out["cpu_s"] = books.cpu_seconds() - cpu_before
    out["load_avg"] = (load_before, books.loadavg())
    label = "" if headline else "then "
    if report is None:
        first_line = (str(error).strip().splitlines() or [""])[0]
        out["error"] = (
            f"cancelled by this script's --timeout after {timeout:.0f} s"
            if watchdog.fired
            else f"cancelled from outside this script after {out['age_s']:.0f} s: {first_line}"
            if "canceling statement due to user request" in first_line
            else f"failed: {type(error).__name__}: {first_line}"
        )
        console.print(
            f"  [red]{label}age({as_of}) did not finish: {out['error']}[/]"
            + (f"; it was {stuck[1]:.1f} s into: {stuck[0]}" if stuck else "")
        )
        books.statements_table(
            console,
            f"  {kind}: {label}age({as_of}), the statements up to the cancel",
            timer,
            out["age_s"],
            n=12,
            in_flight=stuck,
        )
        return out
    out["report"] = report
    aged_installments = _count(
        ledger,
        "SELECT COUNT(*) FROM installments i JOIN loan_days d ON d.loan_id = i.loan_id AND d.as_of = :as_of",
        as_of=as_of,
    )
    out["installments_aged"] = aged_installments
    out["buckets"] = _bucket_shares(ledger, as_of)
    seconds = out["age_s"]
    verdict = ""
    if headline:
        verdict = f" - goal < {GOAL_S:.0f} s " + (
            "[green]met[/]" if seconds < GOAL_S else f"[red]missed ({seconds / GOAL_S:.1f}x the goal)[/]"
        )
    else:
        verdict = " (for information: a month end aged after the one before)"
    console.print(
        f"  {label}age({as_of}): [bold]{seconds:.1f} s[/] - {report.loans_aged / seconds:,.0f} loans/s, "
        f"{aged_installments / seconds:,.0f} installments/s{verdict}"
    )
    console.print(
        f"  {report}; this process's CPU {out['cpu_s']:.1f} s; load average {load_before} -> {out['load_avg'][1]}"
    )
    shares = Table(title=f"  {kind}: loans per bucket on {as_of}", title_justify="left")
    for name in ("bucket", "loans", "share of loans aged", "share of the book"):
        shares.add_column(name, justify="left" if name == "bucket" else "right")
    from creditmesh.delinquency import BUCKET_NAMES

    for bucket in BUCKET_NAMES:
        n = out["buckets"].get(bucket, 0)
        shares.add_row(bucket, f"{n:,}", f"{n / max(report.loans_aged, 1):.1%}", f"{n / max(booked, 1):.1%}")
    not_yet = booked - report.loans_aged
    shares.add_row(
        "(not aged: originated after as_of, or settled)",
        f"{not_yet:,}",
        "",
        f"{not_yet / max(booked, 1):.1%}",
    )
    console.print(shares)
    books.statements_table(
        console, f"  {kind}: {label}age({as_of}), where the time went", timer, seconds, n=12
    )
    return out


def run_engine(
    kind: str, loans, installments, as_of: date, then: list[date], timeout: float, console
) -> dict[str, Any]:
    from creditmesh.ledger import Ledger

    out: dict[str, Any] = {"engine": kind}
    target = books.make_engine(kind, "cm_bench_aging")
    try:
        ledger = Ledger.connect(target.url)
        console.print(f"[bold]{kind}[/]: {target.url}")
        with books.StatementTimer(ledger.engine) as timer:
            started = time.perf_counter()
            booked = ledger.load_loans(loans, installments)
            out["load_s"] = time.perf_counter() - started
        out["loans"] = booked
        console.print(
            f"  load_loans: {booked:,} loans, {installments.num_rows:,} installments in {out['load_s']:.1f} s "
            f"({booked / out['load_s']:,.0f} loans/s, {installments.num_rows / out['load_s']:,.0f} installments/s)"
        )
        books.statements_table(
            console, f"  {kind}: load_loans, where the time went", timer, out["load_s"], n=4
        )
        out["settle_s"] = books.settle(ledger)
        console.print(
            f"  not timed: {'VACUUM ANALYZE + CHECKPOINT' if kind == 'postgresql' else 'WAL checkpoint'} "
            f"{out['settle_s']:.1f} s"
        )

        first = age_step(kind, target, ledger, as_of, booked, timeout, console, headline=True)
        out.update(first)
        out["then"] = []
        if "report" in first:
            for day in then:
                step = age_step(kind, target, ledger, day, booked, timeout, console, headline=False)
                out["then"].append(step)
                if "report" not in step:
                    break
        ledger.close()
        return out
    finally:
        target.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    books.add_book_options(parser)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF, help="aging day (default 2023-12-31)"
    )
    parser.add_argument(
        "--then",
        type=lambda v: [date.fromisoformat(d) for d in v.split(",") if d],
        default=list(DEFAULT_THEN),
        help="month ends aged after --as-of, for information (default 2024-01-31,2024-12-31; '' for none)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="cancel age() after this many seconds (default 1800)"
    )
    args = parser.parse_args(argv)
    console = make_console()
    engines, borrowers, loans, installments = books.start_run(
        parser, args, console, f"ledger_aging: month-end aging, goal < {GOAL_S:.0f} s for ~1,000,000 loans"
    )

    results: list[dict[str, Any]] = []
    runs = []
    for kind in engines:
        console.rule(kind)
        runs.append(run_engine(kind, loans, installments, args.as_of, args.then, args.timeout, console))

    from rich.table import Table

    summary = Table(title="ledger_aging: summary", title_justify="left")
    for name in (
        "engine",
        "as_of",
        "loans",
        "loans aged",
        "load_loans s",
        "age s",
        "loans aged/s",
        "installments/s",
        f"goal < {GOAL_S:.0f} s",
        "late fees",
        "charged off",
        "load avg 1 min",
    ):
        summary.add_column(name, justify="left" if name in ("engine", "as_of", "load avg 1 min") else "right")
    for run in runs:
        kind = run["engine"]
        for k, step in enumerate([run, *run.get("then", [])]):
            headline = k == 0
            report = step.get("report")
            age_s = step.get("age_s") if report is not None else None
            summary.add_row(
                kind if headline else "",
                f"{step.get('as_of', '')}" + ("" if headline else " (then)"),
                f"{run.get('loans', 0):,}" if headline else "",
                f"{report.loans_aged:,}" if report is not None else "-",
                f"{run['load_s']:.1f}" if headline and "load_s" in run else "",
                f"{age_s:.1f}" if age_s else f"> {step.get('age_s', 0):.0f} (not finished)",
                f"{report.loans_aged / age_s:,.0f}" if age_s else "-",
                f"{step['installments_aged'] / age_s:,.0f}" if age_s else "-",
                (("met" if age_s < GOAL_S else "missed") if age_s else "missed") if headline else "",
                f"{report.late_fees_assessed:,}" if report is not None else "-",
                f"{report.charged_off:,}" if report is not None else "-",
                " -> ".join(v.split()[0] for v in step["load_avg"]) if "load_avg" in step else "",
            )
            if headline:
                results.append(
                    result_row(
                        f"aging_s_{kind}", "s", round(age_s, 3) if age_s else None, goal=f"< {GOAL_S:.0f} s"
                    )
                )
                results.append(
                    result_row(
                        f"aging_loans_per_s_{kind}",
                        "1/s",
                        round(report.loans_aged / age_s) if age_s else None,
                    )
                )
                results.append(
                    result_row(
                        f"aging_installments_per_s_{kind}",
                        "1/s",
                        round(step["installments_aged"] / age_s) if age_s else None,
                    )
                )
                results.append(
                    result_row(
                        f"loans_aged_{kind}", "count", report.loans_aged if report is not None else None
                    )
                )
                results.append(
                    result_row(
                        f"load_loans_s_{kind}", "s", round(run["load_s"], 3) if "load_s" in run else None
                    )
                )
            else:
                day = step["as_of"].isoformat()
                results.append(
                    result_row(f"aging_then_s_{kind}_{day}", "s", round(age_s, 3) if age_s else None)
                )
                results.append(
                    result_row(
                        f"loans_aged_then_{kind}_{day}",
                        "count",
                        report.loans_aged if report is not None else None,
                    )
                )
    console.print(summary)
    peak = peak_rss_bytes()
    console.print(
        f"book: {loans.num_rows:,} loans, {installments.num_rows:,} installments; peak RSS of this process "
        f"{peak / GB:.2f} GB; load average at end: {books.loadavg()}"
    )
    results.append(result_row("loans_in_book", "count", loans.num_rows))
    results.append(result_row("peak_rss_gb", "GB", round(peak / GB, 3)))
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
