"""The service's settings, read from the environment once, when the app is built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from creditmesh.errors import ParameterError
from creditmesh.ledger.store import database_url

#: The shortest identifier key accepted (bytes of the HMAC key that hashes applicants' identifiers).
MIN_IDENTIFIER_KEY = 16

__all__ = ["Settings", "database_url"]


@dataclass(frozen=True)
class Settings:
    """Where the service's database lives, the model and policy to decide with, the funding partners, and
    the key that hashes identifiers. API keys live hashed in the database (``creditmesh keys create``)."""

    db_url: str
    model_path: Path
    identifier_key: str
    policy_path: Path | None = None
    partners_path: Path | None = None  # funding partners (institutions Parquet, YAML or JSON)
    report_salt: str = ""  # keys the hashes that mask personal data in reports; empty: random per process

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """``CREDITMESH_DB`` (a SQLAlchemy URL or a SQLite file path, as for the ledger), ``CREDITMESH_MODEL``
        (a saved model), ``CREDITMESH_IDENTIFIER_KEY`` (at least 16 characters, the same in every worker),
        ``CREDITMESH_POLICY`` (default: the shipped policy), ``CREDITMESH_PARTNERS`` (funding partners)
        and ``CREDITMESH_REPORT_SALT``."""
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
        return cls(
            db_url=database_url(env.get("CREDITMESH_DB") or None),
            model_path=Path(model),
            identifier_key=key,
            policy_path=Path(policy) if policy else None,
            partners_path=Path(partners) if partners else None,
            report_salt=env.get("CREDITMESH_REPORT_SALT", ""),
        )
