"""Ledger fixtures: every test gets a fresh database on each engine.

SQLite is a file in the test's temporary folder. PostgreSQL is a throw-away
database created on the server at ``$CREDITMESH_TEST_PG`` (default
127.0.0.1:5432, user postgres, database test) and dropped afterwards; the
PostgreSQL cases skip, saying why, when no server answers.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from pg_server import fresh_pg_database, skip_without_pg


@contextmanager
def _throwaway_pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards; skips when no server answers."""
    skip_without_pg()
    url, drop = fresh_pg_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    """The URL of an empty ledger database, once per engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    with _throwaway_pg_url() as url:
        yield url


@pytest.fixture
def ledger(ledger_url):
    from creditmesh.ledger import Ledger

    book = Ledger.connect(ledger_url)
    try:
        yield book
    finally:
        book.close()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database only (for tests of concurrency on PostgreSQL)."""
    with _throwaway_pg_url() as url:
        yield url
