"""Point-in-time graph features: known answers, no future leaks, batch equal to online, restart of the online index."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _graphs import START, day_us, frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditmesh.errors import ParameterError
from creditmesh.graph.build import DEFAULT_CAPS, encode_identities
from creditmesh.graph.features import (
    FEATURE_NAMES,
    NEVER,
    OnlineIndex,
    PointInTimeGraph,
    application_features,
    seen_at_us,
)


def _batch(borrowers, rows, apps, black=None, late=None):
    """Batch features for apps [(borrower, day)], labels {borrower: day}."""
    identities, people = frames(borrowers, rows)
    encoded, _ = encode_identities(identities, people)
    ids = encoded.borrower_ids.to_pylist()
    a = np.array([ids.index(b) for b, _ in apps], dtype=np.int64)
    t = np.array([day_us(d) for _, d in apps], dtype=np.int64)
    seen = seen_at_us(encoded.registered_at_us, a, t)
    graph = PointInTimeGraph.build(encoded, seen)

    def times(labels):
        out = np.full(len(ids), NEVER, dtype=np.int64)
        for b, d in (labels or {}).items():
            out[ids.index(b)] = day_us(d)
        return out

    return (
        graph.features(a, t, blacklist_us=times(black), delinquent_us=times(late)),
        encoded,
        seen,
        a,
        t,
        times,
    )


def _online(borrowers, rows, apps, black=None, late=None, save_at=None, tmp_path=None):
    """The same through the online index: registrations and applications replayed in time order."""
    frame, encoded, seen, a, t, times = _batch(borrowers, rows, apps, black, late)
    ids = encoded.borrower_ids.to_pylist()
    black_us, late_us = times(black), times(late)
    by_borrower: dict[str, list] = {}
    for b, kind, value in rows:
        by_borrower.setdefault(b, []).append((kind, value))
    events = [(seen[i], 0, i, -1) for i in range(len(ids))] + [(t[q], 1, a[q], q) for q in range(len(a))]
    index = OnlineIndex()
    out = [None] * len(a)
    for step, (when, what, b, q) in enumerate(sorted(events)):
        if save_at is not None and step == save_at:
            index.save(tmp_path / "index")
            index = OnlineIndex.load(tmp_path / "index")
        if what == 0:
            index.add_borrower(ids[b], int(when), by_borrower.get(ids[b], []))
            if black_us[b] < NEVER:
                index.add_label(ids[b], "blacklist", int(black_us[b]))
            if late_us[b] < NEVER:
                index.add_label(ids[b], "delinquent", int(late_us[b]))
        else:
            out[q] = index.features(ids[b], int(when))
    return frame, pd.DataFrame(out, columns=list(FEATURE_NAMES))


def test_links_count_only_borrowers_seen_before_the_application():
    borrowers = {"A": 0, "B": 1, "C": 10}
    rows = [
        ("A", "device", "d"),
        ("B", "device", "d"),
        ("C", "device", "d"),
        ("C", "address", "h"),
        ("A", "address", "h"),
    ]
    frame, *_ = _batch(borrowers, rows, [("A", 5), ("A", 12)])
    assert list(frame["degree_device"]) == [1, 2]
    assert list(frame["degree_address"]) == [0, 1]
    assert list(frame["ring_size"]) == [2, 3]
    assert list(frame["new_links_30d"]) == [1, 3]


def test_no_label_from_after_the_application_leaks_in():
    borrowers = {"A": 0, "B": 0, "C": 0}
    rows = [("A", "device", "d1"), ("B", "device", "d1"), ("B", "device", "d2"), ("C", "device", "d2")]
    apps = [("A", 5), ("A", 15), ("A", 25)]
    # C blacklisted on day 10, B delinquent on day 20
    frame, *_ = _batch(borrowers, rows, apps, black={"C": 10}, late={"B": 20})
    assert list(frame["blacklist_hops"]) == [-1, 2, 2]
    assert list(frame["neighbour_links_delinquent"]) == [0, 0, 1]
    assert list(frame["neighbour_delinquency_rate"]) == [0.0, 0.0, 1.0]
    # a label on the very moment of the application is not yet known
    same, *_ = _batch(borrowers, rows, [("A", 10)], black={"C": 10})
    assert same["blacklist_hops"].iloc[0] == -1
    # the same applications without any future labels give identical features
    known_then, *_ = _batch(borrowers, rows, apps[:1])
    assert known_then.iloc[0].equals(frame.iloc[0])


def test_labels_on_simulated_data_never_reach_back(small_platform):
    from creditmesh.graph.labels import blacklist_from_book, delinquency_from_book

    tables = small_platform.tables
    end = pd.Timestamp(small_platform.end_date, tz="UTC")
    black = blacklist_from_book(tables["loans"], tables["installments"], as_of=end)
    late = delinquency_from_book(tables["loans"], tables["installments"], as_of=end)
    full = application_features(
        tables["identities"], tables["borrowers"], tables["applications"], blacklist=black, delinquency=late
    )
    applied = tables["applications"]["applied_at"].to_pandas()
    cut = applied.quantile(0.5)
    early = tables["applications"].filter(pa.array((applied <= cut).to_numpy()))
    # labels as they stood at the cut: whatever became known later is simply absent
    known = application_features(
        tables["identities"],
        tables["borrowers"],
        early,
        blacklist=black[black["listed_at"] <= cut],
        delinquency=late[late["delinquent_at"] <= cut],
    )
    assert len(black) > 0 and len(late) > 0
    same = full.set_index("application_id").loc[known["application_id"]].reset_index()
    assert (same["neighbour_links_delinquent"] > 0).any()
    pd.testing.assert_frame_equal(same, known)


def test_first_cap_holders_only_link_through_a_busy_identifier():
    cap = DEFAULT_CAPS["device"]
    borrowers = {f"P{i:02d}": i for i in range(cap + 2)}
    rows = [(b, "device", "farm") for b in borrowers]
    frame, *_ = _batch(borrowers, rows, [("P00", 100), (f"P{cap:02d}", 100), (f"P{cap + 1:02d}", 100)])
    assert list(frame["degree_device"]) == [cap - 1, 0, 0]
    assert list(frame["ring_size"]) == [cap, 1, 1]


def test_batch_equals_online_on_a_small_simulated_platform(small_platform):
    tables = small_platform.tables
    identities = tables["identities"].to_pandas()
    people = tables["borrowers"].to_pandas()
    apps = tables["applications"].to_pandas().head(3_000)
    start_us = pd.Timestamp(START).value // 1000
    borrowers = {
        b: (r.value // 1000 - start_us) / 86_400_000_000
        for b, r in zip(people["borrower_id"], people["registered_at"])
    }
    app_days = [
        (b, (t.value // 1000 - start_us) / 86_400_000_000)
        for b, t in zip(apps["borrower_id"], apps["applied_at"])
    ]
    rows = list(identities.itertuples(index=False, name=None))
    rng = np.random.default_rng(0)
    chosen = rng.choice(list(borrowers), 60, replace=False)
    black = {b: borrowers[b] + rng.integers(10, 300) for b in chosen[:30]}
    late = {b: borrowers[b] + rng.integers(10, 300) for b in chosen[30:]}
    batch, online = _online(borrowers, rows, app_days, black, late)
    assert (batch["ring_size"] > 2).any() and (batch["neighbour_links_blacklisted"] > 0).any()
    pd.testing.assert_frame_equal(batch, online, check_dtype=False)


_kinds = st.sampled_from(["phone", "device", "ip", "address", "contact", "bank_card", "employer"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    registrations=st.lists(st.integers(0, 20), min_size=1, max_size=14),
    identity_rows=st.lists(st.tuples(st.integers(0, 13), _kinds, st.integers(0, 4)), max_size=60),
    applications=st.lists(st.tuples(st.integers(0, 13), st.integers(0, 40)), min_size=1, max_size=20),
    labels=st.lists(st.tuples(st.integers(0, 13), st.booleans(), st.integers(0, 40)), max_size=8),
)
def test_batch_equals_online_on_any_small_graph(registrations, identity_rows, applications, labels):
    names = [f"B{i}" for i in range(len(registrations))]
    borrowers = dict(zip(names, registrations))
    rows = list(dict.fromkeys((names[b % len(names)], kind, f"v{value}") for b, kind, value in identity_rows))
    apps = [(names[b % len(names)], day) for b, day in applications]
    black = {names[b % len(names)]: d for b, is_black, d in labels if is_black}
    late = {names[b % len(names)]: d for b, is_black, d in labels if not is_black}
    batch, online = _online(borrowers, rows, apps, black, late)
    pd.testing.assert_frame_equal(batch, online, check_dtype=False)


def test_online_index_survives_a_restart(tmp_path):
    borrowers = {"A": 0, "B": 1, "C": 2, "D": 3}
    rows = [
        ("A", "device", "d"),
        ("B", "device", "d"),
        ("C", "contact", "pa"),
        ("A", "phone", "pa"),
        ("D", "ip", "x"),
        ("C", "ip", "x"),
    ]
    apps = [("A", 1.5), ("C", 2.5), ("D", 4), ("B", 5)]
    straight = _online(borrowers, rows, apps, black={"B": 3})[1]
    restarted = _online(borrowers, rows, apps, black={"B": 3}, save_at=3, tmp_path=tmp_path)[1]
    pd.testing.assert_frame_equal(straight, restarted)


def test_online_apply_adds_a_new_applicant_and_refuses_going_back_in_time():
    index = OnlineIndex()
    index.add_borrower("A", day_us(0), [("device", "d")])
    features = index.apply("N", day_us(1), [("device", "d"), ("ip", "i")])
    assert features["degree_device"] == 1 and features["ring_size"] == 2
    with pytest.raises(ParameterError) as caught:
        index.add_borrower("O", day_us(0.5), [])
    assert caught.value.field == "seen_at"
    with pytest.raises(ParameterError):
        index.features("A", day_us(0.9))
    with pytest.raises(ParameterError):
        index.add_borrower("P", day_us(2), [("telepathy", "t")])


def test_reusing_the_builds_links_and_chunking_change_nothing(small_platform, monkeypatch):
    import pyarrow.compute as pc

    from creditmesh.graph import build_graph
    from creditmesh.graph import features as module
    from creditmesh.graph.build import GraphConfig, timestamps_us

    tables = small_platform.tables
    encoded, _ = encode_identities(tables["identities"], tables["borrowers"])
    config = GraphConfig(caps={"phone": 3, "device": 2, "bank_card": 2, "address": 3, "ip": 4, "employer": 5})
    graph = build_graph(encoded, config)
    assert graph.hub.sum() > 10  # hubs whose first holders still link point in time
    apps = tables["applications"]
    who = pc.index_in(apps["borrower_id"], value_set=encoded.borrower_ids).to_numpy().astype(np.int64)
    applied = timestamps_us(apps["applied_at"], "applied_at")
    seen = seen_at_us(encoded.registered_at_us, who, applied)
    rng = np.random.default_rng(1)
    black = np.where(rng.random(encoded.n_borrowers) < 0.3, seen + 86_400_000_000, NEVER)
    fresh = PointInTimeGraph.build(encoded, seen, config).features(who, applied, blacklist_us=black)
    reused = PointInTimeGraph.build(encoded, seen, config, incidence=graph.incidence, links=graph.links)
    monkeypatch.setattr(module, "CHUNK_APPLICATIONS", 997)
    monkeypatch.setattr(module, "CHUNK_PAIRS", 5_000)
    pd.testing.assert_frame_equal(fresh, reused.features(who, applied, blacklist_us=black))
    assert (fresh["blacklist_hops"] > 0).any()
