"""Benchmark: a payment processor's file of about 1,000,000 payments posted with ``Ledger.post_payments_bulk``.

Goal (from the ledger issue): a repayment file of 1,000,000 payments posted set-based
(COPY into a staging table, then one transaction per batch) at 50,000 payments/s or
more on PostgreSQL. SQLite is run too, for information (no goal).

What runs:

1. The book: ``simulate`` (485,000 borrowers x 24 months by default, seed 1: about
   1,000,000 loans and 10,000,000 installments), as in ``ledger_aging.py``.
2. The file: for every loan, one payment of exactly its first installment's
   principal + interest (+ fee, zero in the simulated book), paid on that installment's
   due date, under a unique idempotency key (``pp-<due date>-<loan id>``), in a
   shuffled order, currency CNY. Nothing else is due on that day, so every payment
   settles exactly what is due and is posted set-based (none needs the one-by-one
   waterfall). The due dates spread over the simulated 24 months, so the file holds
   some 700 business days (one bulk journal entry each). Written as Parquet under /tmp.
3. Per engine (a throw-away PostgreSQL database ``cm_bench_bulk``, dropped before and
   after; a SQLite file under /tmp, removed afterwards): ``Ledger.connect``,
   ``Ledger.load_loans`` (timed and printed), then, not timed, PostgreSQL
   ``VACUUM ANALYZE`` + ``CHECKPOINT`` (what autovacuum would have done), SQLite a WAL
   checkpoint.
4. The anchor, in the same database: the same Parquet file read back and loaded into a
   bare table (no index, no constraint) and committed: on PostgreSQL with plain
   ``COPY ... FROM STDIN`` (psycopg ``cursor.copy``, CSV written by pyarrow), the floor
   any bulk path stands on; on SQLite with ``sqlite3.executemany`` (WAL, synchronous=FULL). Run
   ``--anchor-runs`` times (3 by default, a checkpoint after each); the fastest is the anchor's figure.
5. Timed: the Parquet file read back, then ``post_payments_bulk`` once per batch
   (``--batch-rows``, at most 2,000,000: the whole file in one call by default).
   Payments/s = rows / wall time. Afterwards: posted == rows, nothing rejected or
   routed, every paid loan's first installment settled on its due date and nothing
   else paid, ``sum(trial_balance()) == 0`` and ``unbalanced_entries() == []``.
   Where the time went, per SQL statement (SQLAlchemy's before/after_cursor_execute
   events; "untracked" is the COPY into the staging table, Python and the like).
6. A step still running after ``--timeout`` seconds is cancelled (the ledger rolls the
   batch back, the database is as before) and reported as not finished, with the
   statement it was in. Then, to show how the time grows with the file, a ladder of
   small files (``--ladder``, disjoint slices of the same file) is posted and timed
   statement by statement, and the full file's time is extrapolated from the two
   largest steps.
7. With ``--installment K`` the file pays every loan's K-th installment instead, and the files of
   installments 1 to K - 1 are posted first (not timed, then VACUUM ANALYZE + CHECKPOINT): a book
   seasoned K - 1 months, whose loans' earlier allocations the bulk path folds. Recorded as
   ``ledger_bulk_seasoned`` (no goal: the issue's goal is the first installment's file).

The machine's load average is printed before and after each timed step: other work on
the machine (a 2-core box shared with other jobs) shows up there.

Usage::

    python benchmarks/ledger_bulk.py                          # ~1,000,000 payments, PostgreSQL and SQLite
    python benchmarks/ledger_bulk.py --quick                  # 20,000 borrowers (~41,000 payments)
    python benchmarks/ledger_bulk.py --loans-scale 0.1 --engines postgresql --timeout 300
    python benchmarks/ledger_bulk.py --engines postgresql --installment 6   # a book seasoned five months

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import io
import math
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _books as books
from _common import GB, make_console, peak_rss_bytes, print_json_line, result_row

BENCHMARK = "ledger_bulk"
GOAL_PER_S = 50_000
#: The goal of issue 22: at least 6 % of the rate of COPY into a bare table, in the same run.
GOAL_RATIO = 0.06
BATCH_ROWS_MAX = 2_000_000  # creditmesh.ledger.bulk.BATCH_ROWS_MAX
DEFAULT_LADDER = (2_500, 5_000, 10_000, 20_000)


# --- the file ------------------------------------------------------------------------------------------


def make_file(installments, folder: Path, seed: int, installment: int = 1) -> tuple[Path, int, int]:
    """One payment per loan that has installment number ``installment``: that installment's amount due, paid on
    its due date. Returns (path, rows, days)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    due = installments.filter(pc.equal(installments["seq"], installment))
    due = due.take(pa.array(np.random.default_rng(seed).permutation(due.num_rows)))
    day = pc.strftime(due["due_date"].cast(pa.timestamp("s")), format="%Y-%m-%d")
    amount = pc.add(pc.add(due["principal_due_minor"], due["interest_due_minor"]), due["fee_due_minor"])
    table = pa.table(
        {
            "idempotency_key": pc.binary_join_element_wise(pa.scalar("pp"), day, due["loan_id"], "-"),
            "loan_id": due["loan_id"],
            "paid_on": due["due_date"].cast(pa.date32()),
            "amount_minor": amount.cast(pa.int64()),
            "currency": pa.array(["CNY"] * due.num_rows, pa.string()),
        }
    )
    path = folder / f"repayments_{installment}.parquet"
    pq.write_table(table, path)
    return path, table.num_rows, len(pc.unique(table["paid_on"]))


