"""The console's pages: server time per page at the demo's book size, and the portfolio page over a 10M-loan book.

Part 1, the demo's size: ``creditmesh serve`` (one worker, SQLite) with the platform ``make demo`` simulates
(20,000 borrowers over 24 months) put through its API by :func:`creditmesh.api.console.screens.build_service`: every
simulated credit-line applicant applies with its identifiers (the simulator's rings enter the graph), every approved
line draws once, a dozen applications go to review; the portfolio page reads the simulated book
(``CREDITMESH_BOOK``). An operator signs in and asks for each page ``--requests`` times after two warm-up requests;
the server time is the page's ``Server-Timing`` (the handler, from the session check to the rendered page); the wall
time (loopback HTTP included) is reported beside it. Goal: p95 server time under 200 ms on every page.

Part 2, the portfolio over a large book: the synthetic book of ``benchmarks/portfolio.py`` (numpy-generated
Parquet, cached under ``~/.cache/creditmesh``) with ``--loans`` loans (default 10,000,000: about 99 M
installments) as ``CREDITMESH_BOOK`` of a second server. Its figures are computed once per version of the book in the
background, so the page never waits: measured are the computation (cold, as the page reports it), the time until
the page first shows the figures, and the page's server time once they are there. Goal: the page under 2 s.

Anchor: the same kind of request to a bare FastAPI app that returns a fixed HTML page of the review page's size
(``_trivial_app``-style, one uvicorn worker): the floor of a page's wall time on this machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_average, make_console, print_json_line, result_row  # noqa: E402

FIGURES = re.compile(r"Computed [0-9: UTC-]+ in ([0-9.]+) s")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def signed_in(url: str, key: str):
    import httpx

    client = httpx.Client(base_url=url, timeout=600)
    form = client.get("/console/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    answer = client.post("/console/sign-in", data={"csrf_token": token, "api_key": key})
    assert answer.status_code == 303, answer.text
    return client


def wait_for_figures(client, timeout: float) -> tuple[float, float | None]:
    """Seconds until the portfolio page shows figures, and the computation's own seconds (from the page)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        page = client.get("/console/portfolio")
        found = FIGURES.search(page.text)
        if found and "being computed" not in page.text:
            return time.perf_counter() - started, float(found.group(1))
        if "No figures:" in page.text:
            raise RuntimeError(re.search(r"No figures: [^<]*", page.text).group(0))
        time.sleep(0.5)
    return time.perf_counter() - started, None


def time_page(client, path: str, requests: int) -> tuple[list[float], list[float]]:
    """Server and wall milliseconds of ``requests`` GETs (after two warm-up requests)."""
    server, wall = [], []
    for n in range(requests + 2):
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        if n >= 2:
            wall.append(elapsed)
            server.append(float(answer.headers["server-timing"].split("dur=")[1]))
    return server, wall


def anchor_wall_ms(size: int, requests: int) -> float:
    """p95 wall time of a fixed HTML page of ``size`` bytes from a bare FastAPI app (one uvicorn worker)."""
    import httpx

    from creditmesh.api.server import free_port

    source = (
        "from fastapi import FastAPI\nfrom fastapi.responses import HTMLResponse\n"
        f"app = FastAPI()\nPAGE = 'x' * {size}\n"
        "@app.get('/page')\ndef page():\n    return HTMLResponse(PAGE)\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bare_page.py").write_text(source)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_page:app", "--port", str(port), "--log-level", "warning"],
            cwd=folder,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(f"{url}/page", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            walls = []
            with httpx.Client(base_url=url) as client:
                for n in range(requests + 2):
                    started = time.perf_counter()
                    client.get("/page")
                    if n >= 2:
                        walls.append((time.perf_counter() - started) * 1000)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return p95(walls)


def peak_rss_gb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        return None
    return None


def reuse_service(folder: Path):
    """A service over a database an earlier run built (keys created afresh: only their hashes were kept)."""
    import pyarrow.parquet as pq

    from creditmesh.api.console.screens import Service
    from creditmesh.api.demo import start
    from creditmesh.api.keys import create_key
    from creditmesh.ledger import Ledger
    from creditmesh.ledger.store import database_url

    db_url = database_url(str(folder / "service.db"))
    ledger = Ledger.connect(db_url)
    with ledger.engine.begin() as connection:
        keys = {"operator": create_key(connection, role="operator", owner="bench-operator")[1]}
        counts = {
            name: connection.exec_driver_sql(f"SELECT COUNT(*) FROM {name}").scalar_one()
            for name in ("decision_log", "loans", "graph_events")
        }
    ledger.close()
    partners = folder / "institutions.parquet"
    partner = str(pq.read_table(partners).column("institution_id")[0])
    if (folder / "book").is_dir():
        os.environ["CREDITMESH_BOOK"] = str(folder / "book")
    process, url = start(db_url, folder / "model", partners)
    return Service(url, process, keys, db_url, partner, counts)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--borrowers", type=int, default=20_000, help="the demo's platform (make demo: 20,000)"
    )
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--loans", type=int, default=10_000_000, help="loans of the large book (0: skip part 2)"
    )
    parser.add_argument(
        "--figures-timeout", type=float, default=1800.0, help="seconds to wait for the figures"
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        help="a folder kept from an earlier build (service.db, model/, institutions.parquet, book/ if any): "
        "skip the simulation and the API traffic, time the pages over that database",
    )
    args = parser.parse_args()
    console = make_console()
    results = []
    from creditmesh.api.console.screens import PAGES, build_service
    from creditmesh.api.demo import start

    with tempfile.TemporaryDirectory(prefix="creditmesh-console-bench-") as folder:
        started = time.perf_counter()
        if args.reuse:
            service = reuse_service(args.reuse)
        else:
            service = build_service(Path(folder), borrowers=args.borrowers, draws=10**9, reviews=12)
        console.print(
            f"service over {args.borrowers:,} simulated borrowers ready in {time.perf_counter() - started:.0f} s: "
            f"{service.counts} (load {load_average()})"
        )
        try:
            import httpx

            with httpx.Client(base_url=service.url, headers={"X-API-Key": service.keys["operator"]}) as api:
                pending = api.get("/v1/reviews").json()
            client = signed_in(service.url, service.keys["operator"])
            rings = client.get("/console/rings").text
            ring = re.search(r'href="/console/rings/(\d+)"', rings).group(1)
            fill = {
                "review": pending[0]["application_id"],
                "decision": pending[-1]["application_id"],
                "partner": service.partner,
                "ring": ring,
            }
            shown, computed = wait_for_figures(client, args.figures_timeout)
            console.print(
                f"portfolio figures of the demo's book: computed in {computed} s, shown after {shown:.1f} s"
            )
            sizes = {}
            for name, template in PAGES[1:]:  # every page but the sign-in form
                server, wall = time_page(client, template.format(**fill), args.requests)
                sizes[name] = len(client.get(template.format(**fill)).content)
                console.print(
                    f"{name:>10}: server p50 {statistics.median(server):7.1f} ms, p95 {p95(server):7.1f} ms; "
                    f"wall p95 {p95(wall):7.1f} ms ({sizes[name]:,} bytes; load {load_average()})"
                )
                results.append(
                    result_row(f"{name}_server_p95_ms", "ms", round(p95(server), 1), goal="< 200 ms")
                )
            worst = max(r["creditmesh"] for r in results)
            anchor = anchor_wall_ms(sizes["review"], args.requests)
            results.append(
                result_row(
                    "slowest_page_server_p95_ms",
                    "ms",
                    worst,
                    goal="< 200 ms",
                    anchor=round(anchor, 2),
                    anchor_name="a fixed HTML page of the review page's size from a bare FastAPI app (wall p95)",
                )
            )
            results.append(result_row("demo_portfolio_figures_s", "s", computed))
            client.close()
        finally:
            service.stop()

        if args.loans:
            import portfolio as portfolio_bench

            rows = int(args.loans * float((portfolio_bench.TENORS * portfolio_bench.TENOR_P).sum()))
            started = time.perf_counter()
            book, _ = portfolio_bench.build(rows, 1, console)
            console.print(f"the {args.loans:,}-loan book in {book} ({time.perf_counter() - started:.0f} s)")
            os.environ["CREDITMESH_BOOK"] = str(book)
            process, url = start(
                service.db_url, Path(folder) / "model", Path(folder) / "book" / "institutions.parquet"
            )
            try:
                client = signed_in(url, service.keys["operator"])
                shown, computed = wait_for_figures(client, args.figures_timeout)
                memory = peak_rss_gb(process.pid)
                console.print(
                    f"10M-loan book: figures computed in {computed} s (in the background), first shown after "
                    f"{shown:.1f} s; server peak RSS {memory} GB (load {load_average()})"
                )
                server, wall = time_page(client, "/console/portfolio", args.requests)
                console.print(
                    f" portfolio page once computed: server p95 {p95(server):.1f} ms, wall p95 {p95(wall):.1f} ms "
                    f"(load {load_average()})"
                )
                results += [
                    result_row("large_book_loans", "loans", args.loans),
                    result_row(
                        "large_portfolio_page_server_p95_ms", "ms", round(p95(server), 1), goal="< 2000 ms"
                    ),
                    result_row("large_portfolio_figures_compute_s", "s", computed),
                    result_row("large_portfolio_first_shown_s", "s", round(shown, 1)),
                    result_row(
                        "large_portfolio_server_peak_rss_gb",
                        "GB",
                        None if memory is None else round(memory, 2),
                    ),
                ]
                client.close()
            finally:
                process.terminate()
                process.wait(timeout=60)
    print_json_line("console", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
