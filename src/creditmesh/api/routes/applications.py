"""Credit-line applications: ``POST /v1/applications`` (app keys)."""

from fastapi import APIRouter

from creditmesh.api.deps import AppKey, PlatformDep
from creditmesh.api.platform_models import ApplicationIn, ApplicationOut

router = APIRouter(prefix="/v1/applications", tags=["credit lines"])


@router.post("", response_model=ApplicationOut, responses={409: {"description": "id used with other inputs"}})
def apply_for_credit_line(body: ApplicationIn, who: AppKey, platform: PlatformDep) -> ApplicationOut:
    """Decide a credit-line application (identifiers hashed on receipt, graph signals looked up by the
    service); an approved line is stored and its id returned. A repeat returns the first answer."""
    return platform.apply(who, body)
