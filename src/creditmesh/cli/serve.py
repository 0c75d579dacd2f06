"""``creditmesh serve``: the platform's API (:mod:`creditmesh.api.server`), its settings, policy and model
checked before any worker starts."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (each loads the model).")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "warning",
) -> None:
    """Serve the platform's API (uvicorn) under $CREDITMESH_DB, $CREDITMESH_MODEL, $CREDITMESH_IDENTIFIER_KEY,
    $CREDITMESH_PARTNERS, $CREDITMESH_POLICY (and the limits in creditmesh.api.settings); keys from
    ``creditmesh keys create``. Settings, policy and model are checked before any worker starts."""
    from creditmesh.api.server import serve as serve_api

    serve_api(host=host, port=port, workers=workers, log_level=log_level)
