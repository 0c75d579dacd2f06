"""Every headline metric for every month of a 100,000,000-installment book, against the pandas reference.

The book is synthetic (the simulator would need ~5 M borrowers and many minutes for
100 M installments): a vectorised numpy generator writes ``loans``,
``installments``, ``borrowers``, ``credit_lines`` and ``institutions`` as Parquet,
in chunks of about 10 M installments, cached under ``~/.cache/creditmesh`` (or
``$CREDITMESH_CACHE``) by size and seed. Loans: 36 months of originations
(2022-2024), tenors 3-24 months, equal principal, five funding models; about 4 %
default at a random installment (a third of them recover late), 8 % of other
installments are paid 1-40 days late, 30 % 1-3 days early; anything after 2024-12-31 is unpaid.

Timed: ``metric_series(book, "month")`` over the whole book with DuckDB (threads
= 2). Anchor: the plain-pandas reference of the tests
(``tests/portfolio/_reference.py``) on the first chunk (a ~10 M-installment
slice), beside DuckDB on the same slice, and the two tables compared. pandas at
full size is tried only with ``--pandas-full`` (in a child process capped by
``--pandas-memory-gb``, so the shared machine survives it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "portfolio"))

from _common import load_average, make_console, peak_rss_bytes, print_json_line, result_row  # noqa: E402

START = np.datetime64("2022-01-01", "D")
END = dt.date(2024, 12, 31)
TENORS = np.array([3, 6, 9, 12, 24])
TENOR_P = np.array([0.2, 0.2, 0.1, 0.4, 0.1])
MODELS = ("capital_heavy_on", "capital_heavy_off", "capital_light", "ice", "tech_solution")
MODEL_P = (0.13, 0.39, 0.18, 0.26, 0.04)
CHUNK_ROWS = 10_000_000
TABLES = ("institutions", "borrowers", "credit_lines", "loans", "installments")


def cache_root() -> Path:
    return Path(os.environ.get("CREDITMESH_CACHE", Path.home() / ".cache" / "creditmesh"))


def _ids(prefix: str, numbers: np.ndarray):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _chunk(rng: np.random.Generator, first_loan: int, n_loans: int, n_borrowers: int, end: np.datetime64):
    """``n_loans`` loans from number ``first_loan`` on, and their installments, as Arrow tables."""
    import pyarrow as pa

    from creditmesh import schema

    tenor = rng.choice(TENORS, size=n_loans, p=TENOR_P)
    orig = START + rng.integers(0, int((end - START).astype(np.int64)) + 1, size=n_loans).astype(
        "timedelta64[D]"
    )
    seconds = rng.integers(0, 86_400, size=n_loans).astype("timedelta64[s]")
    principal = (np.exp(rng.normal(np.log(300_000), 0.6, size=n_loans)) // 100 * 100).astype(
        np.int64
    ) + 10_000
    borrower = rng.integers(0, n_borrowers, size=n_loans)
    model = rng.choice(len(MODELS), size=n_loans, p=MODEL_P)
    numbers = np.arange(first_loan, first_loan + n_loans)
    loan_ids = _ids("L", numbers)
    loans = pa.table(
        {
            "loan_id": loan_ids,
            "borrower_id": _ids("B", borrower),
            "credit_line_id": _ids("C", borrower),
            "application_id": _ids("A", numbers),
            "institution_id": _ids("I", model * 32 + rng.integers(0, 32, size=n_loans)),
            "funding_model": pa.array(np.array(MODELS)[model]),
            "principal_minor": principal,
            "apr": np.full(n_loans, 0.18),
            "tenor_months": tenor.astype(np.int16),
            "schedule": pa.array(np.where(rng.random(n_loans) < 0.5, "equal_principal", "equal_installment")),
            "originated_at": pa.array(
                (orig.astype("datetime64[s]") + seconds).astype("datetime64[us]"),
                pa.timestamp("us", tz="UTC"),
            ),
            "repeat_borrower": np.zeros(n_loans, dtype=bool),
        },
        schema=schema.table("loans").arrow_schema(),
    )
    # installments: seq 1..tenor, due every 30 days after origination, equal principal (remainder last)
    rows = int(tenor.sum())
    owner = np.repeat(np.arange(n_loans), tenor)
    seq = np.arange(rows) - np.repeat(np.cumsum(tenor) - tenor, tenor) + 1
    due = orig[owner] + (30 * seq).astype("timedelta64[D]")
    base = principal // tenor
    due_principal = base[owner] + np.where(seq == tenor[owner], (principal - base * tenor)[owner], 0)
    defaults = rng.random(n_loans) < 0.04
    default_at = np.where(defaults, rng.integers(1, tenor + 1), 10_000)
    recovers = rng.random(n_loans) < 0.33
    in_default = seq >= default_at[owner]
    late = rng.random(rows) < 0.08
    early = rng.random(rows) < 0.3  # a few days ahead of the due date (then never "due for repayment")
    paid = due - np.where(early, rng.integers(1, 4, size=rows), 0).astype("timedelta64[D]")
    paid = np.where(late, due + rng.integers(1, 41, size=rows).astype("timedelta64[D]"), paid)
    recovery = due + rng.integers(20, 251, size=rows).astype("timedelta64[D]")
    paid = np.where(in_default, np.where(recovers[owner], recovery, np.datetime64("NaT")), paid)
    paid = np.where(paid > end, np.datetime64("NaT"), paid).astype("datetime64[D]")
    settled = ~np.isnat(paid)
    interest = due_principal * 3 // 200
    installments = pa.table(
        {
            "loan_id": loan_ids.take(pa.array(owner)),
            "seq": seq.astype(np.int16),
            "due_date": pa.array(due, pa.date32()),
            "principal_due_minor": due_principal,
            "interest_due_minor": interest,
            "fee_due_minor": np.zeros(rows, dtype=np.int64),
            "principal_paid_minor": np.where(settled, due_principal, 0),
            "interest_paid_minor": np.where(settled, interest, 0),
            "fee_paid_minor": np.zeros(rows, dtype=np.int64),
            "paid_at": pa.array(paid, pa.date32()),
        },
        schema=schema.table("installments").arrow_schema(),
    )
    return loans, installments


def _people(rng: np.random.Generator, n_borrowers: int):
    import pyarrow as pa

    from creditmesh import schema

    numbers = np.arange(n_borrowers)
    # registered (and approved a day later) in the 400 days before the first origination: never after a loan
    registered = (START - 401 + rng.integers(0, 400, size=n_borrowers).astype("timedelta64[D]")).astype(
        "datetime64[us]"
    )
    borrowers = pa.table(
        {
            "borrower_id": _ids("B", numbers),
            "registered_at": pa.array(registered, pa.timestamp("us", tz="UTC")),
            "channel": pa.array(
                np.array(["app", "embedded", "partner", "offline"])[rng.integers(0, 4, n_borrowers)]
            ),
            "region": pa.array(np.full(n_borrowers, "east")),
            "birth_year": rng.integers(1960, 2004, size=n_borrowers).astype(np.int16),
        },
        schema=schema.table("borrowers").arrow_schema(),
    )
    lines = pa.table(
        {
            "credit_line_id": _ids("C", numbers),
            "borrower_id": borrowers["borrower_id"],
            "application_id": _ids("LA", numbers),
            "limit_minor": np.full(n_borrowers, 2_000_000),
            "apr": np.full(n_borrowers, 0.18),
            "opened_at": pa.array(
                registered + np.timedelta64(86_400_000_000, "us"), pa.timestamp("us", tz="UTC")
            ),
            "status": pa.array(np.full(n_borrowers, "active")),
            "last_adjusted_at": pa.nulls(n_borrowers, pa.timestamp("us", tz="UTC")),
        },
        schema=schema.table("credit_lines").arrow_schema(),
    )
    institutions = pa.table(
        {
            "institution_id": _ids("I", np.arange(len(MODELS) * 32)),
            "name": _ids("Institution ", np.arange(len(MODELS) * 32)),
            "funding_model": pa.array(np.repeat(np.array(MODELS), 32)),
            "max_pd": np.full(160, 0.2),
            "min_score": np.full(160, 500, dtype=np.int16),
            "max_amount_minor": np.full(160, 20_000_000),
            "tenors": pa.array([[3, 6, 9, 12, 24]] * 160, pa.list_(pa.int16())),
            "regions": pa.array([[]] * 160, pa.list_(pa.string())),
            "apr_min": np.full(160, 0.07),
            "apr_max": np.full(160, 0.24),
            "funding_cost": np.full(160, 0.04),
            "monthly_capacity_minor": np.full(160, 10**12),
        },
        schema=schema.table("institutions").arrow_schema(),
    )
    return borrowers, lines, institutions


def build(rows: int, seed: int, console) -> tuple[Path, Path]:
    """Write (or reuse) the full book and its first-chunk slice; return both folders."""
    import pyarrow.parquet as pq

    folder = cache_root() / f"portfolio_book_{rows}_{seed}"
    slice_folder = cache_root() / f"portfolio_book_{rows}_{seed}_slice"
    if (folder / "DONE").exists() and (slice_folder / "DONE").exists():
        console.print(f"reusing the cached book in {folder}")
        return folder, slice_folder
    folder.mkdir(parents=True, exist_ok=True)
    slice_folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    mean_tenor = float((TENORS * TENOR_P).sum())
    n_borrowers = int(rows / mean_tenor / 2)
    borrowers, lines, institutions = _people(rng, n_borrowers)
    for target in (folder, slice_folder):
        pq.write_table(borrowers, target / "borrowers.parquet")
        pq.write_table(lines, target / "credit_lines.parquet")
        pq.write_table(institutions, target / "institutions.parquet")
    started = time.perf_counter()
    writers = {}
    written, first_loan, chunk = 0, 0, 0
    end = np.datetime64(END, "D")
    while written < rows:
        n_loans = max(1, int(min(CHUNK_ROWS, rows - written) / mean_tenor))
        loans, installments = _chunk(rng, first_loan, n_loans, n_borrowers, end)
        for name, data in (("loans", loans), ("installments", installments)):
            if name not in writers:
                writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", data.schema)
            writers[name].write_table(data, row_group_size=1_000_000)
            if chunk == 0:
                pq.write_table(data, slice_folder / f"{name}.parquet", row_group_size=1_000_000)
        written += installments.num_rows
        first_loan += n_loans
        chunk += 1
        console.print(
            f"  chunk {chunk}: {written:,} installments, {first_loan:,} loans "
            f"({time.perf_counter() - started:.0f} s)"
        )
    for writer in writers.values():
        writer.close()
    (folder / "DONE").write_text(f"{written}\n")
    (slice_folder / "DONE").write_text("slice\n")
    return folder, slice_folder


def duckdb_series(folder: Path, threads: int, memory_gb: float):
    from creditmesh.portfolio import Book
    from creditmesh.portfolio.series import metric_series

    with Book.open(folder) as book:
        book.sql(f"SET threads = {int(threads)}")
        book.sql(f"SET memory_limit = '{memory_gb}GB'")
        (rows,) = book.one("SELECT COUNT(*) FROM installments")
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        frame = metric_series(book, "month", dt.date(2022, 1, 1), END)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
        return frame, seconds, rows, cpu_s


def pandas_series(folder: Path):
    import pyarrow.parquet as pq
    from _reference import ReferenceBook

    from creditmesh.portfolio.periods import periods

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    tables = {name: pq.read_table(folder / f"{name}.parquet") for name in TABLES}
    reference = ReferenceBook(tables)
    frame = reference.series(periods("month", dt.date(2022, 1, 1), END), observed_until=END)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (
        frame,
        time.perf_counter() - started,
        (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime),
    )


def compare(ours, theirs) -> int:
    """Cells that differ (None, NaN and <NA> are all "no data")."""
    import math

    import pandas as pd

    def missing(v):
        return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))

    bad = 0
    for column in ours.columns:
        for a, b in zip(ours[column].tolist(), theirs[column].tolist()):
            if (missing(a) != missing(b)) or (not missing(a) and a != b):
                bad += 1
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000_000, help="installment rows of the full book")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-gb", type=float, default=12.0, help="DuckDB memory_limit")
    parser.add_argument(
        "--pandas-full", action="store_true", help="also try the pandas reference at full size"
    )
    parser.add_argument(
        "--no-pandas", action="store_true", help="time DuckDB only (a re-run when the machine is quiet)"
    )
    parser.add_argument("--pandas-memory-gb", type=float, default=14.0)
    parser.add_argument("--child-pandas", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_pandas:  # the capped child of --pandas-full
        cap = int(args.pandas_memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            _, seconds, _ = pandas_series(Path(args.child_pandas))
            print(json.dumps({"seconds": seconds}))
        except MemoryError:
            print(json.dumps({"memory_error": True}))
        return

    console = make_console()
    console.rule("portfolio: every headline metric for every month")
    console.print(f"load average at start: {load_average()} (2-core machine, shared)")
    folder, slice_folder = build(args.rows, args.seed, console)

    full, full_s, full_rows, full_cpu = duckdb_series(folder, args.threads, args.memory_gb)
    console.print(
        f"DuckDB, full book: {full_rows:,} installments, {len(full)} months in {full_s:.1f} s wall, "
        f"{full_cpu:.1f} s CPU ({full_cpu / args.threads:.1f} s on {args.threads} free cores; "
        f"load {load_average()})"
    )
    small, small_s, small_rows, small_cpu = duckdb_series(slice_folder, args.threads, args.memory_gb)
    console.print(
        f"DuckDB, slice: {small_rows:,} installments in {small_s:.2f} s wall, {small_cpu:.1f} s CPU"
    )
    if args.no_pandas:
        print_json_line(
            "portfolio",
            [
                {
                    **result_row(
                        "monthly_series_full_s",
                        "s",
                        round(full_s, 2),
                        goal="< 60 s for 100M installments, 2 cores",
                        anchor_name="the goal",
                    ),
                    "installments": full_rows,
                    "months": len(full),
                    "cpu_s": round(full_cpu, 1),
                    "load_average_end": load_average(),
                },
                {
                    **result_row("monthly_series_slice_s", "s", round(small_s, 3)),
                    "cpu_s": round(small_cpu, 1),
                },
            ],
        )
        return
    reference, pandas_s, pandas_cpu = pandas_series(slice_folder)
    mismatches = compare(small, reference)
    ratio = pandas_s / small_s
    console.print(
        f"pandas reference, slice: {pandas_s:.1f} s wall, {pandas_cpu:.1f} s CPU ({ratio:.1f}x DuckDB's "
        f"wall time, {pandas_cpu / small_cpu:.1f}x its CPU time); cells that differ: {mismatches}"
    )
    console.print(full.tail(3).T.to_string())

    pandas_full, outcome = None, None
    if args.pandas_full:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child-pandas",
                str(folder),
                "--pandas-memory-gb",
                str(args.pandas_memory_gb),
            ],
            capture_output=True,
            text=True,
        )
        lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
        outcome = json.loads(lines[-1]) if lines else {"failed": child.stderr.strip().splitlines()[-1:]}
        console.print(f"pandas reference, full book (capped at {args.pandas_memory_gb:g} GB): {outcome}")
        pandas_full = outcome.get("seconds")
    else:
        console.print(
            "pandas reference at full size: not tried (pass --pandas-full; it runs capped in a child)"
        )

    console.print(f"peak RSS {peak_rss_bytes() / 2**30:.2f} GB; load average at end: {load_average()}")
    print_json_line(
        "portfolio",
        [
            {
                **result_row(
                    "monthly_series_full_s",
                    "s",
                    round(full_s, 2),
                    goal="< 60 s for 100M installments, 2 cores",
                    anchor_name="the goal",
                ),
                "installments": full_rows,
                "months": len(full),
                "cpu_s": round(full_cpu, 1),
                "load_average_end": load_average(),
            },
            {
                **result_row(
                    "monthly_series_slice_s",
                    "s",
                    round(small_s, 3),
                    anchor=round(pandas_s, 2),
                    anchor_name="pandas reference (tests/portfolio/_reference.py)",
                ),
                "ratio": round(ratio, 1),
                "cpu_s": round(small_cpu, 1),
                "anchor_cpu_s": round(pandas_cpu, 1),
                "installments": small_rows,
                "cells_differing": mismatches,
            },
            {
                **result_row("pandas_full_s", "s", pandas_full, anchor_name="pandas at full size"),
                "tried": args.pandas_full,
                "outcome": outcome,
                "memory_cap_gb": args.pandas_memory_gb,
            },
        ],
    )


if __name__ == "__main__":
    main()
