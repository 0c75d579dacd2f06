"""The PostgreSQL server the tests use, and why it is unavailable when it is (shared by every box's tests)."""

from __future__ import annotations

import os

PG_ADMIN_URL = os.environ.get("CREDITMESH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_ADMIN_DSN = PG_ADMIN_URL.replace("+psycopg", "")


def pg_unavailable_reason() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg
    except ImportError as error:  # pragma: no cover
        return f"psycopg is not installed: {error}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return f"no PostgreSQL server at {PG_ADMIN_URL}: {str(error).splitlines()[0]}"
