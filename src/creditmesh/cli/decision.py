"""``creditmesh policy`` and ``creditmesh decide``: check and back-test credit policies, replay a decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import OutputFormat, read_table

policy_app = typer.Typer(help="Credit policies: check and back-test.", no_args_is_help=True)
decide_app = typer.Typer(help="Decisions: replay the audit trail.", no_args_is_help=True)


@policy_app.command("check")
def check(
    policy_path: Annotated[Path, typer.Argument(metavar="POLICY", help="A policy file (.yaml or .json).")],
) -> None:
    """Validate a policy file, check its safety (missing values, rules that never fire or are shadowed)
    and print its version (the SHA-256 of its canonical JSON). Exit 1 when the safety check fails."""
    from creditmesh.decision import check_policy, load_policy

    policy = load_policy(policy_path)
    report = check_policy(policy)
    for stage, inputs in report.missing.items():
        if inputs:
            said = ", ".join(f"{name}: {what}" for name, what in inputs.items())
            typer.echo(f"{stage} missing inputs: {said}")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}")
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    if report.errors:
        typer.echo(f"{policy.name}: {len(report.errors)} unsafe rule(s); version {policy.version}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{policy.name}: version {policy.version}")


@policy_app.command("backtest")
def backtest(
    policy_path: Annotated[Path, typer.Argument(metavar="POLICY", help="The candidate policy file.")],
    applications: Annotated[
        Path, typer.Option(help="A folder written by `creditmesh simulate`, or a table from `model dataset`.")
    ],
    model_path: Annotated[Path, typer.Option("--model", help="A saved model (`creditmesh model train`).")],
    current: Annotated[
        Path | None, typer.Option(help="The current policy file; default: the shipped policy.")
    ] = None,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """Approval rate, expected and realised bad rates, and the swap-in/swap-out table against the current policy."""
    from creditmesh.decision import default_policy_path, load_policy
    from creditmesh.decision.backtest import backtest, backtest_chart
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.dataset import read_credit_line_table

    candidate = load_policy(policy_path)
    incumbent = load_policy(current or default_policy_path())
    model = load_model(model_path)
    frame = read_credit_line_table(applications) if applications.is_dir() else read_table(applications)
    result = backtest(candidate, incumbent, frame, model)
    if chart is not None:
        chart.parent.mkdir(parents=True, exist_ok=True)
        backtest_chart(result, chart)
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_json()))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for readable in result.readable_tables():
        view = Table(*readable.columns)
        for row in readable.itertuples(index=False):
            view.add_row(*row)
        console.print(view)


@decide_app.command("replay")
def replay(
    application_id: Annotated[str, typer.Argument(metavar="APPLICATION_ID")],
    log_url: Annotated[
        str, typer.Option("--log", help="The audit log's database URL (sqlite:///decisions.db).")
    ],
    model_path: Annotated[Path, typer.Option("--model", help="The saved model the decision was made with.")],
) -> None:
    """Decide a stored application again from its stored inputs and policy; exit 1 if the answer differs."""
    from creditmesh.decision.audit import AuditLog
    from creditmesh.decision.audit import replay as replay_decision
    from creditmesh.scoring.artifact import load_model

    result = replay_decision(AuditLog(log_url), application_id, load_model(model_path))
    typer.echo(
        json.dumps({"identical": result.identical, "stored": result.stored, "replayed": result.replayed})
    )
    if not result.identical:
        raise typer.Exit(code=1)
