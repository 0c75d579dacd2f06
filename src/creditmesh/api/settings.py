"""The service's settings, read from the environment once, when the app is built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from creditmesh.databases import database_url
from creditmesh.errors import ParameterError

#: A limit on everything: the most API keys one service accepts.
MAX_API_KEYS = 64
#: The largest request body the service reads, unless ``CREDITMESH_BODY_LIMIT_BYTES`` says otherwise.
BODY_LIMIT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Settings:
    """Where the audit log lives, which keys may call, and the model and policy to decide with."""

    db_url: str
    api_keys: frozenset[str]
    model_path: Path
    policy_path: Path | None = None
    partners_path: Path | None = None  # funding partners (institutions Parquet, YAML or JSON) for reports
    report_salt: str = ""  # keys the hashes that mask personal data in reports; empty: random per process
    body_limit_bytes: int = BODY_LIMIT_BYTES  # a longer body is a 413, refused before it is read
    body_timeout_seconds: float = 10.0  # a body not all in by then (slow, or shorter than announced) is a 408
    rate_per_key: float = 200.0  # requests a second one API key may make (a token bucket, burst twice this)
    rate_per_address: float = 500.0  # requests a second from one client address, keyed or not
    auth_failures_per_minute: float = 10.0  # wrong or missing keys a minute from one address (burst 20)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """``CREDITMESH_DB`` (a SQLAlchemy URL or a SQLite file path), ``CREDITMESH_API_KEYS`` (comma-separated),
        ``CREDITMESH_MODEL`` (a saved model), ``CREDITMESH_POLICY`` (default: the shipped policy),
        ``CREDITMESH_PARTNERS`` (funding partners for investigation reports), ``CREDITMESH_REPORT_SALT``,
        and the limits ``CREDITMESH_BODY_LIMIT_BYTES``, ``CREDITMESH_BODY_TIMEOUT_SECONDS``,
        ``CREDITMESH_RATE_PER_KEY``, ``CREDITMESH_RATE_PER_ADDRESS``, ``CREDITMESH_AUTH_FAILURES_PER_MINUTE``."""
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
            body_limit_bytes=int(_number(env, "CREDITMESH_BODY_LIMIT_BYTES", BODY_LIMIT_BYTES, 1, 2**30)),
            body_timeout_seconds=_number(env, "CREDITMESH_BODY_TIMEOUT_SECONDS", 10.0, 0.1, 600),
            rate_per_key=_number(env, "CREDITMESH_RATE_PER_KEY", 200.0, 0.01, 1e6),
            rate_per_address=_number(env, "CREDITMESH_RATE_PER_ADDRESS", 500.0, 0.01, 1e6),
            auth_failures_per_minute=_number(env, "CREDITMESH_AUTH_FAILURES_PER_MINUTE", 10.0, 0.01, 1e6),
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


__all__ = ["BODY_LIMIT_BYTES", "MAX_API_KEYS", "Settings", "database_url"]
