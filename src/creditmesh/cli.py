"""The ``creditmesh`` command: thin wrappers that parse, call one box, and print.

Every :class:`~creditmesh.errors.CreditmeshError` becomes one line on stderr and
exit code 2; nothing is written half-way.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.errors import CreditmeshError, ParameterError

app = typer.Typer(
    help="creditmesh: an open-source credit-tech platform.", no_args_is_help=True, add_completion=False
)


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"


def _fail(error: CreditmeshError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(code=2)


@contextmanager
def _steps(total: int, description: str) -> Iterator[Callable[..., None]]:
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


def _parse_date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ParameterError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the Parquet tables to.")],
    borrowers: Annotated[int, typer.Option(help="Registered users to simulate.")] = 20_000,
    months: Annotated[int, typer.Option(help="Months of platform history.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same platform.")] = 0,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    institutions: Annotated[int, typer.Option(help="Funding partners.")] = 160,
    overwrite: Annotated[bool, typer.Option(help="Replace the folder if it is not empty.")] = False,
) -> None:
    """Simulate a lending platform and write its tables (truth apart, under truth/)."""
    from creditmesh.simulate import SimulationConfig, write_dataset
    from creditmesh.simulate import simulate as run

    try:
        options = dict(borrowers=borrowers, months=months, seed=seed, institutions=institutions)
        first_day = _parse_date(start, "start")
        if first_day is not None:
            options["start"] = first_day
        config = SimulationConfig(**options)
        if out.exists() and not out.is_dir():
            raise ParameterError("out", f"{out} exists and is not a folder")
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise ParameterError("out", f"{out} is not empty; pass --overwrite to replace it")
        with _steps(config.months + 16, "simulate") as step:
            result = run(config, progress=step)
            write_dataset(result, out, overwrite=overwrite, progress=step)
    except CreditmeshError as error:
        _fail(error)
    rows = {name: data.num_rows for name, data in result.tables.items()}
    typer.echo(f"wrote {out}: " + ", ".join(f"{name} {count:,}" for name, count in rows.items()))


@app.command()
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
) -> None:
    """The seeds' headline metrics for the quarter that ends on --as-of."""
    from creditmesh.portfolio import SEED_FIGURES, Book, headline

    try:
        when = _parse_date(as_of, "as_of")
        if not directory.is_dir():
            raise ParameterError("directory", f"{directory} is not a folder")
        with Book.open(directory) as book:
            figures = headline(book, when)
    except CreditmeshError as error:
        _fail(error)
    if output is OutputFormat.json:
        typer.echo(json.dumps(figures, sort_keys=False))
        return
    _print_headline(figures, SEED_FIGURES if compare_seeds else None)


@app.command()
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
) -> None:
    """Every headline metric per day, month or quarter (and segment), as CSV; empty cells are "no data"."""
    from creditmesh.portfolio import Book, metric_series

    try:
        first, last = _parse_date(start, "start"), _parse_date(end, "end")
        if not directory.is_dir():
            raise ParameterError("directory", f"{directory} is not a folder")
        if out is not None and out.suffix not in (".csv", ".parquet"):
            raise ParameterError("out", f"expected a .csv or .parquet file, got {out.name}")
        with Book.open(directory) as book:
            frame = metric_series(book, freq, first, last, by=by)
    except CreditmeshError as error:
        _fail(error)
    if out is None:
        typer.echo(frame.to_csv(index=False), nl=False)
    elif out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
        typer.echo(f"wrote {out}: {len(frame):,} rows")
    else:
        frame.to_csv(out, index=False)
        typer.echo(f"wrote {out}: {len(frame):,} rows")


@app.command()
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

    try:
        if not directory.is_dir():
            raise ParameterError("directory", f"{directory} is not a folder")
        target = out if out is not None else directory / f"report_{quarter.upper()}.html"
        with Book.open(directory) as book:
            path = write_quarterly_report(book, quarter, target)
    except CreditmeshError as error:
        _fail(error)
    typer.echo(f"wrote {path}")


