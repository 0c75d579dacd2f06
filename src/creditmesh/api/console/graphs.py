"""The relationship graph as the console reads it: rebuilt from the service's graph events, rings, neighbourhoods.

The service keeps its graph as an append-only stream of events (``graph_events``: each borrower with its hashed
identifiers, and labels). The console builds the batch :class:`~creditmesh.graph.RelationshipGraph` from that stream
with the graph box's own code (:func:`creditmesh.graph.build`, :func:`~creditmesh.graph.rings.ring_table`,
:func:`~creditmesh.graph.rings.ring_edges`), so the rings it shows are the ones ``creditmesh graph rings`` finds.
The build is kept until new events arrive and at most :data:`REBUILD_SECONDS` old; identifiers stay hashed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from creditmesh.api.tables import graph_events
from creditmesh.graph import RelationshipGraph, build
from creditmesh.graph.rings import components, ring_edges, ring_indices, ring_table, shared_kinds

#: A newer graph is built at most this often (events arriving in between wait for the next build).
REBUILD_SECONDS = 30.0
#: The most rings the rings page lists, and the most members one picture draws.
MAX_RINGS_LISTED = 25
MAX_DRAWN = 40
#: A neighbourhood: the borrowers within this many links of the applicant (weak links included).
NEIGHBOURHOOD_HOPS = 2


@dataclass(frozen=True)
class GraphSnapshot:
    """The graph as of event ``seq``: the batch graph, each borrower's ring label, and who carries which label."""

    seq: int
    built_at: float
    graph: RelationshipGraph | None
    labels: np.ndarray
    blacklisted: dict[str, int]  # borrower id -> when the label arrived (UTC microseconds)
    delinquent: dict[str, int]
    memo: dict = field(default_factory=dict, compare=False)  # what is derived from this graph, made once each

    def index_of(self, borrower_id: str) -> int:
        if self.graph is None:
            return -1
        return int(self.graph.index_of([borrower_id])[0])

    def flags(self, borrower_id: str) -> list[str]:
        return [
            name
            for name, held in (("blacklisted", self.blacklisted), ("delinquent", self.delinquent))
            if borrower_id in held
        ]


