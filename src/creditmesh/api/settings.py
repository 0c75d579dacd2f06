"""The service's settings, read from the environment once, when the app is built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from creditmesh.errors import ParameterError
from creditmesh.ledger.store import database_url

#: The largest request body the service reads, unless ``CREDITMESH_BODY_LIMIT_BYTES`` says otherwise.
BODY_LIMIT_BYTES = 64 * 1024
#: The shortest identifier key accepted (bytes of the HMAC key that hashes applicants' identifiers).
MIN_IDENTIFIER_KEY = 16

__all__ = ["BODY_LIMIT_BYTES", "Settings", "database_url"]


@dataclass(frozen=True)
class Settings:
    """Where the service's database lives, the model and policy to decide with, the funding partners, and
    the key that hashes identifiers. API keys live hashed in the database (``creditmesh keys create``)."""

    db_url: str
    model_path: Path
    identifier_key: str
    policy_path: Path | None = None
    partners_path: Path | None = None  # funding partners (institutions Parquet, YAML or JSON)
    book_path: Path | None = None  # the console's portfolio reads this Parquet book; unset: the live ledger
    report_salt: str = ""  # keys the hashes that mask personal data in reports; empty: random per process
    body_limit_bytes: int = BODY_LIMIT_BYTES  # a longer body is a 413, refused before it is read
    body_timeout_seconds: float = 10.0  # a body not all in by then (slow, or shorter than announced) is a 408
    rate_per_key: float = 200.0  # requests a second one API key may make (a token bucket, burst twice this)
    rate_per_address: float = 500.0  # requests a second from one client address, keyed or not
    auth_failures_per_minute: float = 10.0  # wrong or missing keys a minute from one address (burst 20)
    # requests a worker handles at once, each on its own database connection (the pool holds this many and two
    # for the request guard's key checks); the rest wait their turn in the event loop
    concurrency: int = 16

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """``CREDITMESH_DB`` (a SQLAlchemy URL or a SQLite file path, as for the ledger), ``CREDITMESH_MODEL``
        (a saved model), ``CREDITMESH_IDENTIFIER_KEY`` (at least 16 characters, the same in every worker),
        ``CREDITMESH_POLICY`` (default: the shipped policy), ``CREDITMESH_PARTNERS`` (funding partners),
        ``CREDITMESH_BOOK`` (a folder of Parquet tables the console's portfolio page reads instead of the live
        ledger), ``CREDITMESH_REPORT_SALT``, and the limits ``CREDITMESH_BODY_LIMIT_BYTES``,
        ``CREDITMESH_BODY_TIMEOUT_SECONDS``, ``CREDITMESH_RATE_PER_KEY``, ``CREDITMESH_RATE_PER_ADDRESS``,
        ``CREDITMESH_AUTH_FAILURES_PER_MINUTE``, ``CREDITMESH_CONCURRENCY`` (requests a worker handles at once)."""
        env = os.environ if environ is None else environ
        model = env.get("CREDITMESH_MODEL", "")
        if not model:
            raise ParameterError(
                "CREDITMESH_MODEL", "the path of a saved model (creditmesh model train --out)"
            )
        key = env.get("CREDITMESH_IDENTIFIER_KEY", "")
        if len(key) < MIN_IDENTIFIER_KEY:
            raise ParameterError(
                "CREDITMESH_IDENTIFIER_KEY",
                f"at least {MIN_IDENTIFIER_KEY} characters: the key that hashes applicants' identifiers",
            )
        policy = env.get("CREDITMESH_POLICY")
        partners = env.get("CREDITMESH_PARTNERS")
        book = env.get("CREDITMESH_BOOK")
        if book and not Path(book).is_dir():
            raise ParameterError("CREDITMESH_BOOK", f"a folder of Parquet tables, got {book!r}")
        return cls(
            db_url=database_url(env.get("CREDITMESH_DB") or None),
            model_path=Path(model),
            identifier_key=key,
            policy_path=Path(policy) if policy else None,
            partners_path=Path(partners) if partners else None,
            book_path=Path(book) if book else None,
            report_salt=env.get("CREDITMESH_REPORT_SALT", ""),
            body_limit_bytes=int(_number(env, "CREDITMESH_BODY_LIMIT_BYTES", BODY_LIMIT_BYTES, 1, 2**30)),
            body_timeout_seconds=_number(env, "CREDITMESH_BODY_TIMEOUT_SECONDS", 10.0, 0.1, 600),
            rate_per_key=_number(env, "CREDITMESH_RATE_PER_KEY", 200.0, 0.01, 1e6),
            rate_per_address=_number(env, "CREDITMESH_RATE_PER_ADDRESS", 500.0, 0.01, 1e6),
            auth_failures_per_minute=_number(env, "CREDITMESH_AUTH_FAILURES_PER_MINUTE", 10.0, 0.01, 1e6),
            concurrency=int(_number(env, "CREDITMESH_CONCURRENCY", 16, 1, 1000)),
        )


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(name, f"a number, got {text!r}") from None
    if not low <= value <= high:
        raise ParameterError(name, f"between {low:g} and {high:g}, got {text}")
    return value
