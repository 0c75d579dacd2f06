"""Applicants' identifiers, hashed on receipt, and the graph's online index kept the same in every worker.

An identifier is replaced by a keyed hash (HMAC-SHA256 under the service's identifier key) before it
is stored, indexed or logged; the raw value lives only in the request being handled.

Every worker holds its own :class:`~creditmesh.graph.features.OnlineIndex`. What enters the graph (a
borrower with hashed identifiers, a black-list or delinquency label) is appended to ``graph_events``
under a gapless sequence number taken from the one-row ``graph_clock`` (its row lock is held until
commit, so events commit in sequence order and a reader never sees event n+1 without event n). Before
a worker answers, it applies the events past the last one it applied (one indexed range read), so all
workers answer from the same graph; a new worker rebuilds its index from the stream on its first answer.
Why this and not SQL lookups: ring size and hops to the black list are union-find and breadth-first
walks that the online index answers in microseconds; in SQL they are recursive queries per request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from creditmesh.api.tables import graph_clock, graph_events
from creditmesh.errors import ParameterError
from creditmesh.graph.features import MAX_HOPS, OnlineIndex

#: Events one catch-up read takes at a time (a limit on everything; it loops until it has them all).
CATCH_UP_BATCH = 10_000
HASH_HEX = 32


def identifier_hash(key: bytes, value: str) -> str:
    """The keyed hash of one identifier (trimmed, lower-cased): equal values give equal hashes, and without
    the key no one can test a guess against it."""
    normal = " ".join(str(value).split()).lower()
    return hmac.new(key, normal.encode(), hashlib.sha256).hexdigest()[:HASH_HEX]


def hashed_identities(key: bytes, identifiers: Mapping[str, str | list[str] | None]) -> list[tuple[str, str]]:
    """(kind, keyed hash) pairs for the graph from the identifiers as received, one pair per value."""
    out = []
    for kind, values in identifiers.items():
        if values is None:
            continue
        for value in [values] if isinstance(values, str) else values:
            out.append((kind, identifier_hash(key, value)))
    return out


def _next_seq(connection: sa.Connection, now_us: int) -> tuple[int, int]:
    """Take the next sequence number and event time (never before the last one) under the clock's row lock."""
    latest = sa.func.greatest if connection.dialect.name == "postgresql" else sa.func.max
    row = connection.execute(
        graph_clock.update()
        .where(graph_clock.c.clock_id == 1)
        .values(seq=graph_clock.c.seq + 1, seen_us=latest(graph_clock.c.seen_us, now_us))
        .returning(graph_clock.c.seq, graph_clock.c.seen_us)
    ).one()
    return int(row.seq), int(row.seen_us)


def append_borrower(
    connection: sa.Connection, borrower_id: str, identities: Iterable[tuple[str, str]]
) -> int:
    """Append a borrower and its hashed identifiers to the stream, in the caller's transaction; its seq."""
    seq, at_us = _next_seq(connection, time.time_ns() // 1_000)
    connection.execute(
        graph_events.insert().values(
            seq=seq,
            kind="borrower",
            borrower_id=borrower_id,
            at_us=at_us,
            identities=json.dumps([list(pair) for pair in identities]),
        )
    )
    return seq


def append_label(connection: sa.Connection, borrower_id: str, label: str) -> int:
    """Append a label (``blacklist`` or ``delinquent``) known from now on, in the caller's transaction."""
    if label not in ("blacklist", "delinquent"):
        raise ParameterError("label", f"must be blacklist or delinquent, got {label!r}")
    seq, at_us = _next_seq(connection, time.time_ns() // 1_000)
    connection.execute(
        graph_events.insert().values(seq=seq, kind=label, borrower_id=borrower_id, at_us=at_us)
    )
    return seq


class GraphView:
    """One worker's online index over the event stream: caught up before every answer, one thread at a time."""

    def __init__(self, engine: sa.Engine, index: OnlineIndex | None = None) -> None:
        self.engine = engine
        self.index = index or OnlineIndex()
        self.applied_seq = 0
        self._lock = threading.Lock()

    def _catch_up(self, connection: sa.Connection) -> None:
        while True:
            rows = connection.execute(
                sa.select(graph_events)
                .where(graph_events.c.seq > self.applied_seq)
                .order_by(graph_events.c.seq)
                .limit(CATCH_UP_BATCH)
            ).all()
            for row in rows:
                if row.kind == "borrower":
                    if row.borrower_id not in self.index:  # two workers may add one borrower at once
                        self.index.add_borrower(
                            row.borrower_id, row.at_us, [tuple(p) for p in json.loads(row.identities)]
                        )
                elif row.borrower_id in self.index:
                    self.index.add_label(row.borrower_id, row.kind, row.at_us)
                self.applied_seq = row.seq
            if len(rows) < CATCH_UP_BATCH:
                return

    def knows(self, borrower_id: str) -> bool:
        # the database first, then the index's lock, as a drawdown's transaction takes them: a thread holding the
        # lock never waits for a pooled connection or (SQLite) the writer's lock held by a thread waiting for it
        with self.engine.begin() as connection, self._lock:
            self._catch_up(connection)
            return borrower_id in self.index

    def signals(self, borrower_id: str, *, connection: sa.Connection | None = None) -> dict:
        """What the graph says of a borrower now: ring size, black- and grey-list hits, neighbours' delinquency.

        ``connection``: read the stream in the caller's transaction (on SQLite a second connection would wait
        for the caller's write lock)."""
        if connection is None:
            with self.engine.begin() as own:  # the database before the lock (see knows)
                return self.signals(borrower_id, connection=own)
        with self._lock:
            self._catch_up(connection)
            if borrower_id not in self.index:
                return {
                    "ring_size": 1,
                    "on_blacklist": False,
                    "grey_list": False,
                    "neighbour_delinquency_rate": 0.0,
                }
            at_us = max(time.time_ns() // 1_000, self.index.latest_seen_us)
            features = self.index.features(borrower_id, at_us)
        hops = features["blacklist_hops"]
        return {
            "ring_size": int(features["ring_size"]),
            # the borrower, or someone sharing a strong link with it, is on the black list
            "on_blacklist": 0 <= hops <= 1,
            # within MAX_HOPS strong links of the black list, but not next to it: the grey list
            "grey_list": 1 < hops <= MAX_HOPS,
            "neighbour_delinquency_rate": round(float(features["neighbour_delinquency_rate"]), 6),
        }
