"""What every command shares: the error wrapper, the output format, dates, tables and progress bars.

A command parses its options, calls one box's public function and prints what it gets; any
:class:`~creditmesh.errors.CreditmeshError` on the way becomes one line on stderr and exit code 2
(:class:`ReportingGroup`, the one place that turns errors into exits). Commands compute everything
before they print or write, so nothing is written half-way.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from creditmesh.errors import CreditmeshError, ParameterError


class ReportingGroup(TyperGroup):
    """The top command group: a CreditmeshError from any command is one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CreditmeshError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2) from None


class Engine(str, enum.Enum):
    """Where a command's work runs: in this process (scipy, DuckDB, LightGBM) or on Apache Spark."""

    local = "local"
    spark = "spark"


#: The ``--engine`` option of the commands that can run on Spark.
EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="local (in this process) or spark (master from CREDITMESH_SPARK_MASTER, default local[*]; "
        "needs the spark extra and Java 17).",
    ),
]


def spark_session_for(command: str):
    """The Spark session of a command run with ``--engine spark`` (a clear error without PySpark or Java)."""
    from creditmesh.spark import spark_session

    return spark_session(f"creditmesh-{command}")


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"


def parse_date(value: str | None, field: str) -> date | None:
    """``YYYY-MM-DD`` as a date (None stays None); anything else is refused naming ``field``."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ParameterError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def require_folder(path: Path, field: str) -> Path:
    """``path`` if it is a folder, else a ParameterError naming ``field``."""
    if not path.is_dir():
        raise ParameterError(field, f"{path} is not a folder")
    return path


def read_table(path: Path):
    """A table from a Parquet file or folder, or a CSV (optionally gzipped), as pandas."""
    import pandas as pd

    if not path.exists():
        raise ParameterError("data", f"{path} does not exist")
    if path.suffix == ".parquet" or path.is_dir():
        return pd.read_parquet(path)
    if path.name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    raise ParameterError("data", f"{path}: expected a .parquet, .csv or .csv.gz file")


def print_frame(frame, title: str) -> None:
    """A pandas frame as a rich table: numbers right-aligned, floats to three decimals."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="right" if frame[column].dtype.kind in "if" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    Console(width=200).print(table)


@contextmanager
def steps(total: int, description: str) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr, advanced once per reported step."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total, step="")

        def step(what: str, done: int | None = None, of: int | None = None) -> None:
            if done is None:
                progress.update(task, advance=1, step=what)
            else:
                progress.update(task, completed=done, total=of, step=what)

        yield step
