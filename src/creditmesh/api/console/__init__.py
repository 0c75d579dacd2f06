"""The operator console at ``/console``: the review queue, decisions, partners, rings, the portfolio and the policies,
in a browser, served by ``creditmesh serve`` beside the JSON API.

Server-rendered pages (Jinja2 templates shipped with the package) over the same platform the API runs, with htmx
(vendored under ``static/``, its licence beside it) for the parts that update in place: the review queue polls, a
replay loads under its decision, the portfolio's figures arrive when they are computed. No front-end build step.
Signing in, sessions and CSRF tokens: :mod:`creditmesh.api.console.sessions`. The pages: :mod:`.routes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditmesh.api.console.graphs import GraphCache
from creditmesh.api.console.policies import PoliciesCache
from creditmesh.api.console.portfolio import PortfolioFigures
from creditmesh.api.console.sessions import Sessions, console_secret


@dataclass
class ConsoleState:
    """What the console keeps per worker, built once the platform is."""

    sessions: Sessions
    graphs: GraphCache
    portfolio: PortfolioFigures
    policies: PoliciesCache


def build_console(settings: Any, platform: Any) -> ConsoleState:
    """The console's state over the worker's platform (called by the app's lifespan)."""
    return ConsoleState(
        sessions=Sessions(
            platform.engine,
            console_secret(settings.identifier_key),
            auth_failures_per_minute=settings.auth_failures_per_minute,
        ),
        graphs=GraphCache(platform.engine),
        portfolio=PortfolioFigures(
            platform, book_path=settings.book_path, partners_path=settings.partners_path
        ),
        policies=PoliciesCache(platform),
    )


def install(app: Any) -> None:
    """Mount the console's pages and static files on ``app``."""
    from creditmesh.api.console import routes

    routes.install(app)


__all__ = ["ConsoleState", "build_console", "install"]
