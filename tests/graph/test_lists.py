import datetime as dt

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _graphs import START, day_us, frames
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.errors import ParameterError
from creditmesh.graph import build
from creditmesh.graph.lists import (
    PropagationConfig,
    _SparseProduct,
    grey_list,
    personalised_pagerank,
    risk_scores,
)


def test_pagerank_on_two_linked_borrowers_has_the_closed_form():
    # r_b = (1-d) + d r_x, r_x = d r_b  =>  r_b = 1/(1+d), r_x = d/(1+d)
    d = 0.5
    matrix = sp.csr_matrix(np.array([[0, 1.0], [1.0, 0]]))
    rank, iterations = personalised_pagerank(matrix, np.array([1.0, 0.0]), damping=d, tolerance=1e-12)
    assert rank == pytest.approx([1 / (1 + d), d / (1 + d)], abs=1e-9)
    assert iterations < 100


def test_pagerank_matches_the_dense_solution_on_a_small_weighted_graph():
    rng = np.random.default_rng(3)
    dense = rng.random((8, 8)) * (rng.random((8, 8)) < 0.4)
    dense = np.triu(dense, 1) + np.triu(dense, 1).T
    dense[7] = dense[:, 7] = 0  # an isolated borrower passes nothing on
    seeds = np.zeros(8)
    seeds[[0, 7]] = [1.0, 0.5]
    d = 0.7
    rank, _ = personalised_pagerank(
        sp.csr_matrix(dense), seeds, damping=d, tolerance=1e-13, max_iterations=500
    )
    out = dense.sum(axis=1)
    transition = np.divide(dense, out[:, None], out=np.zeros_like(dense), where=out[:, None] > 0)
    expected = np.linalg.solve(np.eye(8) - d * transition.T, (1 - d) * seeds)
    assert rank == pytest.approx(expected, abs=1e-9)
    assert rank[7] == pytest.approx((1 - d) * 0.5)


def _chain():
    """B (blacklisted) - X by device - Y by device - Z by ip (weak)."""
    people = {"B": 0, "X": 0, "Y": 0, "Z": 0}
    rows = [
        ("B", "device", "d1"),
        ("X", "device", "d1"),
        ("X", "device", "d2"),
        ("Y", "device", "d2"),
        ("Y", "ip", "i"),
        ("Z", "ip", "i"),
    ]
    return build(*frames(people, rows))


def test_risk_decays_with_distance_and_age():
    graph = _chain()
    listed = pd.DataFrame({"borrower_id": ["B"], "listed_at": [START + dt.timedelta(days=1)]})
    config = PropagationConfig(damping=0.5, half_life_days=100)
    fresh, black, _ = risk_scores(graph, listed, as_of_us=day_us(1), config=config)
    b, x, y, z = graph.index_of(list("BXYZ"))
    assert black[b] and not black[x]
    assert fresh[x] > fresh[y] > fresh[z] > 0
    old, _, _ = risk_scores(graph, listed, as_of_us=day_us(101), config=config)
    assert old == pytest.approx(fresh / 2)  # one half-life later
    before, black_before, _ = risk_scores(graph, listed, as_of_us=day_us(0.5), config=config)
    assert not black_before.any() and not before.any()  # not yet listed: no risk anywhere


def test_grey_list_passes_the_threshold_and_explains_the_path():
    graph = _chain()
    listed = pd.DataFrame({"borrower_id": ["B"], "listed_at": [START]})
    grey = grey_list(graph, listed, as_of_us=day_us(1), config=PropagationConfig(threshold=0.05))
    assert "B" not in set(grey["borrower_id"])
    assert grey["borrower_id"].iloc[0] == "X"
    row = grey.set_index("borrower_id").loc["Y"]
    assert row["hops"] == 2 and row["nearest_blacklisted"] == "B"
    assert row["path"] == "X (device) -> B (device)"
    high = grey_list(graph, listed, as_of_us=day_us(1), config=PropagationConfig(threshold=0.2))
    assert list(high["borrower_id"]) == ["X"]


@pytest.mark.parametrize(
    "options, field",
    [
        ({"damping": 1.0}, "damping"),
        ({"threshold": 0}, "threshold"),
        ({"half_life_days": -1}, "half_life_days"),
    ],
)
def test_impossible_propagation_settings_are_refused(options, field):
    with pytest.raises(ParameterError) as caught:
        PropagationConfig(**options)
    assert caught.value.field == field


def _dense_pagerank(dense: np.ndarray, seeds: np.ndarray, d: float) -> np.ndarray:
    """The exact solution in float64 (the weights' row sums in float64)."""
    dense = dense.astype(np.float64)
    out = dense.sum(axis=1)
    transition = np.divide(dense, out[:, None], out=np.zeros_like(dense), where=out[:, None] > 0)
    return np.linalg.solve(np.eye(len(dense)) - d * transition.T, (1 - d) * seeds)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40),
    density=st.floats(0.02, 0.6),
    d=st.floats(0.05, 0.95),
    tolerance=st.sampled_from([1e-6, 1e-9, 1e-12]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pagerank_error_stays_within_the_documented_bound(n, density, d, tolerance, seed):
    # the stopping rule promises an L1 error of at most d / (1 - d) · tolerance · Σs, the power method's
    # bound; float32 weights (as the graph stores them) whose row sums a float32 sum would round
    rng = np.random.default_rng(seed)
    dense = (rng.random((n, n)) * (rng.random((n, n)) < density)).astype(np.float32) * 3.7
    dense = np.triu(dense, 1) + np.triu(dense, 1).T
    seeds = np.where(rng.random(n) < 0.3, rng.random(n), 0.0)
    rank, iterations = personalised_pagerank(
        sp.csr_matrix(dense), seeds, damping=d, tolerance=tolerance, max_iterations=2_000
    )
    expected = _dense_pagerank(dense, seeds, d)
    bound = d / (1 - d) * tolerance * seeds.sum() + 1e-13 * max(seeds.sum(), 1.0)
    assert np.abs(rank - expected).sum() <= bound
    assert iterations < 2_000


def test_pagerank_takes_fewer_products_than_the_power_method_would():
    # at d = 0.5 the power method needs about log(tolerance) / log(0.5) = 30 steps for 1e-9; Chebyshev
    # semi-iteration about log(tolerance) / log(0.27) = 16 on any symmetric graph
    rng = np.random.default_rng(11)
    n = 3_000
    rows, cols = rng.integers(0, n, 9_000), rng.integers(0, n, 9_000)
    matrix = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    matrix = (matrix + matrix.T).tocsr()
    seeds = (rng.random(n) < 0.01).astype(float)
    rank, iterations = personalised_pagerank(matrix, seeds, damping=0.5)
    assert iterations <= 20
    assert np.abs(rank - _dense_pagerank(matrix.toarray(), seeds, 0.5)).sum() <= 1e-9 * seeds.sum()


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_a_product_split_over_threads_equals_the_whole(parts):
    rng = np.random.default_rng(parts)
    matrix = sp.random(500, 500, density=0.02, random_state=parts, format="csr")
    x = rng.random(500)
    whole = _SparseProduct(matrix.indptr, matrix.indices, matrix.data, parts=1)(x)
    split = _SparseProduct(matrix.indptr, matrix.indices, matrix.data, parts=parts)
    assert len(split.blocks) == parts
    assert np.array_equal(split(x), whole)
    assert np.allclose(whole, matrix @ x)
