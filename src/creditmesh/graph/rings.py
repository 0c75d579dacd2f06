"""Rings: connected components over strong links, and what an operator reads about each.

A ring is a component of two or more borrowers in the strong-link graph (hub
identifiers already dropped by the build). Per ring: size, strong links and
density (links / possible pairs), devices shared by two or more members, the
days between the first and the last member's registration (rings arrive in bursts),
members' applications in the 7 days before ``as_of``, and the share of members
already delinquent or blacklisted as of ``as_of``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse.csgraph import connected_components

from creditmesh.graph.build import RelationshipGraph, timestamps_us
from creditmesh.graph.labels import labelled_before
from creditmesh.schema import IDENTITY_KINDS

DAY_US = 86_400_000_000
RECENT_DAYS = 7


def components(graph: RelationshipGraph) -> np.ndarray:
    """Component label per borrower over strong links (a borrower alone is its own component)."""
    _, labels = connected_components(graph.strong, directed=False)
    return labels.astype(np.int64)


def ring_table(
    graph: RelationshipGraph,
    *,
    as_of_us: int,
    applications: pa.Table | pd.DataFrame | None = None,
    blacklist: pd.DataFrame | None = None,
    delinquency: pd.DataFrame | None = None,
    min_size: int = 2,
    labels: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per ring of at least ``min_size`` members, largest first (vectorised over all rings at once)."""
    labels = components(graph) if labels is None else labels
    size = np.bincount(labels)
    strong = graph.strong.tocoo()
    upper = strong.row < strong.col
    links = np.bincount(labels[strong.row[upper]], minlength=size.shape[0])
    # devices held by two or more members of the same ring
    device = graph.kind_incidence("device").tocoo()
    pair = pd.DataFrame({"ring": labels[device.row], "device": device.col})
    per_device = pair.groupby(["ring", "device"], sort=False).size()
    shared = per_device[per_device >= 2].groupby(level="ring").size()
    shared_devices = np.zeros(size.shape[0], dtype=np.int64)
    shared_devices[shared.index.to_numpy()] = shared.to_numpy()
    recent = np.zeros(size.shape[0], dtype=np.int64)
    if applications is not None:
        apps = (
            applications
            if isinstance(applications, pa.Table)
            else pa.Table.from_pandas(applications, preserve_index=False)
        )
        at = timestamps_us(apps["applied_at"], "applications.applied_at")
        who = graph.index_of(apps["borrower_id"].combine_chunks().cast(pa.string()))
        window = (at <= as_of_us) & (at > as_of_us - RECENT_DAYS * DAY_US) & (who >= 0)
        recent = np.bincount(labels[who[window]], minlength=size.shape[0])
    n = graph.n_borrowers
    flags = {}
    for name, table in (("blacklisted", blacklist), ("delinquent", delinquency)):
        flagged = np.zeros(n, dtype=bool) if table is None else labelled_before(graph, table, as_of_us + 1)
        flags[name] = np.bincount(labels, weights=flagged, minlength=size.shape[0])
    # how quickly the members arrived: rings register in bursts, families over years
    first = np.full(size.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(size.shape[0], np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, labels, graph.registered_at_us)
    np.maximum.at(last, labels, graph.registered_at_us)
    rings = np.flatnonzero(size >= min_size)
    possible = size[rings] * (size[rings] - 1) / 2
    out = pd.DataFrame(
        {
            "ring": rings,
            "size": size[rings],
            "strong_links": links[rings],
            "density": np.where(possible > 0, links[rings] / np.maximum(possible, 1), 0.0),
            "shared_devices": shared_devices[rings],
            "registration_span_days": (last[rings] - first[rings]) / DAY_US,
            "applications_7d": recent[rings],
            "share_delinquent": flags["delinquent"][rings] / size[rings],
            "share_blacklisted": flags["blacklisted"][rings] / size[rings],
        }
    )
    return out.sort_values(["size", "ring"], ascending=[False, True], ignore_index=True)


def ring_indices(labels: np.ndarray, ring: int) -> np.ndarray:
    """The borrower indices of one ring (``labels`` from :func:`components`)."""
    return np.flatnonzero(labels == ring)


def ring_members(graph: RelationshipGraph, labels: np.ndarray, ring: int) -> pa.Array:
    """The borrower ids of one ring."""
    return graph.borrower_ids.take(pa.array(ring_indices(labels, ring)))


def ring_edges(graph: RelationshipGraph, members: np.ndarray) -> pd.DataFrame:
    """The strong links among ``members`` with the kinds of identifiers each shares (for a picture of the ring)."""
    sub = graph.strong[members][:, members].tocoo()
    upper = sub.row < sub.col
    rows, cols = members[sub.row[upper]], members[sub.col[upper]]
    return pd.DataFrame(
        {
            "source": pc.take(graph.borrower_ids, pa.array(rows)).to_pylist(),
            "target": pc.take(graph.borrower_ids, pa.array(cols)).to_pylist(),
            "weight": sub.data[upper],
            "kinds": [",".join(shared_kinds(graph, a, b)) for a, b in zip(rows, cols)],
        }
    )


def shared_kinds(graph: RelationshipGraph, a: int, b: int) -> list[str]:
    """Kinds of the non-hub identifiers borrowers ``a`` and ``b`` share (a's kind first, b's after a slash when they differ)."""
    inc = graph.incidence
    ra = slice(inc.indptr[a], inc.indptr[a + 1])
    rb = slice(inc.indptr[b], inc.indptr[b + 1])
    common, ia, ib = np.intersect1d(inc.indices[ra], inc.indices[rb], assume_unique=True, return_indices=True)
    keep = ~graph.hub[common]
    out = []
    for ka, kb in zip(inc.data[ra][ia][keep], inc.data[rb][ib][keep]):
        name_a, name_b = IDENTITY_KINDS[ka - 1], IDENTITY_KINDS[kb - 1]
        out.append(name_a if name_a == name_b else f"{name_a}/{name_b}")
    return sorted(set(out))


def ring_dot(graph: RelationshipGraph, members: np.ndarray) -> str:
    """A Graphviz DOT picture of one ring: members as nodes, strong links labelled with the kinds they share."""
    edges = ring_edges(graph, np.asarray(members, dtype=np.int64))
    lines = ["graph ring {", "  node [shape=box, fontsize=10];"]
    for member in graph.borrower_ids.take(pa.array(members)).to_pylist():
        lines.append(f'  "{member}";')
    for row in edges.itertuples(index=False):
        lines.append(
            f'  "{row.source}" -- "{row.target}" [label="{row.kinds}", penwidth={1 + float(row.weight):.1f}];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
