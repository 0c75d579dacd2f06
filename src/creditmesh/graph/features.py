"""Graph features per application, point in time: batch (vectorised) and online (an incremental index), equal.

Point-in-time rules (what "known before ``applied_at``" means here):

* The identities table has no timestamps, so a borrower's identifiers are taken
  as first seen when the borrower is: ``seen_at = min(registered_at, first
  applied_at)``. The graph at time ``t`` holds the borrowers seen at or before ``t``.
* Hub caps, point in time: an identifier links only its first ``cap[namespace]``
  holders in order of (seen_at, borrower index); later holders do not link
  through it. Links never vanish, so the graph only grows (the static graph of
  :mod:`creditmesh.graph.build` drops a hub whole instead; the two agree while no
  identifier has passed its cap). Link weights and the strong threshold are the
  build's.
* Labels (black list, delinquency) count only if known strictly before ``t``;
  a label is never taken as known before its borrower was seen.

Features (names in :data:`FEATURE_NAMES`):

* ``degree_<kind>``: links through the applicant's identifiers of that kind (one per
  identifier and other holder seen by ``t``).
* ``new_links_30d``: those links formed in the 30 days up to ``t`` (a link forms
  when the later of its two borrowers is seen).
* ``neighbour_links_delinquent`` / ``neighbour_links_blacklisted`` and
  ``neighbour_delinquency_rate`` (delinquent links / all links, 0 without links).
* ``ring_size``: borrowers in the applicant's component over strong links at ``t``.
* ``blacklist_hops``: fewest strong-link hops to a borrower blacklisted before ``t``
  (0: the applicant itself), ``-1`` when none within :data:`MAX_HOPS`.

The batch path (:class:`PointInTimeGraph`) answers every application at once
with the holders of each identifier in order of seen_at (pairs, at most cap
per identifier), a Kruskal reconstruction tree of the strong links (component
size at any time by binary lifting) and, for the hops to the black list, one
min-max pass over the strong links per hop (the first moment each borrower is
within h hops), never a search per application. The online path
(:class:`OnlineIndex`) adds one borrower's identifiers to a union-find and
adjacency index and answers one application; tests hold the two equal.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy.sparse.csgraph import minimum_spanning_tree

from creditmesh.errors import ParameterError
from creditmesh.graph.build import (
    NAMESPACE_OF_KIND,
    NAMESPACES,
    EncodedIdentities,
    GraphConfig,
    incidence_matrix,
    is_strong,
    weighted_links,
)
from creditmesh.graph.store import load_csr, read_manifest, save_csr, write_folder
from creditmesh.schema import IDENTITY_KINDS

DAY_US = 86_400_000_000
VELOCITY_DAYS = 30
#: Breadth-first search to the black list stops after this many hops.
MAX_HOPS = 4
#: Batch features are computed this many applications, or (identifier, holder) pairs, at a time
#: (bounds memory, not results).
CHUNK_APPLICATIONS = 1_000_000
CHUNK_PAIRS = 20_000_000
NEVER = np.iinfo(np.int64).max
FEATURE_NAMES = (
    *(f"degree_{k}" for k in IDENTITY_KINDS),
    "new_links_30d",
    "neighbour_links_delinquent",
    "neighbour_links_blacklisted",
    "neighbour_delinquency_rate",
    "ring_size",
    "blacklist_hops",
)


def seen_at_us(registered_at_us: np.ndarray, app_borrower: np.ndarray, app_at_us: np.ndarray) -> np.ndarray:
    """When each borrower is first seen: min(registered_at, first applied_at)."""
    seen = registered_at_us.astype(np.int64).copy()
    np.minimum.at(seen, app_borrower, app_at_us.astype(np.int64))
    return seen


def effective_label_us(label_us: np.ndarray | None, seen_us: np.ndarray) -> np.ndarray:
    """A label is never known before its borrower was seen."""
    if label_us is None:
        return np.full(seen_us.shape[0], NEVER, dtype=np.int64)
    return np.maximum(label_us.astype(np.int64), seen_us)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for every (s, c), without a loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.arange(total, dtype=np.int64) + offsets


@dataclass(frozen=True)
class PointInTimeGraph:
    """The growing graph of the module's rules, precomputed for batch queries at any time."""

    config: GraphConfig
    seen_us: np.ndarray  # per borrower
    identifier_start: np.ndarray  # per identifier + 1: first of its first-cap holders in entry_borrower
    entry_borrower: np.ndarray  # first-cap holders, per identifier in order of (seen_at, borrower index)
    borrower_start: np.ndarray  # per borrower + 1: first of its first-cap entries in borrower_identifier
    borrower_identifier: np.ndarray
    borrower_kind: np.ndarray
    strong: sp.csr_matrix  # first-cap strong links, symmetric
    tree_up: np.ndarray  # binary lifting table over the reconstruction tree (levels x nodes)
    tree_time_us: np.ndarray  # per tree node: when it formed (leaves: -inf)
    tree_size: np.ndarray  # per tree node: borrowers below it

    @classmethod
    def build(
        cls,
        encoded: EncodedIdentities,
        seen_us: np.ndarray,
        config: GraphConfig | None = None,
        incidence: sp.csr_matrix | None = None,
        links: sp.csr_matrix | None = None,
    ) -> PointInTimeGraph:
        """Precompute from the encoded identities.

        ``incidence`` and ``links``: the build's matrices for the same identities and config, reused when
        given. A non-hub identifier's holders are all first-cap holders, so the first-cap link weights are
        the build's links (hubs dropped) plus the links among hubs' first holders: a small product.
        """
        config = config or GraphConfig()
        n, m = encoded.n_borrowers, encoded.n_identifiers
        incidence = incidence_matrix(encoded) if incidence is None else incidence
        seen_us = np.asarray(seen_us, dtype=np.int64)
        order = np.argsort(seen_us, kind="stable")  # borrowers by (seen_at, index)
        # rows in seen order, then per identifier (CSC) the holders come out in that order: O(rows), no sort
        by_identifier = incidence[order].tocsc()
        by_identifier.sort_indices()
        column = np.repeat(np.arange(m), np.diff(by_identifier.indptr))
        rank = np.arange(by_identifier.nnz) - by_identifier.indptr[column]
        keep = rank < config.namespace_caps()[encoded.identifier_namespace[column]]
        entry_borrower = order[by_identifier.indices[keep]].astype(np.int64)
        entry_identifier = column[keep]
        entry_kind = by_identifier.data[keep]
        identifier_start = np.concatenate(
            [[0], np.cumsum(np.bincount(entry_identifier, minlength=m))]
        ).astype(np.int64)
        first_cap = sp.csr_matrix((entry_kind, (entry_borrower, entry_identifier)), shape=(n, m))
        first_cap.sort_indices()
        if links is None:
            links = weighted_links(first_cap, np.ones(first_cap.nnz, dtype=bool), config.kind_weights())
        else:
            hub = np.diff(by_identifier.indptr) > config.namespace_caps()[encoded.identifier_namespace]
            links = (links + weighted_links(first_cap, hub[first_cap.indices], config.kind_weights())).tocsr()
            links.sort_indices()
        strong = sp.csr_matrix(
            (links.data * is_strong(links.data, config.strong_weight), links.indices, links.indptr),
            shape=links.shape,
        )
        strong.eliminate_zeros()
        up, tree_time, tree_size = _reconstruction_tree(strong, seen_us)
        return cls(
            config,
            seen_us,
            identifier_start,
            entry_borrower,
            first_cap.indptr.astype(np.int64),
            first_cap.indices.astype(np.int64),
            (first_cap.data - 1).astype(np.int8),
            strong,
            up,
            tree_time,
            tree_size,
        )

    def features(
        self,
        app_borrower: np.ndarray,
        app_at_us: np.ndarray,
        *,
        blacklist_us: np.ndarray | None = None,
        delinquent_us: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Features for applications (borrower index, applied_at µs), in the order given.

        Applications are answered in chunks of at most :data:`CHUNK_APPLICATIONS` applications and about
        :data:`CHUNK_PAIRS` (identifier, holder) pairs, so memory stays bounded.
        """
        a, t = self._applications(app_borrower, app_at_us)
        black = effective_label_us(blacklist_us, self.seen_us)
        late = effective_label_us(delinquent_us, self.seen_us)
        reach = self._reach(black)
        # chunks bounded in applications and in (entry, holder) pairs: a busy borrower costs more
        entries = np.diff(self.borrower_start)
        holders = np.diff(self.identifier_start)[self.borrower_identifier]
        pairs = np.bincount(
            np.repeat(np.arange(entries.shape[0]), entries), weights=holders, minlength=entries.shape[0]
        )
        key = (np.cumsum(pairs[a] + 1) // CHUNK_PAIRS + np.arange(a.shape[0]) // CHUNK_APPLICATIONS).astype(
            np.int64
        )
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1, [a.shape[0]]])
        parts = [
            self._chunk(a[i:j], t[i:j], black, late, reach) for i, j in zip(bounds[:-1], bounds[1:]) if j > i
        ]
        if not parts:
            return self._chunk(a, t, black, late, reach)
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def ring_size(self, app_borrower: np.ndarray, app_at_us: np.ndarray) -> np.ndarray:
        """Only the ``ring_size`` feature of :meth:`features` (a fraud check at arrival needs no more)."""
        a, t = self._applications(app_borrower, app_at_us)
        return self._ring_size(a, t)

    def _applications(self, app_borrower: np.ndarray, app_at_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Borrower indices and times as int64, refused when an application precedes its borrower's seen_at."""
        a = np.asarray(app_borrower, dtype=np.int64)
        t = np.asarray(app_at_us, dtype=np.int64)
        if (self.seen_us[a] > t).any():
            raise ParameterError(
                "applied_at", "an application precedes its borrower's seen_at (see seen_at_us)"
            )
        return a, t

    def _chunk(
        self, a: np.ndarray, t: np.ndarray, black: np.ndarray, late: np.ndarray, reach: list[np.ndarray]
    ) -> pd.DataFrame:
        seen = self.seen_us
        n_apps, n_kinds = a.shape[0], len(IDENTITY_KINDS)
        # the applicant's first-cap entries on identifiers with other holders ...
        counts = self.borrower_start[a + 1] - self.borrower_start[a]
        position = _ranges(self.borrower_start[a], counts)
        x = self.borrower_identifier[position]
        holders = self.identifier_start[x + 1] - self.identifier_start[x]
        shared = np.flatnonzero(holders >= 2)
        query = np.repeat(np.arange(n_apps, dtype=np.int32), counts)[shared]
        x, kind, holders = x[shared], self.borrower_kind[position[shared]], holders[shared]
        del position, shared
        # ... and every (entry, other holder) pair: at most cap holders per identifier
        pair = np.repeat(np.arange(query.shape[0], dtype=np.int32), holders)
        other = self.entry_borrower[_ranges(self.identifier_start[x], holders)]
        q = query[pair]
        del query, x, holders
        tq = t[q]
        linked = (other != a[q]) & (seen[other] <= tq)
        new = linked & (np.maximum(seen[a[q]], seen[other]) > tq - VELOCITY_DAYS * DAY_US)
        bad = linked & (late[other] < tq)
        listed = linked & (black[other] < tq)
        out: dict[str, np.ndarray] = {}
        degree = np.bincount(
            q[linked].astype(np.int64) * n_kinds + kind[pair[linked]], minlength=n_apps * n_kinds
        ).reshape(n_apps, n_kinds)
        for code, name in enumerate(IDENTITY_KINDS):
            out[f"degree_{name}"] = degree[:, code].astype(np.int64)
        total = degree.sum(axis=1)
        out["new_links_30d"] = np.bincount(q[new], minlength=n_apps).astype(np.int64)
        out["neighbour_links_delinquent"] = np.bincount(q[bad], minlength=n_apps).astype(np.int64)
        out["neighbour_links_blacklisted"] = np.bincount(q[listed], minlength=n_apps).astype(np.int64)
        out["neighbour_delinquency_rate"] = np.divide(
            out["neighbour_links_delinquent"], total, out=np.zeros(n_apps), where=total > 0
        )
        out["ring_size"] = self._ring_size(a, t)
        out["blacklist_hops"] = self._blacklist_hops(a, t, reach)
        return pd.DataFrame(out, columns=list(FEATURE_NAMES))

    def _ring_size(self, a: np.ndarray, t: np.ndarray) -> np.ndarray:
        node = a.copy()
        for level in range(self.tree_up.shape[0] - 1, -1, -1):
            candidate = self.tree_up[level][node]
            move = self.tree_time_us[candidate] <= t
            node = np.where(move, candidate, node)
        return self.tree_size[node]

    @staticmethod
    def _blacklist_hops(a: np.ndarray, t: np.ndarray, reach: list[np.ndarray]) -> np.ndarray:
        """Fewest strong hops to a borrower blacklisted before t, through borrowers seen by t (-1: none in MAX_HOPS).

        Without a search per application: ``reach[h][v]`` is the first moment from which v is within h
        hops of the black list (v itself present). reach[0][v] = black[v] + 1 µs (known strictly before),
        reach[h][v] = min(reach[0][v], min over strong neighbours u of max(seen[u], reach[h-1][u])): one
        pass over the strong links per hop (see :meth:`_reach`). An application at t is h hops away for
        the least h with t >= reach[h][applicant].
        """
        hops = np.full(a.shape[0], -1, dtype=np.int64)
        for h in range(MAX_HOPS, -1, -1):
            hops[t >= reach[h][a]] = h
        return hops

    def _reach(self, black: np.ndarray) -> list[np.ndarray]:
        indptr, indices = self.strong.indptr, self.strong.indices
        has_links = np.flatnonzero(np.diff(indptr) > 0)
        reach = [np.where(black == NEVER, NEVER, black + 1)]
        for _ in range(MAX_HOPS):
            through = np.maximum(self.seen_us[indices], reach[-1][indices])
            nearest = np.full(black.shape[0], NEVER, dtype=np.int64)
            if has_links.size:
                nearest[has_links] = np.minimum.reduceat(through, indptr[has_links])
            reach.append(np.minimum(reach[0], nearest))
        return reach


def _reconstruction_tree(
    strong: sp.csr_matrix, seen_us: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kruskal reconstruction tree of the strong links ordered by formation time (the later borrower's seen_at).

    Leaves are borrowers; each merge of two components is a new node with the merge's time and the
    summed size. The component of ``a`` at ``t`` is its highest ancestor formed at or before ``t``.
    Only the minimum spanning forest by time is walked (one step per merge, not per borrower).
    """
    n = strong.shape[0]
    coo = sp.triu(strong, k=1).tocoo()
    formed = np.maximum(seen_us[coo.row], seen_us[coo.col])
    order_values = np.unique(formed)
    weight = np.searchsorted(order_values, formed).astype(np.float64) + 1.0
    forest = minimum_spanning_tree(sp.csr_matrix((weight, (coo.row, coo.col)), shape=(n, n))).tocoo()
    order = np.argsort(forest.data, kind="stable")
    rows, cols = forest.row[order], forest.col[order]
    times = order_values[forest.data[order].astype(np.int64) - 1]
    merges = rows.shape[0]
    parent = np.arange(n + merges, dtype=np.int64)
    size = np.ones(n + merges, dtype=np.int64)
    tree_time = np.full(n + merges, np.iinfo(np.int64).min, dtype=np.int64)
    root_of = list(
        range(n)
    )  # union-find over borrowers, pointing at their current tree node through the root

    def find(v: int) -> int:
        while root_of[v] != v:
            root_of[v] = root_of[root_of[v]]
            v = root_of[v]
        return v

    top = list(range(n))  # per union-find root: its tree node
    for m, (u, v, when) in enumerate(zip(rows.tolist(), cols.tolist(), times.tolist())):
        ru, rv = find(u), find(v)
        node = n + m
        tu, tv = top[ru], top[rv]
        parent[tu] = node
        parent[tv] = node
        size[node] = size[tu] + size[tv]
        tree_time[node] = when
        root_of[rv] = ru
        top[ru] = node
    levels = max(1, int(math.ceil(math.log2(max(merges, 1) + 1))) + 1)
    up = np.empty((levels, n + merges), dtype=np.int64)
    up[0] = parent
    for level in range(1, levels):
        up[level] = up[level - 1][up[level - 1]]
    return up, tree_time, size


class OnlineIndex:
    """The same graph, grown one borrower at a time: identifier holders, strong adjacency, union-find.

    Borrowers must be added in order of seen_at (ties: the order the batch uses, the borrowers
    table's order); an application is answered at or after the latest seen_at.
    """

    def __init__(self, config: GraphConfig | None = None) -> None:
        self.config = config or GraphConfig()
        self._sqrt_weight = [math.sqrt(self.config.weights[k]) for k in IDENTITY_KINDS]
        self._caps = {n: self.config.caps[n] for n in NAMESPACES}
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        self._seen: list[int] = []
        self._black: list[int] = []
        self._late: list[int] = []
        self._parent: list[int] = []
        self._size: list[int] = []
        self._adjacent: list[list[int]] = []
        self._entries: list[
            list[tuple[int, int]]
        ] = []  # per borrower: (identifier, kind) where it is a first-cap holder
        self._identifier: dict[tuple[int, str], int] = {}
        self._identifier_keys: list[tuple[int, str]] = []
        self._holders: list[list[tuple[int, int]]] = []  # per identifier: (borrower, kind), first cap only
        self._count: list[int] = []
        self._latest_seen = np.iinfo(np.int64).min

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, borrower_id: object) -> bool:
        return borrower_id in self._index

    @property
    def latest_seen_us(self) -> int:
        """The latest seen_at added: features are answered at or after it."""
        return self._latest_seen

    def add_borrower(self, borrower_id: str, seen_us: int, identities: Iterable[tuple[str, str]]) -> int:
        """Add a borrower seen at ``seen_us`` with its (kind, value) identifiers; returns its index."""
        if borrower_id in self._index:
            raise ParameterError("borrower_id", f"{borrower_id!r} is already in the index")
        seen_us = int(seen_us)
        if seen_us < self._latest_seen:
            raise ParameterError("seen_at", "borrowers must be added in order of seen_at")
        own: dict[int, int] = {}
        for kind, value in identities:
            if kind not in NAMESPACE_OF_KIND:
                raise ParameterError(
                    "kind", f"unknown identifier kind {kind!r}; known: {', '.join(IDENTITY_KINDS)}"
                )
            if value is None or not str(value).strip():
                raise ParameterError("value", f"empty {kind} value")
            key = (NAMESPACES.index(NAMESPACE_OF_KIND[kind]), str(value))
            x = self._identifier.get(key)
            if x is None:
                x = len(self._identifier_keys)
                self._identifier[key] = x
                self._identifier_keys.append(key)
                self._holders.append([])
                self._count.append(0)
            own[x] = max(own.get(x, -1), IDENTITY_KINDS.index(kind))
        a = len(self._ids)
        self._index[borrower_id] = a
        self._ids.append(borrower_id)
        self._seen.append(seen_us)
        self._black.append(NEVER)
        self._late.append(NEVER)
        self._parent.append(a)
        self._size.append(1)
        self._adjacent.append([])
        self._latest_seen = seen_us
        weight: dict[int, float] = {}
        entries = []
        for x, kind in own.items():
            rank = self._count[x]
            self._count[x] = rank + 1
            if rank >= self._caps[NAMESPACES[self._identifier_keys[x][0]]]:
                continue
            mine = self._sqrt_weight[kind]
            for j, other in self._holders[x]:
                weight[j] = weight.get(j, 0.0) + mine * self._sqrt_weight[other]
            self._holders[x].append((a, kind))
            entries.append((x, kind))
        self._entries.append(entries)
        for j, w in weight.items():
            if is_strong(np.float32(w), self.config.strong_weight):
                self._adjacent[a].append(j)
                self._adjacent[j].append(a)
                self._union(a, j)
        return a

    def add_label(self, borrower_id: str, label: str, at_us: int) -> None:
        """Record a black list entry (``"blacklist"``) or a delinquency (``"delinquent"``) known from ``at_us``."""
        a = self._borrower(borrower_id)
        store = {"blacklist": self._black, "delinquent": self._late}.get(label)
        if store is None:
            raise ParameterError("label", f"{label!r} is not 'blacklist' or 'delinquent'")
        store[a] = min(store[a], max(int(at_us), self._seen[a]))

    def apply(self, borrower_id: str, applied_at_us: int, identities: Iterable[tuple[str, str]] = ()) -> dict:
        """An application: a new borrower's identifiers are added first; returns its features."""
        if borrower_id not in self._index:
            self.add_borrower(borrower_id, applied_at_us, identities)
        return self.features(borrower_id, applied_at_us)

    def features(self, borrower_id: str, at_us: int) -> dict:
        """The features of :data:`FEATURE_NAMES` for ``borrower_id`` at ``at_us``."""
        a = self._borrower(borrower_id)
        t = int(at_us)
        if t < self._latest_seen:
            raise ParameterError(
                "applied_at", "online features are answered at or after the latest borrower added"
            )
        seen, black, late = self._seen, self._black, self._late
        degree = [0] * len(IDENTITY_KINDS)
        new = bad = listed = 0
        window = t - VELOCITY_DAYS * DAY_US
        seen_a = seen[a]
        for x, kind in self._entries[a]:
            for j, _ in self._holders[x]:
                if j == a or seen[j] > t:
                    continue
                degree[kind] += 1
                if max(seen_a, seen[j]) > window:
                    new += 1
                if late[j] < t:
                    bad += 1
                if black[j] < t:
                    listed += 1
        total = sum(degree)
        out = {f"degree_{k}": degree[i] for i, k in enumerate(IDENTITY_KINDS)}
        out.update(
            new_links_30d=new,
            neighbour_links_delinquent=bad,
            neighbour_links_blacklisted=listed,
            neighbour_delinquency_rate=bad / total if total else 0.0,
            ring_size=self._size[self._find(a)],
            blacklist_hops=self._hops(a, t),
        )
        return out

    def _hops(self, a: int, t: int) -> int:
        if self._black[a] < t:
            return 0
        frontier, visited = [a], {a}
        for hop in range(1, MAX_HOPS + 1):
            nxt = []
            for v in frontier:
                for u in self._adjacent[v]:
                    if u in visited or self._seen[u] > t:
                        continue
                    if self._black[u] < t:
                        return hop
                    visited.add(u)
                    nxt.append(u)
            if not nxt:
                break
            frontier = nxt
        return -1

    def _borrower(self, borrower_id: str) -> int:
        try:
            return self._index[borrower_id]
        except KeyError:
            raise ParameterError("borrower_id", f"{borrower_id!r} is not in the index") from None

    def _find(self, v: int) -> int:
        parent = self._parent
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return
        if self._size[ra] < self._size[rb]:
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._size[ra] += self._size[rb]

    # --- persistence: npz + Parquet, no pickle -------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the index all or nothing; :meth:`load` restores it exactly."""

        def write(staging: Path) -> dict:
            entry_b = np.array([a for a, es in enumerate(self._entries) for _ in es], dtype=np.int64)
            entry_x = np.array([x for es in self._entries for x, _ in es], dtype=np.int64)
            entry_k = np.array([k for es in self._entries for _, k in es], dtype=np.int8)
            holder_x = np.array([x for x, hs in enumerate(self._holders) for _ in hs], dtype=np.int64)
            holder_b = np.array([b for hs in self._holders for b, _ in hs], dtype=np.int64)
            holder_k = np.array([k for hs in self._holders for _, k in hs], dtype=np.int8)
            n = len(self._ids)
            rows = np.array([a for a, js in enumerate(self._adjacent) for _ in js], dtype=np.int64)
            cols = np.array([j for js in self._adjacent for j in js], dtype=np.int64)
            arrays = {
                "seen": np.array(self._seen, dtype=np.int64),
                "black": np.array(self._black, dtype=np.int64),
                "late": np.array(self._late, dtype=np.int64),
                "parent": np.array(self._parent, dtype=np.int64),
                "size": np.array(self._size, dtype=np.int64),
                "count": np.array(self._count, dtype=np.int64),
                "entry_b": entry_b,
                "entry_x": entry_x,
                "entry_k": entry_k,
                "holder_x": holder_x,
                "holder_b": holder_b,
                "holder_k": holder_k,
            }
            save_csr(
                arrays,
                "adjacent",
                sp.csr_matrix((np.ones(rows.shape[0], dtype=np.int8), (rows, cols)), shape=(n, n)),
            )
            np.savez(staging / "arrays.npz", **arrays)
            pq.write_table(
                pa.table({"borrower_id": pa.array(self._ids, type=pa.string())}),
                staging / "borrowers.parquet",
            )
            pq.write_table(
                pa.table(
                    {
                        "namespace": pa.array([k[0] for k in self._identifier_keys], type=pa.int8()),
                        "value": pa.array([k[1] for k in self._identifier_keys], type=pa.string()),
                    }
                ),
                staging / "identifiers.parquet",
            )
            return {"config": self.config.as_dict(), "latest_seen_us": int(self._latest_seen)}

        return write_folder(directory, "online_graph_index", write)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> OnlineIndex:
        folder = Path(directory)
        manifest = read_manifest(folder, "online_graph_index")
        index = cls(GraphConfig.from_dict(manifest["config"]))
        with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
            data = {k: arrays[k] for k in arrays.files}
        index._ids = pq.read_table(folder / "borrowers.parquet")["borrower_id"].to_pylist()
        index._index = {b: i for i, b in enumerate(index._ids)}
        identifiers = pq.read_table(folder / "identifiers.parquet")
        index._identifier_keys = list(
            zip(identifiers["namespace"].to_pylist(), identifiers["value"].to_pylist())
        )
        index._identifier = {k: i for i, k in enumerate(index._identifier_keys)}
        for name in ("seen", "black", "late", "parent", "size", "count"):
            setattr(index, f"_{name}", data[name].tolist())
        n, m = len(index._ids), len(index._identifier_keys)
        index._entries = [[] for _ in range(n)]
        for b, x, k in zip(data["entry_b"].tolist(), data["entry_x"].tolist(), data["entry_k"].tolist()):
            index._entries[b].append((x, k))
        index._holders = [[] for _ in range(m)]
        for x, b, k in zip(data["holder_x"].tolist(), data["holder_b"].tolist(), data["holder_k"].tolist()):
            index._holders[x].append((b, k))
        adjacent = load_csr(data, "adjacent")
        index._adjacent = [
            adjacent.indices[adjacent.indptr[i] : adjacent.indptr[i + 1]].tolist() for i in range(n)
        ]
        index._latest_seen = int(manifest["latest_seen_us"])
        return index


def application_features(
    identities: pa.Table | pd.DataFrame,
    borrowers: pa.Table | pd.DataFrame,
    applications: pa.Table | pd.DataFrame,
    *,
    blacklist: pd.DataFrame | None = None,
    delinquency: pd.DataFrame | None = None,
    config: GraphConfig | None = None,
) -> pd.DataFrame:
    """The batch path from tables: one row of :data:`FEATURE_NAMES` per application, keyed by application_id."""
    from creditmesh.graph.build import encode_identities, timestamps_us
    from creditmesh.graph.labels import label_times_us

    encoded, _ = encode_identities(identities, borrowers)
    apps = (
        applications
        if isinstance(applications, pa.Table)
        else pa.Table.from_pandas(applications, preserve_index=False)
    )
    who = pa.compute.index_in(apps["borrower_id"].cast(pa.string()), value_set=encoded.borrower_ids)
    if who.null_count:
        raise ParameterError(
            "applications.borrower_id", f"{who.null_count:,} application(s) name a borrower not in borrowers"
        )
    app_borrower = who.to_numpy(zero_copy_only=False).astype(np.int64)
    applied = timestamps_us(apps["applied_at"], "applications.applied_at")
    seen = seen_at_us(encoded.registered_at_us, app_borrower, applied)
    graph = PointInTimeGraph.build(encoded, seen, config)
    lookup = _Lookup(encoded)
    out = graph.features(
        app_borrower,
        applied,
        blacklist_us=None if blacklist is None else label_times_us(lookup, blacklist),
        delinquent_us=None if delinquency is None else label_times_us(lookup, delinquency),
    )
    out.insert(
        0,
        "application_id",
        apps["application_id"].to_pylist() if "application_id" in apps.column_names else np.arange(len(out)),
    )
    return out


@dataclass(frozen=True)
class _Lookup:
    """The borrower-id lookup that :func:`~creditmesh.graph.labels.label_times_us` needs, over encoded identities."""

    encoded: EncodedIdentities

    @property
    def n_borrowers(self) -> int:
        return self.encoded.n_borrowers

    def index_of(self, borrower_ids) -> np.ndarray:
        found = pa.compute.index_in(
            pa.array(borrower_ids, type=pa.string()), value_set=self.encoded.borrower_ids
        )
        return pa.compute.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
