"""Finance fixtures: a fresh ledger on each engine (SQLite in the test's folder, a throw-away PostgreSQL)."""

from __future__ import annotations

import pytest
from pg_server import throwaway_pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    from creditmesh.ledger import Ledger

    if request.param == "sqlite":
        book = Ledger.connect(f"sqlite:///{tmp_path / 'ledger.db'}")
        try:
            yield book
        finally:
            book.close()
        return
    with throwaway_pg_url() as url:
        book = Ledger.connect(url)
        try:
            yield book
        finally:
            book.close()