# --- the anchors -----------------------------------------------------------------------------------------


def copy_anchor_pg(database: str, path: Path) -> float:
    """Seconds to read the Parquet file and COPY it into a bare table, committed."""
    import psycopg
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    url = books.PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS copy_anchor")
        conn.execute(
            "CREATE TABLE copy_anchor (idempotency_key TEXT, loan_id TEXT, paid_on DATE, "
            "amount_minor BIGINT, currency TEXT)"
        )
        conn.commit()
        started = time.perf_counter()
        table = pq.read_table(path)
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
        with (
            conn.cursor() as cursor,
            cursor.copy(
                f"COPY copy_anchor ({', '.join(table.column_names)}) FROM STDIN WITH (FORMAT csv)"
            ) as copy,
        ):
            copy.write(buffer.getvalue())
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE copy_anchor")
        conn.commit()
    return seconds


def executemany_anchor_sqlite(db_path: Path, path: Path) -> float:
    """Seconds to read the Parquet file and insert it with executemany into a bare table, committed."""
    import pyarrow.parquet as pq

    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("DROP TABLE IF EXISTS copy_anchor")
        conn.execute(
            "CREATE TABLE copy_anchor (idempotency_key TEXT, loan_id TEXT, paid_on DATE, "
            "amount_minor BIGINT, currency TEXT)"
        )
        started = time.perf_counter()
        table = pq.read_table(path)
        rows = zip(
            table["idempotency_key"].to_pylist(),
            table["loan_id"].to_pylist(),
            table["paid_on"].to_pylist(),
            table["amount_minor"].to_pylist(),
            table["currency"].to_pylist(),
        )
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO copy_anchor VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE copy_anchor")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return seconds


# --- posting -------------------------------------------------------------------------------------------


def post_file(ledger, table, batch_rows: int):
    """post_payments_bulk once per batch; returns (posted, replayed, routed, rejected)."""
    posted = replayed = routed = rejected = 0
    for offset in range(0, table.num_rows, batch_rows):
        result = ledger.post_payments_bulk(table.slice(offset, batch_rows))
        posted += result.posted
        replayed += result.replayed
        routed += result.routed.num_rows
        rejected += result.rejected.num_rows
    return posted, replayed, routed, rejected


def checks(ledger, expected_posted: int, installment: int = 1, earlier: int = 0) -> dict[str, Any]:
    """Soundness after posting: counts (``earlier`` payments of the files that seasoned the book, then the
    timed file's), the allocation (the file's installment settled on its due date, nothing after it paid),
    the journal."""
    from sqlalchemy import text

    with ledger.engine.connect() as conn:
        payments = int(conn.execute(text("SELECT COUNT(*) FROM payments")).scalar_one())
        settled = int(
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM installment_balances WHERE seq = :k AND paid_on = due_date "
                    "AND principal_paid_minor = principal_due_minor AND interest_paid_minor = interest_due_minor "
                    "AND fee_paid_minor = fee_due_minor"
                ),
                {"k": installment},
            ).scalar_one()
        )
        others_paid = int(
            conn.execute(
                text(
                    "SELECT COUNT(*) FROM installment_balances WHERE (seq > :k OR (seq = :k AND paid_on IS NULL)) "
                    "AND (principal_paid_minor > 0 OR interest_paid_minor > 0 OR fee_paid_minor > 0 "
                    "OR late_fee_paid_minor > 0)"
                ),
                {"k": installment},
            ).scalar_one()
        )
    balance = sum(ledger.trial_balance().values())
    unbalanced = ledger.unbalanced_entries()
    ok = (
        payments == earlier + expected_posted
        and settled == expected_posted
        and others_paid == 0
        and balance == 0
        and unbalanced == []
    )
    return {
        "payments_stored": payments,
        "installments_settled": settled,
        "other_installments_paid": others_paid,
        "trial_balance_sum": balance,
        "unbalanced_entries": len(unbalanced),
        "ok": ok,
    }


