"""The platform as an HTTP service a loan app calls (FastAPI, uvicorn).

:func:`create_app` builds the service under a :class:`Settings` (read from the environment by
:meth:`Settings.from_env`); ``creditmesh serve`` runs it. Applications store credit lines, drawdowns
are matched to a partner with room and booked, loans are read and repaid (``/v1/applications``,
``/v1/credit-lines``, ``/v1/drawdowns``, ``/v1/loans``), decisions and reviews are read and settled,
keys are managed by role (``/v1/keys``); ``GET /healthz``; the OpenAPI schema at ``/openapi.json``.
The walk-through is ``docs/api.md``; the flow itself :mod:`creditmesh.api.platform`.
"""

from creditmesh.api.app import create_app, create_app_from_env
from creditmesh.api.settings import Settings

__all__ = ["Settings", "create_app", "create_app_from_env"]
