"""Credit-line applications: ``POST /v1/applications`` (app keys)."""

from fastapi import APIRouter

from creditmesh.api.deps import AppKey, MetricsDep, PlatformDep
from creditmesh.api.platform_models import ApplicationIn, ApplicationOut

router = APIRouter(prefix="/v1/applications", tags=["credit lines"])


@router.post("", response_model=ApplicationOut, responses={409: {"description": "id used with other inputs"}})
def apply_for_credit_line(
    body: ApplicationIn, who: AppKey, platform: PlatformDep, metrics: MetricsDep
) -> ApplicationOut:
    """Decide a credit-line application (identifiers hashed on receipt, graph signals looked up by the
    service); an approved line is stored and its id returned. A repeat returns the first answer."""
    answer = platform.apply(who, body)
    metrics.observe_decision("credit_line", answer.outcome, answer.outcome != "review")
    return answer
