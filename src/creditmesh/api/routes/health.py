"""Operations: liveness (``GET /livez``, ``GET /healthz``), readiness (``GET /readyz``) and ``GET /metrics``.

Liveness says the process answers; readiness says it can decide now: the policy and the model are
loaded and a query on the decision log's database succeeds. A load balancer sends traffic only
while ``/readyz`` is 200; an orchestrator restarts the process only when ``/livez`` fails, so a
database outage takes the service out of rotation and it comes back by itself when the database
does. None of them needs a key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from creditmesh.api.deps import EngineDep
from creditmesh.api.models import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
def healthz(engine: EngineDep) -> Health:
    """Liveness, with the policy and model versions loaded."""
    return Health(policy_version=engine.champion.version, model_version=engine.model_version)


@router.get("/livez", response_model=Health)
def livez(engine: EngineDep) -> Health:
    """Liveness: the process answers (what ``/healthz`` answers)."""
    return healthz(engine)


def _readiness(request: Request) -> dict[str, str]:
    checks: dict[str, str] = {}
    engine = getattr(request.app.state, "engine", None)
    checks["policy"] = "ok" if engine is not None and engine.champion is not None else "not loaded"
    checks["model"] = "ok" if engine is not None and engine.model is not None else "not loaded"
    log = getattr(request.app.state, "audit_log", None)
    try:
        if log is None:
            raise RuntimeError("no decision log")
        log.ping()
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means not ready; the type says which
        checks["database"] = f"unavailable ({type(error).__name__})"
    return checks


@router.get(
    "/readyz",
    responses={503: {"description": "not ready: a check failed (named in checks)"}},
)
async def readyz(request: Request) -> Any:
    """Readiness: policy and model loaded, and a query on the decision log's database answered."""
    checks = await run_in_threadpool(_readiness, request)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency by route, decisions by stage and outcome, automation, capacity."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
