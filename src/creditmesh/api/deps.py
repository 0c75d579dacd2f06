"""Typed dependencies of the routes: the decision engine, the audit log, and API-key authorisation.

The engine and log are built once by the app's lifespan (:func:`creditmesh.api.app.create_app`)
and held on ``app.state``; tests replace them through ``app.dependency_overrides``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from creditmesh.api.settings import Settings
from creditmesh.decision import DecisionEngine
from creditmesh.decision.audit import AuditLog


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> DecisionEngine:
    return request.app.state.engine


def get_audit_log(request: Request) -> AuditLog:
    return request.app.state.audit_log


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[DecisionEngine, Depends(get_engine)]
AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]


def require_api_key(settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """401 unless the ``X-API-Key`` header holds one of the configured keys (compared in constant time)."""
    given = (x_api_key or "").encode()
    if not given or not any(hmac.compare_digest(given, key.encode()) for key in settings.api_keys):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or unknown API key (X-API-Key header)",
            headers={"WWW-Authenticate": "X-API-Key"},
        )


ApiKey = Depends(require_api_key)