ledger_app = typer.Typer(help="The loan book: load, age, export.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: $CREDITMESH_DB, else a SQLite file).")
]


@ledger_app.command("load")
def ledger_load(
    directory: Annotated[
        Path, typer.Argument(help="Folder with loans, installments and payments as Parquet.")
    ],
    db: DbOption = None,
) -> None:
    """Replay a book (e.g. the simulator's) through the ledger: loans, then payments day by day, month-end aging."""
    from creditmesh.ledger import Ledger
    from creditmesh.ledger.replay import read_book, replay

    try:
        if not directory.is_dir():
            raise ParameterError("directory", f"{directory} is not a folder")
        book = read_book(directory)  # refuse a malformed folder before the database is touched
        ledger = Ledger.connect(db)
        with _steps(1, "replay") as step:
            report = replay(ledger, book, progress=step)
        balance = sum(ledger.trial_balance().values())
        ledger.close()
    except CreditmeshError as error:
        _fail(error)
    typer.echo(
        f"loans {report.loans:,}, payments posted {report.payments_posted:,}, rejected {report.payments_rejected:,}, "
        f"month ends aged {report.month_ends_aged}, installments differing from the source "
        f"{report.installments_differing}, trial balance {balance}"
    )
    if report.installments_differing or balance:
        raise typer.Exit(code=1)


@ledger_app.command("age")
def ledger_age(
    as_of: Annotated[str, typer.Argument(help="Aging day, YYYY-MM-DD.")], db: DbOption = None
) -> None:
    """Month-end batch: days past due, buckets, late fees, charge-offs, loan_days."""
    from creditmesh.ledger import Ledger

    try:
        day = _parse_date(as_of, "as_of")
        ledger = Ledger.connect(db)
        report = ledger.age(day)
        ledger.close()
    except CreditmeshError as error:
        _fail(error)
    typer.echo(
        f"aged {report.loans_aged:,} loans to {report.as_of}: {report.bucket_moves:,} bucket moves, "
        f"{report.late_fees_assessed:,} late fees, {report.charged_off:,} charged off"
    )


