"""What the console's pages say, checked against the platform's own records (the shared server's database)."""

from __future__ import annotations

import json

import numpy as np
import sqlalchemy as sa
from console_day import RING_DEVICE
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.api.console import graphs, partners, policies
from creditmesh.api.console.pictures import graph_svg, layout
from creditmesh.api.tables import partner_capacity


class _Platform:
    """What the view functions read of a platform: its engine (and, for partners, its matcher)."""

    def __init__(self, engine, matcher=None, decisions=None):
        self.engine, self.matcher, self.decisions = engine, matcher, decisions


@given(
    n=st.integers(0, 40),
    pairs=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)), max_size=120),
)
@settings(max_examples=40, deadline=None)
def test_a_layout_is_finite_inside_the_unit_square_and_the_same_every_time(n, pairs):
    edges = [(a, b) for a, b in pairs if a < n and b < n and a != b]
    first, second = layout(n, edges), layout(n, edges)
    assert first.shape == (n, 2) and np.isfinite(first).all()
    assert (first >= -1e-9).all() and (first <= 1 + 1e-9).all()
    assert np.array_equal(first, second)


def test_a_picture_escapes_what_it_shows():
    svg = graph_svg(
        [{"id": "<b>x</b>", "focus": True, "flags": []}, {"id": "y", "flags": ["blacklisted"]}],
        [{"source": "<b>x</b>", "target": "y", "kinds": "device"}],
        title="a & b",
        description="d",
    )
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a &amp; b" in svg


def test_the_ring_of_four_sharing_a_device_is_found_from_the_event_stream(settings, console_day):
    engine = sa.create_engine(settings.db_url)
    snapshot = graphs.GraphCache(engine).latest()
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT borrower_id, identities FROM graph_events WHERE kind = 'borrower'")
        ).all()
    # the hashed device shared by the ring: the one value four borrowers hold
    held: dict[str, set] = {}
    for borrower, identities in rows:
        for kind, value in json.loads(identities):
            if kind == "device":
                held.setdefault(value, set()).add(borrower)
    members = max(held.values(), key=len)
    assert len(members) == 4, RING_DEVICE
    ring = graphs.ring_of(snapshot, next(iter(members)))
    table = graphs.rings(snapshot)
    row = table[table["ring"] == ring].iloc[0]
    assert row["size"] == 4 and row["shared_devices"] == 1
    drawn = graphs.ring_picture(snapshot, ring)
    assert {n["id"] for n in drawn.nodes} == members
    assert all("device" in e["kinds"] and "bank_card" in e["kinds"] for e in drawn.edges)
    engine.dispose()


def test_capacity_used_today_is_what_the_loans_booked_today_reserved(server, settings, console_day):
    from creditmesh.matching import load_partners
    from creditmesh.matching.online import OnlineMatcher

    engine = sa.create_engine(settings.db_url)
    platform = _Platform(engine, OnlineMatcher(load_partners(settings.partners_path)))
    page = partners.partners_page(platform)
    booked = partners.todays_allocations(platform)
    with engine.connect() as connection:
        reserved = dict(
            connection.execute(
                sa.select(partner_capacity.c.institution_id, partner_capacity.c.reserved_minor)
            ).all()
        )
    for row in page["partners"]:
        mine = booked[booked["institution_id"] == row["institution_id"]]
        assert (
            row["used_minor"] == int(mine["principal_minor"].sum()) == reserved.get(row["institution_id"], 0)
        )
        assert row["loans_today"] == len(mine)
    light = [m for m in page["mix"] if m["funding_model"] == "capital_light"][0]
    assert light["loans"] == len(booked) >= len(console_day["loans"])  # FI-LIGHT funds every 12-month loan
    assert (booked["margin_minor"] > 0).all(), "a capital-light fee is earned on every allocation"
    engine.dispose()


def test_each_arms_approval_rate_is_the_share_of_its_approvals_in_the_log(server, settings, console_day):
    from creditmesh.decision import DecisionEngine, default_policy_path, load_policy

    engine = sa.create_engine(settings.db_url)
    platform = _Platform(engine, decisions=DecisionEngine(load_policy(default_policy_path()), None))
    with engine.connect() as connection:
        decided = [
            json.loads(d)["outcome"]
            for (d,) in connection.execute(
                sa.text("SELECT decision FROM decision_log WHERE stage = 'credit_line'")
            )
        ]
    found = policies.arms(
        policies.decisions_frame(platform),
        policies.bad_outcomes(platform),
        policies.stored_policies(platform),
    )
    arms = {a["arm"]: a for a in found}
    assert arms["champion"]["applications"] == len(decided)
    assert abs(arms["champion"]["approval_rate"] - decided.count("approve") / len(decided)) < 1e-12
    engine.dispose()
