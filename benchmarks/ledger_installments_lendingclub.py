"""Real-data check: reproduce LendingClub's monthly installments with creditmesh's equal-installment schedule.

The R ``openintro`` data set ``loans_full_schema`` (10,000 LendingClub loans issued
Jan-Mar 2018) carries each loan's amount, term, interest rate and monthly
installment. This script recomputes every installment with creditmesh's own code
(``creditmesh.schedules.annuity_payment_minor``, the payment ``build_schedules``
books) and compares it with the file to the cent. The data stays outside the
project: the folder comes from ``$CREDITMESH_DATA`` or defaults to
``../shared/data`` relative to the repository root; when the file is absent the
script says so and ends with a JSON line whose results are empty (exit 0).

Amounts are read as decimal text and converted to integer cents exactly
(``Decimal``), never through a float. The rate column is a percentage with two
decimals (``14.07`` -> 140,700 ppm), converted with ``Decimal`` too and
cross-checked against ``creditmesh.money.rate_to_ppm``.

To explain the mismatches the script computes the *exact* annuity
``P m (1+m)^n / ((1+m)^n - 1)`` as a ratio of Python integers (no float, no
Decimal precision limit, for every rational monthly rate ``m``) and rounds it
four ways: half-up (creditmesh), floor, half-even (banker's) and ceiling. It does
so for several readings of the rate (the stated APR / 12; the APR at either end of
its two-decimal quote; a 365/360 day count; the effective monthly rate
``(1+APR)^(1/12) - 1``) and for each amount column the file has (``loan_amount``;
``funded_amnt`` when present). The exact half-up value is also compared with
``annuity_payment_minor`` loan by loan, to show that creditmesh's float
evaluation never lands on the wrong side of a half cent here.

Finally it times ``build_schedules`` on all loans (full schedules; the first of
the issue month as origination date) and reports rows per second.

Usage::

    python benchmarks/ledger_installments_lendingclub.py
    CREDITMESH_DATA=/path/to/data python benchmarks/ledger_installments_lendingclub.py --repeats 9

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_json_line, result_row

from creditmesh.money import Rounding, rate_to_ppm
from creditmesh.schedules import annuity_payment_minor, build_schedules

BENCHMARK = "ledger_installments_lendingclub"
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_FILE = Path("lending_club_openintro") / "loans_full_schema.csv.gz"
ANCHOR_NAME = "LendingClub installment column"
GOAL = "explain every mismatch"
#: Columns that may hold the amount actually lent, if a LendingClub export carries one.
FUNDED_COLUMNS = ("funded_amnt", "funded_amount", "funded_amnt_inv")
PPM_PER_PERCENT = 10_000
MONTHLY_DENOMINATOR = 12 * 1_000_000  # APR in ppm / 12 months


# --- reading ----------------------------------------------------------------------------------------


def data_folder() -> Path:
    env = os.environ.get("CREDITMESH_DATA")
    return Path(env).expanduser() if env else (REPO_ROOT / ".." / "shared" / "data").resolve()


def to_cents(text: str, field: str) -> int:
    """Dollars as decimal text -> integer cents, exactly (refuses a fraction of a cent)."""
    cents = Decimal(text.strip()) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{field}={text!r} has a fraction of a cent")
    return int(cents)


def percent_to_ppm(text: str) -> int:
    """A percentage as decimal text (``14.07``) -> integer parts per million (140700), exactly."""
    ppm = Decimal(text.strip()) * PPM_PER_PERCENT
    if ppm != ppm.to_integral_value():
        raise ValueError(f"interest_rate={text!r} is finer than 1 ppm")
    return int(ppm)


def months(text: str) -> int:
    match = re.search(r"\d+", text)
    if not match:
        raise ValueError(f"term={text!r} has no number of months")
    return int(match.group())


def load(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


# --- exact annuity ----------------------------------------------------------------------------------


def exact_payment(principal_minor: int, rate_num: int, rate_den: int, n: int) -> tuple[int, int]:
    """The exact level payment in cents as ``(numerator, denominator)``, monthly rate ``rate_num / rate_den``.

    ``P m (1+m)^n / ((1+m)^n - 1)`` with ``m = a/b`` is ``P a (a+b)^n / (b ((a+b)^n - b^n))``:
    integers only, so the rounding decision below is exact.
    """
    if rate_num == 0:
        return principal_minor, n
    grown = (rate_num + rate_den) ** n
    return principal_minor * rate_num * grown, rate_den * (grown - rate_den**n)


def round_exact(num: int, den: int, mode: str) -> int:
    quotient, remainder = divmod(num, den)  # den > 0, so remainder >= 0
    if mode == "floor":
        return quotient
    if mode == "ceiling":
        return quotient + (remainder > 0)
    if mode == "half_up":
        return quotient + (2 * remainder >= den)
    if mode == "half_even":
        twice = 2 * remainder
        return quotient + (twice > den or (twice == den and quotient % 2 == 1))
    raise ValueError(mode)


ROUNDINGS = {
    "half_up": "(a) half-up (creditmesh)",
    "floor": "(b) floor / truncate",
    "half_even": "(c) half-even (banker's)",
    "ceiling": "ceiling (round up)",
}


def effective_monthly(ppm: int) -> tuple[int, int]:
    """``(1 + APR)^(1/12) - 1`` to 60 significant digits, as an integer ratio (irrational, so approximated)."""
    with localcontext() as ctx:
        ctx.prec = 60
        rate = (1 + Decimal(ppm) / 1_000_000) ** (Decimal(1) / 12) - 1
    return rate.as_integer_ratio()


#: Readings of the quoted rate, each mapping the file's ppm to a monthly rate as an integer ratio.
RATE_READINGS: dict[str, Callable[[int], tuple[int, int]]] = {
    "APR/12, stated rate": lambda ppm: (ppm, MONTHLY_DENOMINATOR),
    "APR/12, rate + 0.005 pt (top of its 2-dp quote)": lambda ppm: (ppm + 50, MONTHLY_DENOMINATOR),
    "APR/12, rate - 0.005 pt (bottom of its 2-dp quote)": lambda ppm: (ppm - 50, MONTHLY_DENOMINATOR),
    "APR x 365/360 / 12 (actual/360 day count)": lambda ppm: (ppm * 365, MONTHLY_DENOMINATOR * 360),
    "effective (1+APR)^(1/12) - 1": effective_monthly,
}


# --- helpers for the report -------------------------------------------------------------------------


def share(count: int, total: int) -> float:
    return count / total if total else float("nan")


def pct(count: int, total: int) -> str:
    return f"{count:>6,} ({100 * share(count, total):6.2f} %)"


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def diff_bucket(d: int) -> str:
    if d <= -3:
        return "<= -3"
    if d >= 3:
        return ">= +3"
    return f"{d:+d}" if d else "0"


BUCKETS = ["<= -3", "-2", "-1", "0", "+1", "+2", ">= +3"]


def implied_apr_percent(principal_minor: int, installment_minor: int, n: int) -> float:
    """The APR (percent, APR/12 monthly) whose exact payment equals the installment: bisection, for display only."""
    lo, hi = 0.0, 200.0
    for _ in range(200):
        mid = (lo + hi) / 2
        num, den = exact_payment(
            principal_minor, round(mid * PPM_PER_PERCENT * 1000), MONTHLY_DENOMINATOR * 1000, n
        )
        if num / den < installment_minor:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def reamortised(principal: int, grid_ppm: int, stated_ppm: int, n: int, paid: int) -> tuple[int, int, int]:
    """Hypothesis for an off-grid rate: ``paid`` installments at the grid rate, then re-amortised at the stated rate.

    Cents throughout: grid-rate payment rounded up (the convention the other loans follow), each
    month's interest ``balance * APR / 12`` rounded half-up. Returns (balance after ``paid``
    installments, new payment rounded up, its exact value in hundredths of a cent).
    """
    pay = round_exact(*exact_payment(principal, grid_ppm, MONTHLY_DENOMINATOR, n), "ceiling")
    balance = principal
    for _ in range(paid):
        interest = (2 * balance * grid_ppm + MONTHLY_DENOMINATOR) // (2 * MONTHLY_DENOMINATOR)
        balance -= pay - interest
    num, den = exact_payment(balance, stated_ppm, MONTHLY_DENOMINATOR, n - paid)
    return balance, round_exact(num, den, "ceiling"), round_exact(num * 100, den, "half_up")


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs of build_schedules (median reported)"
    )
    args = parser.parse_args(argv)

    folder = data_folder()
    path = folder / DATA_FILE
    if not path.is_file():
        print(f"LendingClub data not found: {path}")
        print(
            "Set CREDITMESH_DATA to the folder that holds lending_club_openintro/loans_full_schema.csv.gz "
            "(default: ../shared/data relative to the repository root). Nothing to check."
        )
        print_json_line(BENCHMARK, [])
        return 0

    columns, rows = load(path)
    required = ["loan_amount", "term", "interest_rate", "installment"]
    missing = [c for c in required if c not in columns]
    if missing:
        print(f"{path} lacks the columns {missing}; nothing to check.")
        print_json_line(BENCHMARK, [])
        return 0

    count = len(rows)
    principal = [to_cents(r["loan_amount"], "loan_amount") for r in rows]
    ppm = [percent_to_ppm(r["interest_rate"]) for r in rows]
    tenor = [months(r["term"]) for r in rows]
    installment = [to_cents(r["installment"], "installment") for r in rows]
    sub_grade = [r.get("sub_grade", "") for r in rows]
    issue_month = [r.get("issue_month", "") for r in rows]

    principal_a = np.array(principal, dtype=np.int64)
    ppm_a = np.array(ppm, dtype=np.int64)
    tenor_a = np.array(tenor, dtype=np.int64)
    installment_a = np.array(installment, dtype=np.int64)

    print("LendingClub installments vs creditmesh's equal-installment payment")
    print(f"data: {path}")
    print(
        f"loans: {count:,}   terms: {dict(sorted(Counter(tenor).items()))}   "
        f"rates: {min(ppm) / PPM_PER_PERCENT:.2f}-{max(ppm) / PPM_PER_PERCENT:.2f} %   "
        f"amounts: {dollars(min(principal))}-{dollars(max(principal))} USD"
    )
    via_float = rate_to_ppm(np.array([float(r["interest_rate"]) for r in rows]) / 100)
    print(
        f"rate -> ppm: Decimal and creditmesh.money.rate_to_ppm (via float) agree on "
        f"{int((via_float == ppm_a).sum()):,} of {count:,} loans"
    )

    # --- creditmesh with LendingClub's convention, an option of its own schedule code ----------------
    ceiling_option = annuity_payment_minor(principal_a, ppm_a, tenor_a, rounding=Rounding.CEILING)
    ceiling_option_exact = int((ceiling_option == installment_a).sum())
    print(
        f"creditmesh annuity_payment_minor(..., rounding=Rounding.CEILING): exact to the cent on "
        f"{pct(ceiling_option_exact, count)}"
    )

    # --- creditmesh as it is -------------------------------------------------------------------------
    payment = annuity_payment_minor(principal_a, ppm_a, tenor_a)
    diff = payment - installment_a  # creditmesh minus LendingClub, cents
    exact = int((diff == 0).sum())
    within_one = int((np.abs(diff) <= 1).sum())
    largest = int(np.abs(diff).max()) if count else 0
    print()
    print("== creditmesh annuity_payment_minor (APR/12, half-up) vs the installment column")
    print(f"  exact to the cent : {pct(exact, count)}")
    print(f"  within 1 cent     : {pct(within_one, count)}")
    print("  difference, creditmesh - LendingClub, in cents:")
    buckets = Counter(diff_bucket(int(d)) for d in diff)
    for b in BUCKETS:
        print(f"    {b:>6} : {pct(buckets.get(b, 0), count)}")
    # A loan's rate is "off the grid" when no other loan of its sub-grade carries it (LendingClub prices
    # each sub-grade at one or two rates per quarter), i.e. a rate set outside the price list.
    grid_by_grade: dict[str, Counter] = defaultdict(Counter)
    for g, r in zip(sub_grade, ppm):
        grid_by_grade[g][r] += 1
    off_grid = np.array(
        [
            bool(g) and grid_by_grade[g][r] == 1 and sum(grid_by_grade[g].values()) > 1
            for g, r in zip(sub_grade, ppm)
        ],
        dtype=bool,
    )
    largest_on_grid = int(np.abs(diff[~off_grid]).max()) if (~off_grid).any() else 0
    print(
        f"  largest |difference|: {largest} cents; on the {int((~off_grid).sum()):,} loans whose rate is on their "
        f"sub-grade's grid: {largest_on_grid} cent(s). Largest, on:"
    )
    order = np.argsort(-np.abs(diff), kind="stable")
    for i in order[:5]:
        if diff[i] == 0:
            break
        print(
            f"    row {i:>5}: amount {dollars(principal[i]):>9}  rate {ppm[i] / PPM_PER_PERCENT:6.2f} %  "
            f"term {tenor[i]}  installment {dollars(installment[i]):>8}  creditmesh {dollars(int(payment[i])):>8}  "
            f"diff {int(diff[i]):+d}  ({sub_grade[i]}, {issue_month[i]}{', rate OFF grid' if off_grid[i] else ''})"
        )

    # --- exact annuity, rounded four ways, for each reading of the rate ------------------------------
    print()
    print("== conventions: share of installments reproduced to the cent (exact annuity, integer arithmetic)")
    stated = [exact_payment(p, r, MONTHLY_DENOMINATOR, n) for p, r, n in zip(principal, ppm, tenor)]
    exact_half_up = np.array([round_exact(num, den, "half_up") for num, den in stated], dtype=np.int64)
    ties = sum(1 for num, den in stated if 2 * (num % den) == den)
    whole = sum(1 for num, den in stated if num % den == 0)
    print(
        f"  creditmesh's float payment equals the exact half-up payment on "
        f"{int((exact_half_up == payment).sum()):,} of {count:,} loans; "
        f"exact half-cent ties: {ties}; exact whole-cent payments: {whole}"
    )
    header = f"  {'rate reading (amount: loan_amount)':<52}" + "".join(
        f"{ROUNDINGS[m]:>28}" for m in ROUNDINGS
    )
    print(header)
    matches: dict[tuple[str, str], int] = {}
    for label, reading in RATE_READINGS.items():
        exacts = (
            stated
            if label.startswith("APR/12, stated")
            else [exact_payment(p, *reading(r), n) for p, r, n in zip(principal, ppm, tenor)]
        )
        cells = []
        for mode in ROUNDINGS:
            hit = sum(round_exact(num, den, mode) == inst for (num, den), inst in zip(exacts, installment))
            matches[(label, mode)] = hit
            cells.append(f"{hit:>12,} ({100 * share(hit, count):6.2f} %)")
        print(f"  {label:<52}" + "".join(f"{c:>28}" for c in cells))

    # (e) the amount lent
    funded_column = next((c for c in FUNDED_COLUMNS if c in columns), None)
    if funded_column:
        funded = [
            to_cents(r[funded_column], funded_column) if r[funded_column].strip() else p
            for r, p in zip(rows, principal)
        ]
        differs = sum(f != p for f, p in zip(funded, principal))
        cells = []
        for mode in ROUNDINGS:
            hit = sum(
                round_exact(*exact_payment(f, r, MONTHLY_DENOMINATOR, n), mode) == inst
                for f, r, n, inst in zip(funded, ppm, tenor, installment)
            )
            matches[(f"amount {funded_column}", mode)] = hit
            cells.append(f"{hit:>12,} ({100 * share(hit, count):6.2f} %)")
        print(f"  {'APR/12, stated rate, amount ' + funded_column:<52}" + "".join(f"{c:>28}" for c in cells))
        print(f"  ({funded_column} differs from loan_amount on {differs:,} loans)")
    else:
        print(
            "  (e) funded amount vs loan_amount: not testable, the file has no funded-amount column "
            f"(looked for {', '.join(FUNDED_COLUMNS)}); its R documentation defines loan_amount as "
            "'the amount of the loan the applicant received'."
        )

    # Why ceiling: where the exact payment's fraction of a cent falls, and what LendingClub did with it.
    print()
    print(
        "== the fraction of a cent in the exact payment (APR/12, stated rate) and what the column did with it"
    )
    print(
        f"  {'fraction of a cent':<20}{'loans':>8}{'column = floor':>18}{'column = floor+1':>18}{'other':>8}"
    )
    table: dict[int, Counter] = defaultdict(Counter)
    smallest_rounded_up = None
    for (num, den), inst in zip(stated, installment):
        quotient, remainder = divmod(num, den)
        tenth = (10 * remainder) // den
        outcome = "floor" if inst == quotient else "up" if inst == quotient + 1 else "other"
        table[tenth][outcome] += 1
        if (
            outcome == "up"
            and remainder
            and (smallest_rounded_up is None or remainder / den < smallest_rounded_up)
        ):
            smallest_rounded_up = remainder / den
    for tenth in range(10):
        c = table[tenth]
        print(
            f"  [{tenth / 10:.1f}, {(tenth + 1) / 10:.1f}){'':<10}{sum(c.values()):>8,}{c['floor']:>18,}"
            f"{c['up']:>18,}{c['other']:>8,}"
        )
    if smallest_rounded_up is not None:
        print(f"  smallest fraction of a cent the column still rounded up: {smallest_rounded_up:.5f} cent")

    # --- what the best convention leaves -------------------------------------------------------------
    best_label, best_mode = max(matches, key=matches.get)
    ceiling = np.array([round_exact(num, den, "ceiling") for num, den in stated], dtype=np.int64)
    left = np.flatnonzero(ceiling != installment_a)
    print()
    print(f"== best: {best_label} + {ROUNDINGS[best_mode]}: {pct(matches[(best_label, best_mode)], count)}")
    print(f"  loans the stated rate + ceiling does not reproduce: {len(left)}")
    grid: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for g, m, r in zip(sub_grade, issue_month, ppm):
        grid[(g, m)][r] += 1
    for i in left:
        i = int(i)
        same = grid[(sub_grade[i], issue_month[i])]
        others = sorted(r for r in grid_by_grade[sub_grade[i]] if r != ppm[i])
        print(
            f"  row {i:>5}: amount {dollars(principal[i])}  term {tenor[i]}  rate {ppm[i] / PPM_PER_PERCENT:.2f} %  "
            f"installment {dollars(installment[i])}  stated rate rounded up {dollars(int(ceiling[i]))}  "
            f"({int(ceiling[i]) - installment[i]:+d} cents)"
        )
        rates_seen = ", ".join(
            f"{r / PPM_PER_PERCENT:.2f} % ({grid_by_grade[sub_grade[i]][r]}, {same[r]} in {issue_month[i]})"
            for r in sorted(grid_by_grade[sub_grade[i]])
        )
        print(
            f"             sub-grade {sub_grade[i]} rates (loans, of which issued the same month): {rates_seen}"
            f" -> {ppm[i] / PPM_PER_PERCENT:.2f} % is {'OFF' if off_grid[i] else 'on'} the grid"
        )
        print(
            f"             APR implied by the installment: {implied_apr_percent(principal[i], installment[i], tenor[i]):.3f} %"
        )
        tried = spacing = 0
        for g in others:
            previous = 0
            at_grid = round_exact(*exact_payment(principal[i], g, MONTHLY_DENOMINATOR, tenor[i]), "ceiling")
            hits = []
            for paid in range(13):
                balance, new_pay, hundredths = reamortised(principal[i], g, ppm[i], tenor[i], paid)
                tried += 1
                if paid:
                    spacing += (hundredths - previous) / 100  # cents between consecutive candidates
                previous = hundredths
                if new_pay == installment[i]:
                    hits.append(
                        f"after {paid} payment(s) (balance {dollars(balance)}, "
                        f"exact {hundredths / 10_000:.4f})"
                    )
            fit = (
                ("; re-amortised at the stated rate over the remaining months it matches " + "; ".join(hits))
                if hits
                else "; no re-amortisation after 0-12 payments matches"
            )
            print(
                f"             at grid rate {g / PPM_PER_PERCENT:.2f} %: installment would be {dollars(at_grid)}{fit}"
            )
        if tried:
            gap = spacing / max(1, tried - len(others))
            print(
                f"             ({tried} re-amortisation candidates about {gap:,.1f} cents apart, each hitting a "
                f"1-cent window: a chance hit has odds of roughly {min(1.0, tried / gap) if gap else 1.0:.0%})"
            )

    # --- build_schedules throughput ------------------------------------------------------------------
    originated = np.array(
        [datetime.strptime(m, "%b-%Y").date() if m else datetime(2018, 1, 1).date() for m in issue_month],
        dtype="datetime64[D]",
    )
    build_schedules(principal_a, ppm_a, tenor_a, originated)  # warm-up
    timings = []
    for _ in range(max(1, args.repeats)):
        start = time.perf_counter()
        schedules = build_schedules(principal_a, ppm_a, tenor_a, originated)
        timings.append(time.perf_counter() - start)
    rows_total = int(schedules.loan.shape[0])
    median_s = statistics.median(timings)
    rows_per_s = rows_total / median_s if median_s > 0 else float("nan")
    principal_back = np.bincount(schedules.loan, weights=schedules.principal_due_minor, minlength=count)
    first = schedules.seq == 1
    first_payment = schedules.principal_due_minor[first] + schedules.interest_due_minor[first]
    level = tenor_a > 1
    print()
    print(
        f"== build_schedules on all {count:,} loans (full schedules, {rows_total:,} rows), "
        f"{len(timings)} timed runs after a warm-up"
    )
    print(
        f"  median {median_s * 1000:.1f} ms (best {min(timings) * 1000:.1f} ms): "
        f"{rows_per_s:,.0f} rows/s, {count / median_s:,.0f} loans/s"
    )
    print(
        f"  checks: principal sums to the loan on {int((principal_back == principal_a).sum()):,} of {count:,}; "
        f"first installment equals annuity_payment_minor on "
        f"{int((first_payment[level] == payment[level]).sum()):,} of {int(level.sum()):,}"
    )

    # --- conclusion ----------------------------------------------------------------------------------
    ceiling_hits = matches[("APR/12, stated rate", "ceiling")]
    print()
    print("== conclusion")
    on_grid_misses = (~off_grid) & (diff != 0)
    one_low = int((on_grid_misses & (diff == -1)).sum())
    below_half = np.array([2 * (num % den) < den for num, den in stated], dtype=bool)
    one_low_below_half = int((on_grid_misses & (diff == -1) & below_half).sum())
    left_off_grid = int(off_grid[left].sum())
    print(
        f"  creditmesh (half-up) reproduces {100 * share(exact, count):.2f} % to the cent; of its "
        f"{int(on_grid_misses.sum()):,} misses on on-grid rates, {one_low:,} are creditmesh one cent low, "
        f"{one_low_below_half:,} of them where the exact payment's fraction of a cent is below one half "
        f"(half-up rounds down, LendingClub rounded up)."
    )
    print(
        f"  LendingClub's installment is the exact APR/12 annuity on loan_amount rounded UP to the cent: "
        f"{ceiling_hits:,} of {count:,} ({100 * share(ceiling_hits, count):.2f} %); floor, half-even, a shifted "
        f"rate or another monthly-rate convention do far worse."
    )
    print(
        f"  {len(left)} loan(s) left, {left_off_grid} of them at a rate off their sub-grade's grid "
        f"(a rate set outside the price list; their installment does not follow from the stated rate; see above)."
    )

    results = [
        result_row(
            "installments_matching_to_the_cent",
            "share",
            round(share(exact, count), 4),
            anchor=1.0,
            anchor_name=ANCHOR_NAME,
            goal=GOAL,
        ),
        result_row(
            "installments_matching_to_the_cent_if_rounded_up",
            "share",
            round(share(ceiling_hits, count), 4),
            anchor=1.0,
            anchor_name=ANCHOR_NAME,
            goal=GOAL,
        ),
        result_row(
            "installments_matching_to_the_cent_with_rounding_ceiling",
            "share",
            round(share(ceiling_option_exact, count), 4),
            anchor=1.0,
            anchor_name=ANCHOR_NAME,
            goal=GOAL,
        ),
        result_row(
            "installments_within_one_cent",
            "share",
            round(share(within_one, count), 4),
            anchor=1.0,
            anchor_name=ANCHOR_NAME,
            goal=GOAL,
        ),
        result_row(
            "largest_difference_cents", "cents", largest, anchor=0, anchor_name=ANCHOR_NAME, goal=GOAL
        ),
        result_row(
            "largest_difference_cents_on_grid_rates",
            "cents",
            largest_on_grid,
            anchor=0,
            anchor_name=ANCHOR_NAME,
            goal=GOAL,
        ),
        result_row("schedule_rows_per_s", "rows/s", round(rows_per_s), goal="a figure for the note"),
    ]
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
