"""The service's settings, read from the environment once, when the app is built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from creditmesh.errors import ParameterError

#: A limit on everything: the most API keys one service accepts.
MAX_API_KEYS = 64


@dataclass(frozen=True)
class Settings:
    """Where the audit log lives, which keys may call, and the model and policy to decide with."""

    db_url: str
    api_keys: frozenset[str]
    model_path: Path
    policy_path: Path | None = None
    partners_path: Path | None = None  # funding partners (institutions Parquet, YAML or JSON) for reports
    report_salt: str = ""  # keys the hashes that mask personal data in reports; empty: random per process
    ledger_url: str | None = (
        None  # the ledger collections reads and writes; None: the collections routes answer 503
    )
    collections_strategy_path: Path | None = None  # default: the shipped champion strategy

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """``CREDITMESH_DB`` (a SQLAlchemy URL or a SQLite file path), ``CREDITMESH_API_KEYS`` (comma-separated),
        ``CREDITMESH_MODEL`` (a saved model), ``CREDITMESH_POLICY`` (default: the shipped policy),
        ``CREDITMESH_PARTNERS`` (funding partners for investigation reports), ``CREDITMESH_REPORT_SALT``,
        ``CREDITMESH_LEDGER_DB`` (the ledger collections works on) and ``CREDITMESH_STRATEGY`` (its strategy)."""
        env = os.environ if environ is None else environ
        keys = frozenset(k.strip() for k in env.get("CREDITMESH_API_KEYS", "").split(",") if k.strip())
        if not keys:
            raise ParameterError("CREDITMESH_API_KEYS", "set at least one API key (comma-separated)")
        if len(keys) > MAX_API_KEYS:
            raise ParameterError("CREDITMESH_API_KEYS", f"at most {MAX_API_KEYS} keys")
        model = env.get("CREDITMESH_MODEL", "")
        if not model:
            raise ParameterError(
                "CREDITMESH_MODEL", "the path of a saved model (creditmesh model train --out)"
            )
        policy = env.get("CREDITMESH_POLICY")
        partners = env.get("CREDITMESH_PARTNERS")
        return cls(
            db_url=database_url(env.get("CREDITMESH_DB", "decisions.db")),
            api_keys=keys,
            model_path=Path(model),
            policy_path=Path(policy) if policy else None,
            partners_path=Path(partners) if partners else None,
            report_salt=env.get("CREDITMESH_REPORT_SALT", ""),
            ledger_url=database_url(env["CREDITMESH_LEDGER_DB"]) if env.get("CREDITMESH_LEDGER_DB") else None,
            collections_strategy_path=Path(env["CREDITMESH_STRATEGY"])
            if env.get("CREDITMESH_STRATEGY")
            else None,
        )


def database_url(value: str) -> str:
    """A SQLAlchemy URL as given, or a SQLite URL for a plain file path."""
    return value if "://" in value else f"sqlite:///{Path(value).resolve()}"
