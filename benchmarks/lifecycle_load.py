"""Benchmark: the whole platform under load, on PostgreSQL, against the trivial FastAPI POST ceiling.

The anchor, measured in the same run on the same machine: a FastAPI app with one POST route that
returns its body's id (``_trivial_app.py``), served by uvicorn with the same workers and flags as the
service, driven by the same generator above its capacity; the answers per second it sustains are the
ceiling. Then ``creditmesh serve`` (2 workers) on a fresh PostgreSQL database with 160 simulated
partners is driven on loopback, open loop, at ``--rate`` (default: a sixth of the ceiling) for
``--seconds`` by a mix of 1 application : 3 drawdowns : 5 payments : 1 loan read (interleaved in a
fixed shuffled order, every request encoded before the clock starts: applications of fresh applicants,
drawdowns on lines opened beforehand, payments with fresh Idempotency-Keys and reads of loans booked
beforehand). Latency runs from a request's scheduled time to its answer (``api_load.drive``).

Afterwards: every acknowledged request present exactly once (each application's decision, each drawdown's
answer and booked loan, each payment under its key), no partner over its daily capacity (and capacity
reserved equals the principal booked to it), no line overdrawn, trial balance 0. Then each route alone
for ``--route-seconds`` to give the service's CPU per request by route (all its worker processes; the
database server's CPU is not counted: it is shared with whatever else runs on this machine).

Goal (issue 19): at least 1/6 of the ceiling, p99 < 100 ms, zero errors.

Usage::

    python benchmarks/lifecycle_load.py                    # 60 s at a sixth of the ceiling
    python benchmarks/lifecycle_load.py --seconds 10 --rate 100

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, make_console, print_json_line, result_row  # noqa: E402
from api_load import (  # noqa: E402
    application_bodies,
    cpu_seconds,
    create_app_key,
    drive,
    encoded_request,
    run,
    start_service,
)

from creditmesh.api.server import free_port  # noqa: E402

BENCHMARK = "lifecycle_load"
ADMIN_DSN = os.environ.get("CREDITMESH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
HOST = "127.0.0.1"
#: The mix: 1 application : 3 drawdowns : 5 payments : 1 loan read.
MIX = (("application", 1), ("drawdown", 3), ("payment", 5), ("read", 1))
GOAL_SHARE = 1 / 6
#: A request still unsent this long after its scheduled time is dropped and counted as an error.
GIVE_UP_SECONDS = 5.0
#: The anchor is offered more than it can answer; what it answers per second is the ceiling.
CEILING_OFFERED = 6_000.0
GOAL_P99_MS = 100.0
DRAWDOWN_MINOR = 50_000
PAYMENT_MINOR = 100
#: The seeds' scale: about 270,000 loans a day; the peak hour assumed at this many times the day's average.
SEED_LOANS_PER_DAY = 270_000
PEAK_FACTOR = 5


def fresh_database() -> tuple[str, callable]:
    import psycopg

    name = f"cm_bench_lifecycle_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}", drop


def ceiling(workers: int, seconds: float, concurrency: int) -> tuple[float, float, int]:
    """Answers per second, p99 (ms) and errors of the trivial FastAPI app driven above its capacity."""
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "_trivial_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=Path(__file__).resolve().parent,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.post(f"http://{HOST}:{port}/echo", json={"id": "x"}, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the trivial app did not start")
            time.sleep(0.1)
        offered = CEILING_OFFERED
        requests = [
            encoded_request(HOST, port, "-", "POST", "/echo", {"id": f"r{i}", "n": i})
            for i in range(int(offered * seconds))
        ]
        run(drive(HOST, port, requests[:2_000], offered, concurrency))  # warm-up, not counted
        latencies, errors, elapsed = run(
            drive(HOST, port, requests, offered, concurrency, give_up_after=GIVE_UP_SECONDS)
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    answered = latencies[~np.isnan(latencies)]
    return len(answered) / elapsed, float(np.percentile(answered * 1e3, 99)), errors


def setup_book(url: str, key: str, table, lines: int, loans: int, seed: int) -> tuple[list[str], list[str]]:
    """Open ``lines`` credit lines (applicants with room to draw) and book ``loans`` loans on them, untimed."""
    import httpx

    bodies = application_bodies(table, lines * 6, seed, prefix="setup")
    for body in bodies:  # applicants a lender would grant a wide line
        body.update(monthly_income_minor=3_000_000, bureau_score=800, bureau_inquiries_6m=0)
        body.update(bureau_delinquencies_24m=0, device_age_days=900, contacts_count=200, apply_hour=14)

    def post(args):
        path, body = args
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as client:
            return client.post(path, json=body).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, [("/v1/applications", b) for b in bodies]))
        opened = [
            a["credit_line_id"]
            for a in answers
            if a.get("outcome") == "approve" and a["limit_minor"] >= 2_000_000
        ]
        if len(opened) < lines:
            raise RuntimeError(f"only {len(opened)} wide lines approved for {lines}")
        opened = opened[:lines]
        draws = [
            (
                "/v1/drawdowns",
                {
                    "application_id": f"setup-dd-{k}",
                    "credit_line_id": opened[k % lines],
                    "amount_minor": 500_000,
                    "tenor_months": 12,
                },
            )
            for k in range(loans)
        ]
        booked = [a["loan_id"] for a in pool.map(post, draws) if a.get("outcome") == "booked"]
    if len(booked) < loans // 2:
        raise RuntimeError(f"only {len(booked)} of {loans} setup loans booked")
    return opened, booked


def mixed_requests(
    port: int, key: str, table, n: int, lines: list[str], loans: list[str], seed: int, tag: str
):
    """``n`` requests of the mix, interleaved in a fixed shuffled order: (route, id, encoded request) each."""
    pattern = [route for route, weight in MIX for _ in range(weight)]
    order = []
    rng = random.Random(seed)
    while len(order) < n:
        block = pattern[:]
        rng.shuffle(block)
        order.extend(block)
    order = order[:n]
    applicants = iter(application_bodies(table, order.count("application"), seed, prefix=f"{tag}-ap"))
    out = []
    for i, route in enumerate(order):
        if route == "application":
            body = next(applicants)
            out.append(
                (
                    route,
                    body["application_id"],
                    encoded_request(HOST, port, key, "POST", "/v1/applications", body),
                )
            )
        elif route == "drawdown":
            body = {
                "application_id": f"{tag}-dd-{i}",
                "credit_line_id": lines[i % len(lines)],
                "amount_minor": DRAWDOWN_MINOR,
                "tenor_months": 6,
            }
            out.append(
                (
                    route,
                    body["application_id"],
                    encoded_request(HOST, port, key, "POST", "/v1/drawdowns", body),
                )
            )
        elif route == "payment":
            loan = loans[i % len(loans)]
            idem = f"{tag}-p-{i}"
            request = encoded_request(
                HOST,
                port,
                key,
                "POST",
                f"/v1/loans/{loan}/payments",
                {"amount_minor": PAYMENT_MINOR},
                headers=f"Idempotency-Key: {idem}\r\n",
            )
            out.append((route, idem, request))
        else:
            loan = loans[i % len(loans)]
            out.append((route, loan, encoded_request(HOST, port, key, "GET", f"/v1/loans/{loan}")))
    return out


def check_book(db_url: str, acknowledged: list[tuple[str, str]]) -> dict[str, int]:
    """Problems found after the run (every count must be 0), by check."""
    import sqlalchemy as sa

    from creditmesh.api.tables import credit_line_profiles, drawdowns, partner_capacity
    from creditmesh.decision.audit import DECISIONS
    from creditmesh.ledger import Ledger
    from creditmesh.ledger.tables import credit_lines, installment_balances, loans, payments

    ledger = Ledger.connect(db_url)
    problems = {}
    try:
        with ledger.engine.connect() as conn:
            decided = {r[0] for r in conn.execute(sa.select(DECISIONS.c.application_id))}
            answered = {
                r.application_id: r
                for r in conn.execute(
                    sa.select(drawdowns.c.application_id, drawdowns.c.outcome, drawdowns.c.loan_id)
                )
            }
            loan_count: dict[str, int] = {}
            for (application_id,) in conn.execute(sa.select(loans.c.application_id)):
                loan_count[application_id] = loan_count.get(application_id, 0) + 1
            keys = {}
            for (key,) in conn.execute(sa.select(payments.c.idempotency_key)):
                keys[key] = keys.get(key, 0) + 1
            missing = 0
            for route, ident in acknowledged:
                if route == "application":
                    missing += ident not in decided
                elif route == "drawdown":
                    row = answered.get(ident)
                    missing += row is None or (row.outcome == "booked") != (loan_count.get(ident, 0) == 1)
                elif route == "payment":
                    missing += keys.get(f"bench/{ident}", 0) != 1
            problems["acknowledged_missing_or_twice"] = missing
            problems["loans_booked_twice"] = sum(c > 1 for c in loan_count.values())
            over = conn.execute(
                sa.select(sa.func.count()).where(
                    partner_capacity.c.reserved_minor > partner_capacity.c.capacity_minor
                )
            ).scalar_one()
            reserved = dict(
                conn.execute(
                    sa.select(
                        partner_capacity.c.institution_id, sa.func.sum(partner_capacity.c.reserved_minor)
                    ).group_by(partner_capacity.c.institution_id)
                ).all()
            )
            lent = dict(
                conn.execute(
                    sa.select(loans.c.institution_id, sa.func.sum(loans.c.principal_minor)).group_by(
                        loans.c.institution_id
                    )
                ).all()
            )
            problems["partners_over_capacity"] = int(over) + sum(
                int(reserved.get(k, 0)) != int(lent.get(k, 0)) for k in set(reserved) | set(lent)
            )
            outstanding = (
                sa.select(
                    loans.c.credit_line_id,
                    sa.func.sum(
                        installment_balances.c.principal_due_minor
                        - installment_balances.c.principal_paid_minor
                    ).label("used"),
                )
                .join(installment_balances, installment_balances.c.loan_id == loans.c.loan_id)
                .where(loans.c.status == "active")
                .group_by(loans.c.credit_line_id)
                .subquery()
            )
            problems["lines_overdrawn"] = conn.execute(
                sa.select(sa.func.count())
                .select_from(
                    outstanding.join(
                        credit_lines, credit_lines.c.credit_line_id == outstanding.c.credit_line_id
                    )
                )
                .where(outstanding.c.used > credit_lines.c.limit_minor)
            ).scalar_one()
            problems["lines_without_profile"] = conn.execute(
                sa.select(sa.func.count())
                .select_from(
                    credit_lines.outerjoin(
                        credit_line_profiles,
                        credit_line_profiles.c.credit_line_id == credit_lines.c.credit_line_id,
                    )
                )
                .where(credit_line_profiles.c.credit_line_id.is_(None))
            ).scalar_one()
        problems["trial_balance_minor"] = abs(sum(ledger.trial_balance().values()))
        problems["unbalanced_entries"] = len(ledger.unbalanced_entries())
    finally:
        ledger.close()
    return {k: int(v) for k, v in problems.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the mixed load runs")
    parser.add_argument("--rate", type=float, default=None, help="requests per second (default: ceiling / 6)")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0, help="how long the anchor is driven")
    parser.add_argument("--route-seconds", type=float, default=6.0, help="each route alone, for CPU by route")
    parser.add_argument("--concurrency", type=int, default=64, help="most requests in flight at once")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes")
    parser.add_argument("--lines", type=int, default=300, help="credit lines opened before the run")
    parser.add_argument("--loans", type=int, default=600, help="loans booked before the run")
    parser.add_argument("--train-borrowers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args(argv)

    from decision import train_model

    from creditmesh.scoring.artifact import save_model
    from creditmesh.simulate.institutions import draw_institutions

    console = make_console()
    console.print(f"lifecycle_load: {os.cpu_count()} cores, load average {load_average()} at the start")
    top, top_p99, top_errors = ceiling(args.workers, args.ceiling_seconds, args.concurrency)
    rate = args.rate or math.ceil(top * GOAL_SHARE)
    console.print(
        f"ceiling (trivial FastAPI POST, {args.workers} workers, offered {CEILING_OFFERED:,.0f}/s): {top:,.0f}/s answered, "
        f"p99 {top_p99:.1f} ms at saturation, {top_errors:,} dropped unsent after {GIVE_UP_SECONDS:g} s"
    )
    model, table = train_model(args.train_borrowers, args.seed)
    db_url, drop = fresh_database()
    try:
        with tempfile.TemporaryDirectory(prefix="cm-lifecycle-") as tmp:
            folder = Path(tmp)
            import pyarrow.parquet as pq

            institutions, _ = draw_institutions(np.random.default_rng(args.seed), 160)
            pq.write_table(institutions, folder / "institutions.parquet")
            key = create_app_key(db_url)
            model_path = save_model(model, folder / "gbm")
            process, url, port = start_service(
                folder,
                model_path,
                args.workers,
                db_url=db_url,
                partners=folder / "institutions.parquet",
            )
            try:
                lines, loans = setup_book(url, key, table, args.lines, args.loans, args.seed)
                warm = mixed_requests(port, key, table, 500, lines, loans, args.seed + 1, "warm")
                run(
                    drive(
                        HOST,
                        port,
                        [r for _, _, r in warm],
                        min(rate, 200),
                        args.concurrency,
                        give_up_after=GIVE_UP_SECONDS,
                    )
                )
                plan = mixed_requests(
                    port, key, table, int(rate * args.seconds), lines, loans, args.seed, "run"
                )
                cpu = cpu_seconds(process.pid)
                latencies, errors, elapsed = run(
                    drive(
                        HOST,
                        port,
                        [r for _, _, r in plan],
                        rate,
                        args.concurrency,
                        give_up_after=GIVE_UP_SECONDS,
                    )
                )
                mixed_cpu = cpu_seconds(process.pid) - cpu
                mixed_done = max(int((~np.isnan(latencies)).sum()), 1)
                routes = [route for route, _, _ in plan]
                acknowledged = [
                    (route, ident) for (route, ident, _), t in zip(plan, latencies) if not math.isnan(t)
                ]
                per_route = {}
                for name, _ in MIX:  # each route alone, for its CPU per request
                    alone = [
                        r
                        for r in mixed_requests(
                            port,
                            key,
                            table,
                            int(rate * args.route_seconds * 2),
                            lines,
                            loans,
                            args.seed + 7,
                            f"solo-{name}",
                        )
                        if r[0] == name
                    ]
                    alone = alone[: max(int(rate * args.route_seconds / 2), 10)]
                    before = cpu_seconds(process.pid)
                    got, bad, _ = run(
                        drive(
                            HOST,
                            port,
                            [r for _, _, r in alone],
                            rate / 2,
                            args.concurrency,
                            give_up_after=GIVE_UP_SECONDS,
                        )
                    )
                    done = max(int((~np.isnan(got)).sum()), 1)
                    per_route[name] = ((cpu_seconds(process.pid) - before) / done * 1e3, bad)
                    acknowledged += [
                        (name, ident) for (_, ident, _), t in zip(alone, got) if not math.isnan(t)
                    ]
            finally:
                process.terminate()
                process.wait(timeout=60)
            problems = check_book(db_url, acknowledged)
    finally:
        drop()
    answered = latencies[~np.isnan(latencies)] * 1e3
    p50, p99 = (float(np.percentile(answered, q)) for q in (50, 99))
    achieved = len(answered) / elapsed
    ratio = achieved / top
    console.print(
        f"{len(plan):,} requests (1 application : 3 drawdowns : 5 payments : 1 read) at {rate:.0f}/s for {args.seconds:.0f} s, "
        f"{args.workers} workers on PostgreSQL, concurrency ≤ {args.concurrency}, load average {load_average()}"
    )
    console.print(
        f"achieved {achieved:,.1f}/s = {ratio:.3f} of the ceiling (goal ≥ {GOAL_SHARE:.3f}); p50 {p50:.1f} ms, p99 {p99:.1f} ms; errors {errors}"
    )
    for name, _ in MIX:
        mine = np.array([t for r, t in zip(routes, latencies) if r == name]) * 1e3
        mine = mine[~np.isnan(mine)]
        console.print(
            f"  {name:<12} p50 {np.percentile(mine, 50):6.1f} ms  p99 {np.percentile(mine, 99):6.1f} ms  "
            f"service CPU {per_route[name][0]:.2f} ms/request (alone, errors {per_route[name][1]})"
        )
    console.print(
        f"service CPU per answered request in the mix: {mixed_cpu / mixed_done * 1e3:.2f} ms (all workers)"
    )
    console.print("after the run: " + ", ".join(f"{k} {v}" for k, v in problems.items()))
    mixed_per_loan = 10 / 3  # requests of the mix per drawdown
    peak = SEED_LOANS_PER_DAY / 86_400 * PEAK_FACTOR * mixed_per_loan
    machines = max(1, math.ceil(peak / achieved))
    console.print(
        f"seeds' scale: {SEED_LOANS_PER_DAY:,} loans/day = {SEED_LOANS_PER_DAY / 86_400:.1f}/s; a peak of {PEAK_FACTOR}x that "
        f"with this mix is {peak:.0f} requests/s: {machines} such machine(s) at the rate achieved here"
    )
    print_json_line(
        BENCHMARK,
        [
            result_row(
                "lifecycle_achieved_rate",
                "requests/s",
                round(achieved, 1),
                anchor=round(top, 1),
                anchor_name="trivial FastAPI POST ceiling",
                goal=f">= {GOAL_SHARE:.3f} x anchor",
            ),
            result_row("lifecycle_ratio_to_ceiling", "ratio", round(ratio, 3), goal=f">= {GOAL_SHARE:.3f}"),
            result_row("lifecycle_latency_p50", "ms", round(p50, 2)),
            result_row("lifecycle_latency_p99", "ms", round(p99, 2), goal=f"< {GOAL_P99_MS:.0f}"),
            result_row("lifecycle_errors", "requests", errors, goal="0"),
            *(
                result_row(f"lifecycle_cpu_{name}", "ms/request", round(per_route[name][0], 3))
                for name, _ in MIX
            ),
            result_row("lifecycle_check_problems", "count", sum(problems.values()), goal="0"),
            result_row("lifecycle_machines_for_seeds_peak", "machines", machines),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
