"""A saved graph as of a moment, with the labels known by then: where rings, lists and explanations start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from creditmesh.errors import ParameterError
from creditmesh.graph import labels
from creditmesh.graph.build import RelationshipGraph
from creditmesh.graph.data import dataset_end, end_of_day, read_table, timestamp_us
from creditmesh.graph.store import load_graph


@dataclass(frozen=True)
class GraphContext:
    """The graph, the moment (µs since the epoch), the black list and the delinquencies known by then."""

    graph: RelationshipGraph
    as_of_us: int
    blacklist: pd.DataFrame
    delinquency: pd.DataFrame


def load_context(
    graph_dir: str | Path, data: str | Path, *, as_of: date | None = None, blacklist: str | Path | None = None
) -> GraphContext:
    """Load the graph saved in ``graph_dir`` and label it from the book in ``data`` as of the end of ``as_of``.

    ``as_of`` defaults to the dataset's end; the black list is an operator's import file when
    ``blacklist`` is given, else the book's first-payment defaults.
    """
    if not Path(data).is_dir():
        raise ParameterError("data", f"{data} is not a folder")
    graph = load_graph(graph_dir)
    moment = dataset_end(data) if as_of is None else end_of_day(as_of)
    loans, installments = read_table(data, "loans"), read_table(data, "installments")
    black = (
        labels.read_operator_list(blacklist)
        if blacklist is not None
        else labels.blacklist_from_book(loans, installments, as_of=moment)
    )
    late = labels.delinquency_from_book(loans, installments, as_of=moment)
    return GraphContext(graph, timestamp_us(moment), black, late)
