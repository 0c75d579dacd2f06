"""``creditmesh graph``: build the relationship graph, find rings, black and grey lists, explain a borrower."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import (
    Engine,
    EngineOption,
    OutputFormat,
    parse_date,
    print_frame,
    require_folder,
    spark_session_for,
    steps,
)
from creditmesh.errors import ParameterError

app = typer.Typer(
    help="The relationship graph: build, rings, black and grey lists, explain.", no_args_is_help=True
)
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


def _context(graph_dir: Path, data: Path, as_of: str | None, blacklist: Path | None):
    from creditmesh.graph.context import load_context

    return load_context(graph_dir, data, as_of=parse_date(as_of, "as_of"), blacklist=blacklist)


@app.command("build")
def build(
    data: Annotated[
        Path, typer.Argument(help="Dataset folder with borrowers.parquet and identities.parquet.")
    ],
    out: Annotated[
        Path, typer.Option(help="Folder to save the graph to (replaced only when the build succeeds).")
    ],
    engine: EngineOption = Engine.local,
) -> None:
    """Build the graph from the identities table; bad rows are reported and skipped."""
    from creditmesh.graph import build as build_graph
    from creditmesh.graph.data import read_table
    from creditmesh.graph.store import save_graph

    require_folder(data, "data")
    if engine is Engine.spark:
        _build_on_spark(data, out)
        return
    identities, borrowers = read_table(data, "identities"), read_table(data, "borrowers")
    with steps(3, "graph build") as step:
        step("build")
        graph = build_graph(identities, borrowers)
        step("save")
        save_graph(graph, out)
        step("done")
    for line in graph.report.lines():
        typer.echo(f"warning: {line}", err=True)
    summary = graph.summary()
    typer.echo(
        f"wrote {out}: borrowers {summary['borrowers']:,}, identifiers {summary['identifiers']:,}, "
        f"links {summary['links']:,} ({summary['strong_links']:,} strong), hub identifiers {summary['hub_identifiers']:,}, "
        f"rows skipped {summary['skipped_rows']:,}"
    )


def _build_on_spark(data: Path, out: Path) -> None:
    from creditmesh.graph import spark as spark_graph

    session = spark_session_for("graph-build")
    graph = spark_graph.build(*spark_graph.read_tables(session, data))
    spark_graph.save(graph, out)
    for line in graph.report.lines():
        typer.echo(f"warning: {line}", err=True)
    _echo_summary(out, spark_graph.load(session, out).summary())


def _echo_summary(out: Path, summary: dict) -> None:
    typer.echo(
        f"wrote {out}: borrowers {summary['borrowers']:,}, identifiers {summary['identifiers']:,}, "
        f"links {summary['links']:,} ({summary['strong_links']:,} strong), hub identifiers {summary['hub_identifiers']:,}, "
        f"rows skipped {summary['skipped_rows']:,}"
    )


def _spark_labels(session, data: Path, as_of: str | None, blacklist: Path | None):
    """(as_of_us, black list, delinquency) for the Spark commands, from the book or an operator's file."""
    from creditmesh.graph import spark as spark_graph
    from creditmesh.graph.labels import read_operator_list

    as_of_us = spark_graph.dataset_as_of_us(data, parse_date(as_of, "as_of"))
    loans = session.read.parquet(str(data / "loans.parquet"))
    installments = session.read.parquet(str(data / "installments.parquet"))
    black = (
        spark_graph.labels_from_frame(session, read_operator_list(blacklist))
        if blacklist is not None
        else spark_graph.labels_from_book(
            loans, installments, as_of_us=as_of_us, days=spark_graph.FPD_DAYS, first_only=True
        )
    )
    late = spark_graph.labels_from_book(
        loans, installments, as_of_us=as_of_us, days=spark_graph.DELINQUENT_DAYS, first_only=False
    )
    return as_of_us, black, late


@app.command("rings")
def rings(
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
    engine: EngineOption = Engine.local,
) -> None:
    """Rings (components over strong links) with size, density, shared devices, recent applications, shares flagged."""
    from creditmesh.graph import rings as ring_box
    from creditmesh.graph.data import read_table

    if min_size < 2 or top < 1:
        raise ParameterError("min_size" if min_size < 2 else "top", "min_size must be >= 2 and top >= 1")
    if engine is Engine.spark:
        if dot is not None:
            raise ParameterError("dot", "the ring picture is drawn by the local engine (drop --engine spark)")
        table = _rings_on_spark(graph_dir, data, as_of, blacklist, min_size)
        _show_rings(table, min_size, top, output)
        return
    context = _context(graph_dir, data, as_of, blacklist)
    labels = ring_box.components(context.graph)
    table = ring_box.ring_table(
        context.graph,
        as_of_us=context.as_of_us,
        applications=read_table(data, "applications"),
        blacklist=context.blacklist,
        delinquency=context.delinquency,
        min_size=min_size,
        labels=labels,
    )
    if dot is not None and len(table):
        members = ring_box.ring_indices(labels, table["ring"].iloc[0])
        dot.write_text(ring_box.ring_dot(context.graph, members))
    _show_rings(table, min_size, top, output)


