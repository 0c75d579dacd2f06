"""The HTTP service a loan app calls: ``create_app(settings)`` builds it; nothing is loaded at import.

The model, policy and audit log are loaded by the app's lifespan, once per process. A
:class:`~creditmesh.errors.CreditmeshError` raised while deciding becomes one 422 naming its
field, in the shape of FastAPI's own validation answers; anything else is a bug and gets a bare
500 without a traceback.
"""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError

from creditmesh.api import middleware
from creditmesh.api.metrics import ServiceMetrics, matcher_capacity_used
from creditmesh.api.openapi import document_statuses
from creditmesh.api.routes import applications, decisions, drawdowns, health, line_reviews, reports, reviews
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


#: The most problems one 422 lists, and the longest excerpt of a bad value it quotes.
MAX_PROBLEMS = 20
MAX_EXCERPT_CHARS = 40


def _excerpt(value: Any) -> Any:
    """A bad value as a 422 may quote it: a short scalar as it is, a long string cut, anything else left out."""
    if value is None or isinstance(value, (bool, int)):
        return value if not isinstance(value, int) or abs(value) < 10**18 else str(value)[:MAX_EXCERPT_CHARS]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_EXCERPT_CHARS else value[:MAX_EXCERPT_CHARS] + "..."
    return None


def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 with the input cut to a short safe excerpt (never the body echoed back)."""
    problems = []
    for problem in error.errors()[:MAX_PROBLEMS]:
        safe = {
            "loc": [part if isinstance(part, int) else str(part)[:64] for part in problem.get("loc", ())],
            "msg": str(problem.get("msg", ""))[:200],
            "type": str(problem.get("type", "")),
        }
        if (excerpt := _excerpt(problem.get("input"))) is not None:
            safe["input"] = excerpt
        problems.append(safe)
    return JSONResponse(status_code=422, content={"detail": problems})


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The database is unreachable: a 503 the client may retry (the pool reconnects by itself)."""
    return JSONResponse(
        status_code=503,
        content={"detail": "the database is unavailable; retry shortly"},
        headers={"Retry-After": "1"},
    )


def create_app(settings: Settings) -> FastAPI:
    """The service under ``settings``; the engine and log are built when it starts, disposed when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine, app.state.audit_log = build_state(settings)
        app.state.matcher, app.state.report_salt = build_matching(settings)
        if app.state.matcher is not None:
            app.state.metrics.capacity_used = matcher_capacity_used(app.state.matcher)
        try:
            yield
        finally:
            app.state.audit_log.engine.dispose()
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # this worker's live gauges go with it
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(os.getpid())

    app = FastAPI(title="creditmesh decisions", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = ServiceMetrics()
    app.add_exception_handler(CreditmeshError, _field_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for unreachable in (OperationalError, InterfaceError):
        app.add_exception_handler(unreachable, _database_unavailable)
    for module in (applications, drawdowns, line_reviews, decisions, reviews, reports, health):
        app.include_router(module.router)
    middleware.install(app)
    document_statuses(app)
    return app


def create_app_from_env() -> FastAPI:
    """:func:`create_app` under :meth:`Settings.from_env` (the factory ``creditmesh serve`` gives uvicorn)."""
    return create_app(Settings.from_env())
