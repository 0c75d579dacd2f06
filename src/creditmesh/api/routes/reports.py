"""Pre-loan investigation reports: ``GET /v1/applications/{application_id}/report`` (JSON, or HTML on
``?format=html`` or ``Accept: text/html``), for the partner that funds the drawdown or an operator.
Answered from the stored decision; reserves no capacity."""

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse

from creditmesh.api.deps import PlatformDep, ReportReaderKey
from creditmesh.api.models import ApplicationId
from creditmesh.errors import ParameterError
from creditmesh.matching import report_html
from creditmesh.matching.report import report_for_decision

router = APIRouter(prefix="/v1/applications", tags=["reports"])


@router.get(
    "/{application_id}/report",
    responses={
        404: {"description": "no decision for that id, or not this partner's"},
        409: {"description": "the application was not approved"},
        200: {"content": {"text/html": {}}},
    },
)
def get_report(
    application_id: Annotated[ApplicationId, Path()],
    request: Request,
    who: ReportReaderKey,
    platform: PlatformDep,
    format: Annotated[Literal["json", "html"] | None, Query()] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """The pre-loan investigation report for the partner the application is matched to; personal data masked."""
    platform.drawdown_institution(who, application_id)
    row = platform.decision_row(who, application_id)
    try:
        report = report_for_decision(
            json.loads(row["decision"]),
            json.loads(row["inputs"]),
            request.app.state.matcher,
            salt=request.app.state.report_salt,
        )
    except ParameterError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    if format == "html" or (format is None and accept is not None and "text/html" in accept):
        return HTMLResponse(report_html(report))
    return report
