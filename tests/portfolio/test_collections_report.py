"""The quarterly report's collections section on a book small enough to work out by hand: each loan belongs to
the arm that first acted on it, the period's actions and cost by the arm that took them, principal collected
late, promises kept, recoveries after charge-off and cure rates month end to month end."""

import datetime as dt
import re

import pandas as pd
import pytest

from creditmesh.portfolio import Book
from creditmesh.portfolio.collections import NO_ACTION, collection_figures
from creditmesh.portfolio.report import quarterly_report

D = dt.date
Q4 = (D(2024, 10, 1), D(2024, 12, 31))


def _action(n, loan, day, channel, outcome, arm, cost, *, promised=0, due=None, status=None):
    return {
        "action_id": f"act-{n}",
        "loan_id": loan,
        "at": dt.datetime(day.year, day.month, day.day, 3, tzinfo=dt.UTC),
        "channel": channel,
        "outcome": outcome,
        "promised_minor": promised,
        "promise_due_on": due,
        "promise_status": status,
        "cost_minor": cost,
        "arm": arm,
    }


def _call_with_promise(n, day, *, due, status):
    """A call on loan A by the champion that ends in a promise of 1,000.00."""
    return _action(
        n, "A", day, "call", "promise_to_pay", "champion", 300, promised=100_000, due=due, status=status
    )


@pytest.fixture(scope="module")
def book(loan_book):
    b = loan_book()
    # A: late on its first installment at the end of October (21 dpd), paid up on 5 November: cured
    b.loan("A", principal=300_000, originated=D(2024, 9, 10), tenor_months=3)
    b.installment("A", D(2024, 10, 10), 100_000, paid=D(2024, 11, 5))
    b.installment("A", D(2024, 11, 10), 100_000, paid=D(2024, 11, 10))
    b.installment("A", D(2025, 1, 10), 100_000)
    # B: never pays; 11 dpd at the end of October, 41 at the end of November, 72 at the end of December
    b.loan("B", principal=300_000, originated=D(2024, 9, 20), tenor_months=3)
    for month in (10, 11, 12):
        b.installment("B", D(2024, month, 20), 100_000)
    # C: pays on time, nobody acts on it
    b.loan("C", principal=150_000, originated=D(2024, 9, 15), tenor_months=3)
    b.installment("C", D(2024, 10, 15), 50_000, paid=D(2024, 10, 15))
    b.installment("C", D(2024, 11, 15), 50_000, paid=D(2024, 11, 14))
    b.installment("C", D(2025, 1, 15), 50_000)
    # D: charged off in August (181 dpd), 100,000.00 of its 300,000.00 recovered in November
    b.loan("D", principal=300_000, originated=D(2024, 2, 1), tenor_months=2)
    b.installment("D", D(2024, 3, 1), 200_000)
    b.installment("D", D(2024, 4, 1), 100_000, paid=D(2024, 11, 10))
    # E: drawn on the quarter's last day, so that the book runs to it (the report stops at the book's last day)
    b.single("E", principal=10_000, originated=D(2024, 12, 31), due=D(2025, 1, 31))
    actions = pd.DataFrame(
        [
            _call_with_promise(1, D(2024, 10, 12), due=D(2024, 10, 20), status="broken"),
            _call_with_promise(2, D(2024, 11, 1), due=D(2024, 11, 5), status="kept"),
            _action(3, "B", D(2024, 10, 21), "sms", "sent", "challenger", 10),
            _action(4, "B", D(2024, 11, 2), "field_visit", "contacted", "champion", 5_000),
            _action(5, "D", D(2024, 9, 10), "agency", "placed", "champion", 0),  # before the quarter
        ]
    )
    with Book.from_frames(**b.frames(), collection_actions=actions) as book:
        yield book


def test_each_arm_is_credited_with_its_loans_and_charged_for_its_actions(book):
    arms = collection_figures(book, *Q4).arms.set_index("arm")
    assert set(arms.index) == {"champion", "challenger", NO_ACTION, "total"}
    champion, challenger = arms.loc["champion"], arms.loc["challenger"]
    # actions in the quarter by the arm that took them (the agency placement in September is not)
    assert (champion["actions"], champion["cost_minor"]) == (3, 5_600)
    assert (challenger["actions"], challenger["cost_minor"]) == (1, 10)
    # principal repaid after its due date in the quarter, on the arm's loans: A's first installment and D's
    # recovery (B's sms came first, so B is the challenger's loan, whoever visited it later)
    assert champion["collected_minor"] == 200_000 and challenger["collected_minor"] == 0
    assert champion["cost_per_unit_collected"] == pytest.approx(5_600 / 200_000)
    assert (champion["promises_kept"], champion["promises_broken"]) == (1, 1)
    assert champion["promise_kept_rate"] == pytest.approx(0.5)
    assert champion["recovery_rate"] == pytest.approx(100_000 / 300_000)
    # month ends: A goes from 1-30 dpd to current, B from 1-30 to 31-60 and on to 61-90; C is current
    assert champion["cure_1_30"] == 1.0
    assert challenger["cure_1_30"] == 0.0 and challenger["cure_31_60"] == 0.0
    assert arms.loc["total", "cure_1_30"] == pytest.approx(0.5)
    assert arms.loc["total", "actions"] == 4 and arms.loc["total", "collected_minor"] == 200_000


def test_the_quarterly_report_prints_the_collections_section(book):
    page = quarterly_report(book, "2024Q4")
    section = page[page.index("<h2>Collections</h2>") : page.index("<h2>Definitions</h2>")]
    header = re.search(r"<tr><th>figure</th>(.*?)</tr>", section).group(1)
    columns = re.findall(r"<th>(.*?)</th>", header)
    assert columns == ["challenger", "champion", NO_ACTION, "total"]
    rows = {
        cells[0]: dict(zip(columns, cells[1:], strict=True))
        for cells in (re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", section))
        if len(cells) == len(columns) + 1
    }
    assert rows["Actions"]["champion"] == "3" and rows["Actions"]["total"] == "4"
    assert rows["Promise-kept rate"]["champion"] == "50.00 %"
    assert rows["Cost per unit collected"]["champion"] == "2.80 %"
    assert rows["Recovery rate after charge-off"]["champion"] == "33.33 %"
    assert rows["Cure rate 1-30 dpd"] == {
        "challenger": "0.00 %",
        "champion": "100.00 %",
        NO_ACTION: "no data",
        "total": "50.00 %",
    }
    assert "data:image/png;base64," in section  # the cure-rate chart
