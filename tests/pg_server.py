"""The PostgreSQL server the tests use, and why it is unavailable when it is (shared by every box's tests)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

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


def skip_without_pg() -> None:
    """Skip the calling test, saying why, when PostgreSQL does not answer; under CI, fail it instead.

    CI (the ``CI`` environment variable set to anything but ``false``/``0``) promises a server: a
    PostgreSQL test that cannot reach one there is a broken run, not a test to pass over.
    """
    reason = pg_unavailable_reason()
    if reason is None:
        return
    import pytest

    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI runs every PostgreSQL test, and the server does not answer: {reason}", pytrace=False)
    pytest.skip(reason)


def fresh_pg_database() -> tuple[str, callable]:
    """Create an empty database; return its SQLAlchemy URL and a function that drops it."""
    import psycopg

    name = f"cm_test_{uuid.uuid4().hex[:12]}"
    admin = PG_ADMIN_DSN
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


@contextmanager
def throwaway_pg_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database for one test, dropped afterwards; skips when no server answers."""
    skip_without_pg()
    url, drop = fresh_pg_database()
    try:
        yield url
    finally:
        drop()
