"""The HTTP service a loan app calls: ``create_app(settings)`` builds it; nothing is loaded at import.

The lifespan, once per worker process: the database migrated (under a lock, so workers starting together
take turns), the model, policy, partners and the :class:`~creditmesh.api.platform.Platform` built. A
:class:`~creditmesh.errors.CreditmeshError` raised while handling becomes one 4xx naming its field (404
for an object the caller cannot see, 409 for a reused id, else 422), in the shape of FastAPI's own
validation answers; a validation answer never echoes the input (it may hold a raw identifier); anything
else is a bug and gets a bare 500 without a traceback; the database unreachable is a 503 to retry. The
request guards (:mod:`creditmesh.api.middleware`) run before any route; ``/metrics`` counts what they see.

The platform's routes are sync ``def``: FastAPI runs them in its thread pool, so a database wait never
blocks the event loop.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError

from creditmesh.api import console, middleware
from creditmesh.api.errors import Conflict, NotFound
from creditmesh.api.metrics import ServiceMetrics, matcher_capacity_used
from creditmesh.api.openapi import document_statuses
from creditmesh.api.routes import (
    applications,
    borrowers,
    collections,
    credit_lines,
    decisions,
    drawdowns,
    health,
    keys,
    loans,
    reports,
    reviews,
)
from creditmesh.api.settings import Settings
from creditmesh.errors import CreditmeshError


def build_state(settings: Settings):
    """The ledger (migrated, decision tables created), the decision engine and the platform over them."""
    from creditmesh.api.keys import KeyCache
    from creditmesh.api.platform import Platform
    from creditmesh.decision import DecisionEngine, default_policy_path, load_policy
    from creditmesh.decision.audit import create_tables
    from creditmesh.ledger import Ledger
    from creditmesh.ledger.store import MIGRATION_LOCK_KEY
    from creditmesh.matching import load_partners
    from creditmesh.scoring.artifact import load_model

    engine = DecisionEngine(
        load_policy(settings.policy_path or default_policy_path()), load_model(settings.model_path)
    )
    # a connection for each route (or readiness check) run at once, and one for each of the request guard's
    # key checks (at most middleware.KEY_CHECKS at once, on threads of their own): none waits on the pool
    ledger = Ledger.connect(settings.db_url, pool_size=settings.concurrency + middleware.KEY_CHECKS)
    with ledger.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        create_tables(connection)
    partners = load_partners(settings.partners_path) if settings.partners_path else None
    platform = Platform.build(ledger, engine, partners, settings.identifier_key.encode())
    return engine, platform, KeyCache(ledger.engine)


def build_matching(settings: Settings, platform) -> tuple:
    """The online matcher the reports rank with (the platform's) and the salt reports mask with."""
    import secrets

    return platform.matcher, settings.report_salt or secrets.token_hex(16)


def _error(status_code: int, error: CreditmeshError) -> JSONResponse:
    field = error.field.removeprefix("application.")
    where = "header" if field == "Idempotency-Key" else "body"
    return JSONResponse(
        status_code=status_code,
        content={"detail": [{"loc": [where, *field.split(".")], "msg": error.reason, "type": "creditmesh"}]},
    )


def _field_error(request: Request, error: CreditmeshError) -> JSONResponse:
    if isinstance(error, NotFound):
        return _error(404, error)
    if isinstance(error, Conflict):
        return _error(409, error)
    return _error(422, error)


#: The most problems one 422 lists.
MAX_PROBLEMS = 20


def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, without the input it echoes (a bad phone number must not come back in the answer),
    at most :data:`MAX_PROBLEMS` problems, each field path cut short (a key may be any length)."""
    detail = [
        {
            "loc": [part if isinstance(part, int) else str(part)[:64] for part in e.get("loc", ())],
            "msg": str(e.get("msg", ""))[:200],
            "type": str(e.get("type", "")),
        }
        for e in error.errors()[:MAX_PROBLEMS]
    ]
    return JSONResponse(status_code=422, content={"detail": detail})


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The database is unreachable: a 503 the client may retry (the pool reconnects by itself)."""
    return JSONResponse(
        status_code=503,
        content={"detail": "the database is unavailable; retry shortly"},
        headers={"Retry-After": "1"},
    )


def create_app(settings: Settings) -> FastAPI:
    """The service under ``settings``; its state is built when it starts and disposed when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the sync routes run in anyio's thread pool: at most ``concurrency`` at once, each sure of a connection
        # (anyio's default, 40 threads, outnumbered SQLAlchemy's 5 kept + 10 overflow connections: threads waited
        # on the pool holding their place, and an overflow connection was opened and closed for each use)
        to_thread.current_default_thread_limiter().total_tokens = settings.concurrency
        app.state.engine, app.state.platform, app.state.keys = build_state(settings)
        app.state.audit_log = app.state.platform.audit
        app.state.matcher, app.state.report_salt = build_matching(settings, app.state.platform)
        if app.state.matcher is not None:
            app.state.metrics.capacity_used = matcher_capacity_used(app.state.matcher)
        app.state.console = console.build_console(settings, app.state.platform)
        try:
            yield
        finally:
            app.state.platform.ledger.close()
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # this worker's live gauges go with it
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(os.getpid())

    app = FastAPI(title="creditmesh", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = ServiceMetrics()
    app.add_exception_handler(CreditmeshError, _field_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for unreachable in (OperationalError, InterfaceError):
        app.add_exception_handler(unreachable, _database_unavailable)
    for module in (
        applications,
        credit_lines,
        drawdowns,
        loans,
        decisions,
        reviews,
        reports,
        borrowers,
        keys,
        collections,
        health,
    ):
        app.include_router(module.router)
    console.install(app)
    middleware.install(app)
    document_statuses(app)
    return app


def create_app_from_env() -> FastAPI:
    """:func:`create_app` under :meth:`Settings.from_env` (the factory ``creditmesh serve`` gives uvicorn)."""
    return create_app(Settings.from_env())
