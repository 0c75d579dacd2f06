"""``creditmesh serve``: the platform's API under uvicorn, its settings checked before any worker starts."""

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
    $CREDITMESH_PARTNERS, $CREDITMESH_POLICY; keys from ``creditmesh keys create``."""
    import uvicorn

    from creditmesh.api.settings import Settings

    Settings.from_env()  # refuse bad settings here, in one line, before any worker starts
    uvicorn.run(
        "creditmesh.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
    )
