"""The HTTP decision service a loan app calls (FastAPI, uvicorn).

:func:`create_app` builds the service under a :class:`Settings` (read from the environment by
:meth:`Settings.from_env`); ``creditmesh serve`` runs it. Routes: ``POST /v1/applications``,
``POST /v1/drawdowns``, ``POST /v1/line-reviews``, ``GET /v1/decisions/{application_id}``,
``GET /v1/applications/{application_id}/report`` (the pre-loan investigation report), ``GET /healthz``; the OpenAPI schema at ``/openapi.json``.
"""

from creditmesh.api.app import create_app, create_app_from_env
from creditmesh.api.settings import Settings

__all__ = ["Settings", "create_app", "create_app_from_env"]
