"""Benchmark: payments posted per second by the ledger, against pgbench (PostgreSQL) and raw sqlite3 (SQLite).

Goal (from the ledger issues; 0.6 since issue #22): on PostgreSQL with fsync on and 4 client processes,
post at least 0.6 x the TPS that ``pgbench -b tpcb-like -c 4`` reaches on the same
server in the same run (a payment is about as much work as a TPC-B transaction);
the same on SQLite (WAL mode) with a single writer.

What runs, in this order, each timed phase for ``--seconds`` (default 20 s):

1. **pgbench**, the PostgreSQL anchor: ``pgbench -i -s 4`` into a throw-away database
   ``cm_bench_pgbench``, then ``pgbench -b tpcb-like -c 4 -j 2 -T <seconds>``, run
   twice, just before and just after phase 2; the anchor is the mean of the two
   "tps = ... (without initial connection time)" figures (both are printed), so a
   change in the machine's load during the run hits the anchor as it hits creditmesh.
2. **creditmesh on PostgreSQL**, in a throw-away database ``cm_bench_ledger``. Set-up
   (not timed): ``--loans`` loans (default 20,000; 12 months; the five funding
   models in turn, one in four on equal principal, a monthly fee on the partner
   models) booked with ``Ledger.book_loan`` (one transaction per loan) by 4 processes.
   Timed: 4 client processes (multiprocessing, spawn), each with its own ``Ledger``
   and engine, each posting payments on its own quarter of the loans (disjoint, so
   little lock contention, as in pgbench). Every payment is one installment's exact
   amount (principal + interest + fee due of the loan's next open installment),
   ``paid_on`` its due date, a unique idempotency key; the loans are visited in a
   shuffled order, one installment per loan per round. Payments/s = acknowledged
   payments (``post_payment`` returned) / wall time (first client's start to last
   client's end; all start together at a barrier).
3. **creditmesh on PostgreSQL, contended** (informational, no goal): the 4 clients
   post on the *same* 50 loans at a time (12-month loans as above, in sets of 50;
   every client pays its share of a set, in shuffled order, then moves to the next
   set). Client ``k`` pays installments k+1, k+5 and k+9 of every loan of the set,
   with ``paid_on`` the loan's last due date: every installment is then due, so
   whichever client gets the loan's row lock first settles the oldest open
   installment with the same amount, and the payments fit in any order.
4. **raw sqlite3**, the SQLite anchor. There is no pgbench for SQLite: our stand-in
   anchor is a minimal transaction of comparable size, written directly with the
   standard ``sqlite3`` module on a file under /tmp with the pragmas the ledger sets
   (WAL, ``synchronous=FULL``, foreign keys on), one writer: ``BEGIN IMMEDIATE``;
   SELECT the loan row; UPDATE 3 rows (the installment, the loan, an account
   balance); INSERT 5 rows (payment, journal entry, 3 postings); ``COMMIT``, on tables
   of the same size and indexes as the ledger's. Like pgbench it runs just before
   and just after phase 5, and the anchor is the mean.
5. **creditmesh on SQLite**: a file under /tmp (the ledger itself sets WAL and
   ``synchronous=FULL``), the same loans (booked by one process: SQLite has one
   writer) and the same payments as in 2., one writer process.

``SHOW fsync`` (and ``synchronous_commit``) is printed and must be on; every timed
PostgreSQL phase starts after a ``CHECKPOINT``. After each creditmesh phase the
database is checked: as many payments stored as were acknowledged, and no journal
entry that does not balance. For each phase the machine's CPU use is read from
/proc/stat (core-ms per transaction; pgbench's client, the Python clients and the
server share the same cores) and, for creditmesh on PostgreSQL, each client's own
CPU and its server backend's CPU per payment, which says where the time goes. The
machine's load before the run starts (anything else running) is printed too: the
figures are only comparable on an otherwise idle machine.

The two databases and the SQLite files are dropped/removed before and after. Without
a PostgreSQL server at 127.0.0.1:5432 (user postgres) or without ``pgbench`` the
PostgreSQL phases are skipped with a message, and only the SQLite row is reported.

Usage::

    python benchmarks/ledger_post.py                   # 20 s per phase, 20,000 loans
    python benchmarks/ledger_post.py --quick           # 5 s per phase, 2,000 loans
    python benchmarks/ledger_post.py --seconds 30 --loans 40000

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import queue as queue_module
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import make_console, print_json_line, result_row

BENCHMARK = "ledger_post"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", "5432", "postgres"
LEDGER_DB, PGBENCH_DB = "cm_bench_ledger", "cm_bench_pgbench"
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
PGBENCH_SCALE = 4
CLIENTS = 4
GOAL_RATIO = 0.5
GOAL = ">= 0.5 x anchor"
#: PostgreSQL's goal since issue #22 (SQLite keeps 0.5).
PG_GOAL_RATIO = 0.6
PG_GOAL = ">= 0.6 x anchor"
PG_ANCHOR = "pgbench tpcb-like -c 4"
SQLITE_ANCHOR = "raw sqlite3 txn (WAL, synchronous=FULL), 1 writer"
TENOR = 12
CONTENDED_LOANS = 50
#: Contended sets of 50 loans are booked for this many payments per second of run, at most.
CONTENDED_CAPACITY_PER_S = 1_500
FUNDING_MODELS = ("capital_heavy_on", "capital_heavy_off", "capital_light", "ice", "tech_solution")
FIRST_ORIGINATION = date(2024, 1, 1)


# --- loans and payments -----------------------------------------------------------------------------


def loan_terms(prefix: str, index: int, tenor: int):
    """The ``index``-th benchmark loan: deterministic, mixed funding models and schedules."""
    from creditmesh.ledger import LoanTerms

    rng = random.Random(f"{prefix}-{index}")
    principal = rng.randrange(5_000_00, 50_000_00)  # 5,000 to 50,000 CNY, in fen
    model = FUNDING_MODELS[index % len(FUNDING_MODELS)]
    return LoanTerms(
        loan_id=f"{prefix}{index:07d}",
        borrower_id=f"b{prefix}{index:07d}",
        principal_minor=principal,
        apr_ppm=rng.randrange(60_000, 360_000),
        tenor_months=tenor,
        originated_on=FIRST_ORIGINATION + timedelta(days=rng.randrange(366)),
        funding_model=model,
        schedule="equal_principal" if index % 4 == 3 else "equal_installment",
        fee_per_installment_minor=0 if model == "capital_heavy_on" else principal // 500,
    )


def _book_range(url: str, prefix: str, start: int, stop: int, tenor: int) -> tuple[int, float]:
    """Child process: book loans ``start`` to ``stop`` - 1 with ``Ledger.book_loan``."""
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(url, migrate=False)
    began = time.perf_counter()
    try:
        for i in range(start, stop):
            ledger.book_loan(loan_terms(prefix, i, tenor))
    finally:
        ledger.close()
    return stop - start, time.perf_counter() - began


def book_loans(url: str, prefix: str, count: int, tenor: int, processes: int) -> float:
    """Book ``count`` loans with ``processes`` processes; returns the wall time."""
    began = time.perf_counter()
    processes = max(1, min(processes, count))
    bounds = [count * k // processes for k in range(processes + 1)]
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(_book_range, url, prefix, bounds[k], bounds[k + 1], tenor) for k in range(processes)
        ]
        for future in futures:
            future.result()
    return time.perf_counter() - began


def _read_installments(ledger, loan_ids: list[str]) -> dict[str, list[tuple[int, date, int]]]:
    """(seq, due date, amount owed) of each loan's open installments, in seq order."""
    from sqlalchemy import select

    from creditmesh.ledger.tables import installment_balances

    i = installment_balances.c
    out: dict[str, list[tuple[int, date, int]]] = {loan_id: [] for loan_id in loan_ids}
    with ledger.engine.connect() as conn:
        for k in range(0, len(loan_ids), 1000):
            chunk = loan_ids[k : k + 1000]
            rows = conn.execute(
                select(
                    i.loan_id, i.seq, i.due_date, i.principal_due_minor, i.interest_due_minor, i.fee_due_minor
                )
                .where(i.loan_id.in_(chunk), i.paid_on.is_(None))
                .order_by(i.loan_id, i.seq)
            )
            for loan_id, seq, due, principal, interest, fee in rows:
                out[loan_id].append((int(seq), due, int(principal) + int(interest) + int(fee)))
    return out


