"""``creditmesh metrics``, ``series`` and ``report``: the portfolio's disclosed figures from a book's tables."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import (
    Engine,
    EngineOption,
    OutputFormat,
    parse_date,
    require_folder,
    spark_session_for,
)
from creditmesh.errors import ParameterError


def metrics(
    directory: Annotated[Path, typer.Argument(help="Folder with the book's Parquet tables.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date of the figures (default: the last day in the data).")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
    compare_seeds: Annotated[
        bool, typer.Option("--compare-seeds", help="Show the seeds' disclosed figures beside ours.")
    ] = False,
    engine: EngineOption = Engine.local,
) -> None:
    """The seeds' headline metrics for the quarter that ends on --as-of."""
    from creditmesh.portfolio import SEED_FIGURES, headline

    when = parse_date(as_of, "as_of")
    require_folder(directory, "directory")
    with _open_book(directory, engine, "metrics") as book:
        figures = headline(book, when)
    if output is OutputFormat.json:
        typer.echo(json.dumps(figures, sort_keys=False))
        return
    _print_headline(figures, SEED_FIGURES if compare_seeds else None)


def series(
    directory: Annotated[Path, typer.Argument(help="Folder with the book's Parquet tables.")],
    freq: Annotated[str, typer.Option("--freq", help="day, month or quarter.")] = "month",
    by: Annotated[
        str | None, typer.Option("--by", help="institution, funding_model, channel, product or tenor.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First day, YYYY-MM-DD (default: the first origination).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last day, YYYY-MM-DD (default: the last day in the data).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write CSV or Parquet (by suffix) instead of printing CSV.")
    ] = None,
    engine: EngineOption = Engine.local,
) -> None:
    """Every headline metric per day, month or quarter (and segment), as CSV; empty cells are "no data"."""
    from creditmesh.portfolio import metric_series

    first, last = parse_date(start, "start"), parse_date(end, "end")
    require_folder(directory, "directory")
    if out is not None and out.suffix not in (".csv", ".parquet"):
        raise ParameterError("out", f"expected a .csv or .parquet file, got {out.name}")
    with _open_book(directory, engine, "series") as book:
        frame = metric_series(book, freq, first, last, by=by)
    if out is None:
        typer.echo(frame.to_csv(index=False), nl=False)
    elif out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
        typer.echo(f"wrote {out}: {len(frame):,} rows")
    else:
        frame.to_csv(out, index=False)
        typer.echo(f"wrote {out}: {len(frame):,} rows")


@contextmanager
def _open_book(directory: Path, engine: Engine, command: str):
    """The book of ``directory`` in DuckDB (local) or as Spark views (spark), closed after use."""
    if engine is Engine.spark:
        from creditmesh.portfolio.spark import SparkBook

        book = SparkBook.open(directory, spark_session_for(command))
    else:
        from creditmesh.portfolio import Book

        book = Book.open(directory)
    with book:
        yield book


def report(
    directory: Annotated[Path, typer.Argument(help="Folder with the book's Parquet tables.")],
    quarter: Annotated[str, typer.Option("--quarter", help="The quarter to report, e.g. 2024Q4.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file to write (default: report_<quarter>.html in the folder)."),
    ] = None,
) -> None:
    """The quarterly portfolio report: one HTML page like the seeds' Business Highlights, with vintage charts."""
    from creditmesh.portfolio import Book
    from creditmesh.portfolio.report import write_quarterly_report

    require_folder(directory, "directory")
    target = out if out is not None else directory / f"report_{quarter.upper()}.html"
    with Book.open(directory) as book:
        path = write_quarterly_report(book, quarter, target)
    typer.echo(f"wrote {path}")


def _print_headline(figures: dict, seeds: dict | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from creditmesh.portfolio import METRICS, format_metric

    table = Table(title=f"Headline, {figures['period_start']} to {figures['period_end']}")
    table.add_column("metric")
    table.add_column("creditmesh", justify="right")
    if seeds is not None:
        table.add_column("seeds (Q4 2024)", justify="right")
    for metric in METRICS:
        row = [metric.heading, format_metric(metric.name, figures.get(metric.name))]
        if seeds is not None:
            seed = seeds.get(metric.name)
            row.append(format_metric(metric.name, seed.value) if seed is not None else "")
        table.add_row(*row)
    Console().print(table)
