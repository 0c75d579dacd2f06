"""Typed dependencies of the routes: the decision engine, the audit log, and API-key authorisation.

The engine and log are built once by the app's lifespan (:func:`creditmesh.api.app.create_app`)
and held on ``app.state``; tests replace them through ``app.dependency_overrides``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status

from creditmesh.api.metrics import ServiceMetrics
from creditmesh.api.settings import Settings
from creditmesh.decision import DecisionEngine
from creditmesh.decision.audit import AuditLog


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> DecisionEngine:
    return request.app.state.engine


def get_audit_log(request: Request) -> AuditLog:
    return request.app.state.audit_log


def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
EngineDep = Annotated[DecisionEngine, Depends(get_engine)]
AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (a short hash, safe to log and to label metrics with), never the key."""

    key_id: str


def key_id(api_key: str) -> str:
    """The id a key is logged and rate-limited under: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def resolve_principal(state: Any, api_key: str | None) -> Principal | None:
    """The caller an ``X-API-Key`` value stands for, or None for a missing or unknown key.

    The one place a key becomes a principal: the request guard (before the body is read, for the rate
    limits) and the routes' dependency both call it. Keys are compared in constant time.
    """
    given = (api_key or "").encode()
    if not given or len(given) > 256:
        return None
    settings: Settings = state.settings
    if any(hmac.compare_digest(given, key.encode()) for key in settings.api_keys):
        return Principal(key_id(api_key))
    return None


def require_api_key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> Principal:
    """401 unless the ``X-API-Key`` header holds one of the configured keys.

    The guard middleware resolved it already (and left the principal in the request's state); a
    request that reaches a route without passing the guard, as under a bare test client, is resolved here.
    """
    principal = getattr(request.state, "principal", None) or resolve_principal(request.app.state, x_api_key)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or unknown API key (X-API-Key header)",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    return principal


ApiKey = Depends(require_api_key)