def _plan(ledger, spec: dict[str, Any], tag: str, worker: int) -> list:
    """The worker's payments, in order (built before the clock starts)."""
    from creditmesh.ledger import PaymentRequest

    rng = random.Random(f"{tag}-{worker}")
    plan = []
    if spec["kind"] == "own":  # own loans: next open installment, paid on its due date, round by round
        schedule = _read_installments(ledger, spec["loan_ids"])
        rounds = max((len(rows) for rows in schedule.values()), default=0)
        for r in range(rounds):
            order = list(schedule)
            rng.shuffle(order)
            for loan_id in order:
                if r < len(schedule[loan_id]):
                    seq, due, amount = schedule[loan_id][r]
                    plan.append(PaymentRequest(loan_id, amount, due, f"{tag}-{loan_id}-{seq}"))
    else:  # shared loans: installments worker+1, worker+1+n, ... of each loan, paid on the loan's last due date
        step = spec["clients"]
        for group in spec["groups"]:
            schedule = _read_installments(ledger, group)
            rounds = max(len(rows) for rows in schedule.values())
            for r in range(worker, rounds, step):
                order = list(group)
                rng.shuffle(order)
                for loan_id in order:
                    rows = schedule[loan_id]
                    if r < len(rows):
                        seq, _due, amount = rows[r]
                        plan.append(PaymentRequest(loan_id, amount, rows[-1][1], f"{tag}-{loan_id}-{seq}"))
    return plan


