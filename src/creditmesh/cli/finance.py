"""``creditmesh finance``: the income statement, provisions, funding costs, regulatory capital and ABS."""

from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import OutputFormat, parse_date, print_frame, require_folder

app = typer.Typer(
    help="Finance: income statement, provisions, funding costs, capital, ABS.", no_args_is_help=True
)
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Ledger database URL (default: $CREDITMESH_DB, else a SQLite file)."),
]
DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="A book folder of Parquet tables instead of the ledger (regions come from it)."
    ),
]


@contextmanager
def _book(db: str | None, data: Path | None):
    """The book to read: a Parquet folder, or the ledger's loans exported to a temporary folder."""
    from creditmesh.portfolio import Book

    if data is not None:
        with Book.open(require_folder(data, "data")) as book:
            yield book
        return
    from creditmesh.finance import book_of_ledger
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db)
    try:
        with tempfile.TemporaryDirectory() as folder, book_of_ledger(ledger, folder) as book:
            yield book
    finally:
        ledger.close()


@app.command("statement")
def statement(
    quarter: Annotated[str, typer.Option(help="Quarter, e.g. 2024Q4.")],
    db: DbOption = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """The seeds' income statement from the journal, beside the prior quarter, a year earlier and the seeds."""
    from creditmesh.finance import income_statement
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db)
    try:
        result = income_statement(ledger, quarter)
    finally:
        ledger.close()
    if output is OutputFormat.json:
        typer.echo(result.table().to_json(orient="records"))
        return
    print_frame(result.readable(), f"Income statement {result.quarter} (CNY), from the journal")
    change = result.closing.retained_earnings_minor - result.opening.retained_earnings_minor
    typer.echo(f"net income {result.net_income():,} = change in retained earnings {change:,} (minor units)")


@app.command("provisions")
def provisions(
    start: Annotated[str, typer.Option("--from", help="First month end's day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last month end's day, YYYY-MM-DD.")],
    db: DbOption = None,
    post: Annotated[bool, typer.Option(help="Book each month's closing balances in the ledger.")] = False,
    lgd: Annotated[float | None, typer.Option(help="LGD (default: observed recoveries).")] = None,
) -> None:
    """The ECL allowance and guarantee liability rolled forward month by month, discounted at the EIR."""
    from creditmesh.finance import book_provisions, provisions_roll_forward
    from creditmesh.ledger import Ledger

    first, last = parse_date(start, "from"), parse_date(end, "to")
    with _book(db, None) as book:
        roll = provisions_roll_forward(book, first, last, lgd=lgd)
    print_frame(roll.table, "Provisions roll-forward (minor units)")
    if post:
        ledger = Ledger.connect(db)
        try:
            booked = book_provisions(ledger, roll)
        finally:
            ledger.close()
        typer.echo(f"booked {sum(1 for _, a, c in booked if a or c)} month(s) of provision movements")


@app.command("funding-costs")
def funding_costs(
    start: Annotated[str, typer.Option("--from", help="First month, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last month, YYYY-MM-DD.")],
    rate: Annotated[float, typer.Option(help="Annual blended funding cost (e.g. from `finance abs`).")],
    db: DbOption = None,
) -> None:
    """Book each month's interest on the on-balance book's ABS and trust funding."""
    from creditmesh.finance.abs import book_funding_costs
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db)
    try:
        booked = book_funding_costs(
            ledger, parse_date(start, "from"), parse_date(end, "to"), annual_rate=rate
        )
    finally:
        ledger.close()
    typer.echo(f"booked funding costs for {len(booked)} month(s): {sum(c for _, c in booked):,} minor units")


@app.command("capital")
def capital(
    as_of: Annotated[str, typer.Option(help="Day, YYYY-MM-DD.")],
    db: DbOption = None,
    data: DataOption = None,
    rules: Annotated[str, typer.Option(help="basel3 or basel2 (1.06 scaling).")] = "basel3",
    segment: Annotated[str, typer.Option(help="other_retail or qualifying_revolving.")] = "other_retail",
) -> None:
    """Risk-weighted assets and capital under Basel IRB retail and the standardised 75 %, for the book."""
    from creditmesh.finance.capital import regulatory_capital
    from creditmesh.portfolio import expected_credit_loss

    with _book(db, data) as book:
        result = regulatory_capital(
            expected_credit_loss(book, parse_date(as_of, "as_of")), segment=segment, rules=rules
        )
    typer.echo(json.dumps(result.summary(), indent=2))


@app.command("abs")
def abs_(
    cutoff: Annotated[str, typer.Option(help="Pool cut-off day, YYYY-MM-DD.")],
    db: DbOption = None,
    data: DataOption = None,
    scenarios: Annotated[int, typer.Option(help="Default and prepayment scenarios.")] = 100,
    horizon: Annotated[int, typer.Option(help="Months projected.")] = 36,
    max_dpd: Annotated[int, typer.Option(help="Most days past due a pool loan may be.")] = 0,
    max_region_share: Annotated[float, typer.Option(help="Largest share of one region.")] = 0.25,
    max_borrower_share: Annotated[float, typer.Option(help="Largest share of one borrower.")] = 0.005,
    trust_balance: Annotated[int, typer.Option(help="Trust funding beside the ABS, minor units.")] = 0,
    trust_rate: Annotated[float, typer.Option(help="The trusts' annual cost.")] = 0.05,
    seed: int = 0,
) -> None:
    """Select an eligible pool, project it under the book's curves, run the waterfall: tranche EL and WAL."""
    from creditmesh.finance.abs import securitise
    from creditmesh.finance.pool import EligibilityCriteria

    criteria = EligibilityCriteria(
        max_dpd=max_dpd, max_region_share=max_region_share, max_borrower_share=max_borrower_share
    )
    with _book(db, data) as book:
        report = securitise(
            book,
            parse_date(cutoff, "cutoff"),
            criteria=criteria,
            scenarios=scenarios,
            horizon_months=horizon,
            seed=seed,
            trust_balance_minor=trust_balance,
            trust_rate=trust_rate,
        )
    print_frame(report.waterfall.tranche_table(), "Tranches (expected over the scenarios)")
    typer.echo(json.dumps(report.summary(), indent=2))
