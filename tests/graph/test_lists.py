import datetime as dt

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _graphs import START, day_us, frames

from creditmesh.errors import ParameterError
from creditmesh.graph import build
from creditmesh.graph.lists import PropagationConfig, grey_list, personalised_pagerank, risk_scores


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