def _rings_on_spark(graph_dir: Path, data: Path, as_of: str | None, blacklist: Path | None, min_size: int):
    from creditmesh.graph import spark as spark_graph

    require_folder(data, "data")
    session = spark_session_for("graph-rings")
    graph = spark_graph.load(session, graph_dir)
    as_of_us, black, late = _spark_labels(session, data, as_of, blacklist)
    rings, _ = spark_graph.components(graph)
    return spark_graph.ring_table(
        graph,
        rings,
        as_of_us=as_of_us,
        applications=session.read.parquet(str(data / "applications.parquet")),
        blacklist=black,
        delinquency_labels=late,
        min_size=min_size,
    )


def _show_rings(table, min_size: int, top: int, output: OutputFormat) -> None:
    shown = table.head(top)
    if output is OutputFormat.json:
        typer.echo(
            json.dumps({"rings": int(len(table)), "shown": shown.to_dict(orient="records")}, default=float)
        )
        return
    print_frame(shown, f"{len(table):,} rings of {min_size}+ borrowers (largest {len(shown)})")


@app.command("lists")
def lists(
    graph_dir: GraphDir,
    data: DataDir,
    as_of: AsOf = None,
    blacklist: BlacklistFile = None,
    threshold: Annotated[
        float, typer.Option(help="Propagated risk that puts a borrower on the grey list.")
    ] = 0.05,
    out: Annotated[Path | None, typer.Option(help="Write the grey list as Parquet here.")] = None,
    top: Annotated[int, typer.Option(help="Grey-listed borrowers shown.")] = 20,
    engine: EngineOption = Engine.local,
) -> None:
    """Black list (book outcomes or an operator import) and grey list by personalised PageRank, with the path that explains each.

    With ``--engine spark`` the grey list holds borrower_id and risk (the scores within 1e-9 of the
    local engine's); ``graph explain`` gives a borrower's path.
    """
    from creditmesh.graph.lists import PropagationConfig, grey_list

    if engine is Engine.spark:
        _lists_on_spark(graph_dir, data, as_of, blacklist, threshold, out, top)
        return
    context = _context(graph_dir, data, as_of, blacklist)
    grey = grey_list(
        context.graph,
        context.blacklist,
        as_of_us=context.as_of_us,
        config=PropagationConfig(threshold=threshold),
    )
    if out is not None:
        grey.to_parquet(out, index=False)
    typer.echo(
        f"black list {len(context.blacklist):,} borrowers; grey list {len(grey):,} borrowers (risk >= {threshold:g})"
    )
    print_frame(grey.head(top), "grey list, riskiest first")


def _lists_on_spark(
    graph_dir: Path, data: Path, as_of: str | None, blacklist: Path | None, threshold: float, out, top: int
) -> None:
    from creditmesh.graph import spark as spark_graph
    from creditmesh.graph.lists import PropagationConfig

    require_folder(data, "data")
    session = spark_session_for("graph-lists")
    graph = spark_graph.load(session, graph_dir)
    as_of_us, black, _ = _spark_labels(session, data, as_of, blacklist)
    grey, iterations = spark_graph.grey_list(
        graph, black, as_of_us=as_of_us, config=PropagationConfig(threshold=threshold)
    )
    if out is not None:
        grey.to_parquet(out, index=False)
    typer.echo(
        f"black list {black.count():,} borrowers; grey list {len(grey):,} borrowers (risk >= {threshold:g}, "
        f"{iterations} iterations)"
    )
    print_frame(grey.head(top), "grey list, riskiest first")


@app.command("explain")
def explain(
    borrower: Annotated[str, typer.Argument(help="The borrower id to explain.")],
    graph_dir: GraphDir,
    data: DataDir,
    as_of: AsOf = None,
    blacklist: BlacklistFile = None,
) -> None:
    """Why a borrower is risky: its risk score, ring, and the shortest path to the nearest blacklisted borrower."""
    from creditmesh.graph.lists import explain_borrower

    context = _context(graph_dir, data, as_of, blacklist)
    why = explain_borrower(context.graph, borrower, context.blacklist, as_of_us=context.as_of_us)
    state = "blacklisted" if why.blacklisted else f"risk {why.risk:.4f}"
    typer.echo(f"{borrower}: {state}; ring of {why.ring_size} borrower(s) over strong links")
    if not why.path:
        typer.echo(
            "no linked path to a blacklisted borrower" if not why.blacklisted else "on the black list itself"
        )
    for hop in why.path:
        typer.echo(f"  {hop['from']} -> {hop['to']} sharing {', '.join(hop['kinds'])}")
