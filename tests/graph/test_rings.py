import datetime as dt

import pandas as pd
import pytest
from _graphs import START, day_us, frames

from creditmesh.graph import build
from creditmesh.graph.rings import components, ring_dot, ring_table


def _two_rings():
    """Ring 1: A-B-C-D on one device (a clique); ring 2: E-F-G chained by cards (a path); H alone; I-J weakly (an IP)."""
    people = {b: 0 for b in "ABCDEFGHIJ"}
    rows = [(b, "device", "d1") for b in "ABCD"] + [(b, "device", f"own-{b}") for b in "ABCD"]
    rows += [
        ("E", "bank_card", "c1"),
        ("F", "bank_card", "c1"),
        ("F", "bank_card", "c2"),
        ("G", "bank_card", "c2"),
    ]
    rows += [("H", "phone", "h"), ("I", "ip", "ip"), ("J", "ip", "ip")]
    return build(*frames(people, rows))


def test_components_over_strong_links_have_the_known_answer():
    graph = _two_rings()
    labels = components(graph)
    by = dict(zip(graph.borrower_ids.to_pylist(), labels))
    assert len({by[b] for b in "ABCD"}) == 1 and len({by[b] for b in "EFG"}) == 1
    assert len({by["A"], by["E"], by["H"], by["I"], by["J"]}) == 5  # the weak IP link is no ring


def test_ring_features_size_density_devices_applications_and_shares():
    graph = _two_rings()
    applications = pd.DataFrame(
        {
            "borrower_id": ["A", "B", "E", "H"],
            "applied_at": [START + dt.timedelta(days=d) for d in (9, 2, 9.5, 9)],
        }
    )
    blacklist = pd.DataFrame(
        {"borrower_id": ["A", "F"], "listed_at": [START + dt.timedelta(days=d) for d in (5, 20)]}
    )
    late = pd.DataFrame({"borrower_id": ["B", "C"], "delinquent_at": [START + dt.timedelta(days=3)] * 2})
    table = ring_table(
        graph, as_of_us=day_us(10), applications=applications, blacklist=blacklist, delinquency=late
    )
    assert list(table["size"]) == [4, 3]
    first, second = table.iloc[0], table.iloc[1]
    assert first["strong_links"] == 6 and first["density"] == pytest.approx(1.0)
    assert second["strong_links"] == 2 and second["density"] == pytest.approx(2 / 3)
    assert first["shared_devices"] == 1 and second["shared_devices"] == 0
    assert first["applications_7d"] == 1 and second["applications_7d"] == 1  # B applied 8 days before as_of
    assert (
        first["share_blacklisted"] == pytest.approx(0.25) and second["share_blacklisted"] == 0
    )  # F listed later
    assert first["share_delinquent"] == pytest.approx(0.5)


def test_a_ring_picture_names_members_and_what_they_share():
    graph = _two_rings()
    dot = ring_dot(graph, graph.index_of(list("EFG")))
    assert dot.startswith("graph ring {") and '"E" -- "F"' in dot and "bank_card" in dot
