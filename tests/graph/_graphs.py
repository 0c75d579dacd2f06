"""Hand-made identity tables for the graph tests: borrowers named by letter, registered on given days, sharing given identifiers."""

from __future__ import annotations

import datetime as dt

import pandas as pd

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY_US = 86_400_000_000


def day_us(day: float) -> int:
    """Microseconds since the epoch of ``START`` + ``day`` days."""
    return int(pd.Timestamp(START).value // 1000 + day * DAY_US)


def frames(
    borrowers: dict[str, float], rows: list[tuple[str, str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(identities, borrowers) frames from {borrower: registration day} and (borrower, kind, value) rows."""
    people = pd.DataFrame(
        {
            "borrower_id": list(borrowers),
            "registered_at": [START + dt.timedelta(days=d) for d in borrowers.values()],
            "channel": "app",
            "region": "R01",
            "birth_year": 1990,
        }
    )
    identities = pd.DataFrame(rows, columns=["borrower_id", "kind", "value"])
    return identities, people
