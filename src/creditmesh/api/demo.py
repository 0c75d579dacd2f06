"""A few borrowers through the running service: ``python -m creditmesh.api.demo --model M --partners P``.

Starts ``creditmesh serve`` on a free loopback port over a SQLite file (or ``--db``), creates an app key,
then for each borrower: applies for a credit line (declared data and identifiers), draws on the line,
repays part of the loan, and reads the loan back; prints what was booked and stops the service. The
same walk-through with curl is in ``docs/api.md``. ``make demo`` ends with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path

#: Declared data of the demo's applicants: (age, monthly income in minor units, bureau score, region).
APPLICANTS = (
    (34, 2_500_000, 760, "R03"),
    (27, 1_200_000, 690, "R11"),
    (45, 4_000_000, 720, "R07"),
    (31, 900_000, 640, "R21"),
    (52, 3_000_000, 800, "R02"),
)
START_SECONDS = 60


def application(n: int, age: int, income: int, score: int, region: str) -> dict:
    return {
        "application_id": f"demo-app-{uuid.uuid4().hex[:10]}",
        "borrower_id": f"demo-borrower-{n}",
        "channel": "app",
        "age": age,
        "monthly_income_minor": income,
        "employment": "salaried",
        "bureau_score": score,
        "bureau_inquiries_6m": 1,
        "bureau_delinquencies_24m": 0,
        "device_age_days": 400,
        "apply_hour": 14,
        "contacts_count": 150,
        "region": region,
        "identifiers": {
            "phone": f"+86 138 0000 {n:04d}",
            "device": f"demo-device-{uuid.uuid4().hex[:8]}",
            "id_card": f"1101051990010{n:05d}",
            "bank_card": f"6222 0000 0000 {n:04d}",
            "contacts": [f"+86 139 0000 {n:02d}{k:02d}" for k in range(3)],
        },
    }


def start(db_url: str, model: Path, partners: Path) -> tuple[subprocess.Popen, str]:
    from creditmesh.api.server import launch

    env = {
        **os.environ,
        "CREDITMESH_DB": db_url,
        "CREDITMESH_MODEL": str(model),
        "CREDITMESH_PARTNERS": str(partners),
        "CREDITMESH_IDENTIFIER_KEY": os.environ.get(
            "CREDITMESH_IDENTIFIER_KEY", "demo-identifier-key-change-me"
        ),
    }
    try:
        process, url, _ = launch(env, seconds=START_SECONDS)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None
    return process, url


def walk(url: str, key: str) -> list[str]:
    """Each demo borrower through the service; one printed line each."""
    import httpx

    lines = []
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=30) as client:
        for n, (age, income, score, region) in enumerate(APPLICANTS, start=1):
            decided = client.post("/v1/applications", json=application(n, age, income, score, region)).json()
            if decided.get("outcome") != "approve":
                lines.append(f"borrower {n}: {decided.get('outcome')} {decided.get('reasons')}")
                continue
            amount = min(decided["limit_minor"] // 2, 3_000_000) // 100 * 100
            drawn = client.post(
                "/v1/drawdowns",
                json={
                    "application_id": f"demo-dd-{uuid.uuid4().hex[:10]}",
                    "credit_line_id": decided["credit_line_id"],
                    "amount_minor": amount,
                    "tenor_months": 12,
                },
            ).json()
            if drawn["outcome"] != "booked":
                lines.append(
                    f"borrower {n}: line {decided['limit_minor'] / 100:,.2f}, drawdown {drawn['outcome']} {drawn['reasons']}"
                )
                continue
            paid = client.post(
                f"/v1/loans/{drawn['loan_id']}/payments",
                json={"amount_minor": amount // 10},
                headers={"Idempotency-Key": f"demo-{drawn['loan_id']}-1"},
            ).json()
            loan = client.get(f"/v1/loans/{drawn['loan_id']}").json()
            lines.append(
                f"borrower {n}: line {decided['limit_minor'] / 100:>10,.2f} at {decided['apr']:.0%} -> loan {loan['loan_id']} "
                f"{loan['principal_minor'] / 100:>9,.2f} over {loan['tenor_months']} months from {loan['institution_id']} "
                f"({loan['funding_model']}); paid {paid['amount_minor'] / 100:,.2f}, outstanding "
                f"{loan['outstanding_principal_minor'] / 100:,.2f}, settles today for {loan['settlement_minor'] / 100:,.2f}, "
                f"{loan['bucket']}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="a saved model (creditmesh model train --out)"
    )
    parser.add_argument(
        "--partners", type=Path, required=True, help="funding partners (institutions.parquet)"
    )
    parser.add_argument(
        "--db", default="creditmesh-demo.db", help="the service's database (URL or SQLite file)"
    )
    args = parser.parse_args(argv)

    from creditmesh.api.keys import create_key
    from creditmesh.ledger import Ledger
    from creditmesh.ledger.store import database_url

    db_url = database_url(args.db)
    ledger = Ledger.connect(db_url)
    with ledger.engine.begin() as connection:
        key = create_key(connection, role="app", owner="demo-app")[1]
    ledger.close()
    process, url = start(db_url, args.model, args.partners)
    try:
        print(f"the service at {url} (database {db_url}); {len(APPLICANTS)} borrowers:")
        for line in walk(url, key):
            print(f"  {line}")
    finally:
        process.terminate()
        process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
