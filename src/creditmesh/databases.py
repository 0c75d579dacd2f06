"""One database URL format for every part that opens a database (the API's audit log, the ledger).

``CREDITMESH_DB`` and every ``--db`` option take a SQLAlchemy URL (``sqlite:///decisions.db``,
``postgresql+psycopg://user@host/db``) or a plain file path, which means a SQLite file there; anything
else (a URL of a driver we do not ship, a path into a folder that does not exist) is refused naming the
setting, so a typo fails at start rather than at the first request.
"""

from __future__ import annotations

from pathlib import Path

from creditmesh.errors import ParameterError

#: The URL schemes a creditmesh database may use.
SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def database_url(value: str, *, setting: str = "CREDITMESH_DB") -> str:
    """A SQLAlchemy URL as given (its scheme checked), or the SQLite URL of a plain file path."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ParameterError(
            setting, "a database URL (sqlite:///file.db, postgresql+psycopg://...) or a file path"
        )
    if "://" in text:
        scheme = text.split("://", 1)[0]
        if scheme not in SCHEMES:
            raise ParameterError(setting, f"scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
        if scheme in ("postgresql", "postgres"):  # the psycopg 3 driver, the one creditmesh installs
            return "postgresql+psycopg://" + text.split("://", 1)[1]
        return text
    path = Path(text).expanduser()
    if not path.resolve().parent.is_dir():
        raise ParameterError(setting, f"the folder of {str(path)!r} does not exist")
    return f"sqlite:///{path.resolve()}"
