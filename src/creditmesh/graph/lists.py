"""Black list in, grey list out: personalised PageRank from the blacklisted, decaying with distance and age.

Risk starts on each borrower blacklisted before ``as_of`` with mass
``0.5 ** (age_days / half_life_days)`` and flows along the weighted links (hub
identifiers already dropped): ``r = (1 - damping) s + damping Pᵀ r`` with ``P``
the row-normalised link matrix, solved by power iteration on the sparse matrix.
Each hop multiplies risk by ``damping`` and splits it by link weight, so risk
decays with distance. Scores are divided by ``1 - damping`` so a lone
blacklisted borrower scores about 1. Borrowers not blacklisted whose score
reaches ``threshold`` form the grey list; each comes with the shortest path
(breadth-first, fewest hops) to the nearest blacklisted borrower and the kinds of
identifiers shared on each hop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from creditmesh.errors import ParameterError
from creditmesh.graph.build import RelationshipGraph
from creditmesh.graph.labels import label_times_us
from creditmesh.graph.rings import components, shared_kinds

DAY_US = 86_400_000_000
#: Limits on everything: iterations of the power method, hops in an explaining path, paths explained per call.
MAX_ITERATIONS = 100
MAX_PATH_HOPS = 6
MAX_EXPLAINED = 10_000


@dataclass(frozen=True)
class PropagationConfig:
    """How risk spreads from the black list."""

    damping: float = 0.5
    half_life_days: float = 365.0
    threshold: float = 0.05
    tolerance: float = 1e-9

    def __post_init__(self) -> None:
        if not 0 < self.damping < 1:
            raise ParameterError("damping", f"must be in (0, 1), got {self.damping}")
        if not self.half_life_days > 0:
            raise ParameterError("half_life_days", f"must be positive, got {self.half_life_days}")
        if not 0 < self.threshold:
            raise ParameterError("threshold", f"must be positive, got {self.threshold}")


def personalised_pagerank(
    matrix: sp.csr_matrix,
    seeds: np.ndarray,
    *,
    damping: float,
    tolerance: float = 1e-9,
    max_iterations: int = MAX_ITERATIONS,
) -> tuple[np.ndarray, int]:
    """Solve r = (1 - d) s + d Pᵀ r by power iteration; P = row-normalised ``matrix`` (symmetric). Returns (r, iterations).

    Since the link matrix W is symmetric, Pᵀ = W D⁻¹ is W with each column scaled: built once,
    then one sparse product per iteration, no transpose. A borrower without links passes nothing on and keeps (1 - d) of
    its own seed, so a lone blacklisted borrower scores 1 once divided by (1 - d).
    """
    out_weight = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    inverse = np.divide(1.0, out_weight, out=np.zeros_like(out_weight), where=out_weight > 0)
    # Pᵀ = W D⁻¹ for a symmetric W: scale each stored weight by its column's inverse out-weight, once
    transition_t = sp.csr_matrix(
        (matrix.data.astype(np.float64) * inverse[matrix.indices], matrix.indices, matrix.indptr),
        shape=matrix.shape,
    )
    seeds = np.asarray(seeds, dtype=np.float64)
    base = (1 - damping) * seeds
    stop = tolerance * max(seeds.sum(), 1e-300)
    rank = seeds.copy()
    change = np.empty_like(rank)
    for iteration in range(1, max_iterations + 1):
        nxt = transition_t @ rank
        nxt *= damping
        nxt += base
        np.subtract(nxt, rank, out=change)
        np.abs(change, out=change)
        rank = nxt
        if change.sum() <= stop:
            return rank, iteration
    return rank, max_iterations


def risk_scores(
    graph: RelationshipGraph,
    blacklist: pd.DataFrame,
    *,
    as_of_us: int,
    config: PropagationConfig | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(score per borrower, blacklisted-before-as_of mask, iterations)."""
    config = config or PropagationConfig()
    listed = label_times_us(graph, blacklist)
    black = listed <= as_of_us
    age_days = np.where(black, (as_of_us - np.minimum(listed, as_of_us)) / DAY_US, 0.0)
    seeds = np.where(black, 0.5 ** (age_days / config.half_life_days), 0.0)
    rank, iterations = personalised_pagerank(
        graph.links, seeds, damping=config.damping, tolerance=config.tolerance
    )
    return rank / (1 - config.damping), black, iterations