def _proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process on this machine, from /proc (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _post_worker(
    url: str, spec: dict[str, Any], tag: str, worker: int, seconds: float, barrier, results
) -> None:
    """Child process: one client with its own Ledger; posts its plan until the deadline."""
    try:
        from creditmesh.ledger import Ledger

        ledger = Ledger.connect(url, migrate=False)
        plan = _plan(ledger, spec, tag, worker)
        backend_pid = None
        if ledger.engine.dialect.name == "postgresql":
            with ledger.engine.connect() as conn:  # the pool's one connection, reused by every payment
                backend_pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        else:
            with ledger.engine.connect():
                pass
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops the run
        results.put({"worker": worker, "setup_error": f"{type(exc).__name__}: {exc}"})
        barrier.abort()
        return
    try:
        barrier.wait(timeout=900)
    except threading.BrokenBarrierError:
        results.put({"worker": worker, "setup_error": "another client failed to start"})
        ledger.close()
        return
    started = time.monotonic()
    deadline = started + seconds
    cpu_before = time.process_time()
    backend_before = _proc_cpu_seconds(backend_pid) if backend_pid else None
    ok = 0
    errors: Counter[str] = Counter()
    first_errors: list[str] = []
    latencies: list[float] = []
    exhausted = True
    for request in plan:
        if time.monotonic() >= deadline:
            exhausted = False
            break
        began = time.perf_counter()
        try:
            ledger.post_payment(request)
        except Exception as exc:  # noqa: BLE001 - counted, not acknowledged
            errors[type(exc).__name__] += 1
            if len(first_errors) < 3:
                first_errors.append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        latencies.append(time.perf_counter() - began)
        ok += 1
    ended = time.monotonic()
    cpu = time.process_time() - cpu_before
    backend_after = _proc_cpu_seconds(backend_pid) if backend_pid else None
    ledger.close()
    results.put(
        {
            "worker": worker,
            "ok": ok,
            "errors": dict(errors),
            "first_errors": first_errors,
            "started": started,
            "ended": ended,
            "planned": len(plan),
            "exhausted": exhausted,
            "client_cpu_s": cpu,
            "backend_cpu_s": (backend_after - backend_before)
            if backend_before is not None and backend_after is not None
            else None,
            "latencies": latencies,
        }
    )


def run_clients(url: str, specs: list[dict[str, Any]], tag: str, seconds: float) -> dict[str, Any]:
    """Start one process per spec, release them together, collect what they did."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(specs) + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_post_worker, args=(url, spec, tag, k, seconds, barrier, results), daemon=True)
        for k, spec in enumerate(specs)
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=900)
    except threading.BrokenBarrierError:
        pass  # a client failed: every client reports why below
    machine_before = machine_cpu()
    reports = []
    try:
        for _ in procs:
            reports.append(results.get(timeout=seconds + 900))
    except queue_module.Empty:
        raise RuntimeError(f"{tag}: a client did not report back") from None
    machine_after = machine_cpu()
    for proc in procs:
        proc.join(timeout=60)
    failed = [r["setup_error"] for r in reports if "setup_error" in r]
    if failed:
        raise RuntimeError(f"{tag}: client set-up failed: {failed[0]}")
    wall = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    latencies = sorted(x for r in reports for x in r["latencies"])
    ok = sum(r["ok"] for r in reports)
    errors: Counter[str] = Counter()
    for r in reports:
        errors.update(r["errors"])
    backend = [r["backend_cpu_s"] for r in reports]
    return {
        "ok": ok,
        "wall_s": wall,
        "per_s": ok / wall if wall > 0 else float("nan"),
        "errors": dict(errors),
        "first_errors": [e for r in reports for e in r["first_errors"]][:3],
        "exhausted": sum(r["exhausted"] for r in reports),
        "clients": len(reports),
        "client_cpu_s": sum(r["client_cpu_s"] for r in reports),
        "backend_cpu_s": sum(backend) if all(b is not None for b in backend) else None,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        if latencies
        else float("nan"),
        "machine": cpu_delta(machine_before, machine_after),
    }


# --- machine CPU ------------------------------------------------------------------------------------


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / tick, sum(values[:8]) / tick


def cpu_delta(before, after) -> dict[str, float] | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    busy, total = after[0] - before[0], after[1] - before[1]
    return {"busy_core_s": busy, "busy_share": busy / total}


def background_load(seconds: float = 2.0) -> float | None:
    """Share of the machine's CPU busy over ``seconds`` while this benchmark does nothing."""
    before = machine_cpu()
    time.sleep(seconds)
    delta = cpu_delta(before, machine_cpu())
    return delta["busy_share"] if delta else None


def cpu_note(machine: dict[str, float] | None, transactions: int) -> str:
    if not machine or not transactions:
        return "machine CPU: n/a"
    return (
        f"machine CPU {100 * machine['busy_share']:.0f} % busy of {os.cpu_count()} cores, "
        f"{1000 * machine['busy_core_s'] / transactions:.2f} core-ms per transaction"
    )


# --- PostgreSQL -------------------------------------------------------------------------------------


def pg_admin(statements: list[str]) -> list[Any]:
    import psycopg

    out = []
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
            out.append(cursor.fetchone() if cursor.description else None)
    return out


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL phases cannot run here, or None."""
    if not os.path.exists(PGBENCH):
        return f"pgbench not found ({PGBENCH})"
    try:
        pg_admin(["SELECT 1"])
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means: skip
        return f"no PostgreSQL at {ADMIN_URL}: {type(exc).__name__}: {str(exc).strip()[:200]}"
    return None


def drop_databases() -> None:
    pg_admin(
        [
            f"DROP DATABASE IF EXISTS {LEDGER_DB} WITH (FORCE)",
            f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)",
        ]
    )


PGBENCH_BASE = [PGBENCH, "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER]


def init_pgbench() -> None:
    init = subprocess.run(
        PGBENCH_BASE + ["-i", "-q", "-s", str(PGBENCH_SCALE), PGBENCH_DB],
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        raise RuntimeError(f"pgbench -i failed: {init.stderr.strip()}")


def run_pgbench(seconds: int) -> dict[str, Any]:
    pg_admin(["CHECKPOINT"])
    command = PGBENCH_BASE + [
        "-b",
        "tpcb-like",
        "-c",
        str(CLIENTS),
        "-j",
        "2",
        "-T",
        str(seconds),
        PGBENCH_DB,
    ]
    before = machine_cpu()
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    machine = cpu_delta(before, machine_cpu())
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed ({run.returncode}): {run.stderr.strip()}")
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    if not match:
        raise RuntimeError(f"no tps line in pgbench's output:\n{run.stdout}")
    processed = re.search(r"number of transactions actually processed: (\d+)", run.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    return {
        "tps": float(match.group(1)),
        "command": " ".join(command[:1] + command[7:]),
        "transactions": int(processed.group(1)) if processed else 0,
        "latency_ms": float(latency.group(1)) if latency else float("nan"),
        "failed": int(failed.group(1)) if failed else 0,
        "machine": machine,
    }


def print_pgbench(run: dict[str, Any], when: str) -> None:
    print(
        f"pgbench ({when}): {run['command']}: {run['transactions']:,} transactions, tps = {run['tps']:,.1f}, "
        f"latency average {run['latency_ms']:.2f} ms, failed {run['failed']}; "
        f"{cpu_note(run['machine'], run['transactions'])}"
    )


def check_ledger(url: str, tag: str) -> tuple[int, int]:
    """(payments stored under this run's keys, unbalanced journal entries)."""
    from sqlalchemy import func, select

    from creditmesh.ledger import Ledger
    from creditmesh.ledger.tables import payments

    ledger = Ledger.connect(url, migrate=False)
    try:
        with ledger.engine.connect() as conn:
            stored = conn.execute(
                select(func.count()).select_from(payments).where(payments.c.idempotency_key.like(f"{tag}-%"))
            ).scalar_one()
        return int(stored), len(ledger.unbalanced_entries())
    finally:
        ledger.close()


# --- SQLite anchor ----------------------------------------------------------------------------------

_ANCHOR_SCHEMA = """
CREATE TABLE loan (loan_id TEXT PRIMARY KEY, funding_model TEXT NOT NULL, apr_ppm INTEGER NOT NULL,
                   originated_on TEXT NOT NULL, status TEXT NOT NULL, paid_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE installment (loan_id TEXT NOT NULL REFERENCES loan (loan_id), seq INTEGER NOT NULL,
                          due_date TEXT NOT NULL, principal_due INTEGER NOT NULL, interest_due INTEGER NOT NULL,
                          principal_paid INTEGER NOT NULL DEFAULT 0, interest_paid INTEGER NOT NULL DEFAULT 0,
                          paid_on TEXT, PRIMARY KEY (loan_id, seq));
CREATE TABLE account (account_code TEXT PRIMARY KEY, balance INTEGER NOT NULL);
CREATE TABLE payment (payment_id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, loan_id TEXT NOT NULL,
                      paid_on TEXT NOT NULL, amount INTEGER NOT NULL, entry_id INTEGER);
CREATE INDEX ix_payment_loan ON payment (loan_id);
CREATE TABLE entry (entry_id INTEGER PRIMARY KEY, occurred_on TEXT NOT NULL, kind TEXT NOT NULL, loan_id TEXT,
                    reference TEXT);
CREATE TABLE posting (posting_id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL,
                      account_code TEXT NOT NULL CHECK (account_code IN ('1000', '1100', '1200', '2000', '4000')),
                      loan_id TEXT, amount INTEGER NOT NULL);
CREATE INDEX ix_posting_entry ON posting (entry_id);
"""
#: The anchor's tables follow the ledger's (migrations 0002 and 0009): no foreign key from payments and postings,
#: the account code checked against the chart, no index on installments' (due_date, paid_on), none on postings'
#: (loan_id, account_code).


def _anchor_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def run_sqlite_anchor(path: str, loans: int, seconds: float, tag: str) -> dict[str, Any]:
    """The stand-in anchor: a minimal raw sqlite3 payment transaction, one writer, same pragmas (fresh file)."""
    remove_sqlite(path)
    conn = _anchor_connect(path)
    conn.executescript(_ANCHOR_SCHEMA)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO account VALUES (?, 0)", [(c,) for c in ("1000", "1100", "1200", "2000", "4000")]
    )
    for i in range(loans):
        loan_id = f"a{i:07d}"
        conn.execute(
            "INSERT INTO loan (loan_id, funding_model, apr_ppm, originated_on, status) VALUES (?, ?, ?, ?, ?)",
            (loan_id, FUNDING_MODELS[i % 5], 150_000, "2024-01-15", "active"),
        )
        conn.executemany(
            "INSERT INTO installment (loan_id, seq, due_date, principal_due, interest_due) "
            "VALUES (?, ?, ?, ?, ?)",
            [(loan_id, s, f"2024-{s:02d}-15", 100_000, 12_500) for s in range(1, TENOR + 1)],
        )
    conn.execute("COMMIT")
    rng = random.Random("anchor")
    order = [f"a{i:07d}" for i in range(loans)]
    count = 0
    before = machine_cpu()
    started = time.monotonic()
    deadline = started + seconds
    done = False
    for seq in range(1, TENOR + 1):
        rng.shuffle(order)
        for loan_id in order:
            if time.monotonic() >= deadline:
                done = True
                break
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("SELECT * FROM loan WHERE loan_id = ?", (loan_id,)).fetchone()
            conn.execute(
                "UPDATE installment SET principal_paid = principal_due, interest_paid = interest_due, "
                "paid_on = due_date WHERE loan_id = ? AND seq = ?",
                (loan_id, seq),
            )
            conn.execute("UPDATE loan SET paid_count = paid_count + 1 WHERE loan_id = ?", (loan_id,))
            conn.execute("UPDATE account SET balance = balance + ? WHERE account_code = '1000'", (112_500,))
            key = f"{tag}-{loan_id}-{seq}"
            entry_id = conn.execute(
                "INSERT INTO entry (occurred_on, kind, loan_id, reference) VALUES (?, ?, ?, ?)",
                ("2024-06-15", "payment", loan_id, key),
            ).lastrowid
            conn.executemany(
                "INSERT INTO posting (entry_id, account_code, loan_id, amount) VALUES (?, ?, ?, ?)",
                [
                    (entry_id, "1000", loan_id, 112_500),
                    (entry_id, "1100", loan_id, -100_000),
                    (entry_id, "4000", loan_id, -12_500),
                ],
            )
            conn.execute(
                "INSERT INTO payment VALUES (?, ?, ?, ?, ?, ?)",
                (f"p{count:023d}", key, loan_id, "2024-06-15", 112_500, entry_id),
            )
            conn.execute("COMMIT")
            count += 1
        if done:
            break
    wall = time.monotonic() - started
    machine = cpu_delta(before, machine_cpu())
    conn.close()
    remove_sqlite(path)
    return {
        "tps": count / wall if wall > 0 else float("nan"),
        "transactions": count,
        "wall_s": wall,
        "machine": machine,
        "exhausted": not done,
    }


def print_anchor(run: dict[str, Any], when: str) -> None:
    print(
        f"raw sqlite3 anchor ({when}): {run['transactions']:,} transactions in {run['wall_s']:.2f} s = "
        f"{run['tps']:,.1f}/s; {cpu_note(run['machine'], run['transactions'])}"
        + ("; NOTE: ran out of rows, use more --loans" if run["exhausted"] else "")
    )


def remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def filesystem_of(path: str) -> str:
    """The file system type holding ``path`` (tmpfs would make fsync free)."""
    best, kind = "", "?"
    try:
        with open("/proc/self/mounts") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) > 2 and path.startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


