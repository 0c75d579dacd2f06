"""The optimal merge of pre-bins equals an exhaustive search over every partition."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.scoring.optimal import best_partition, woe_iv


def _bins(events, nonevents, cuts):
    bounds = [0, *cuts, len(events)]
    return [(sum(events[a:b]), sum(nonevents[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]


def _shape_ok(rates, trend):
    up = [b > a for a, b in zip(rates, rates[1:])]
    if trend == "ascending":
        return all(up)
    if trend == "descending":
        return not any(up) and all(a != b for a, b in zip(rates, rates[1:]))
    if trend == "none":
        return True
    signs = up if trend == "peak" else [not u for u in up]
    strict = all(a != b for a, b in zip(rates, rates[1:]))
    turned = False
    for s in signs:
        if not s:
            turned = True
        elif turned:
            return False
    return strict


def brute_force(events, nonevents, trend, floor):
    total_e, total_n = sum(events), sum(nonevents)
    best = None
    n = len(events)
    for k in range(n):
        for cuts in itertools.combinations(range(1, n), k):
            bins = _bins(events, nonevents, cuts)
            if any(e + m < floor or e + m == 0 for e, m in bins):
                continue
            if not _shape_ok([e / (e + m) for e, m in bins], trend):
                continue
            _, iv = woe_iv(np.array([b[0] for b in bins]), np.array([b[1] for b in bins]), total_e, total_n)
            if best is None or iv.sum() > best + 1e-12:
                best = float(iv.sum())
    return 0.0 if best is None else best


counts = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 30)).filter(lambda t: sum(t) > 0), min_size=1, max_size=7
)


@settings(max_examples=150, deadline=None)
@given(counts, st.sampled_from(["ascending", "descending", "peak", "valley", "none"]), st.integers(0, 40))
def test_dynamic_programme_finds_the_best_partition_an_exhaustive_search_finds(pre, trend, floor):
    events = [e for e, _ in pre]
    nonevents = [m for _, m in pre]
    found = best_partition(np.array(events), np.array(nonevents), trend=trend, min_bin_weight=floor)
    expected = brute_force(events, nonevents, trend, floor)
    if found.cuts or expected:
        np.testing.assert_allclose(found.iv, expected, rtol=1e-9, atol=1e-12)
    bins = _bins(events, nonevents, found.cuts)
    if found.cuts:
        assert _shape_ok([e / (e + m) for e, m in bins], trend)
        assert all(e + m >= floor for e, m in bins)


def test_descending_rates_merge_into_descending_bins():
    events = np.array([30, 25, 26, 10, 5, 6, 1])
    nonevents = np.array([70, 75, 74, 90, 95, 94, 99])
    found = best_partition(events, nonevents, trend="descending", min_bin_weight=0)
    rates = [e / (e + m) for e, m in _bins(events, nonevents, found.cuts)]
    assert rates == sorted(rates, reverse=True) and len(set(rates)) == len(rates)
    assert len(found.cuts) >= 2