def nearest_blacklisted(graph: RelationshipGraph, black: np.ndarray) -> np.ndarray:
    """Breadth-first predecessors from a virtual source linked to every blacklisted borrower (-9999 where unreached)."""
    n = graph.n_borrowers
    links = graph.links
    sources = np.flatnonzero(black)
    extra = sp.csr_matrix(
        (np.ones(sources.shape[0]), (np.full(sources.shape[0], n), sources)), shape=(n + 1, n + 1)
    )
    augmented = sp.bmat([[links, None], [None, sp.csr_matrix((1, 1))]], format="csr") + extra
    _, predecessors = breadth_first_order(augmented, n, directed=False, return_predecessors=True)
    return predecessors[:n]


def explain_path(graph: RelationshipGraph, borrower: int, predecessors: np.ndarray) -> list[dict]:
    """Hops from ``borrower`` to the nearest blacklisted borrower, each with the identifier kinds shared."""
    n = graph.n_borrowers
    hops = []
    here = int(borrower)
    for _ in range(MAX_PATH_HOPS):
        there = int(predecessors[here])
        if there < 0 or there == n:
            break
        hops.append(
            {
                "from": graph.borrower_ids[here].as_py(),
                "to": graph.borrower_ids[there].as_py(),
                "kinds": shared_kinds(graph, here, there),
            }
        )
        here = there
    return hops


@dataclass(frozen=True)
class Explanation:
    """Why a borrower is risky: on the black list or its propagated risk, its ring, the path to the list."""

    borrower_id: str
    blacklisted: bool
    risk: float
    ring_size: int  # borrowers in its component over strong links, itself included
    path: list[dict]  # hops to the nearest blacklisted borrower (see explain_path)


def explain_borrower(
    graph: RelationshipGraph,
    borrower_id: str,
    blacklist: pd.DataFrame,
    *,
    as_of_us: int,
    config: PropagationConfig | None = None,
) -> Explanation:
    """A borrower's risk score, ring size and shortest path to the nearest blacklisted borrower."""
    index = int(graph.index_of([borrower_id])[0])
    if index < 0:
        raise ParameterError("borrower", f"{borrower_id!r} is not in the graph")
    score, black, _ = risk_scores(graph, blacklist, as_of_us=as_of_us, config=config)
    path = explain_path(graph, index, nearest_blacklisted(graph, black))
    ring = components(graph)
    return Explanation(
        borrower_id, bool(black[index]), float(score[index]), int((ring == ring[index]).sum()), path
    )


def grey_list(
    graph: RelationshipGraph,
    blacklist: pd.DataFrame,
    *,
    as_of_us: int,
    config: PropagationConfig | None = None,
) -> pd.DataFrame:
    """Borrowers not blacklisted whose propagated risk reaches the threshold, riskiest first, with the explaining path."""
    config = config or PropagationConfig()
    score, black, _ = risk_scores(graph, blacklist, as_of_us=as_of_us, config=config)
    grey = np.flatnonzero((score >= config.threshold) & ~black)
    grey = grey[np.argsort(-score[grey], kind="stable")]
    predecessors = nearest_blacklisted(graph, black)
    paths = [explain_path(graph, g, predecessors) if i < MAX_EXPLAINED else [] for i, g in enumerate(grey)]
    return pd.DataFrame(
        {
            "borrower_id": graph.borrower_ids.take(grey).to_pylist(),
            "risk": score[grey],
            "hops": [len(p) for p in paths],
            "nearest_blacklisted": [p[-1]["to"] if p else None for p in paths],
            "path": [" -> ".join(f"{h['to']} ({'+'.join(h['kinds'])})" for h in p) for p in paths],
        }
    )