# --- reporting --------------------------------------------------------------------------------------


def describe(label: str, run: dict[str, Any], check: tuple[int, int] | None) -> list[str]:
    lines = [
        (
            f"{label}: {run['ok']:,} payments acknowledged in {run['wall_s']:.2f} s = {run['per_s']:,.1f}/s; "
            f"latency p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms; errors: {run['errors'] or 0}"
        )
    ]
    per = 1000 / run["ok"] if run["ok"] else float("nan")
    cpu = f"  {cpu_note(run['machine'], run['ok'])}; client Python CPU {run['client_cpu_s'] * per:.2f} ms/payment"
    if run["backend_cpu_s"] is not None:
        cpu += f", server backend CPU {run['backend_cpu_s'] * per:.2f} ms/payment"
    lines.append(cpu)
    if run["first_errors"]:
        lines.append(f"  first errors: {run['first_errors']}")
    if run["exhausted"]:
        lines.append(
            f"  NOTE: {run['exhausted']} of {run['clients']} client(s) ran out of payments before the "
            "deadline (payments/s is still acknowledged / wall time); use more --loans"
        )
    if check is not None:
        stored, unbalanced = check
        verdict = "ok" if stored == run["ok"] and unbalanced == 0 else "MISMATCH"
        lines.append(
            f"  check: {stored:,} payments stored for {run['ok']:,} acknowledged; "
            f"unbalanced journal entries: {unbalanced} -> {verdict}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=None, help="length of every timed phase (default 20)")
    parser.add_argument("--loans", type=int, default=None, help="loans booked per engine (default 20,000)")
    parser.add_argument("--quick", action="store_true", help="5 s phases, 2,000 loans")
    parser.add_argument("--setup-processes", type=int, default=4, help="processes that book the loans")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (5 if args.quick else 20)
    loans = args.loans if args.loans is not None else (2_000 if args.quick else 20_000)
    if seconds <= 0 or loans < CLIENTS:
        parser.error("--seconds must be positive and --loans at least the number of clients")

    console = make_console()
    pg_url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{LEDGER_DB}"
    sqlite_dir = tempfile.mkdtemp(prefix="cm_bench_ledger_", dir="/tmp")
    sqlite_path = os.path.join(sqlite_dir, "ledger.db")
    anchor_path = os.path.join(sqlite_dir, "anchor.db")
    results: list[dict[str, Any]] = []
    rows: list[tuple[str, str, float | None, float | None, str]] = []

    print(
        f"ledger_post: {seconds:g} s per timed phase, {loans:,} loans per engine, {CLIENTS} clients on PostgreSQL, "
        f"{os.cpu_count()} CPU cores"
    )
    load = background_load()
    if load is not None:
        print(
            f"machine load before the run: {100 * load:.0f} % of {os.cpu_count()} cores busy"
            + ("  WARNING: something else is running; the figures below are disturbed" if load > 0.10 else "")
        )
    ids = [f"u{i:07d}" for i in range(loans)]
    try:
        from creditmesh.ledger import Ledger

        # --- PostgreSQL ------------------------------------------------------------------------------
        unavailable = postgres_unavailable()
        if unavailable:
            print(f"PostgreSQL phases skipped: {unavailable}")
        else:
            drop_databases()
            pg_admin([f"CREATE DATABASE {LEDGER_DB}", f"CREATE DATABASE {PGBENCH_DB}"])
            fsync, sync_commit, version = (
                r[0] for r in pg_admin(["SHOW fsync", "SHOW synchronous_commit", "SHOW server_version"])
            )
            print(
                f"PostgreSQL {version} at {PG_HOST}:{PG_PORT}: fsync = {fsync}, synchronous_commit = {sync_commit}"
            )
            if fsync != "on" or sync_commit != "on":
                print(
                    "WARNING: the goal is stated for fsync on and synchronous commits; the figures below are not it"
                )

            init_pgbench()
            pgbench = [run_pgbench(seconds)]
            print_pgbench(pgbench[0], "before")

            Ledger.connect(pg_url).close()  # migrate once
            groups = max(1, math.ceil(seconds * CONTENDED_CAPACITY_PER_S / (CONTENDED_LOANS * TENOR)))
            booked = book_loans(pg_url, "u", loans, TENOR, args.setup_processes)
            booked_c = book_loans(pg_url, "c", groups * CONTENDED_LOANS, TENOR, args.setup_processes)
            print(
                f"set-up (not timed): booked {loans:,} loans x {TENOR} months in {booked:.1f} s "
                f"({loans / booked:,.0f} loans/s, {args.setup_processes} processes) and {groups} set(s) of "
                f"{CONTENDED_LOANS} loans for the contended phase in {booked_c:.1f} s"
            )

            pg_admin(["CHECKPOINT"])
            run = run_clients(
                pg_url, [{"kind": "own", "loan_ids": ids[k::CLIENTS]} for k in range(CLIENTS)], "pg", seconds
            )
            for line in describe(
                f"creditmesh PostgreSQL, {CLIENTS} clients on disjoint loans", run, check_ledger(pg_url, "pg")
            ):
                print(line)
            pgbench.append(run_pgbench(seconds))
            print_pgbench(pgbench[1], "after")
            pg_anchor = statistics.fmean(p["tps"] for p in pgbench)
            print(f"pgbench anchor (mean of the two runs): {pg_anchor:,.1f} tps")
            pg_rate = run["per_s"]
            results.append(
                result_row(
                    "payments_per_s_postgresql",
                    "1/s",
                    round(pg_rate, 1),
                    goal=PG_GOAL,
                    anchor=round(pg_anchor, 1),
                    anchor_name=PG_ANCHOR,
                )
            )
            rows.append(("PostgreSQL", PG_ANCHOR, pg_anchor, pg_rate, PG_GOAL))

            contended_groups = [
                [f"c{g * CONTENDED_LOANS + i:07d}" for i in range(CONTENDED_LOANS)] for g in range(groups)
            ]
            pg_admin(["CHECKPOINT"])
            spec = {"kind": "shared", "groups": contended_groups, "clients": CLIENTS}
            run_c = run_clients(pg_url, [spec] * CLIENTS, "pgc", seconds)
            for line in describe(
                f"creditmesh PostgreSQL, contended: {CLIENTS} clients on the same {CONTENDED_LOANS} "
                "loans at a time",
                run_c,
                check_ledger(pg_url, "pgc"),
            ):
                print(line)
            results.append(
                result_row(
                    "payments_per_s_postgresql_contended",
                    "1/s",
                    round(run_c["per_s"], 1),
                    goal="informational",
                    anchor=round(pg_anchor, 1),
                    anchor_name=PG_ANCHOR,
                )
            )
            rows.append(
                (
                    "PostgreSQL, contended (same 50 loans)",
                    PG_ANCHOR,
                    pg_anchor,
                    run_c["per_s"],
                    "informational",
                )
            )

        # --- SQLite ----------------------------------------------------------------------------------
        print(f"SQLite {sqlite3.sqlite_version}: files in {sqlite_dir} ({filesystem_of(sqlite_dir)})")
        sqlite_url = f"sqlite:///{sqlite_path}"
        Ledger.connect(sqlite_url).close()
        booked_s = book_loans(sqlite_url, "u", loans, TENOR, 1)
        print(
            f"set-up (not timed): booked {loans:,} loans on SQLite in {booked_s:.1f} s "
            f"({loans / booked_s:,.0f} loans/s, 1 process)"
        )
        anchors = [run_sqlite_anchor(anchor_path, loans, seconds, "before")]
        print_anchor(anchors[0], "before")
        run_s = run_clients(sqlite_url, [{"kind": "own", "loan_ids": ids}], "sq", seconds)
        for line in describe("creditmesh SQLite, 1 writer", run_s, check_ledger(sqlite_url, "sq")):
            print(line)
        anchors.append(run_sqlite_anchor(anchor_path, loans, seconds, "after"))
        print_anchor(anchors[1], "after")
        sqlite_anchor = statistics.fmean(a["tps"] for a in anchors)
        print(f"raw sqlite3 anchor (mean of the two runs): {sqlite_anchor:,.1f}/s")
        results.append(
            result_row(
                "payments_per_s_sqlite",
                "1/s",
                round(run_s["per_s"], 1),
                goal=GOAL,
                anchor=round(sqlite_anchor, 1),
                anchor_name=SQLITE_ANCHOR,
            )
        )
        rows.append(("SQLite (WAL)", SQLITE_ANCHOR, sqlite_anchor, run_s["per_s"], GOAL))
        load = background_load()
        if load is not None:
            print(f"machine load after the run: {100 * load:.0f} % of {os.cpu_count()} cores busy")
    finally:
        try:
            if not postgres_unavailable():
                drop_databases()
        except Exception as exc:  # noqa: BLE001 - the report matters more than the clean-up
            print(f"WARNING: could not drop {LEDGER_DB} / {PGBENCH_DB}: {exc}")
        shutil.rmtree(sqlite_dir, ignore_errors=True)

    from rich.table import Table

    table = Table(title=f"Payments per second vs anchor ({seconds:g} s per phase, {loans:,} loans)")
    for column, justify in (
        ("engine", "left"),
        ("anchor", "left"),
        ("anchor TPS", "right"),
        ("creditmesh payments/s", "right"),
        ("ratio", "right"),
        ("goal", "left"),
        ("result", "left"),
    ):
        table.add_column(column, justify=justify)
    for engine, anchor_name, anchor_tps, rate, goal in rows:
        ratio = rate / anchor_tps if anchor_tps else float("nan")
        verdict = (
            "-"
            if goal not in (GOAL, PG_GOAL)
            else (
                "[green]met[/green]"
                if ratio >= (PG_GOAL_RATIO if goal == PG_GOAL else GOAL_RATIO)
                else "[red]not met[/red]"
            )
        )
        table.add_row(
            engine, anchor_name, f"{anchor_tps:,.1f}", f"{rate:,.1f}", f"{ratio:.2f}", goal, verdict
        )
    console.print(table)
    results.sort(
        key=lambda r: [
            "payments_per_s_postgresql",
            "payments_per_s_sqlite",
            "payments_per_s_postgresql_contended",
        ].index(r["name"])
    )
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
