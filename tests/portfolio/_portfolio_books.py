"""Hand-built loan books shared by the portfolio tests: footnote edge cases and a random-book strategy."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

from hypothesis import strategies as st

from creditmesh.schema import FUNDING_MODELS

UTC = dt.UTC
AS_OF = dt.date(2024, 12, 31)
OLD = dt.date(2024, 1, 1)  # origination day of loans that are long on the book by AS_OF


def days_before(day: dt.date, n: int) -> dt.date:
    return day - timedelta(days=n)


def ninety_plus_book(loan_book):
    """Loans at the 90/91/180/181 dpd boundaries, a current one, and one of each other funding model."""
    lb = loan_book()
    lb.single("dpd90", principal=1_000, originated=OLD, due=days_before(AS_OF, 90))
    lb.single("dpd91", principal=2_000, originated=OLD, due=days_before(AS_OF, 91))
    lb.single("dpd180", principal=4_000, originated=OLD, due=days_before(AS_OF, 180))
    lb.single("dpd181", principal=8_000, originated=OLD, due=days_before(AS_OF, 181))
    lb.loan("current", principal=16_500, originated=OLD)
    lb.installment("current", dt.date(2024, 12, 15), 500, paid=dt.date(2024, 12, 15))
    lb.installment("current", dt.date(2025, 1, 15), 16_000)
    dpd120 = days_before(AS_OF, 120)
    lb.single("off120", principal=32_000, originated=OLD, due=dpd120, funding_model="capital_heavy_off")
    lb.single("ice120", principal=64_000, originated=OLD, due=dpd120, funding_model="ice")
    lb.single("tech120", principal=128_000, originated=OLD, due=dpd120, funding_model="tech_solution")
    lb.single("light120", principal=256_000, originated=OLD, due=dpd120, funding_model="capital_light")
    lb.single("repaid", principal=512_000, originated=OLD, due=dt.date(2024, 6, 1), paid=dt.date(2024, 6, 1))
    lb.single("not_yet", principal=1_024_000, originated=dt.date(2025, 1, 5), due=dt.date(2025, 2, 5))
    return lb.book()


def due_date_book(loan_book):
    """Installments due 2024-10-10 settled on time, late, never, ahead; one immature; one after charge-off."""
    lb = loan_book()
    due = dt.date(2024, 10, 10)
    opened = dt.date(2024, 9, 1)
    lb.single("on_time", principal=1_000, originated=opened, due=due, paid=due)
    lb.single("late1", principal=2_000, originated=opened, due=due, paid=due + timedelta(days=1))
    lb.single("late31", principal=4_000, originated=opened, due=due, paid=due + timedelta(days=31))
    lb.single("late30", principal=8_000, originated=opened, due=due, paid=due + timedelta(days=30))
    lb.single("never", principal=16_000, originated=opened, due=due)
    lb.single("prepaid", principal=32_000, originated=opened, due=due, paid=due - timedelta(days=5))
    lb.single("q3", principal=64_000, originated=opened, due=dt.date(2024, 9, 30))
    lb.single("immature", principal=128_000, originated=opened, due=dt.date(2024, 12, 15))
    lb.loan("written_off", principal=600_000, originated=dt.date(2024, 2, 1))
    lb.installment("written_off", dt.date(2024, 3, 1), 344_000)  # charged off on 2024-08-29
    lb.installment("written_off", due, 256_000)
    return lb.book()


def origination_book(loan_book):
    lb = loan_book()
    day = dt.date(2024, 11, 1)
    lb.loan("on", principal=1_000, originated=day, tenor_months=6)
    lb.loan("off", principal=2_000, originated=day, funding_model="capital_heavy_off", tenor_months=12)
    lb.loan("light", principal=4_000, originated=day, funding_model="capital_light", tenor_months=12)
    lb.loan("ice", principal=8_000, originated=day, funding_model="ice", tenor_months=12)
    lb.loan("tech", principal=16_000, originated=day, funding_model="tech_solution", tenor_months=3)
    # UTC days decide the quarter: 23:30 on Sep 30 is Q3, 23:59 on Dec 31 is Q4.
    lb.loan(
        "q3_late", principal=32_000, originated=dt.datetime(2024, 9, 30, 23, 30, tzinfo=UTC), tenor_months=36
    )
    lb.loan(
        "q4_last", principal=64_000, originated=dt.datetime(2024, 12, 31, 23, 59, tzinfo=UTC), tenor_months=9
    )
    return lb.book()


START = dt.date(2024, 1, 1)

installment_rows = st.lists(
    st.tuples(
        st.integers(0, 400),  # due day, days after START
        st.integers(0, 1_000_000),  # principal due
        st.one_of(st.none(), st.integers(-40, 250)),  # days from due date to settlement, or never
    ),
    min_size=1,
    max_size=4,
)
loan_rows = st.lists(
    # funding model, borrower, origination day (days after START), installments
    st.tuples(st.sampled_from(FUNDING_MODELS), st.integers(0, 3), st.integers(0, 60), installment_rows),
    min_size=1,
    max_size=6,
)
