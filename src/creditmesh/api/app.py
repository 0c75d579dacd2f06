"""The HTTP service a loan app calls: ``create_app(settings)`` builds it; nothing is loaded at import.

The model, policy and audit log are loaded by the app's lifespan, once per process. A
:class:`~creditmesh.errors.CreditmeshError` raised while deciding becomes one 422 naming its
field, in the shape of FastAPI's own validation answers; anything else is a bug and gets a bare
500 without a traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from creditmesh.api.routes import (
    applications,
    collections,
    decisions,
    drawdowns,
    health,
    line_reviews,
    reports,
    reviews,
)
from creditmesh.api.settings import Settings
from creditmesh.errors import CreditmeshError


def build_state(settings: Settings):
    """The engine (champion policy and model) and the audit log (tables created) the settings name."""
    from creditmesh.decision import DecisionEngine, default_policy_path, load_policy
    from creditmesh.decision.audit import AuditLog
    from creditmesh.scoring.artifact import load_model

    engine = DecisionEngine(
        load_policy(settings.policy_path or default_policy_path()), load_model(settings.model_path)
    )
    log = AuditLog(settings.db_url)
    if log.engine.dialect.name == "sqlite":  # readers never wait for the writer; persists in the file
        with log.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    return engine, log


def build_matching(settings: Settings):
    """The online matcher over the settings' partners (None without them) and the salt reports mask with."""
    import secrets

    from creditmesh.matching import OnlineMatcher, load_partners

    matcher = OnlineMatcher(load_partners(settings.partners_path)) if settings.partners_path else None
    return matcher, settings.report_salt or secrets.token_hex(16)


def _field_error(request: Request, error: CreditmeshError) -> JSONResponse:
    field = error.field.removeprefix("application.")
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": ["body", *field.split(".")], "msg": error.reason, "type": "creditmesh"}]},
    )


def create_app(settings: Settings) -> FastAPI:
    """The service under ``settings``; the engine and log are built when it starts, disposed when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine, app.state.audit_log = build_state(settings)
        app.state.matcher, app.state.report_salt = build_matching(settings)
        try:
            yield
        finally:
            app.state.audit_log.engine.dispose()

    app = FastAPI(title="creditmesh decisions", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.add_exception_handler(CreditmeshError, _field_error)
    for module in (applications, drawdowns, line_reviews, decisions, reviews, reports, health, collections):
        app.include_router(module.router)
    return app


def create_app_from_env() -> FastAPI:
    """:func:`create_app` under :meth:`Settings.from_env` (the factory ``creditmesh serve`` gives uvicorn)."""
    return create_app(Settings.from_env())
