"""The disclosed metrics on tiny hand-built books, against values computed by hand."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from _portfolio_books import START, due_date_book, loan_rows, ninety_plus_book, origination_book
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditmesh.errors import ParameterError
from creditmesh.portfolio import (
    HEADLINE_METRICS,
    SEED_FIGURES,
    collection_rate_30d,
    cumulative_borrowers_with_drawdown,
    cumulative_registered_users,
    cumulative_users_with_approved_credit_lines,
    day1_delinquency_rate,
    delinquency_rate_90_plus,
    financial_institution_partners,
    headline,
    loan_states,
    loan_volume_minor,
    loans_originated,
    platform_services_balance_share,
    platform_services_volume_share,
    quarter_start,
    repeat_borrower_contribution,
    total_outstanding_balance_minor,
    weighted_average_tenor_months,
)
from creditmesh.schema import PLATFORM_SERVICE_MODELS, RISK_BEARING_MODELS

UTC = dt.UTC
AS_OF = dt.date(2024, 12, 31)
Q4 = (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
OLD = dt.date(2024, 1, 1)  # origination day of loans that are long on the book by AS_OF


def days_before(day: dt.date, n: int) -> dt.date:
    return day - timedelta(days=n)


# -- days past due, charge-off, balances --------------------------------------------


def test_days_past_due_counts_from_the_oldest_open_installment_and_181_charges_off(loan_book):
    lb = loan_book()
    for k in (0, 1, 90, 91, 180, 181):
        lb.single(f"dpd{k:03d}", principal=100, originated=OLD, due=days_before(AS_OF, k))
    lb.single("future", principal=100, originated=OLD, due=AS_OF + timedelta(days=10))
    lb.loan("two", principal=300, originated=OLD)
    lb.installment("two", days_before(AS_OF, 40), 100)  # oldest unpaid: drives dpd
    lb.installment("two", days_before(AS_OF, 10), 200)
    states = loan_states(lb.book(), AS_OF).set_index("loan_id")
    assert states["dpd"].to_dict() == {
        "dpd000": 0,
        "dpd001": 1,
        "dpd090": 90,
        "dpd091": 91,
        "dpd180": 180,
        "dpd181": 181,
        "future": 0,
        "two": 40,
    }
    assert states.loc[states["charged_off"], :].index.tolist() == ["dpd181"]
    assert states.loc["two", "outstanding_principal_minor"] == 300


def test_ninety_plus_rate_counts_91_to_180_dpd_of_on_and_off_balance_loans_not_charged_off(loan_book):
    book = ninety_plus_book(loan_book)
    # Not charged off: dpd90 + dpd91 + dpd180 + current + off120 + light120 (ICE and tech left out).
    denominator = 1_000 + 2_000 + 4_000 + 16_000 + 32_000 + 256_000
    numerator = 2_000 + 4_000 + 32_000 + 256_000  # 90 dpd is not in; 91 and 180 are; 181 is charged off
    assert delinquency_rate_90_plus(book, AS_OF) == numerator / denominator


def test_outstanding_balance_leaves_out_charged_off_repaid_and_future_loans(loan_book):
    book = ninety_plus_book(loan_book)
    risk_bearing = 1_000 + 2_000 + 4_000 + 16_000 + 32_000
    platform_services = 64_000 + 128_000 + 256_000
    assert total_outstanding_balance_minor(book, AS_OF) == risk_bearing + platform_services
    assert total_outstanding_balance_minor(book, AS_OF, RISK_BEARING_MODELS) == risk_bearing
    assert total_outstanding_balance_minor(book, AS_OF, "ice") == 64_000
    assert platform_services_balance_share(book, AS_OF) == platform_services / (
        risk_bearing + platform_services
    )
    assert isinstance(total_outstanding_balance_minor(book, AS_OF), int)


def test_outstanding_balance_before_origination_is_zero_and_rates_are_none(loan_book):
    book = ninety_plus_book(loan_book)
    before = dt.date(2023, 12, 31)
    assert total_outstanding_balance_minor(book, before) == 0
    assert delinquency_rate_90_plus(book, before) is None
    assert platform_services_balance_share(book, before) is None


def test_charge_off_is_permanent_after_a_late_recovery(loan_book):
    lb = loan_book()
    due = dt.date(2024, 1, 10)
    lb.loan("recovered", principal=6_000, originated=dt.date(2023, 12, 10))
    lb.installment("recovered", due, 1_000, paid=due + timedelta(days=200))
    lb.installment("recovered", dt.date(2025, 1, 10), 5_000)
    book = lb.book()
    day_180, day_181 = due + timedelta(days=180), due + timedelta(days=181)
    assert delinquency_rate_90_plus(book, day_180) == 1.0
    assert total_outstanding_balance_minor(book, day_180) == 6_000
    assert delinquency_rate_90_plus(book, day_181) is None
    assert total_outstanding_balance_minor(book, day_181) == 0
    # Recovered in July, back to 0 dpd by December, yet still charged off.
    state = loan_states(book, AS_OF).iloc[0]
    assert (state["dpd"], bool(state["charged_off"])) == (0, True)
    assert total_outstanding_balance_minor(book, AS_OF) == 0


def test_settling_on_day_181_avoids_charge_off_but_settling_on_day_182_does_not(loan_book):
    lb = loan_book()
    due = dt.date(2024, 3, 1)
    for days_late in (181, 182):
        lb.loan(f"late{days_late}", principal=3_000, originated=dt.date(2024, 2, 1))
        lb.installment(f"late{days_late}", due, 1_000, paid=due + timedelta(days=days_late))
        lb.installment(f"late{days_late}", dt.date(2025, 3, 1), 2_000)
    states = loan_states(lb.book(), AS_OF).set_index("loan_id")
    # settled at the end of day 181, a loan never shows 181 dpd at a day's end
    assert states["charged_off"].to_dict() == {"late181": False, "late182": True}
    assert states.loc["late182", "charged_off_on"].date() == due + timedelta(days=181)


# -- Day-1 delinquency and 30-day collection -----------------------------------------


def test_day1_rate_counts_principal_unpaid_at_end_of_due_date_over_principal_still_due(loan_book):
    book = due_date_book(loan_book)
    # Prepaid, Q3 and charged-off installments are out; on_time is due but not overdue.
    due = 1_000 + 2_000 + 4_000 + 8_000 + 16_000 + 128_000
    overdue = 2_000 + 4_000 + 8_000 + 16_000 + 128_000
    assert day1_delinquency_rate(book, *Q4) == overdue / due
    assert day1_delinquency_rate(book, dt.date(2024, 10, 10), dt.date(2024, 10, 10)) == (
        overdue - 128_000
    ) / (due - 128_000)
    assert day1_delinquency_rate(book, *Q4, funding_models="ice") is None


def test_day1_and_collection_leave_out_installments_of_loans_already_past_due(loan_book):
    lb = loan_book()
    first, second = dt.date(2024, 9, 10), dt.date(2024, 10, 10)
    opened = dt.date(2024, 8, 10)
    # still behind on the first installment when the second falls due: the second is left out
    lb.loan("behind", principal=3_000, originated=opened)
    lb.installment("behind", first, 1_000)
    lb.installment("behind", second, 2_000)
    # caught up the day before the second due date: current again, the second counts (and is missed)
    lb.loan("cured", principal=12_000, originated=opened)
    lb.installment("cured", first, 4_000, paid=second - timedelta(days=1))
    lb.installment("cured", second, 8_000, paid=second + timedelta(days=3))
    # caught up on the second due date itself: past due when the day began, left out
    lb.loan("same_day", principal=48_000, originated=opened)
    lb.installment("same_day", first, 16_000, paid=second)
    lb.installment("same_day", second, 32_000, paid=second)
    book = lb.book()
    october = (dt.date(2024, 10, 1), dt.date(2024, 10, 31))
    assert day1_delinquency_rate(book, *october) == 1.0  # only "cured": 8,000 due, 8,000 overdue
    assert collection_rate_30d(book, *october, observed_until=dt.date(2024, 12, 31)) == 1.0
    september = (dt.date(2024, 9, 1), dt.date(2024, 9, 30))
    assert day1_delinquency_rate(book, *september) == 1.0  # every first installment was missed
    assert collection_rate_30d(book, *september, observed_until=dt.date(2024, 12, 31)) == (4_000 + 16_000) / (
        1_000 + 4_000 + 16_000
    )


def test_collection_rate_counts_overdue_principal_settled_within_30_days(loan_book):
    book = due_date_book(loan_book)
    cohort = 2_000 + 4_000 + 8_000 + 16_000  # overdue on 2024-10-10; the immature one is left out
    collected = 2_000 + 8_000  # one day late and 30 days late; 31 days late is not collected
    assert collection_rate_30d(book, *Q4, observed_until=dt.date(2025, 1, 13)) == collected / cohort
    # From 2025-01-14 the installment due 2024-12-15 has had its 30 days, unpaid.
    assert collection_rate_30d(book, *Q4, observed_until=dt.date(2025, 1, 14)) == collected / (
        cohort + 128_000
    )
    assert collection_rate_30d(book, *Q4, observed_until=dt.date(2024, 11, 8)) is None


def test_collection_rate_observes_until_the_books_last_date_by_default(loan_book):
    book = due_date_book(loan_book)
    assert book.last_date == dt.date(2024, 11, 10)  # the 31-days-late settlement
    assert collection_rate_30d(book, *Q4) == collection_rate_30d(book, *Q4, observed_until=book.last_date)
    assert collection_rate_30d(book, *Q4) == (2_000 + 8_000) / (2_000 + 4_000 + 8_000 + 16_000)


# -- originations --------------------------------------------------------------------


def test_repeat_contribution_counts_loans_after_an_earlier_drawdown_not_the_flag(loan_book):
    lb = loan_book()
    lb.loan("a1", borrower="a", principal=1_000, originated=dt.date(2024, 5, 1))
    lb.loan("a2", borrower="a", principal=2_000, originated=dt.date(2024, 11, 1))  # repeat
    lb.loan("b1", borrower="b", principal=4_000, originated=dt.date(2024, 10, 5))  # new borrower, first
    lb.loan("b2", borrower="b", principal=8_000, originated=dt.date(2024, 10, 20))  # second in the period
    lb.loan(
        "c1", borrower="c", principal=16_000, originated=dt.date(2024, 12, 1), repeat_flag=True
    )  # flag lies
    same_instant = dt.datetime(2024, 11, 15, 10, tzinfo=UTC)
    lb.loan("d1", borrower="d", principal=32_000, originated=same_instant)
    lb.loan("d2", borrower="d", principal=64_000, originated=same_instant)  # not strictly later
    lb.loan("e1", borrower="e", principal=128_000, originated=dt.datetime(2024, 11, 20, 1, tzinfo=UTC))
    lb.loan(
        "e2", borrower="e", principal=256_000, originated=dt.datetime(2024, 11, 20, 2, tzinfo=UTC)
    )  # repeat
    book = lb.book()
    repeat = 2_000 + 8_000 + 256_000
    total = 2_000 + 4_000 + 8_000 + 16_000 + 32_000 + 64_000 + 128_000 + 256_000
    assert repeat_borrower_contribution(book, *Q4) == repeat / total
    assert repeat_borrower_contribution(book, dt.date(2024, 5, 1), dt.date(2024, 5, 31)) == 0.0


def test_volume_count_and_platform_share_of_a_quarter(loan_book):
    book = origination_book(loan_book)
    assert loans_originated(book, *Q4) == 6
    assert loan_volume_minor(book, *Q4) == 95_000
    assert loan_volume_minor(book, *Q4, funding_models=RISK_BEARING_MODELS) == 1_000 + 2_000 + 64_000
    assert loan_volume_minor(book, *Q4, funding_models=PLATFORM_SERVICE_MODELS) == 28_000
    assert platform_services_volume_share(book, *Q4) == 28_000 / 95_000
    assert loan_volume_minor(book, dt.date(2024, 7, 1), dt.date(2024, 9, 30)) == 32_000


def test_weighted_average_tenor_weights_by_principal(loan_book):
    book = origination_book(loan_book)
    months = 1_000 * 6 + 2_000 * 12 + 4_000 * 12 + 8_000 * 12 + 16_000 * 3 + 64_000 * 9
    assert weighted_average_tenor_months(book, *Q4) == months / 95_000
    assert weighted_average_tenor_months(book, dt.date(2024, 9, 1), dt.date(2024, 9, 30)) == 36.0


def test_empty_period_gives_none_rates_and_zero_amounts(loan_book):
    book = origination_book(loan_book)
    empty = (dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    assert loans_originated(book, *empty) == 0
    assert loan_volume_minor(book, *empty) == 0
    for metric in (
        platform_services_volume_share,
        weighted_average_tenor_months,
        repeat_borrower_contribution,
        day1_delinquency_rate,
        collection_rate_30d,
    ):
        assert metric(book, *empty) is None, metric.__name__


# -- users ---------------------------------------------------------------------------


def test_cumulative_users_lines_and_borrowers_count_each_person_once(loan_book):
    lb = loan_book()
    lb.borrower("u1", registered=dt.date(2024, 1, 1))  # registered only
    lb.borrower("u2", registered=dt.date(2024, 2, 1))
    lb.credit_line("u2", dt.date(2024, 3, 1))  # approved, never drew down
    lb.loan("u3a", borrower="u3", principal=1_000, originated=dt.date(2024, 6, 1))
    lb.loan("u3b", borrower="u3", principal=1_000, originated=dt.date(2024, 7, 1))
    lb.loan("u4a", borrower="u4", principal=1_000, originated=dt.date(2025, 1, 5), funding_model="ice")
    book = lb.book()
    counts = [
        (day, cumulative_registered_users(book, day), cumulative_users_with_approved_credit_lines(book, day))
        for day in (dt.date(2022, 12, 31), dt.date(2023, 6, 1), dt.date(2024, 3, 31), AS_OF)
    ]
    # u3 and u4 are registered on 2023-01-01 by the builder; u1 and u2 in 2024.
    assert counts == [
        (dt.date(2022, 12, 31), 0, 0),
        (dt.date(2023, 6, 1), 2, 0),
        (dt.date(2024, 3, 31), 4, 1),
        (AS_OF, 4, 2),
    ]
    assert cumulative_borrowers_with_drawdown(book, dt.date(2024, 5, 31)) == 0
    assert cumulative_borrowers_with_drawdown(book, AS_OF) == 1
    assert cumulative_borrowers_with_drawdown(book, dt.date(2025, 1, 5)) == 2
    assert financial_institution_partners(book) == 2


# -- headline ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "first"),
    [
        (dt.date(2024, 1, 1), dt.date(2024, 1, 1)),
        (dt.date(2024, 3, 31), dt.date(2024, 1, 1)),
        (dt.date(2024, 4, 1), dt.date(2024, 4, 1)),
        (dt.date(2024, 12, 31), dt.date(2024, 10, 1)),
    ],
)
def test_quarter_start_is_the_first_day_of_the_calendar_quarter(day, first):
    assert quarter_start(day) == first


def test_headline_reports_every_metric_for_the_quarter_to_date(loan_book):
    book = due_date_book(loan_book)
    figures = headline(book, AS_OF)
    assert list(figures) == ["as_of", "period_start", "period_end", *HEADLINE_METRICS]
    period = (figures["as_of"], figures["period_start"], figures["period_end"])
    assert period == ("2024-12-31", "2024-10-01", "2024-12-31")
    assert figures["day1_delinquency_rate"] == day1_delinquency_rate(book, *Q4)
    assert figures["collection_rate_30d"] == collection_rate_30d(book, *Q4)
    assert figures["total_outstanding_balance_minor"] == total_outstanding_balance_minor(book, AS_OF)
    assert figures["loans_originated"] == 0  # all were drawn in Q3 or earlier
    assert figures["repeat_borrower_contribution"] is None
    # Without as_of: the book's last date, 2024-11-10.
    assert headline(book)["period_start"] == "2024-10-01"
    assert headline(book)["as_of"] == "2024-11-10"


def test_headline_of_an_empty_book_asks_for_as_of(loan_book):
    with pytest.raises(ParameterError) as raised:
        headline(loan_book().book())
    assert raised.value.field == "as_of"


# -- arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda b: loan_volume_minor(b, dt.date(2024, 2, 1), dt.date(2024, 1, 1)), "start"),
        (lambda b: total_outstanding_balance_minor(b, dt.datetime(2024, 1, 1, tzinfo=UTC)), "as_of"),
        (lambda b: delinquency_rate_90_plus(b, "2024-12-31"), "as_of"),
        (lambda b: day1_delinquency_rate(b, dt.date(2024, 1, 1), None), "end"),
        (lambda b: total_outstanding_balance_minor(b, AS_OF, ["capital_heavy_on", "bank"]), "funding_models"),
        (lambda b: loan_volume_minor(b, *Q4, funding_models=[]), "funding_models"),
        (lambda b: collection_rate_30d(b, *Q4, observed_until="2025-01-31"), "observed_until"),
        (lambda b: headline(b, dt.datetime(2024, 12, 31)), "as_of"),
    ],
)
def test_bad_arguments_raise_parameter_error_naming_the_field(loan_book, call, field):
    book = origination_book(loan_book)
    with pytest.raises(ParameterError) as raised:
        call(book)
    assert raised.value.field == field


# -- seeds ---------------------------------------------------------------------------


def test_seed_figures_are_named_after_headline_metrics_and_match_the_disclosed_amounts():
    assert set(SEED_FIGURES) <= set(HEADLINE_METRICS)
    assert SEED_FIGURES["platform_services_volume_share"].value == pytest.approx(47_796 / 89_885, abs=5e-4)
    assert SEED_FIGURES["platform_services_balance_share"].value == pytest.approx(79_599 / 137_014, abs=5e-4)
    assert SEED_FIGURES["day1_delinquency_rate"].value == 0.048


# -- invariants on random books ------------------------------------------------------


def oracle(loans, as_of: dt.date):
    """The footnotes' readings in plain Python, loan by loan, over the rows of ``loan_rows``."""
    total = risk_total = risk_ninety = 0
    day1_due = day1_overdue = 0
    for model, _, originated, installments in loans:
        dues = [
            (START + timedelta(days=d), p, None if s is None else START + timedelta(days=d + s))
            for d, p, s in installments
        ]
        charged_off_on = min(
            (
                due + timedelta(days=181)
                for due, _, paid in dues
                if paid is None or paid > due + timedelta(days=181)
            ),
            default=None,
        )
        open_ = [(due, p) for due, p, paid in dues if paid is None or paid > as_of]
        outstanding = sum(p for _, p in open_)
        late = [due for due, _ in open_ if due < as_of]
        dpd = (as_of - min(late)).days if late else 0
        for due, p, paid in dues:
            already_past_due = any(d < due and (q is None or q >= due) for d, _, q in dues)
            if already_past_due:
                continue
            if paid is None or paid >= due:
                day1_due += p
            if paid is None or paid > due:
                day1_overdue += p
        if START + timedelta(days=originated) > as_of or (
            charged_off_on is not None and charged_off_on <= as_of
        ):
            continue
        total += outstanding
        if model in ("capital_heavy_on", "capital_heavy_off", "capital_light"):  # footnote 7, typed again
            risk_total += outstanding
            risk_ninety += outstanding if 91 <= dpd <= 180 else 0
    return total, (risk_ninety, risk_total), (day1_overdue, day1_due)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans=loan_rows, as_of_offset=st.integers(0, 700))
