"""A plain-pandas reading of every headline metric, period by period: the tests' (and the benchmark's) reference.

Written from the footnotes and the readings stated in ``creditmesh.portfolio.metrics``,
not translated from its SQL: one loop per period and segment, numpy/pandas inside.
Dates are ``datetime64[D]``; a never-settled installment has ``NaT`` and compares as
"later than any day" through explicit ``isnat`` tests.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from creditmesh.schema import PLATFORM_SERVICE_MODELS as PLATFORM_SERVICES

#: Footnote 7's population, typed here (not read from creditmesh.funding) so the reference stays a second
#: reading: "on- and off-balance sheet loans" (capital-light loans are off balance sheet), "loans under
#: 'ICE' and total technology solutions are not included".
NINETY_PLUS_MODELS = ("capital_heavy_on", "capital_heavy_off", "capital_light")

SEGMENT_COLUMNS = {
    "institution": "institution_id",
    "funding_model": "funding_model",
    "channel": "channel",
    "product": "schedule",
    "tenor": "tenor",
}
FAR = np.datetime64("9999-12-31", "D")


def _days(values) -> np.ndarray:
    series = pd.Series(values)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.to_datetime(series).to_numpy().astype("datetime64[D]")


def _frame(table) -> pd.DataFrame:
    return table.to_pandas() if hasattr(table, "to_pandas") else table.copy()


class ReferenceBook:
    """The five required tables as pandas frames, with the per-installment facts every period needs."""

    def __init__(self, tables: dict) -> None:
        loans = _frame(tables["loans"])
        borrowers = _frame(tables["borrowers"])
        inst = _frame(tables["installments"])
        self.institutions = _frame(tables["institutions"])
        self.lines = _frame(tables["credit_lines"])
        self.lines["opened_day"] = _days(self.lines["opened_at"])
        first_line = self.lines.groupby("borrower_id")["opened_day"].min()
        borrowers["registered_day"] = _days(borrowers["registered_at"])
        borrowers["first_line_day"] = borrowers["borrower_id"].map(first_line)
        self.borrowers = borrowers
        loans["orig_day"] = _days(loans["originated_at"])
        loans["channel"] = loans["borrower_id"].map(borrowers.set_index("borrower_id")["channel"])
        loans["tenor"] = loans["tenor_months"].astype(str) + "m"
        first_at = loans.groupby("borrower_id")["originated_at"].transform("min")
        loans["is_repeat"] = loans["originated_at"] > first_at
        self.loans = loans.set_index("loan_id", drop=False)
        self.loans["code"] = np.arange(len(loans))

        inst["due"] = _days(inst["due_date"])
        inst["paid"] = _days(inst["paid_at"])
        late_181 = np.isnat(inst["paid"].to_numpy()) | (
            inst["paid"].to_numpy() > inst["due"].to_numpy() + np.timedelta64(181, "D")
        )
        charge = inst.loc[late_181].groupby("loan_id")["due"].min() + np.timedelta64(181, "D")
        self.loans["charged_off_on"] = charge.reindex(self.loans.index).to_numpy().astype("datetime64[D]")
        # The latest settlement among installments due strictly earlier on the same loan (NaT -> FAR).
        settled = inst["paid"].fillna(pd.Timestamp(FAR))
        by_due = settled.groupby([inst["loan_id"], inst["due"]]).max().rename("settled").reset_index()
        by_due = by_due.sort_values(["loan_id", "due"])
        by_due["earlier"] = by_due.groupby("loan_id")["settled"].cummax().groupby(by_due["loan_id"]).shift(1)
        inst = inst.merge(by_due[["loan_id", "due", "earlier"]], on=["loan_id", "due"], how="left")
        inst["code"] = self.loans["code"].reindex(inst["loan_id"]).to_numpy()
        self.inst = inst

    # -- per period ---------------------------------------------------------------------------

    def _as_of(self, loans: pd.DataFrame, inst: pd.DataFrame, day: np.datetime64) -> dict:
        """Balances at the end of ``day``: per loan, open principal and days past due, then the footnotes' sums."""
        n = len(self.loans)
        code = inst["code"].to_numpy()
        paid = inst["paid"].to_numpy()
        due = inst["due"].to_numpy()
        open_ = np.isnat(paid) | (paid > day)
        outstanding = np.bincount(
            code[open_], weights=inst["principal_due_minor"].to_numpy()[open_], minlength=n
        )
        late = open_ & (due < day)
        oldest = pd.Series(due[late].astype("datetime64[D]")).groupby(code[late]).min()
        dpd = np.zeros(n, dtype=np.int64)
        dpd[oldest.index.to_numpy()] = (day - oldest.to_numpy().astype("datetime64[D]")).astype(np.int64)
        rows = loans["code"].to_numpy()
        charge = self.loans["charged_off_on"].to_numpy()[rows]
        live = (loans["orig_day"].to_numpy() <= day) & ~(charge <= day)
        model = loans["funding_model"].to_numpy()
        amount = outstanding[rows].astype(np.int64)
        rated = live & np.isin(model, NINETY_PLUS_MODELS)
        return {
            "balance": int(amount[live].sum()),
            "platform_balance": int(amount[live & np.isin(model, PLATFORM_SERVICES)].sum()),
            "rated_balance": int(amount[rated].sum()),
            "ninety": int(amount[rated & (dpd[rows] >= 91) & (dpd[rows] <= 180)].sum()),
        }

    def _period(self, loans, inst, start, end, observed_until) -> dict:
        new = loans[(loans["orig_day"] >= start) & (loans["orig_day"] <= end)]
        falling = inst[(inst["due"] >= start) & (inst["due"] <= end)]
        falling = falling[falling["earlier"].isna() | (falling["earlier"] < falling["due"])]
        paid, due, p = falling["paid"], falling["due"], falling["principal_due_minor"]
        overdue = paid.isna() | (paid > due)
        mature = overdue & (due + pd.Timedelta(days=30) <= observed_until)
        return {
            "count": len(new),
            "volume": int(new["principal_minor"].sum()),
            "platform_volume": int(
                new.loc[new["funding_model"].isin(PLATFORM_SERVICES), "principal_minor"].sum()
            ),
            "principal_months": int((new["principal_minor"] * new["tenor_months"].astype("int64")).sum()),
            "repeat_volume": int(new.loc[new["is_repeat"], "principal_minor"].sum()),
            "day1_overdue": int(p[overdue].sum()),
            "day1_due": int(p[paid.isna() | (paid >= due)].sum()),
            "collected": int(p[mature & (paid <= due + pd.Timedelta(days=30))].sum()),
            "collectable": int(p[mature].sum()),
        }

    def series(
        self,
        periods: list[tuple[dt.date, dt.date]],
        *,
        by: str | None = None,
        observed_until: dt.date,
    ) -> pd.DataFrame:
        """One row per period (and segment), with the columns of ``metric_series``; ``None`` for no data."""
        observed = np.datetime64(observed_until, "D")
        if by is None:
            segments = {"all": self.loans}
        else:
            column = SEGMENT_COLUMNS[by]
            values = set(self.loans[column])
            if by == "channel":
                values |= set(self.borrowers["channel"])
            segments = {v: self.loans[self.loans[column] == v] for v in sorted(values)}
        rows = []
        for name, loans in segments.items():
            inst = self.inst[self.inst["loan_id"].isin(loans.index)]
            people = self.borrowers if by in (None, "channel") else None
            if by == "channel":
                people = self.borrowers[self.borrowers["channel"] == name]
            first_drawdown = loans.groupby("borrower_id")["orig_day"].min()
            for start, end in periods:
                s, e = np.datetime64(start, "D"), np.datetime64(end, "D")
                a, q = self._as_of(loans, inst, e), self._period(loans, inst, s, e, observed)
                row = {"period_start": start, "period_end": end, "segment": name}
                row["financial_institution_partners"] = self._partners(by, name)
                if people is None:
                    row["cumulative_registered_users"] = None
                    row["cumulative_users_with_approved_credit_lines"] = None
                else:
                    row["cumulative_registered_users"] = int((people["registered_day"] <= e).sum())
                    row["cumulative_users_with_approved_credit_lines"] = int(
                        (people["first_line_day"] <= e).sum()
                    )
                row["cumulative_borrowers_with_drawdown"] = int((first_drawdown <= e).sum())
                row["loans_originated"] = q["count"]
                row["loan_volume_minor"] = q["volume"]
                row["platform_services_volume_share"] = _ratio(q["platform_volume"], q["volume"])
                row["total_outstanding_balance_minor"] = a["balance"]
                row["platform_services_balance_share"] = _ratio(a["platform_balance"], a["balance"])
                row["weighted_average_tenor_months"] = _ratio(q["principal_months"], q["volume"])
                row["delinquency_rate_90_plus"] = _ratio(a["ninety"], a["rated_balance"])
                row["repeat_borrower_contribution"] = _ratio(q["repeat_volume"], q["volume"])
                row["day1_delinquency_rate"] = _ratio(q["day1_overdue"], q["day1_due"])
                row["collection_rate_30d"] = _ratio(q["collected"], q["collectable"])
                rows.append(row)
        out = pd.DataFrame(rows)
        return out.drop(columns="segment") if by is None else out

    def _partners(self, by, name) -> int | None:
        if by is None:
            return len(self.institutions)
        if by == "funding_model":
            return int((self.institutions["funding_model"] == name).sum())
        if by == "institution":
            return 1
        return None


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator
