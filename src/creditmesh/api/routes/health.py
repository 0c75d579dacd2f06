"""Liveness: ``GET /healthz`` (no key needed; says which policy and model are loaded)."""

from fastapi import APIRouter

from creditmesh.api.deps import EngineDep
from creditmesh.api.models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(engine: EngineDep) -> Health:
    return Health(policy_version=engine.champion.version, model_version=engine.model_version)
