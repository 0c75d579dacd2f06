"""Typed dependencies of the routes: the platform, the decision engine, the audit log, and who is calling.

Everything is built once by the app's lifespan (:func:`creditmesh.api.app.create_app`) and held on
``app.state``; tests replace it through ``app.dependency_overrides``. Authorisation is declared on the
route: ``Depends(role("app"))`` lets only app keys in (401 without a valid key, 403 for another role).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status

from creditmesh.api.keys import Principal
from creditmesh.api.metrics import ServiceMetrics
from creditmesh.api.platform import Platform
from creditmesh.api.settings import Settings
from creditmesh.decision import DecisionEngine
from creditmesh.decision.audit import AuditLog


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> DecisionEngine:
    return request.app.state.engine


def get_audit_log(request: Request) -> AuditLog:
    return request.app.state.audit_log


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
EngineDep = Annotated[DecisionEngine, Depends(get_engine)]
AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]
PlatformDep = Annotated[Platform, Depends(get_platform)]


def resolve_principal(state: Any, api_key: str | None) -> Principal | None:
    """The caller an ``X-API-Key`` value stands for (checked against the stored hashes), or None.

    The one place a key becomes a principal: the request guard (before the body is read, for the rate
    limits) and :func:`authenticated` both call it.
    """
    if not plausible_key(api_key):
        return None
    return state.keys.principal(api_key)


def plausible_key(api_key: str | None) -> bool:
    """Whether a presented key is worth looking up (present, and not absurdly long)."""
    return bool(api_key) and len(api_key) <= 256


def authenticated(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> Principal:
    """The caller's key (``X-API-Key``); 401 when missing or unknown. The guard middleware resolved it
    already (the principal in the request's state); a request that did not pass it is resolved here."""
    principal = getattr(request.state, "principal", None) or resolve_principal(request.app.state, x_api_key)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or unknown API key (X-API-Key header)",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    return principal


def role(*allowed: str):
    """A dependency that lets in keys of the ``allowed`` roles only (403 for the others) and gives the principal."""

    def check(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a {principal.role} key may not do this (needs {' or '.join(allowed)})",
            )
        return principal

    return check


AppKey = Annotated[Principal, Depends(role("app"))]
ReaderKey = Annotated[Principal, Depends(role("app", "operator"))]
LoanReaderKey = Annotated[Principal, Depends(role("app", "partner", "operator"))]
ReportReaderKey = Annotated[Principal, Depends(role("partner", "operator"))]
OperatorKey = Annotated[Principal, Depends(role("operator"))]
AdminKey = Annotated[Principal, Depends(role("admin"))]
