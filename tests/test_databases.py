"""One database URL format (issue 21): a plain path in CREDITMESH_DB works for the API and the ledger alike,
and what neither can open is refused by both naming the setting."""

from __future__ import annotations

import pytest

from creditmesh.api.settings import Settings
from creditmesh.errors import ParameterError
from creditmesh.ledger import Ledger


def _settings(db: str) -> Settings:
    return Settings.from_env(
        {"CREDITMESH_IDENTIFIER_KEY": "k" * 16, "CREDITMESH_MODEL": "m", "CREDITMESH_DB": db}
    )


def test_a_plain_path_is_a_sqlite_file_for_the_api_and_the_ledger(tmp_path, monkeypatch):
    path = tmp_path / "book.db"
    url = _settings(str(path)).db_url
    assert url == f"sqlite:///{path}"
    ledger = Ledger.connect(str(path))
    try:
        assert ledger.engine.url.database == str(path) and path.exists()
    finally:
        ledger.close()
    monkeypatch.setenv("CREDITMESH_DB", str(tmp_path / "from-env.db"))
    ledger = Ledger.connect()
    try:
        assert (tmp_path / "from-env.db").exists()
    finally:
        ledger.close()


@pytest.mark.parametrize("value", ["mysql://user@host/db", "/no/such/folder/book.db", "  "])
def test_what_neither_can_open_is_refused_by_both_naming_the_setting(value, monkeypatch):
    with pytest.raises(ParameterError) as api:
        _settings(value)
    monkeypatch.setenv("CREDITMESH_DB", value)
    with pytest.raises(ParameterError) as ledger:
        Ledger.connect(value if value.strip() else None)
    assert api.value.field == ledger.value.field == "CREDITMESH_DB"


def test_a_postgresql_url_uses_the_driver_we_ship():
    assert _settings("postgresql://u@h/db").db_url == "postgresql+psycopg://u@h/db"