def _why(error: Exception, fired: bool, timeout: float | None, seconds: float) -> str:
    if fired:
        return f"cancelled by this script's --timeout after {timeout:.0f} s"
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if "canceling statement due to user request" in first_line or "interrupted" in first_line:
        return (
            f"cancelled from outside this script after {seconds:.0f} s (not by its --timeout; another process "
            f"on the machine cancelled the statement): {first_line}"
        )
    return f"{type(error).__name__}: {first_line}"


def timed_post(target, ledger, path: Path | None, table, batch_rows: int, timeout: float | None):
    """Read (when ``path``) and post; returns a dict with seconds, counts, the statement timer and any error."""
    import pyarrow.parquet as pq

    timer = books.StatementTimer(ledger.engine)
    load_before, cpu_before = books.loadavg(), books.cpu_seconds()
    error = None
    counts = (0, 0, 0, 0)
    with books.Watchdog(target, ledger.engine, timeout) as watchdog, timer:
        started = time.perf_counter()
        try:
            if path is not None:
                table = pq.read_table(path)
            counts = post_file(ledger, table, batch_rows)
        except Exception as exc:  # noqa: BLE001 - a cancelled or failed step is reported, not raised
            error = exc
        seconds = time.perf_counter() - started
        stuck = books.in_flight(timer) if error is not None else None
    return {
        "s": seconds,
        "rows": table.num_rows if table is not None else None,
        "posted": counts[0],
        "replayed": counts[1],
        "routed": counts[2],
        "rejected": counts[3],
        "timer": timer,
        "error": None if error is None else _why(error, watchdog.fired, timeout, seconds),
        "in_flight": stuck,
        "cpu_s": books.cpu_seconds() - cpu_before,
        "load_avg": (load_before, books.loadavg()),
    }


def ladder_table(console, kind: str, steps: list[dict[str, Any]]) -> None:
    from rich.table import Table

    largest = steps[-1]["timer"]
    labels = [label for label, *_ in largest.top(7)]
    table = Table(
        title=f"  {kind}: seconds per statement as the file grows (disjoint slices of the same file)",
        title_justify="left",
    )
    table.add_column("statement")
    for step in steps:
        table.add_column(f"{step['rows']:,} rows", justify="right")
    for label in labels:
        table.add_row(label[:90], *[f"{step['timer'].seconds.get(label, 0.0):.2f}" for step in steps])
    table.add_row(
        "(untracked: COPY into staging, Python)",
        *[f"{step['s'] - step['timer'].total:.2f}" for step in steps],
    )
    table.add_row("[bold]total s[/]", *[f"{step['s']:.2f}" for step in steps])
    table.add_row("[bold]payments/s[/]", *[f"{step['rows'] / step['s']:,.0f}" for step in steps])
    console.print(table)


