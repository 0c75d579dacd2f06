"""Black list in, grey list out: personalised PageRank from the blacklisted, decaying with distance and age.

Risk starts on each borrower blacklisted before ``as_of`` with mass
``0.5 ** (age_days / half_life_days)`` and flows along the weighted links (hub
identifiers already dropped): ``r = (1 - damping) s + damping Pᵀ r`` with ``P``
the row-normalised link matrix, solved by Chebyshev semi-iteration on the sparse matrix.
Each hop multiplies risk by ``damping`` and splits it by link weight, so risk
decays with distance. Scores are divided by ``1 - damping`` so a lone
blacklisted borrower scores about 1. Borrowers not blacklisted whose score
reaches ``threshold`` form the grey list; each comes with the shortest path
(breadth-first, fewest hops) to the nearest blacklisted borrower and the kinds of
identifiers shared on each hop.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse._sparsetools import csr_matvec
from scipy.sparse.csgraph import breadth_first_order

from creditmesh.errors import ParameterError
from creditmesh.graph.build import RelationshipGraph
from creditmesh.graph.labels import label_times_us
from creditmesh.graph.rings import components, shared_kinds

DAY_US = 86_400_000_000
#: Limits on everything: iterations (sparse products) of the propagation, hops in an explaining path, paths explained per call.
MAX_ITERATIONS = 100
MAX_PATH_HOPS = 6
MAX_EXPLAINED = 10_000
#: Threads a large sparse product is split over, and the stored entries from which it is split.
PRODUCT_THREADS = 2
THREADED_ENTRIES = 1_000_000
_POOL: ThreadPoolExecutor | None = None


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


class _SparseProduct:
    """``y = M x`` for a CSR matrix given by its arrays, into a caller's buffer, the rows split over threads.

    scipy's CSR product releases the GIL, so on more than one core the row blocks (equal shares of
    the stored entries) run at once; a small matrix is one block.
    """

    def __init__(
        self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, *, parts: int | None = None
    ) -> None:
        self.indptr, self.indices, self.data = indptr, indices, data
        self.n = indptr.size - 1
        if parts is None:
            parts = min(PRODUCT_THREADS, os.cpu_count() or 1) if data.size >= THREADED_ENTRIES else 1
        cuts = np.searchsorted(indptr, np.linspace(0, data.size, parts + 1)[1:-1])
        self.blocks = list(zip([0, *cuts.tolist()], [*cuts.tolist(), self.n]))

    def _block(self, out: np.ndarray, x: np.ndarray, lo: int, hi: int) -> None:
        out[lo:hi] = 0.0
        csr_matvec(hi - lo, self.n, self.indptr[lo : hi + 1], self.indices, self.data, x, out[lo:hi])

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(self.n) if out is None else out
        if len(self.blocks) == 1:
            self._block(out, x, 0, self.n)
        else:
            list(_pool().map(lambda block: self._block(out, x, *block), self.blocks))
        return out


def _pool() -> ThreadPoolExecutor:
    """One pool of :data:`PRODUCT_THREADS` threads for the process, made on first use."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(PRODUCT_THREADS, thread_name_prefix="pagerank")
    return _POOL


def personalised_pagerank(
    matrix: sp.csr_matrix,
    seeds: np.ndarray,
    *,
    damping: float,
    tolerance: float = 1e-9,
    max_iterations: int = MAX_ITERATIONS,
) -> tuple[np.ndarray, int]:
    """Solve r = (1 - d) s + d Pᵀ r; P = row-normalised ``matrix`` (symmetric). Returns (r, iterations).

    The system is ``A r = (1 - d) s`` with ``A = I - d Pᵀ``. Since the link matrix W is symmetric,
    Pᵀ = W D⁻¹ is similar to the symmetric D^-½ W D^-½, so its eigenvalues are real and in [-1, 1] and
    A's lie in [1 - d, 1 + d]: Chebyshev semi-iteration on that interval (Saad, *Iterative Methods for
    Sparse Linear Systems*, algorithm 12.1) converges by about ``(√κ - 1) / (√κ + 1)`` a step,
    ``κ = (1 + d) / (1 - d)`` (0.27 at d = 0.5, where the power method gains d = 0.5), with one sparse
    product a step and no inner products. It stops when the L1 residual ``‖(1 - d) s - A r‖₁`` is at
    most ``d · tolerance · Σs``: since ``‖A⁻¹‖₁ ≤ 1 / (1 - d)``, the L1 error is then at most
    ``d / (1 - d) · tolerance · Σs``, the bound the power method's stopping rule (change between
    iterates below ``tolerance · Σs``) gives. Pᵀ is built once in float64 (degrees summed in float64:
    a float32 sum of float32 weights moves the answer by more than the tolerance). A borrower without
    links passes nothing on and keeps (1 - d) of its own seed, so a lone blacklisted borrower scores 1
    once divided by (1 - d).
    """
    n = matrix.shape[0]
    matrix = sp.csr_matrix(matrix)
    weights = matrix.data.astype(np.float64)
    product = _SparseProduct(matrix.indptr, matrix.indices, weights)
    out_weight = product(np.ones(n))
    inverse = np.divide(1.0, out_weight, out=np.zeros_like(out_weight), where=out_weight > 0)
    # d Pᵀ = d W D⁻¹ for a symmetric W: scale each stored weight by its column's inverse out-weight, once
    weights *= inverse[matrix.indices]
    weights *= damping  # in place: the product reads these weights from now on
    seeds = np.asarray(seeds, dtype=np.float64)
    stop = damping * tolerance * max(seeds.sum(), 1e-300)
    rank = (1 - damping) * seeds
    residual = product(rank)  # (1 - d) s - A r for r = (1 - d) s is d Pᵀ r
    step = residual.copy()
    sigma, rho = 1.0 / damping, damping  # the interval's centre over its half-width, and ρ₀ = 1 / σ
    moved = np.empty(n)
    for iteration in range(1, max_iterations + 1):
        rank += step
        product(step, out=moved)  # residual -= A step = step - d Pᵀ step
        moved -= step
        residual += moved
        if np.abs(residual, out=moved).sum() <= stop:
            return rank, iteration
        rho_next = 1.0 / (2.0 * sigma - rho)
        step *= rho_next * rho
        step += np.multiply(residual, 2.0 * rho_next / damping, out=moved)
        rho = rho_next
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
