"""``creditmesh ledger``: load a book through the ledger, age it at month-end, export it for the portfolio."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import parse_date, require_folder, steps

app = typer.Typer(help="The loan book: load, age, export.", no_args_is_help=True)
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: $CREDITMESH_DB, else a SQLite file).")
]


@app.command("load")
def load(
    directory: Annotated[
        Path, typer.Argument(help="Folder with loans, installments and payments as Parquet.")
    ],
    db: DbOption = None,
) -> None:
    """Replay a book (e.g. the simulator's) through the ledger: loans, then payments day by day, month-end aging."""
    from creditmesh.ledger import Ledger
    from creditmesh.ledger.replay import read_book, replay

    require_folder(directory, "directory")
    book = read_book(directory)  # refuse a malformed folder before the database is touched
    ledger = Ledger.connect(db)
    with steps(1, "replay") as step:
        report = replay(ledger, book, progress=step)
    balance = sum(ledger.trial_balance().values())
    ledger.close()
    typer.echo(
        f"loans {report.loans:,}, payments posted {report.payments_posted:,}, rejected {report.payments_rejected:,}, "
        f"month ends aged {report.month_ends_aged}, installments differing from the source "
        f"{report.installments_differing}, trial balance {balance}"
    )
    if report.installments_differing or balance:
        raise typer.Exit(code=1)


@app.command("age")
def age(as_of: Annotated[str, typer.Argument(help="Aging day, YYYY-MM-DD.")], db: DbOption = None) -> None:
    """Month-end batch: days past due, buckets, late fees, charge-offs, loan_days."""
    from creditmesh.ledger import Ledger

    day = parse_date(as_of, "as_of")
    ledger = Ledger.connect(db)
    report = ledger.age(day)
    ledger.close()
    typer.echo(
        f"aged {report.loans_aged:,} loans to {report.as_of}: {report.bucket_moves:,} bucket moves, "
        f"{report.late_fees_assessed:,} late fees, {report.charged_off:,} charged off"
    )


@app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="Folder to write Parquet to.")],
    db: DbOption = None,
    partners: Annotated[
        Path | None,
        typer.Option(
            help="The service's partners file: also write borrowers, credit lines and institutions from the "
            "service's database, the whole book `creditmesh metrics` and `report` read."
        ),
    ] = None,
) -> None:
    """Write loans, installments, payments and loan_days as Parquet for portfolio/."""
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db)
    if partners is not None:
        from creditmesh.api.book import export_book

        counts = export_book(ledger, out, partners)
    else:
        counts = ledger.export(out)
    ledger.close()
    typer.echo(f"wrote {out}: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