def test_metrics_agree_with_a_plain_python_reading_and_rates_stay_in_0_1(loan_book, loans, as_of_offset):
    lb = loan_book()
    for n, (model, borrower, originated, installments) in enumerate(loans):
        loan_id = f"l{n}"
        principal = sum(p for _, p, _ in installments)
        lb.loan(
            loan_id,
            principal=principal,
            originated=START + timedelta(days=originated),
            borrower=f"b{borrower}",
            funding_model=model,
        )
        for due_day, due_principal, settled in installments:
            due = START + timedelta(days=due_day)
            lb.installment(
                loan_id, due, due_principal, None if settled is None else due + timedelta(days=settled)
            )
    book = lb.book()
    as_of = START + timedelta(days=as_of_offset)
    total, (ninety, risk_total), (overdue, due) = oracle(loans, as_of)

    assert total_outstanding_balance_minor(book, as_of) == total
    assert delinquency_rate_90_plus(book, as_of) == (None if risk_total == 0 else ninety / risk_total)
    whole_range = (START, START + timedelta(days=400))
    assert day1_delinquency_rate(book, *whole_range) == (None if due == 0 else overdue / due)
    for rate in (
        delinquency_rate_90_plus(book, as_of),
        platform_services_balance_share(book, as_of),
        day1_delinquency_rate(book, *whole_range),
        collection_rate_30d(book, *whole_range, observed_until=as_of),
        repeat_borrower_contribution(book, *whole_range),
    ):
        assert rate is None or 0.0 <= rate <= 1.0
    states = loan_states(book, as_of)
    assert (states.loc[~states["charged_off"], "dpd"] <= 180).all()
