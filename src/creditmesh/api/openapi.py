"""The OpenAPI document lists every status the service answers, the guards' included.

The routes declare their own answers (200, 404, a route's 409); the guards of
:mod:`creditmesh.api.middleware` answer on every keyed route too, so their statuses are added here
once rather than on each route: 401, 403 (a key of another role), 429 and 503 (the database unreachable) on every ``/v1/`` operation, and 408, 409, 413 and 422
on every one that takes a body (a POST under ``/v1/`` stores by id: repeating the id with other
inputs is a 409).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from creditmesh.api.middleware import KEYED_PREFIX

_PROBLEM = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"detail": {}},
            "required": ["detail"],
        }
    }
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}

KEYED = {
    "401": {"description": "missing or unknown API key (X-API-Key)"},
    "403": {"description": "the key's role may not do this"},
    "429": {"description": "over the rate limit of the key or the client address", "headers": _RETRY_AFTER},
    "503": {"description": "the database is unavailable; retry", "headers": _RETRY_AFTER},
}
WITH_BODY = {
    "408": {"description": "the body did not arrive whole in time"},
    "409": {"description": "the id was used before with other inputs"},
    "413": {"description": "the body is larger than the limit"},
    "422": {"description": "a field is missing or invalid (named in detail[].loc)"},
}


def with_guard_statuses(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the guards' answers added to each operation that can get them."""
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(KEYED_PREFIX):
            continue
        for method, operation in operations.items():
            extra = {**KEYED, **(WITH_BODY if method in ("post", "put", "patch") else {})}
            responses = operation.setdefault("responses", {})
            for status, response in extra.items():
                responses.setdefault(status, {**response, "content": _PROBLEM})
    return schema


def document_statuses(app: FastAPI) -> None:
    """Make ``app.openapi()`` answer with the guards' statuses added (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_guard_statuses(
                get_openapi(title=app.title, version=app.version, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
