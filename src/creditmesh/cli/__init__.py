"""The ``creditmesh`` command: thin wrappers that parse, call one box, and print.

One module per box; this file is the table of contents. Every
:class:`~creditmesh.errors.CreditmeshError` becomes one line on stderr and exit code 2
(:class:`~creditmesh.cli.common.ReportingGroup`); nothing is written half-way.
"""

import typer

from creditmesh.cli import (
    collections,
    decision,
    finance,
    graph,
    keys,
    ledger,
    match,
    model,
    portfolio,
    serve,
    simulate,
)
from creditmesh.cli.common import ReportingGroup

app = typer.Typer(
    cls=ReportingGroup,
    help="creditmesh: an open-source credit-tech platform.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(simulate.simulate)
app.command()(portfolio.metrics)
app.command()(portfolio.series)
app.command()(portfolio.report)
app.add_typer(ledger.app, name="ledger")
app.add_typer(graph.app, name="graph")
app.add_typer(model.app, name="model")
app.add_typer(decision.policy_app, name="policy")
app.add_typer(decision.decide_app, name="decide")
app.add_typer(match.app, name="match")
app.add_typer(finance.app, name="finance")
app.add_typer(keys.app, name="keys")
app.add_typer(collections.app, name="collections")
app.command()(serve.serve)

__all__ = ["app"]
