"""The portfolio page's figures: the quarterly report's own (:func:`creditmesh.portfolio.report.quarterly_figures`).

The book is the live one by default: the ledger's loans, installments and payments with the service's borrowers,
credit lines and partners (:mod:`creditmesh.api.book`, the tables ``creditmesh ledger export --partners`` writes).
``CREDITMESH_BOOK`` may name a folder of Parquet tables instead (a month-end export, or a book too large to read
from the ledger on every change). The figures cover the quarter to date of the book's last day, against the prior
quarter, the same quarter a year earlier and the seeds' figures.

Over a large book the figures take seconds to minutes, so they are computed once per version of the book in a
background thread; the page never waits for them. Until the first computation ends it says so and asks again
(htmx polling); afterwards it shows the latest figures, with their as-of time, while newer ones are computed.
The version of the live book is read at most every :data:`RECHECK_SECONDS` (loans, payments, the day).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from creditmesh.errors import CreditmeshError
from creditmesh.ledger.tables import loans, payments
from creditmesh.portfolio.vintage import quarter_label

#: How often the book's version is read again (the figures follow the book this much later at most).
RECHECK_SECONDS = 60.0


@dataclass(frozen=True)
class Figures:
    """The figures of one version of the book, or why there are none."""

    version: tuple
    computed_at: float
    seconds: float
    figures: dict[str, Any] | None
    problem: str | None = None


def _folder_version(folder: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.parquet")))


class PortfolioFigures:
    """One worker's portfolio figures, computed in the background once per version of the book."""

    def __init__(self, platform, *, book_path: Path | None, partners_path: Path | None) -> None:
        self.platform = platform
        self.book_path = book_path
        self.partners_path = partners_path
        self._latest: Figures | None = None
        self._version: tuple | None = None
        self._checked = 0.0
        self._running: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the book and its version ---------------------------------------------------------------------

    def version(self) -> tuple:
        if self.book_path is not None:
            return ("folder", str(self.book_path), _folder_version(self.book_path))
        with self.platform.engine.connect() as connection:
            counted = connection.execute(
                sa.select(sa.func.count(), sa.func.max(loans.c.originated_on)).select_from(loans)
            ).one()
            paid = connection.execute(sa.select(sa.func.count()).select_from(payments)).scalar_one()
        return (
            "ledger",
            int(counted[0]),
            str(counted[1]),
            int(paid),
            time.strftime("%Y-%m-%d", time.gmtime()),
        )

    def book(self):
        """The book to read: the Parquet folder, or the live ledger's tables with the service's own."""
        from creditmesh.portfolio import Book

        if self.book_path is not None:
            return Book.open(self.book_path)
        from creditmesh.api.book import institutions_table, people_tables
        from creditmesh.ledger.export import read_tables

        # through the service's own engine: ADBC's second SQLite library would break the open connections' locks
        tables = {
            **read_tables(self.platform.engine, ("loans", "installments"), through_engine=True),
            **people_tables(self.platform.ledger),
        }
        if self.partners_path is None:
            raise CreditmeshError(
                "CREDITMESH_PARTNERS", "the live book's institutions are the service's partners"
            )
        tables["institutions"] = institutions_table(self.partners_path)
        return Book.from_frames(**tables)

    # -- computing --------------------------------------------------------------------------------------

    def compute(self, version: tuple) -> Figures:
        """The figures of the book as it is now (seconds to minutes over a large book)."""
        from creditmesh.portfolio.report import quarterly_figures

        started = time.perf_counter()
        try:
            with self.book() as book:
                last = book.last_date
                if last is None or not book.one("SELECT COUNT(*) FROM loans")[0]:
                    return Figures(
                        version,
                        time.time(),
                        time.perf_counter() - started,
                        None,
                        "the book holds no loans yet",
                    )
                figures = quarterly_figures(book, quarter_label(last))
        except CreditmeshError as error:
            return Figures(
                version, time.time(), time.perf_counter() - started, None, f"{error.field}: {error.reason}"
            )
        return Figures(version, time.time(), time.perf_counter() - started, figures)

    def _run(self, version: tuple) -> None:
        try:
            result = self.compute(version)
        except Exception as error:  # noqa: BLE001 - shown on the page rather than lost with the thread
            result = Figures(version, time.time(), 0.0, None, f"the figures could not be computed: {error}")
        with self._lock:
            self._latest = result
            self._running = None

    def current(self) -> tuple[Figures | None, bool]:
        """The latest figures (None before the first are ready) and whether newer ones are being computed."""
        with self._lock:
            if time.monotonic() - self._checked >= RECHECK_SECONDS or self._version is None:
                self._version = self.version()
                self._checked = time.monotonic()
            stale = self._latest is None or self._latest.version != self._version
            if stale and self._running is None:
                self._running = threading.Thread(target=self._run, args=(self._version,), daemon=True)
                self._running.start()
            return self._latest, self._running is not None

    def wait(self, timeout: float) -> Figures | None:
        """Block until the figures of the current version are ready (for scripts and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            latest, running = self.current()
            if latest is not None and not running:
                return latest
            time.sleep(0.05)
        return None
