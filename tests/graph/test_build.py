import numpy as np
import pandas as pd
import pytest
from _graphs import frames

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.graph import GraphConfig, build
from creditmesh.graph.build import DEFAULT_CAPS, DEFAULT_WEIGHTS


def _weight(graph, a, b):
    i, j = graph.index_of([a, b])
    return float(graph.links[i, j])


def test_shared_device_is_a_strong_link_and_shared_ip_a_weak_one():
    identities, people = frames(
        {"A": 0, "B": 0, "C": 0},
        [
            ("A", "device", "d1"),
            ("B", "device", "d1"),
            ("B", "ip", "ip1"),
            ("C", "ip", "ip1"),
        ],
    )
    graph = build(identities, people)
    assert _weight(graph, "A", "B") == pytest.approx(DEFAULT_WEIGHTS["device"])
    assert _weight(graph, "B", "C") == pytest.approx(DEFAULT_WEIGHTS["ip"])
    strong = graph.strong
    i = graph.index_of(["A", "B", "C"])
    assert strong[i[0], i[1]] > 0 and strong[i[1], i[2]] == 0
    assert (graph.links != graph.links.T).nnz == 0 and graph.links.diagonal().sum() == 0


def test_weights_add_up_over_identifiers_shared():
    identities, people = frames(
        {"A": 0, "B": 0},
        [
            ("A", "address", "h"),
            ("B", "address", "h"),
            ("A", "ip", "i"),
            ("B", "ip", "i"),
        ],
    )
    graph = build(identities, people)
    assert _weight(graph, "A", "B") == pytest.approx(DEFAULT_WEIGHTS["address"] + DEFAULT_WEIGHTS["ip"])


def test_a_contact_links_to_the_phone_it_names():
    identities, people = frames({"A": 0, "B": 0}, [("A", "contact", "p-b"), ("B", "phone", "p-b")])
    graph = build(identities, people)
    expected = np.sqrt(DEFAULT_WEIGHTS["contact"] * DEFAULT_WEIGHTS["phone"])
    assert _weight(graph, "A", "B") == pytest.approx(expected, rel=1e-6)


def test_same_value_under_unrelated_kinds_does_not_link():
    identities, people = frames({"A": 0, "B": 0}, [("A", "device", "x"), ("B", "bank_card", "x")])
    assert build(identities, people).links.nnz == 0


def test_hub_identifier_is_dropped_from_links_and_counted():
    cap = DEFAULT_CAPS["ip"]
    people = {f"P{i}": 0 for i in range(cap + 1)}
    rows = [(p, "ip", "public") for p in people] + [("P0", "device", "d"), ("P1", "device", "d")]
    graph = build(*frames(people, rows))
    assert graph.hub.sum() == 1
    assert graph.summary()["hub_identifiers_by_namespace"]["ip"] == 1
    assert graph.links.nnz == 2  # only P0-P1 through the device, both directions
    # one holder fewer: at the cap, not a hub, everybody linked
    people.pop(f"P{cap}")
    rows = [r for r in rows if r[0] != f"P{cap}"]
    graph = build(*frames(people, rows))
    assert graph.hub.sum() == 0
    assert graph.links.nnz == cap * (cap - 1)


def test_bad_rows_are_reported_with_examples_and_skipped():
    identities, people = frames(
        {"A": 0, "B": 0},
        [
            ("A", "device", "d"),
            ("B", "device", "d"),
            ("A", "device", ""),
            ("A", "phone", None),
            ("B", "telepathy", "t"),
            ("Z", "device", "d"),
            ("A", "device", "d"),
        ],
    )
    graph = build(identities, people)
    report = graph.report
    assert (report.rows_read, report.rows_used) == (7, 2)
    assert (report.empty_value, report.unknown_kind, report.unknown_borrower, report.duplicate) == (
        2,
        1,
        1,
        1,
    )
    assert "telepathy" in report.examples["unknown_kind"][0]
    assert "'Z'" in report.examples["unknown_borrower"][0]
    assert any("unknown borrower" in line for line in report.lines())
    assert _weight(graph, "A", "B") == pytest.approx(1.0)


def test_missing_columns_and_repeated_borrowers_are_refused():
    identities, people = frames({"A": 0}, [("A", "device", "d")])
    with pytest.raises(SchemaError) as caught:
        build(identities.drop(columns=["kind"]), people)
    assert "kind" in str(caught.value)
    twice = pd.concat([people, people], ignore_index=True)
    with pytest.raises(SchemaError) as caught:
        build(identities, twice)
    assert caught.value.field == "borrowers.borrower_id"


@pytest.mark.parametrize(
    "options, field",
    [
        ({"caps": {**DEFAULT_CAPS, "ip": 1}}, "caps"),
        ({"caps": {"ip": 5}}, "caps"),
        ({"weights": {**DEFAULT_WEIGHTS, "device": -1}}, "weights"),
        ({"strong_weight": 0}, "strong_weight"),
    ],
)
def test_impossible_graph_config_is_refused_by_name(options, field):
    with pytest.raises(ParameterError) as caught:
        GraphConfig(**options)
    assert caught.value.field == field


def test_simulated_rings_each_fall_in_one_component(small_platform):
    from creditmesh.graph.rings import components

    graph = build(small_platform.tables["identities"], small_platform.tables["borrowers"])
    truth = small_platform.truth["borrowers"].to_pandas()
    labels = components(graph)
    ring_of = truth["ring_id"].to_numpy()
    in_ring = ~truth["ring_id"].isna().to_numpy()
    per_ring = {ring: np.unique(labels[ring_of == ring]).size for ring in np.unique(ring_of[in_ring])}
    assert len(per_ring) >= 5
    assert sum(count == 1 for count in per_ring.values()) / len(per_ring) >= 0.9