def _snapshot(engine: sa.Engine) -> GraphSnapshot:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                graph_events.c.seq,
                graph_events.c.kind,
                graph_events.c.borrower_id,
                graph_events.c.at_us,
                graph_events.c.identities,
            ).order_by(graph_events.c.seq)
        ).all()
    seq = rows[-1].seq if rows else 0
    people: dict[str, int] = {}
    who, kinds, values = [], [], []
    labelled: dict[str, dict[str, int]] = {"blacklist": {}, "delinquent": {}}
    for row in rows:
        if row.kind == "borrower":
            if row.borrower_id in people:
                continue
            people[row.borrower_id] = row.at_us
            for kind, value in json.loads(row.identities or "[]"):
                who.append(row.borrower_id)
                kinds.append(kind)
                values.append(value)
        else:
            labelled[row.kind].setdefault(row.borrower_id, row.at_us)
    if not people:
        return GraphSnapshot(seq, time.monotonic(), None, np.zeros(0, np.int64), {}, {})
    borrowers = pa.table(
        {
            "borrower_id": pa.array(list(people), pa.string()),
            "registered_at": pa.array(list(people.values()), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        }
    )
    identities = pa.table(
        {"borrower_id": pa.array(who, pa.string()), "kind": pa.array(kinds, pa.string()), "value": values}
    )
    graph = build(identities, borrowers)
    return GraphSnapshot(
        seq,
        time.monotonic(),
        graph,
        components(graph),
        labelled["blacklist"],
        labelled["delinquent"],
    )


class GraphCache:
    """One worker's latest graph snapshot, rebuilt when the stream has grown and the snapshot is stale."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._snapshot: GraphSnapshot | None = None
        self._lock = threading.Lock()

    def latest(self) -> GraphSnapshot:
        current = self._snapshot
        if current is not None and time.monotonic() - current.built_at < REBUILD_SECONDS:
            return current
        with self._lock:
            current = self._snapshot
            if current is None or time.monotonic() - current.built_at >= REBUILD_SECONDS:
                with self.engine.connect() as connection:
                    seq = connection.execute(sa.select(sa.func.max(graph_events.c.seq))).scalar() or 0
                if current is not None and current.seq == seq:
                    current = replace(
                        current, built_at=time.monotonic()
                    )  # the same graph, its ring table kept
                else:
                    current = _snapshot(self.engine)
                self._snapshot = current
            return current


# -- what the pages show ------------------------------------------------------------------------------


def rings(snapshot: GraphSnapshot, *, limit: int = MAX_RINGS_LISTED) -> pd.DataFrame:
    """The largest rings with their features (the graph box's ring table), largest first; made once a snapshot."""
    if snapshot.graph is None:
        return pd.DataFrame()
    if "ring_table" not in snapshot.memo:
        snapshot.memo["ring_table"] = _ring_table(snapshot)
    return snapshot.memo["ring_table"].head(limit)


def _ring_table(snapshot: GraphSnapshot) -> pd.DataFrame:
    now_us = time.time_ns() // 1_000

    def frame(held: dict[str, int], column: str) -> pd.DataFrame | None:
        if not held:
            return None
        return pd.DataFrame(
            {"borrower_id": list(held), column: pd.to_datetime(list(held.values()), unit="us", utc=True)}
        )

    table = ring_table(
        snapshot.graph,
        as_of_us=now_us,
        blacklist=frame(snapshot.blacklisted, "listed_at"),
        delinquency=frame(snapshot.delinquent, "delinquent_at"),
        labels=snapshot.labels,
    )
    return table


@dataclass(frozen=True)
class Picture:
    """Borrowers and the links between them, ready to draw: who is who, and the identifier kinds each link shares."""

    nodes: list[dict]
    edges: list[dict]
    truncated: int  # members left out of the picture (a limit on everything)


def _picture(snapshot: GraphSnapshot, members: np.ndarray, focus: str | None, edges: pd.DataFrame) -> Picture:
    graph = snapshot.graph
    ids = graph.borrower_ids.take(pa.array(members)).to_pylist()
    nodes = [{"id": b, "focus": b == focus, "flags": snapshot.flags(b)} for b in ids]
    return Picture(nodes, edges.to_dict("records"), 0)


def ring_picture(snapshot: GraphSnapshot, ring: int) -> Picture:
    """One ring: its members (at most :data:`MAX_DRAWN`) and the strong links among them with the kinds shared."""
    if snapshot.graph is None:
        return Picture([], [], 0)
    members = ring_indices(snapshot.labels, ring)
    drawn = members[:MAX_DRAWN]
    picture = _picture(snapshot, drawn, None, ring_edges(snapshot.graph, drawn))
    return Picture(picture.nodes, picture.edges, int(members.size - drawn.size))


def neighbourhood(snapshot: GraphSnapshot, borrower_id: str) -> Picture:
    """The borrowers within :data:`NEIGHBOURHOOD_HOPS` links of one (weak links too), the nearest first, and the
    links among them with the identifier kinds they share."""
    at = snapshot.index_of(borrower_id)
    if at < 0:
        return Picture([], [], 0)
    graph = snapshot.graph
    links = graph.links
    seen = {at: 0}
    frontier = [at]
    for hop in range(1, NEIGHBOURHOOD_HOPS + 1):
        reached = []
        for v in frontier:
            for u in links.indices[links.indptr[v] : links.indptr[v + 1]]:
                if int(u) not in seen:
                    seen[int(u)] = hop
                    reached.append(int(u))
        frontier = reached
    ordered = sorted(seen, key=lambda v: (seen[v], v))
    drawn = np.array(ordered[:MAX_DRAWN], dtype=np.int64)
    sub = links[drawn][:, drawn].tocoo()
    upper = sub.row < sub.col
    names = graph.borrower_ids.take(pa.array(drawn)).to_pylist()
    edges = pd.DataFrame(
        {
            "source": [names[i] for i in sub.row[upper]],
            "target": [names[j] for j in sub.col[upper]],
            "weight": sub.data[upper],
            "kinds": [
                ",".join(shared_kinds(graph, int(drawn[i]), int(drawn[j])))
                for i, j in zip(sub.row[upper], sub.col[upper])
            ],
        }
    )
    picture = _picture(snapshot, drawn, borrower_id, edges)
    return Picture(picture.nodes, picture.edges, len(ordered) - int(drawn.size))


def ring_of(snapshot: GraphSnapshot, borrower_id: str) -> int | None:
    """The ring label of a borrower, or None when it is unknown or alone."""
    at = snapshot.index_of(borrower_id)
    if at < 0:
        return None
    label = int(snapshot.labels[at])
    return label if int((snapshot.labels == label).sum()) > 1 else None
