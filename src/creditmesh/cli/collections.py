"""``creditmesh collections``: check a strategy, print the day's queue and plan, back-test strategies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import OutputFormat, parse_date, print_frame

app = typer.Typer(help="Collections: strategies, the daily queue and plan, back-tests.", no_args_is_help=True)
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Ledger database URL (default: $CREDITMESH_DB, else a SQLite file)."),
]
StrategyOption = Annotated[
    Path | None, typer.Option("--strategy", help="A strategy file; default: the shipped champion.")
]
ModelOption = Annotated[
    Path | None, typer.Option("--model", help="An uplift model (JSON); default: the shipped one.")
]


def _strategy(path: Path | None):
    from creditmesh.collections import default_strategy_path, load_strategy

    return load_strategy(path or default_strategy_path())


def _desk(db: str | None, strategy: Path | None, model: Path | None):
    from creditmesh.collections import CollectionsDesk, default_uplift_path, load_uplift
    from creditmesh.ledger import Ledger

    uplift = load_uplift(model or default_uplift_path())  # refused before the database is touched
    ledger = Ledger.connect(db)
    return ledger, CollectionsDesk(ledger.engine, _strategy(strategy), uplift)


@app.command("check")
def check(
    strategy_path: Annotated[
        Path, typer.Argument(metavar="STRATEGY", help="A strategy file (.yaml or .json).")
    ],
) -> None:
    """Validate a strategy file and print its version (the SHA-256 of its canonical JSON)."""
    strategy = _strategy(strategy_path)
    typer.echo(f"{strategy.name}: version {strategy.version}")


@app.command("queue")
def queue(
    as_of: Annotated[str, typer.Argument(help="The day, YYYY-MM-DD.")],
    db: DbOption = None,
    strategy: StrategyOption = None,
    model: ModelOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Rows printed, oldest debt first.")] = 20,
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """The day's queue: every loan collections may act on, with dpd, bucket, amounts and history."""
    ledger, desk = _desk(db, strategy, model)
    frame = desk.queue(parse_date(as_of, "as_of"))
    ledger.close()
    frame = frame.sort_values(["dpd", "loan_id"], ascending=[False, True])
    if output is OutputFormat.json:
        typer.echo(json.dumps({"loans": len(frame), "rows": frame.head(limit).to_dict(orient="records")}))
        return
    shown = ["loan_id", "bucket", "dpd", "at_stake_minor", "balance_minor", "broken_promises", "contacts_30d"]
    shown += [c for c in ("score", "expected_no_contact_minor", "expected_contact_minor") if c in frame]
    print_frame(frame[shown].head(limit), f"collections queue {as_of}: {len(frame):,} loans")


@app.command("assign")
def assign(
    as_of: Annotated[str, typer.Argument(help="The day, YYYY-MM-DD.")],
    db: DbOption = None,
    strategy: StrategyOption = None,
    model: ModelOption = None,
    out: Annotated[Path | None, typer.Option(help="Write the plan here (Parquet).")] = None,
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """The day's actions within each channel's capacity, and what one more agent would be worth."""
    ledger, desk = _desk(db, strategy, model)
    assignment = desk.plan(parse_date(as_of, "as_of"))
    ledger.close()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        assignment.plan.to_parquet(out, index=False)
    if output is OutputFormat.json:
        typer.echo(json.dumps(assignment.summary()))
        return
    import pandas as pd

    print_frame(pd.DataFrame([c.__dict__ for c in assignment.channels]), f"collections plan {as_of}")
    typer.echo(f"{len(assignment.plan):,} actions, objective {assignment.objective_minor / 100:,.2f}")


@app.command("backtest")
def backtest(
    borrowers: Annotated[
        int, typer.Option(min=500, max=2_000_000, help="Borrowers in the simulated book.")
    ] = 8_000,
    seed: Annotated[int, typer.Option(help="The simulated book's seed.")] = 3,
    days: Annotated[int, typer.Option(min=31, max=730, help="Days of collection run.")] = 182,
    strategy: StrategyOption = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="An uplift model; default: the shipped one.")
    ] = None,
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """Run a strategy, the oldest-debt-first baseline and no collection at all on one simulated book, with the
    same capacity: principal recovered, cost, the 30-day collection rate, cure rates, promises kept."""
    from creditmesh.collections import default_uplift_path, load_uplift
    from creditmesh.collections.backtest import Arm, compare_arms

    chosen = _strategy(strategy)
    uplift = load_uplift(model or default_uplift_path())
    arms = [
        Arm(chosen.name, "strategy", chosen, model=uplift),
        Arm("dpd_order", "dpd_order", chosen),
        Arm("none", "none"),
    ]
    results = [r.summary() for r in compare_arms(arms, borrowers=borrowers, seed=seed, days=days)]
    if output is OutputFormat.json:
        typer.echo(json.dumps(results))
        return
    import pandas as pd

    print_frame(
        pd.DataFrame(results).drop(columns=["actions"]), f"collections back-test, seed {seed}, {days} days"
    )


@app.command("compare")
def compare(
    directory: Annotated[
        Path, typer.Argument(help="A simulated platform's folder (creditmesh simulate --out).")
    ],
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
    engines: Annotated[
        bool,
        typer.Option(
            "--engines/--placeholders",
            help="How the folder was simulated (creditmesh simulate's option of the same name): the "
            "platform without collections is simulated the same way.",
        ),
    ] = True,
) -> None:
    """The simulated platform with its collections beside the same platform (same configuration and seed)
    simulated again with nobody collecting: the 30-day collection rate, Day-1 and 90 day+ delinquency, cure
    rates, recovery after charge-off, and what collections cost."""
    from creditmesh.cli.common import require_folder
    from creditmesh.collections.simulation import platform_engines
    from creditmesh.portfolio import Book
    from creditmesh.portfolio.collections import platform_comparison
    from creditmesh.simulate import simulate
    from creditmesh.simulate.engine import read_config

    require_folder(directory, "directory")
    config = read_config(directory)
    policy, funding = platform_engines(config, engines)
    uncollected = simulate(config, policy=policy, funding=funding)
    with Book.open(directory) as collected, Book.from_frames(**uncollected.tables) as alone:
        table = platform_comparison({"with the strategy": collected, "without collections": alone})
    if output is OutputFormat.json:
        typer.echo(table.to_json(orient="index"))
        return
    print_frame(table.reset_index(names="figure"), f"collections on the simulated platform ({directory})")