def extrapolate(
    console, kind: str, a: dict[str, Any], b: dict[str, Any], rows: int, out: dict[str, Any]
) -> None:
    """The full file's time from the two largest ladder steps, statement by statement: each statement's
    seconds grow as rows^k with its own k (measured between the steps, kept within [0, 2]); the sum is the
    estimate. Rough: a statement whose cost depends on the rows already in the ledger (the ladder's steps
    add up) is read as growing with the file."""
    from rich.table import Table

    ratio = b["rows"] / a["rows"]
    items = [
        (label, a["timer"].seconds.get(label, 0.0), seconds) for label, seconds in b["timer"].seconds.items()
    ]
    items.append(
        ("(untracked: COPY into staging, Python)", a["s"] - a["timer"].total, b["s"] - b["timer"].total)
    )
    estimates = []
    for label, t_a, t_b in items:
        if t_b <= 0:
            continue
        k = math.log(t_b / t_a) / math.log(ratio) if t_a > 0 else 1.0
        k = min(max(k, 0.0), 2.0)
        estimates.append((label, k, t_b, t_b * (rows / b["rows"]) ** k))
    estimates.sort(key=lambda e: -e[3])
    total = sum(e[3] for e in estimates)
    overall = math.log(b["s"] / a["s"]) / math.log(ratio)
    out["exponent"] = overall
    out["extrapolated_s"] = total
    table = Table(
        title=f"  {kind}: extrapolated to {rows:,} rows, statement by statement (rough)", title_justify="left"
    )
    for name in ("statement", f"s at {b['rows']:,}", "grows as rows^k", f"s at {rows:,}"):
        table.add_column(name, justify="left" if name == "statement" else "right")
    for label, k, t_b, t_full in estimates[:6]:
        table.add_row(label[:90], f"{t_b:.2f}", f"{k:.2f}", f"{t_full:,.0f}")
    table.add_row("[bold]total[/]", f"{b['s']:.2f}", f"{overall:.2f} (overall)", f"[bold]{total:,.0f}[/]")
    console.print(table)
    console.print(
        f"  extrapolated for {rows:,} rows: ~{total:,.0f} s (~{total / 3600:,.1f} h) = ~{rows / total:,.0f} payments/s "
        f"(the whole step's own exponent, {overall:.2f}, would say ~{b['s'] * (rows / b['rows']) ** overall:,.0f} s)"
    )


