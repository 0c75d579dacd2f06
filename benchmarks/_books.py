"""Helpers shared by the ledger benchmarks on a large book (``ledger_aging.py``, ``ledger_bulk.py``).

Building a book (the simulator's ``loans`` and ``installments``), throw-away
databases (a PostgreSQL database dropped before and after, a SQLite file under
/tmp), booking the book with ``Ledger.load_loans`` (timed), and a per-statement
timer on a SQLAlchemy engine, which says which SQL statement the time goes to.

Importing this module has no side effects, and running it as a script does nothing
(``make bench`` loops over ``benchmarks/*.py``).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
MONTHS = 24
SEED = 1
#: Borrowers that give about 1,000,000 loans (~2.06 loans and ~21 installments per borrower at 24 months).
BORROWERS_PER_MILLION_LOANS = 485_000
QUICK_BORROWERS = 20_000


def borrowers_from_args(borrowers: int | None, loans_scale: float | None, quick: bool) -> int:
    """``--borrowers`` wins, then ``--quick`` (20,000), then ``--loans-scale`` x ~1,000,000 loans (default 1)."""
    if borrowers:
        return int(borrowers)
    if quick:
        return QUICK_BORROWERS
    return max(1_000, round(BORROWERS_PER_MILLION_LOANS * (loans_scale if loans_scale else 1.0)))


def build_book(borrowers: int, *, months: int = MONTHS, seed: int = SEED):
    """Simulate ``borrowers`` over ``months``; return (loans, installments, seconds)."""
    from creditmesh.simulate import SimulationConfig, simulate

    started = time.perf_counter()
    result = simulate(SimulationConfig(borrowers=borrowers, months=months, seed=seed))
    seconds = time.perf_counter() - started
    return result.tables["loans"], result.tables["installments"], seconds


# --- throw-away databases ----------------------------------------------------------------------------


def pg_available() -> str | None:
    """None when the server answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as error:  # noqa: BLE001 - reported, the engine is then skipped
        return f"{type(error).__name__}: {error}".strip()


def pg_drop(name: str) -> None:
    import psycopg

    assert re.fullmatch(r"cm_bench_[a-z0-9_]+", name), name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_create(name: str) -> str:
    """Drop ``name`` if it exists, create it empty; return its SQLAlchemy URL."""
    import psycopg

    pg_drop(name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{PG_SERVER}/{name}"


def pg_settings(
    names=(
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "max_wal_size",
        "fsync",
        "synchronous_commit",
        "max_parallel_workers_per_gather",
    ),
) -> dict[str, str]:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}


def sqlite_file(name: str) -> Path:
    """A fresh path for a SQLite file under /tmp (nothing there yet)."""
    folder = Path(tempfile.mkdtemp(prefix=f"creditmesh-{name}-", dir="/tmp"))
    return folder / f"{name}.db"


def sqlite_remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(f"{path}{suffix}")
        except FileNotFoundError:
            pass
    try:
        path.parent.rmdir()
    except OSError:
        pass


def file_bytes(path: Path) -> int:
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


@dataclass
class Engine:
    """One database under test: its name, SQLAlchemy URL and how to throw it away."""

    name: str  # "postgresql" or "sqlite"
    url: str
    pg_database: str | None = None
    sqlite_path: Path | None = None

    def drop(self) -> None:
        if self.pg_database:
            pg_drop(self.pg_database)
        if self.sqlite_path:
            sqlite_remove(self.sqlite_path)


def make_engine(kind: str, database: str) -> Engine:
    if kind == "postgresql":
        return Engine(kind, pg_create(database), pg_database=database)
    path = sqlite_file(database)
    return Engine(kind, f"sqlite:///{path}", sqlite_path=path)


def settle(ledger) -> float:
    """After a big load, do what a running server would have done by then: PostgreSQL's autovacuum
    would have analysed the tables (ANALYZE here, then CHECKPOINT so that its write-out does not land in
    the timed step). SQLite is left as the ledger leaves it (it never runs ANALYZE). Returns seconds."""
    started = time.perf_counter()
    if ledger.engine.dialect.name == "postgresql":
        with ledger.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")
    else:
        raw = ledger.engine.raw_connection()  # outside any transaction: the ledger's begin event is not fired
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return time.perf_counter() - started


# --- where the time goes: per SQL statement ------------------------------------------------------------


def _label(statement: str) -> str:
    """A short stable name for a statement: its first words, whitespace folded."""
    flat = " ".join(statement.split())
    return flat if len(flat) <= 110 else flat[:107] + "..."


@dataclass
class StatementTimer:
    """Wall time per SQL statement on an engine (SQLAlchemy's before/after_cursor_execute events).

    Work done on the raw driver connection (psycopg ``COPY``, sqlite3 ``executemany``) and in Python is
    not seen here: it is the step's time minus the statements' (``untracked``)."""

    engine: Any
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    texts: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    current: tuple[str, float] | None = None  # the statement running now and when it started

    def __enter__(self) -> StatementTimer:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        now = time.perf_counter()
        conn.info.setdefault("_bench_t0", []).append(now)
        self.current = (_label(statement), now)

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        elapsed = time.perf_counter() - conn.info["_bench_t0"].pop()
        self.current = None
        label = _label(statement)
        if label not in self.texts:
            self.texts[label] = statement
            self.order.append(label)
        self.seconds[label] += elapsed
        self.calls[label] += 1
        try:
            self.rows[label] += max(int(cursor.rowcount), 0)
        except Exception:  # noqa: BLE001
            pass

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def top(self, n: int = 8) -> list[tuple[str, float, int, int]]:
        ranked = sorted(self.order, key=lambda k: -self.seconds[k])[:n]
        return [(k, self.seconds[k], self.calls[k], self.rows[k]) for k in ranked]


