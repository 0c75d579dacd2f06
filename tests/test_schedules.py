import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.schedules import add_months, annuity_payment_minor, build_schedules


def test_due_dates_follow_the_calendar_from_the_origination_day():
    jan31 = np.array(["2024-01-31"] * 4, dtype="datetime64[D]")
    got = add_months(jan31, np.array([1, 2, 3, 13]))
    assert got.astype(str).tolist() == ["2024-02-29", "2024-03-31", "2024-04-30", "2025-02-28"]


def test_equal_installment_schedule_pays_a_level_amount_and_the_last_takes_the_rest():
    s = build_schedules(
        np.array([1_000_000]),
        np.array([180_000]),
        np.array([12]),
        np.array(["2024-01-15"], dtype="datetime64[D]"),
    )
    payment = annuity_payment_minor(np.array([1_000_000]), np.array([180_000]), np.array([12]))[0]
    assert payment == 91_680  # 10,000.00 at 18 % over 12 months: 916.80 a month
    totals = s.principal_due_minor + s.interest_due_minor
    assert (totals[:-1] == payment).all()
    assert abs(totals[-1] - payment) <= 1
    assert s.interest_due_minor[0] == 15_000


def test_equal_principal_spreads_the_odd_units_over_the_first_installments():
    s = build_schedules(
        np.array([100_001]),
        np.array([240_000]),
        np.array([3]),
        np.array(["2024-01-15"], dtype="datetime64[D]"),
        np.array([True]),
    )
    assert s.principal_due_minor.tolist() == [33_334, 33_334, 33_333]
    assert s.interest_due_minor.tolist() == [2_000, 1_333, 667]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(100, 10**9), st.integers(0, 360_000), st.integers(1, 36), st.booleans()),
        min_size=1,
        max_size=20,
    )
)
def test_schedules_sum_to_the_principal_and_never_go_negative(loans):
    principal, rate, tenor, flat = (np.array(column) for column in zip(*loans))
    s = build_schedules(principal, rate, tenor, np.full(len(loans), np.datetime64("2024-03-31")), flat)
    sums = np.bincount(s.loan, weights=s.principal_due_minor, minlength=len(loans))
    assert (sums.astype(np.int64) == principal).all()
    assert (s.principal_due_minor >= 0).all() and (s.interest_due_minor >= 0).all()
    balance_after = principal[s.loan] - (
        np.cumsum(s.principal_due_minor) - np.repeat(np.concatenate(([0], np.cumsum(sums)[:-1])), tenor)
    )
    assert (balance_after >= 0).all()
    assert (np.diff(s.due_date.astype(np.int64))[s.loan[1:] == s.loan[:-1]] > 0).all()


def test_payment_rounding_is_a_choice_and_the_schedule_still_sums_to_the_principal():
    principal, rate, tenor = (
        np.array([500_000]),
        np.array([126_100]),
        np.array([36]),
    )  # LendingClub row 1: 167.54
    assert annuity_payment_minor(principal, rate, tenor).tolist() == [16_753]
    from creditmesh.money import Rounding

    assert annuity_payment_minor(principal, rate, tenor, rounding=Rounding.CEILING).tolist() == [16_754]
    s = build_schedules(
        principal,
        rate,
        tenor,
        np.array(["2018-02-01"], dtype="datetime64[D]"),
        payment_rounding=Rounding.CEILING,
    )
    assert int(s.principal_due_minor.sum()) == 500_000
    assert ((s.principal_due_minor + s.interest_due_minor)[:-1] == 16_754).all()