def run_engine(
    kind: str, loans, installments, path: Path, rows: int, args, console, earlier: tuple[Path, ...] = ()
) -> dict[str, Any]:
    """Book the loans, post the ``earlier`` files (not timed: they season the book), then the anchor and the
    timed file."""
    import pyarrow.parquet as pq

    from creditmesh.ledger import Ledger

    out: dict[str, Any] = {"engine": kind, "rows": rows}
    target = books.make_engine(kind, "cm_bench_bulk")
    try:
        ledger = Ledger.connect(target.url)
        console.print(f"[bold]{kind}[/]: {target.url}")
        with books.StatementTimer(ledger.engine) as timer:
            started = time.perf_counter()
            booked = ledger.load_loans(loans, installments)
            out["load_s"] = time.perf_counter() - started
        console.print(
            f"  load_loans: {booked:,} loans, {installments.num_rows:,} installments in {out['load_s']:.1f} s "
            f"({booked / out['load_s']:,.0f} loans/s)"
        )
        books.statements_table(
            console, f"  {kind}: load_loans, where the time went", timer, out["load_s"], n=4
        )
        settle_s = books.settle(ledger)
        console.print(
            f"  not timed: {'VACUUM ANALYZE + CHECKPOINT' if kind == 'postgresql' else 'WAL checkpoint'} "
            f"{settle_s:.1f} s"
        )
        out["earlier_posted"] = 0
        for k, earlier_path in enumerate(earlier, start=1):
            started = time.perf_counter()
            posted, _, routed, rejected = post_file(ledger, pq.read_table(earlier_path), args.batch_rows)
            out["earlier_posted"] += posted
            console.print(
                f"  not timed: installment {k}'s file, {posted:,} payments posted ({routed:,} routed, "
                f"{rejected:,} rejected) in {time.perf_counter() - started:.1f} s"
            )
        if earlier:
            books.settle(ledger)

        # the anchor at its best of --anchor-runs: on this shared machine one COPY of the same file measured
        # from 417k to 1.27M rows/s within an hour, and a slow single run flattered the ratio
        anchor_runs = []
        out["anchor_name"] = (
            "COPY into a bare table" if kind == "postgresql" else "sqlite3 executemany into a bare table"
        )
        for _ in range(args.anchor_runs):
            if kind == "postgresql":
                anchor_runs.append(copy_anchor_pg(target.pg_database, path))
                books.settle(ledger)
            else:
                anchor_runs.append(executemany_anchor_sqlite(target.sqlite_path, path))
        out["anchor_s"] = min(anchor_runs)
        console.print(
            f"  anchor: Parquet read + {out['anchor_name']}, {rows:,} rows, best of {len(anchor_runs)} runs "
            f"in {out['anchor_s']:.2f} s = {rows / out['anchor_s']:,.0f} rows/s "
            f"(runs: {', '.join(f'{rows / s:,.0f}' for s in anchor_runs)} rows/s)"
        )

        full = timed_post(target, ledger, path, None, args.batch_rows, args.timeout)
        out["full"] = full
        out["cpu_s"] = full["cpu_s"]
        if full["error"] is None:
            rate = rows / full["s"]
            out["rate"] = rate
            console.print(
                f"  post_payments_bulk: [bold]{rows:,} payments in {full['s']:.1f} s = {rate:,.0f} payments/s[/] "
                f"({rate / (rows / out['anchor_s']):.1%} of the anchor's rows/s) - "
                + (
                    f"goal >= {GOAL_PER_S:,}/s "
                    + (
                        "[green]met[/]"
                        if rate >= GOAL_PER_S
                        else f"[red]missed ({GOAL_PER_S / rate:.1f}x short)[/]"
                    )
                    if kind == "postgresql" and args.installment == 1
                    else "no goal (a seasoned book's file)"
                    if args.installment > 1
                    else f"no goal on SQLite (PostgreSQL's is >= {GOAL_PER_S:,}/s)"
                )
            )
            console.print(
                f"  posted {full['posted']:,}, replayed {full['replayed']:,}, routed {full['routed']:,}, "
                f"rejected {full['rejected']:,}; this process's CPU {full['cpu_s']:.1f} s; "
                f"load average {full['load_avg'][0]} -> {full['load_avg'][1]}"
            )
            books.statements_table(
                console, f"  {kind}: post_payments_bulk, where the time went", full["timer"], full["s"], n=12
            )
            out["checks"] = checks(ledger, rows, args.installment, out["earlier_posted"])
            out["checks"]["posted_equals_rows"] = (
                full["posted"] == rows and full["rejected"] == 0 and full["routed"] == 0
            )
            console.print(f"  checks: {out['checks']}")
        else:
            console.print(
                f"  [red]post_payments_bulk of {rows:,} payments did not finish: {full['error']}[/]"
                + (
                    f"; it was {full['in_flight'][1]:.1f} s into: {full['in_flight'][0]}"
                    if full["in_flight"]
                    else ""
                )
                + f"; load average {full['load_avg'][0]} -> {full['load_avg'][1]}"
            )
            books.statements_table(
                console,
                f"  {kind}: post_payments_bulk, the statements up to the cancel",
                full["timer"],
                full["s"],
                n=10,
                in_flight=full["in_flight"],
            )
            table = pq.read_table(path)
            steps, offset = [], 0
            for n in args.ladder:
                if offset + n > table.num_rows:
                    break
                step = timed_post(target, ledger, None, table.slice(offset, n), args.batch_rows, args.timeout)
                offset += n
                steps.append(step)
                console.print(
                    f"  ladder {n:,} rows: {step['s']:.2f} s = {n / step['s']:,.0f} payments/s"
                    + (f" [red]{step['error']}[/]" if step["error"] else "")
                    + f"; load average {step['load_avg'][0]} -> {step['load_avg'][1]}"
                )
                if step["error"]:
                    steps.pop()
                    break
            out["ladder"] = steps
            if steps:
                ladder_table(console, kind, steps)
                posted = sum(s["posted"] for s in steps)
                out["checks"] = checks(ledger, posted, args.installment, out["earlier_posted"])
                out["checks"]["posted_equals_rows"] = posted == sum(s["rows"] for s in steps) and all(
                    s["rejected"] == 0 and s["routed"] == 0 for s in steps
                )
                console.print(f"  checks after the ladder: {out['checks']}")
            if len(steps) >= 2:
                extrapolate(console, kind, steps[-2], steps[-1], rows, out)
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
        "--batch-rows",
        type=int,
        default=BATCH_ROWS_MAX,
        help=f"rows per post_payments_bulk call (default and most {BATCH_ROWS_MAX:,})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="cancel the full file's posting after this many seconds (default 600)",
    )
    parser.add_argument(
        "--anchor-runs",
        type=int,
        default=3,
        help="runs of the anchor; its fastest is the anchor's figure (default 3)",
    )
    parser.add_argument(
        "--installment",
        type=int,
        default=1,
        help="the file pays every loan's installment number K (default 1); the files of installments 1 to K - 1 "
        "are posted first, not timed, so the timed file meets a seasoned book (recorded as ledger_bulk_seasoned)",
    )
    parser.add_argument(
        "--ladder",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=list(DEFAULT_LADDER),
        help="file sizes posted when the full file times out (default 2500,5000,10000,20000)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.batch_rows <= BATCH_ROWS_MAX:
        parser.error(f"--batch-rows must be between 1 and {BATCH_ROWS_MAX:,}")
    if args.anchor_runs < 1:
        parser.error("--anchor-runs must be 1 or more")
    if args.installment < 1:
        parser.error("--installment must be 1 or more")
    console = make_console()
    engines, borrowers, loans, installments = books.start_run(
        parser,
        args,
        console,
        f"ledger_bulk: a repayment file posted with post_payments_bulk, goal >= {GOAL_PER_S:,} payments/s",
    )
    folder = Path(tempfile.mkdtemp(prefix="creditmesh-bench-bulk-", dir="/tmp"))
    results: list[dict[str, Any]] = []
    runs = []
    try:
        earlier = tuple(make_file(installments, folder, args.seed, k)[0] for k in range(1, args.installment))
        path, rows, days = make_file(installments, folder, args.seed, args.installment)
        console.print(
            f"file: {path} - {rows:,} payments over {days:,} distinct paid_on days, "
            f"{path.stat().st_size / 1e6:.1f} MB of Parquet"
        )
        for kind in engines:
            console.rule(kind)
            runs.append(run_engine(kind, loans, installments, path, rows, args, console, earlier))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    from rich.table import Table

    summary = Table(title="ledger_bulk: summary", title_justify="left")
    for name in (
        "engine",
        "payments",
        "load_loans s",
        "post s",
        "payments/s",
        "anchor rows/s",
        "ratio",
        f"goal >= {GOAL_PER_S:,}/s",
        "checks",
    ):
        summary.add_column(name, justify="left" if name in ("engine", "checks") else "right")
    for run in runs:
        kind = run["engine"]
        rate = run.get("rate")
        anchor_rate = rows / run["anchor_s"] if run.get("anchor_s") else None
        full = run.get("full", {})
        if rate:
            post = f"{full['s']:.1f}"
        elif "extrapolated_s" in run:
            post = f"> {full['s']:.0f} (not finished; ~{run['extrapolated_s']:,.0f} extrapolated)"
        else:
            post = f"> {full.get('s', 0):.0f} (not finished)"
        summary.add_row(
            kind,
            f"{rows:,}",
            f"{run['load_s']:.1f}",
            post,
            f"{rate:,.0f}" if rate else "-",
            f"{anchor_rate:,.0f}" if anchor_rate else "-",
            f"{rate / anchor_rate:.1%}" if rate and anchor_rate else "-",
            (("met" if rate >= GOAL_PER_S else "missed") if rate else "missed")
            if kind == "postgresql" and args.installment == 1
            else "(no goal)",
            ("ok" if run["checks"]["ok"] and run["checks"]["posted_equals_rows"] else "FAILED")
            if "checks" in run
            else "-",
        )
        # the goal is the first installment's file; a seasoned book's rate is reported beside it
        goal = f">= {GOAL_RATIO} x anchor" if kind == "postgresql" and args.installment == 1 else None
        results.append(
            result_row(
                f"bulk_payments_per_s_{kind}",
                "1/s",
                round(rate) if rate else None,
                goal=goal,
                anchor=round(anchor_rate) if anchor_rate else None,
                anchor_name=run.get("anchor_name"),
            )
        )
        results.append(result_row(f"bulk_s_{kind}", "s", round(full["s"], 3) if rate else None))
        if "extrapolated_s" in run:
            results.append(result_row(f"bulk_extrapolated_s_{kind}", "s", round(run["extrapolated_s"])))
        for step in run.get("ladder", []):
            results.append(
                result_row(
                    f"bulk_payments_per_s_{kind}_{step['rows']}_rows", "1/s", round(step["rows"] / step["s"])
                )
            )
        results.append(result_row(f"load_loans_s_{kind}", "s", round(run["load_s"], 3)))
    console.print(summary)
    peak = peak_rss_bytes()
    console.print(
        f"book: {loans.num_rows:,} loans, {installments.num_rows:,} installments; file {rows:,} payments; "
        f"peak RSS of this process {peak / GB:.2f} GB; load average at end: {books.loadavg()}"
    )
    results.append(result_row("payments_in_file", "count", rows))
    results.append(result_row("peak_rss_gb", "GB", round(peak / GB, 3)))
    if args.installment > 1:
        results.append(result_row("installment_paid", "number", args.installment))
    print_json_line(BENCHMARK if args.installment == 1 else f"{BENCHMARK}_seasoned", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