def in_flight(timer: StatementTimer) -> tuple[str, float] | None:
    """The statement still running (e.g. when a step was cancelled) and its seconds so far; call it right
    after the step fails."""
    if timer.current is None:
        return None
    label, started = timer.current
    return label, time.perf_counter() - started


def statements_table(
    console,
    title: str,
    timer: StatementTimer,
    step_seconds: float,
    n: int = 8,
    in_flight: tuple[str, float] | None = None,
) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("s", justify="right")
    table.add_column("share", justify="right")
    table.add_column("calls", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("statement")
    for label, seconds, calls, rows in timer.top(n):
        table.add_row(
            f"{seconds:.2f}",
            f"{seconds / step_seconds:.0%}" if step_seconds else "-",
            f"{calls:,}",
            f"{rows:,}",
            label,
        )
    untracked = step_seconds - timer.total
    if in_flight is not None:
        label, seconds = in_flight
        untracked -= seconds
        table.add_row(
            f"{seconds:.2f}",
            f"{seconds / step_seconds:.0%}" if step_seconds else "-",
            "1",
            "",
            f"[red](cancelled while running)[/] {label}",
        )
    table.add_row(
        f"{untracked:.2f}",
        f"{untracked / step_seconds:.0%}" if step_seconds else "-",
        "",
        "",
        "(untracked: COPY / executemany on the raw driver connection, Python)",
    )
    console.print(table)


class Watchdog:
    """Cancel a step that runs past ``seconds``: on PostgreSQL ``pg_cancel_backend`` for the server backends
    of the connections this engine handed out during the step (never anyone else's, even in a database of the
    same name), on SQLite ``Connection.interrupt()`` on those connections; repeated every 2 s until the step
    ends (a cancel between two statements does nothing). The step's transaction is then rolled back by the
    ledger, so the database is as before it."""

    def __init__(self, target: Engine, sa_engine, seconds: float | None) -> None:
        self.target, self.sa_engine, self.seconds = target, sa_engine, seconds
        self.fired = False
        self._raw: list[Any] = []
        self._stop = None

    def _checkout(self, dbapi_connection, _record, _proxy) -> None:
        self._raw.append(dbapi_connection)

    def __enter__(self) -> Watchdog:
        import threading

        from sqlalchemy import event

        event.listen(self.sa_engine, "checkout", self._checkout)
        self._stop = threading.Event()
        if self.seconds:
            threading.Thread(target=self._run, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event

        self._stop.set()
        event.remove(self.sa_engine, "checkout", self._checkout)

    def _run(self) -> None:
        if self._stop.wait(self.seconds):
            return
        self.fired = True
        while not self._stop.is_set():
            try:
                self._cancel()
            except Exception as error:  # noqa: BLE001 - keep trying until the step ends
                print(f"watchdog: cancel failed: {error}", file=sys.stderr)
            self._stop.wait(2.0)

    def _cancel(self) -> None:
        if self.target.pg_database:
            import psycopg

            pids = sorted({int(raw.info.backend_pid) for raw in self._raw if not raw.closed})
            if not pids:
                return
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                    "WHERE pid = ANY(%s) AND state = 'active'",
                    (pids,),
                )
        else:
            for raw in list(self._raw):
                try:
                    raw.interrupt()
                except Exception:  # noqa: BLE001 - closed already
                    pass


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "n/a"


def cpu_seconds() -> float:
    """This process's user + system CPU so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def explain_analyze(url: str, statement: str, params: dict[str, Any]) -> str:
    """EXPLAIN ANALYZE one PostgreSQL statement inside a transaction that is rolled back."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + statement), params).all()
            finally:
                trans.rollback()
        return "\n".join(r[0] for r in plan)
    finally:
        engine.dispose()


def start_run(parser, args, console, title: str):
    """The common start of a large-book benchmark: engines from ``--engines`` (PostgreSQL dropped with
    the reason when it does not answer), the load average, and the simulated book.

    Returns (engines, borrowers, loans, installments).
    """
    borrowers = borrowers_from_args(args.borrowers, args.loans_scale, args.quick)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"postgresql", "sqlite"}
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    console.rule(title)
    console.print(f"load average at start: {loadavg()} (2-core machine; other jobs may share it)")
    if "postgresql" in engines:
        why = pg_available()
        if why:
            console.print(f"[red]PostgreSQL unavailable, skipped: {why}[/]")
            engines.remove("postgresql")
        else:
            console.print(f"PostgreSQL settings: {pg_settings()}")
    loans, installments, sim_s = build_book(borrowers, seed=args.seed)
    console.print(
        f"simulate: {borrowers:,} borrowers x {MONTHS} months, seed {args.seed}: {loans.num_rows:,} loans, "
        f"{installments.num_rows:,} installments in {sim_s:.1f} s"
    )
    return engines, borrowers, loans, installments


def add_book_options(parser) -> None:
    """The options every large-book benchmark takes: the book's size, a quick smoke run, the engines, the seed."""
    parser.add_argument(
        "--borrowers", type=int, help="borrowers to simulate (default: ~1,000,000 loans' worth)"
    )
    parser.add_argument(
        "--loans-scale", type=float, help="book size as a multiple of ~1,000,000 loans (default 1)"
    )
    parser.add_argument("--quick", action="store_true", help="20,000 borrowers (~41,000 loans), a smoke test")
    parser.add_argument("--engines", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite")
    parser.add_argument("--seed", type=int, default=SEED)


if __name__ == "__main__":  # a helper, not a benchmark
    sys.exit(0)
