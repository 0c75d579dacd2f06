"""Every revision goes down as well as up: head → base → head leaves the same schema, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from creditmesh.ledger import store
from creditmesh.ledger.tables import CHART_CODES


def _schema(engine) -> dict[str, tuple]:
    inspector = inspect(engine)
    return {
        table: (
            tuple(sorted(column["name"] for column in inspector.get_columns(table))),
            tuple(sorted((c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table))),
            tuple(sorted(index["name"] for index in inspector.get_indexes(table))),
        )
        for table in sorted(inspector.get_table_names())
    }


def _functions(engine) -> set[str]:
    """The functions in the database's public schema (PostgreSQL; SQLite has none)."""
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        return set(
            conn.exec_driver_sql(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public'"
            ).scalars()
        )


def _migrate(engine, verb: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(store.__file__).with_name("migrations")))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


def test_every_revision_downgrades_and_upgrades_again_to_the_same_schema(ledger_url):
    engine = create_engine(ledger_url)
    try:
        _migrate(engine, "upgrade", "head")
        at_head = _schema(engine)
        assert _functions(engine) == (
            {"ledger_post_payment"} if engine.dialect.name == "postgresql" else set()
        )
        _migrate(engine, "downgrade", "base")
        assert set(_schema(engine)) <= {"alembic_version"}, "a downgrade left tables behind"
        assert _functions(engine) == set(), "a downgrade left functions behind"
        _migrate(engine, "upgrade", "head")
        assert _schema(engine) == at_head
        checks = dict(at_head["postings"][1])
        assert all(f"'{code}'" in checks["ck_postings_account_in_chart"] for code in CHART_CODES)
    finally:
        engine.dispose()