@ledger_app.command("export")
def ledger_export(
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

    try:
        ledger = Ledger.connect(db)
        if partners is not None:
            from creditmesh.api.book import export_book

            counts = export_book(ledger, out, partners)
        else:
            counts = ledger.export(out)
        ledger.close()
    except CreditmeshError as error:
        _fail(error)
    typer.echo(f"wrote {out}: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))


graph_app = typer.Typer(
    help="The relationship graph: build, rings, black and grey lists, explain.", no_args_is_help=True
)
app.add_typer(graph_app, name="graph")
GraphDir = Annotated[Path, typer.Option("--graph", help="Folder of the saved graph.")]
DataDir = Annotated[
    Path, typer.Option("--data", help="Dataset folder (borrowers, identities, loans, installments ...).")
]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Moment of the lists, YYYY-MM-DD (default: the data's end).")
]
BlacklistFile = Annotated[
    Path | None,
    typer.Option(
        "--blacklist",
        help="Operator import (Parquet/CSV: borrower_id, listed_at, reason); default: first-payment defaults in the book.",
    ),
]


def _graph_context(graph_dir: Path, data: Path, as_of: str | None, blacklist: Path | None):
    """The saved graph, the moment, the black list and the delinquencies known by then."""
    import pandas as pd

    from creditmesh.graph import labels
    from creditmesh.graph.data import dataset_end, read_table, timestamp_us
    from creditmesh.graph.store import load_graph

    if not data.is_dir():
        raise ParameterError("data", f"{data} is not a folder")
    graph = load_graph(graph_dir)
    day = _parse_date(as_of, "as_of")
    moment = (
        dataset_end(data)
        if day is None
        else pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    )
    loans, installments = read_table(data, "loans"), read_table(data, "installments")
    black = (
        labels.read_operator_list(blacklist)
        if blacklist is not None
        else labels.blacklist_from_book(loans, installments, as_of=moment)
    )
    late = labels.delinquency_from_book(loans, installments, as_of=moment)
    return graph, timestamp_us(moment), black, late


@graph_app.command("build")
def graph_build(
    data: Annotated[
        Path, typer.Argument(help="Dataset folder with borrowers.parquet and identities.parquet.")
    ],
    out: Annotated[
        Path, typer.Option(help="Folder to save the graph to (replaced only when the build succeeds).")
    ],
) -> None:
    """Build the graph from the identities table; bad rows are reported and skipped."""
    from creditmesh.graph import build
    from creditmesh.graph.data import read_table
    from creditmesh.graph.store import save_graph

    try:
        if not data.is_dir():
            raise ParameterError("data", f"{data} is not a folder")
        identities, borrowers = read_table(data, "identities"), read_table(data, "borrowers")
        with _steps(3, "graph build") as step:
            step("build")
            graph = build(identities, borrowers)
            step("save")
            save_graph(graph, out)
            step("done")
    except CreditmeshError as error:
        _fail(error)
    for line in graph.report.lines():
        typer.echo(f"warning: {line}", err=True)
    summary = graph.summary()
    typer.echo(
        f"wrote {out}: borrowers {summary['borrowers']:,}, identifiers {summary['identifiers']:,}, "
        f"links {summary['links']:,} ({summary['strong_links']:,} strong), hub identifiers {summary['hub_identifiers']:,}, "
        f"rows skipped {summary['skipped_rows']:,}"
    )


@graph_app.command("rings")
def graph_rings(
    graph_dir: GraphDir,
    data: DataDir,
    as_of: AsOf = None,
    blacklist: BlacklistFile = None,
    min_size: Annotated[int, typer.Option(help="Smallest ring shown.")] = 3,
    top: Annotated[int, typer.Option(help="Rings shown, largest first.")] = 20,
    dot: Annotated[
        Path | None, typer.Option(help="Write the largest ring as a Graphviz DOT picture to this file.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """Rings (components over strong links) with size, density, shared devices, recent applications, shares flagged."""
    from creditmesh.graph import rings
    from creditmesh.graph.data import read_table

    try:
        if min_size < 2 or top < 1:
            raise ParameterError("min_size" if min_size < 2 else "top", "min_size must be >= 2 and top >= 1")
        graph, moment, black, late = _graph_context(graph_dir, data, as_of, blacklist)
        labels = rings.components(graph)
        table = rings.ring_table(
            graph,
            as_of_us=moment,
            applications=read_table(data, "applications"),
            blacklist=black,
            delinquency=late,
            min_size=min_size,
            labels=labels,
        )
    except CreditmeshError as error:
        _fail(error)
    shown = table.head(top)
    if dot is not None and len(shown):
        import numpy as np

        members = np.flatnonzero(labels == shown["ring"].iloc[0])
        dot.write_text(rings.ring_dot(graph, members))
    if output is OutputFormat.json:
        typer.echo(
            json.dumps({"rings": int(len(table)), "shown": shown.to_dict(orient="records")}, default=float)
        )
        return
    _print_frame(shown, f"{len(table):,} rings of {min_size}+ borrowers (largest {len(shown)})")


@graph_app.command("lists")
def graph_lists(
    graph_dir: GraphDir,
    data: DataDir,
    as_of: AsOf = None,
    blacklist: BlacklistFile = None,
    threshold: Annotated[
        float, typer.Option(help="Propagated risk that puts a borrower on the grey list.")
    ] = 0.05,
    out: Annotated[Path | None, typer.Option(help="Write the grey list as Parquet here.")] = None,
    top: Annotated[int, typer.Option(help="Grey-listed borrowers shown.")] = 20,
) -> None:
    """Black list (book outcomes or an operator import) and grey list by personalised PageRank, with the path that explains each."""
    from creditmesh.graph.lists import PropagationConfig, grey_list

    try:
        graph, moment, black, late = _graph_context(graph_dir, data, as_of, blacklist)
        grey = grey_list(graph, black, as_of_us=moment, config=PropagationConfig(threshold=threshold))
    except CreditmeshError as error:
        _fail(error)
    if out is not None:
        grey.to_parquet(out, index=False)
    typer.echo(
        f"black list {len(black):,} borrowers; grey list {len(grey):,} borrowers (risk >= {threshold:g})"
    )
    _print_frame(grey.head(top), "grey list, riskiest first")


@graph_app.command("explain")
def graph_explain(
    borrower: Annotated[str, typer.Argument(help="The borrower id to explain.")],
    graph_dir: GraphDir,
    data: DataDir,
    as_of: AsOf = None,
    blacklist: BlacklistFile = None,
) -> None:
    """Why a borrower is risky: its risk score, ring, and the shortest path to the nearest blacklisted borrower."""
    from creditmesh.graph import rings
    from creditmesh.graph.lists import explain_path, nearest_blacklisted, risk_scores

    try:
        graph, moment, black, late = _graph_context(graph_dir, data, as_of, blacklist)
        index = int(graph.index_of([borrower])[0])
        if index < 0:
            raise ParameterError("borrower", f"{borrower!r} is not in the graph")
        score, listed, _ = risk_scores(graph, black, as_of_us=moment)
        path = explain_path(graph, index, nearest_blacklisted(graph, listed))
        labels = rings.components(graph)
        ring_size = int((labels == labels[index]).sum())
    except CreditmeshError as error:
        _fail(error)
    state = "blacklisted" if listed[index] else f"risk {score[index]:.4f}"
    typer.echo(f"{borrower}: {state}; ring of {ring_size} borrower(s) over strong links")
    if not path:
        typer.echo(
            "no linked path to a blacklisted borrower" if not listed[index] else "on the black list itself"
        )
    for hop in path:
        typer.echo(f"  {hop['from']} -> {hop['to']} sharing {', '.join(hop['kinds'])}")


def _print_frame(frame, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="right" if frame[column].dtype.kind in "if" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    Console(width=200).print(table)


def _print_headline(figures: dict, seeds: dict | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from creditmesh.money import format_minor
    from creditmesh.portfolio import HEADLINE_METRICS

    table = Table(title=f"Headline, {figures['period_start']} to {figures['period_end']}")
    table.add_column("metric")
    table.add_column("creditmesh", justify="right")
    if seeds is not None:
        table.add_column("seeds (Q4 2024)", justify="right")
    for name in HEADLINE_METRICS:
        value = figures.get(name)
        label = name.removesuffix("_minor").replace("_", " ") + (" (CNY)" if name.endswith("_minor") else "")
        row = [label, _show(name, value, format_minor)]
        if seeds is not None:
            seed = seeds.get(name)
            row.append(_show(name, seed.value, format_minor) if seed is not None else "")
        table.add_row(*row)
    Console().print(table)


def _show(name: str, value, format_minor) -> str:
    if value is None:
        return "no data"
    if name.endswith("_minor"):
        return format_minor(int(value))
    if name.endswith(("_rate", "_share", "_contribution", "rate_30d", "rate_90_plus")):
        return f"{100 * value:.2f} %"
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main() -> None:  # pragma: no cover - console entry
    app()


# -- models ----------------------------------------------------------------------------------------

model_app = typer.Typer(
    help="Credit models: build a training table, train, evaluate, score, monitor.", no_args_is_help=True
)
app.add_typer(model_app, name="model")


class ModelKind(str, enum.Enum):
    scorecard = "scorecard"
    gbm = "gbm"


def _read_table(path: Path):
    import pandas as pd

    if not path.exists():
        raise ParameterError("data", f"{path} does not exist")
    if path.suffix == ".parquet" or path.is_dir():
        return pd.read_parquet(path)
    if path.name.endswith((".csv", ".csv.gz")):
        return pd.read_csv(path)
    raise ParameterError("data", f"{path}: expected a .parquet, .csv or .csv.gz file")


def _features(frame, target: str | None, drop: list[str]):
    """The feature columns: everything but the target, ``--drop``, identifiers (``*_id``) and timestamps."""
    import pandas as pd

    if target is not None and target not in frame.columns:
        raise ParameterError("target", f"{target!r} is not a column; columns are {list(frame.columns)}")
    absent = [c for c in drop if c not in frame.columns]
    if absent:
        raise ParameterError("drop", f"not columns of the table: {absent}")
    keep = [
        c
        for c in frame.columns
        if c != target
        and c not in drop
        and not c.endswith("_id")
        and not pd.api.types.is_datetime64_any_dtype(frame[c])
    ]
    return frame[keep]


def _split_list(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


@model_app.command("dataset")
def model_dataset(
    directory: Annotated[Path, typer.Argument(help="A folder written by `creditmesh simulate`.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    seed: Annotated[int, typer.Option(help="Seed of the outcome draw.")] = 0,
) -> None:
    """Write the credit-line applications of a simulated platform with features, `approved` and `bad_12m`."""
    from creditmesh.scoring.dataset import read_credit_line_table

    try:
        table = read_credit_line_table(directory, seed=seed)
    except CreditmeshError as error:
        _fail(error)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    typer.echo(
        f"wrote {out}: {len(table):,} applications, {table.approved.mean():.1%} approved, "
        f"bad rate {table.bad_12m.mean():.2%} (approved {table.bad_12m[table.approved].mean():.2%})"
    )


@model_app.command("train")
def model_train(
    data: Annotated[Path, typer.Option(help="Training table (.parquet or .csv).")],
    target: Annotated[str, typer.Option(help="Outcome column: 1 bad, 0 good.")],
    out: Annotated[
        Path, typer.Option(help="Where to save the model (.json for a scorecard, a folder for a GBM).")
    ],
    kind: Annotated[ModelKind, typer.Option(help="Model type.")] = ModelKind.scorecard,
    drop: Annotated[str | None, typer.Option(help="Comma-separated columns that are not features.")] = None,
    where: Annotated[
        str | None, typer.Option(help="Train only on rows where this boolean column is true (e.g. approved).")
    ] = None,
    reject_inference: Annotated[
        str | None, typer.Option(help="augment or parcel, using the --where column as approval.")
    ] = None,
) -> None:
    """Fit a scorecard or a GBM and save it as a versioned artifact."""
    import numpy as np

    from creditmesh.scoring import GBMClassifier, Scorecard
    from creditmesh.scoring.artifact import save_model
    from creditmesh.scoring.reject import augment, parcel

    try:
        frame = _read_table(data)
        drops = _split_list(drop) + ([where] if where else [])
        X = _features(frame, target, drops)
        y = frame[target].to_numpy()
        weight = None
        if reject_inference is not None and where is None:
            raise ParameterError("reject_inference", "needs --where naming the approval column")
        if where is not None:
            if where not in frame.columns:
                raise ParameterError("where", f"{where!r} is not a column")
            approved = frame[where].to_numpy(dtype=bool)
            if reject_inference is None:
                X, y = X[approved], y[approved]
            elif reject_inference in ("augment", "parcel"):
                training = (augment if reject_inference == "augment" else parcel)(
                    X, np.where(approved, y, 0), approved
                )
                X, y, weight = training.X, training.y, training.weight
            else:
                raise ParameterError(
                    "reject_inference", f"must be augment or parcel, got {reject_inference!r}"
                )
        with _steps(2, f"train {kind.value}") as step:
            model = (Scorecard() if kind is ModelKind.scorecard else GBMClassifier()).fit(
                X, y, sample_weight=weight
            )
            step("fitted")
            save_model(model, out)
            step("saved")
    except CreditmeshError as error:
        _fail(error)
    features = model.features_
    typer.echo(
        f"saved {kind.value} to {out}: {len(features)} features ({', '.join(features[:8])}"
        f"{', …' if len(features) > 8 else ''}), trained on {len(X):,} rows"
    )


@model_app.command("evaluate")
def model_evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    data: Annotated[Path, typer.Option(help="Table with the outcome.")],
    target: Annotated[str, typer.Option(help="Outcome column.")],
    report: Annotated[Path | None, typer.Option(help="Write the HTML model report here.")] = None,
    reference: Annotated[
        Path | None, typer.Option(help="Reference sample for PSI/CSI in the report.")
    ] = None,
) -> None:
    """AUC, Gini, KS, Brier and calibration error on a labelled table, and optionally the HTML report."""
    from creditmesh.scoring import metrics as model_metrics
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.report import write_report

    try:
        model = load_model(model_path)
        frame = _read_table(data)
        X = _features(frame, target, [])
        y = frame[target].to_numpy(dtype=float)
        p = model.predict_proba(X)[:, 1]
        figures = model_metrics.summary(y, p)
        if report is not None:
            ref = _features(_read_table(reference), target, []) if reference is not None else None
            write_report(model, X, y, report, title=f"Model report: {model_path.name}", reference=ref)
    except CreditmeshError as error:
        _fail(error)
    typer.echo("  ".join(f"{k} {v:.4f}" if k != "rows" else f"rows {int(v):,}" for k, v in figures.items()))
    if report is not None:
        typer.echo(f"wrote {report}")


@model_app.command("score")
def model_score(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    data: Annotated[Path, typer.Option(help="Table of applications to score.")],
    out: Annotated[Path, typer.Option(help="Parquet file for pd, score, grade and reasons.")],
) -> None:
    """Score every row of a table (PD, score, grade, reasons), keeping its identifier columns."""
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.serve import score_table

    try:
        model = load_model(model_path)
        frame = _read_table(data)
        scored = score_table(model, frame)
    except CreditmeshError as error:
        _fail(error)
    ids = [c for c in frame.columns if c.endswith("_id")]
    result = frame[ids].join(scored.assign(reasons=scored.reasons.map(list)))
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_parquet(out, index=False)
    typer.echo(f"wrote {out}: {len(result):,} rows, mean PD {scored.pd.mean():.4f}")


@model_app.command("monitor")
def model_monitor(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    reference: Annotated[Path, typer.Option(help="The sample the model was built on (or last quarter's).")],
    current: Annotated[Path, typer.Option(help="The sample to check.")],
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """PSI of the score and CSI of each feature between two samples (stable < 0.10 ≤ watch < 0.25 ≤ shifted)."""
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.report import stability

    try:
        model = load_model(model_path)
        table = stability(model, _read_table(reference), _read_table(current))
    except CreditmeshError as error:
        _fail(error)
    if output is OutputFormat.json:
        typer.echo(table.to_json(orient="records"))
        return
    from rich.console import Console
    from rich.table import Table

    view = Table("what", "value", "status")
    for row in table.itertuples(index=False):
        style = {"stable": "green", "watch": "yellow", "shifted": "red"}[row.status]
        view.add_row(row.what, f"{row.value:.4f}", f"[{style}]{row.status}[/{style}]")
    Console().print(view)


policy_app = typer.Typer(help="Credit policies: check and back-test.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
decide_app = typer.Typer(help="Decisions: replay the audit trail.", no_args_is_help=True)
app.add_typer(decide_app, name="decide")


@policy_app.command("check")
def policy_check(
    policy_path: Annotated[Path, typer.Argument(metavar="POLICY", help="A policy file (.yaml or .json).")],
) -> None:
    """Validate a policy file and print its version (the SHA-256 of its canonical JSON)."""
    from creditmesh.decision import load_policy

    try:
        policy = load_policy(policy_path)
    except CreditmeshError as error:
        _fail(error)
    typer.echo(f"{policy.name}: version {policy.version}")


@policy_app.command("backtest")
def policy_backtest(
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

    try:
        candidate = load_policy(policy_path)
        incumbent = load_policy(current or default_policy_path())
        model = load_model(model_path)
        frame = read_credit_line_table(applications) if applications.is_dir() else _read_table(applications)
        result = backtest(candidate, incumbent, frame, model)
    except CreditmeshError as error:
        _fail(error)
    if chart is not None:
        chart.parent.mkdir(parents=True, exist_ok=True)
        backtest_chart(result, chart)
    if output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "summary": json.loads(result.summary.reset_index().to_json(orient="records")),
                    "swaps": json.loads(result.swaps.reset_index().to_json(orient="records")),
                }
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    from creditmesh.money import format_minor

    view = Table(
        "policy",
        "applications",
        "approval",
        "review",
        "expected bad",
        "realised bad (known)",
        "expected profit, 1st year",
    )
    for name, row in result.summary.iterrows():
        view.add_row(
            str(name),
            f"{int(row.applications):,}",
            f"{row.approval_rate:.2%}",
            f"{row.review_rate:.2%}",
            f"{row.expected_bad_rate:.2%}",
            f"{row.realised_bad_rate:.2%} ({int(row.realised_known):,})",
            format_minor(int(row.expected_profit_minor)),
        )
    swaps = Table("current", "candidate", "applications", "realised bad")
    for (was, now), row in result.swaps.iterrows():
        swaps.add_row(was, now, f"{int(row.applications):,}", f"{row.realised_bad_rate:.2%}")
    console = Console()
    console.print(view)
    console.print(swaps)


@decide_app.command("replay")
def decide_replay(
    application_id: Annotated[str, typer.Argument(metavar="APPLICATION_ID")],
    log_url: Annotated[
        str, typer.Option("--log", help="The audit log's database URL (sqlite:///decisions.db).")
    ],
    model_path: Annotated[Path, typer.Option("--model", help="The saved model the decision was made with.")],
) -> None:
    """Decide a stored application again from its stored inputs and policy; exit 1 if the answer differs."""
    from creditmesh.decision.audit import AuditLog, replay
    from creditmesh.scoring.artifact import load_model

    try:
        result = replay(AuditLog(log_url), application_id, load_model(model_path))
    except CreditmeshError as error:
        _fail(error)
    typer.echo(
        json.dumps({"identical": result.identical, "stored": result.stored, "replayed": result.replayed})
    )
    if not result.identical:
        raise typer.Exit(code=1)


# -- matching (ICE) --------------------------------------------------------------------------------

match_app = typer.Typer(
    help="Matching (ICE): allocate approved applications across funding partners.", no_args_is_help=True
)
app.add_typer(match_app, name="match")


@match_app.command("allocate")
def match_allocate(
    applications: Annotated[
        Path,
        typer.Argument(
            help="Parquet of approved applications: application_id, pd, score, "
            "amount_minor, tenor_months, region, apr (grade optional); "
            "or a book folder with --month."
        ),
    ],
    partners_path: Annotated[
        Path,
        typer.Option("--partners", help="Partners: institutions Parquet, a simulate folder, YAML or JSON."),
    ],
    month: Annotated[
        str | None,
        typer.Option(help="With a book folder: the month (YYYY-MM) whose approved drawdowns to allocate."),
    ] = None,
    capacity_divisor: Annotated[
        int, typer.Option(min=1, max=10_000, help="Capacity for the run: monthly capacity divided by this.")
    ] = 1,
    out: Annotated[Path | None, typer.Option(help="Write the allocations table (Parquet) here.")] = None,
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """Allocate a day with the LP (HiGHS); print the optimum beside the online greedy's, the left-out and revenue by funding model."""
    import pandas as pd

    from creditmesh.matching import load_partners
    from creditmesh.matching.applications import approved_drawdowns
    from creditmesh.matching.day import allocate_applications

    try:
        partners = load_partners(partners_path)
        if applications.is_dir():
            if month is None:
                raise ParameterError(
                    "month",
                    "a book folder needs --month YYYY-MM (the month whose approved drawdowns to allocate)",
                )
            frame = approved_drawdowns(applications, month)
        else:
            frame = _read_table(applications)
        result = allocate_applications(
            frame, partners, capacity_minor=partners.capacity_minor // capacity_divisor
        )
    except CreditmeshError as error:
        _fail(error)
    summary = result.summary()
    if out is not None:
        result.allocations.to_parquet(out, index=False)
    if output is OutputFormat.json:
        typer.echo(json.dumps({**summary, "revenue": result.revenue.to_dict("records")}, default=float))
        return
    typer.echo(
        f"allocated {summary['allocated']:,} of {summary['applications']:,} in {summary['seconds']:.2f} s ({summary['method']})"
    )
    typer.echo(
        f"LP allocation {summary['objective_minor']:,.0f}, dual bound {summary['dual_bound_minor']:,.0f} "
        f"(gap {summary['gap_to_bound']:.3%}); online greedy {summary['greedy_objective_minor']:,.0f} "
        f"(gap {summary['greedy_gap_to_bound']:.3%}) — expected margin, minor units"
    )
    if summary["unallocated"]:
        typer.echo("left out: " + ", ".join(f"{k} {v:,}" for k, v in summary["unallocated"].items()))
    _print_frame(pd.DataFrame(result.revenue), "Revenue by funding model")


# -- service ---------------------------------------------------------------------------------------

keys_app = typer.Typer(
    help="The service's API keys (stored hashed): create, list, revoke.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="app, partner, operator or admin.")],
    owner: Annotated[str, typer.Option(help="The tenant (or person) the key belongs to.")],
    institution: Annotated[str | None, typer.Option(help="A partner key's institution id.")] = None,
    db: DbOption = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from creditmesh.api.keys import create_key
    from creditmesh.ledger import Ledger

    try:
        ledger = Ledger.connect(db)
        with ledger.engine.begin() as connection:
            principal, key = create_key(connection, role=role, owner=owner, institution_id=institution)
        ledger.close()
    except CreditmeshError as error:
        _fail(error)
    typer.echo(f"{principal.key_id} {principal.role} {principal.owner}: {key}")


@keys_app.command("list")
def keys_list(
    all_keys: Annotated[bool, typer.Option("--all", help="Revoked keys too.")] = False, db: DbOption = None
) -> None:
    """The keys (never their secrets): id, role, owner, institution, revoked."""
    from creditmesh.api.keys import list_keys
    from creditmesh.ledger import Ledger

    try:
        ledger = Ledger.connect(db)
        with ledger.engine.connect() as connection:
            rows = list_keys(connection, include_revoked=all_keys)
        ledger.close()
    except CreditmeshError as error:
        _fail(error)
    for row in rows:
        revoked = " revoked" if row["revoked_at_ns"] else ""
        typer.echo(f"{row['key_id']} {row['role']} {row['owner']} {row['institution_id'] or '-'}{revoked}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")], db: DbOption = None) -> None:
    """Revoke a key (every worker stops accepting it within seconds)."""
    from creditmesh.api.keys import revoke_key
    from creditmesh.ledger import Ledger

    try:
        ledger = Ledger.connect(db)
        with ledger.engine.begin() as connection:
            revoke_key(connection, key_id)
        ledger.close()
    except CreditmeshError as error:
        _fail(error)
    typer.echo(f"revoked {key_id}")


@app.command()
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

    try:
        Settings.from_env()  # refuse bad settings here, in one line, before any worker starts
    except CreditmeshError as error:
        _fail(error)
    uvicorn.run(
        "creditmesh.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
