"""Benchmark: the HTTP decision service under a fixed request rate, over loopback.

The service runs in its own process (``creditmesh serve``) with its SQLite database on a temporary
file (an app key created in it first) and a GBM trained on a small simulated platform
(``decision.train_model``). A bounded async client (asyncio streams, on uvloop when installed:
``--concurrency`` kept-alive HTTP/1.1 connections, requests encoded before the clock starts, so
the generator spends little CPU; httpx's async client cost more CPU per request than the service
itself) sends credit-line applications, each with a fresh id, on a fixed schedule of ``--rate``
requests per second for ``--seconds`` seconds (open loop: a slow answer does not delay the next
send). Latency runs from a request's scheduled time to its answer: a request that finds every
connection busy waits, and that wait counts.

The load generator runs on the same machine as the service and competes with it for CPU; on a
shared machine the load average printed beside the figures says how busy it was.

Goal (issue 7): 500 decisions/s sustained for 60 s, p99 under 50 ms, zero errors.

Usage::

    python benchmarks/api_load.py                       # full size: 500/s for 60 s
    python benchmarks/api_load.py --rate 100 --seconds 5

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, make_console, print_json_line, result_row  # noqa: E402

from creditmesh.api.server import launch  # noqa: E402

BENCHMARK = "api_load"


def application_bodies(table, n: int, seed: int, prefix: str = "load") -> list[dict]:
    """``n`` credit-line application bodies resampled from ``table``, each a fresh applicant (ids and identifiers)."""
    from creditmesh.scoring.dataset import APPLICATION_FEATURES

    rows = table[list(APPLICATION_FEATURES)].to_dict("records")
    picks = np.random.default_rng(seed).integers(0, len(rows), n)
    bodies = []
    for i, pick in enumerate(picks):
        body = {"application_id": f"{prefix}-{seed}-{i}", "borrower_id": f"b-{prefix}-{seed}-{i}"}
        for name, value in rows[pick].items():
            body[name] = None if value != value else (value if isinstance(value, str) else int(value))
        body["identifiers"] = {
            "phone": f"+86 13{seed % 10}{i:09d}",
            "device": f"dev-{prefix}-{seed}-{i}",
            "ip": f"10.{i % 250}.{i // 250 % 250}.{seed % 250}",
            "contacts": [f"+86 15{seed % 10}{i:07d}{k:02d}" for k in range(3)],
        }
        bodies.append(body)
    return bodies


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) used so far by a process and its live children (this process when ``pid`` is None)."""
    if pid is None:
        return sum(os.times()[:2])
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(
        cpu_seconds(int(c)) for c in children
    )


def create_app_key(db_url: str) -> str:
    """An ``app`` key stored (hashed) in the service's database; the key itself."""
    from creditmesh.api.keys import create_key
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db_url)
    with ledger.engine.begin() as connection:
        key = create_key(connection, role="app", owner="bench")[1]
    ledger.close()
    return key


def start_service(
    folder: Path, model_path: Path, workers: int, *, db_url: str | None = None, partners: Path | None = None
) -> tuple[subprocess.Popen, str, int]:
    """``creditmesh serve`` on a free port (a SQLite file in ``folder`` unless ``db_url``), once it answers."""
    env = {
        **os.environ,
        "CREDITMESH_DB": db_url or str(folder / "service.db"),
        "CREDITMESH_MODEL": str(model_path),
        "CREDITMESH_IDENTIFIER_KEY": "bench-identifier-key-0123456789",
    }
    if partners is not None:
        env["CREDITMESH_PARTNERS"] = str(partners)
    return launch(env, workers=workers)


def encoded_request(
    host: str, port: int, key: str, method: str, path: str, body: dict | None = None, headers: str = ""
) -> bytes:
    """One HTTP/1.1 request on a kept-alive connection, encoded before the clock starts."""
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-Key: {key}\r\n{headers}"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def encoded_requests(host: str, port: int, key: str, bodies: list[dict]) -> list[bytes]:
    """Each body as one credit-line application request."""
    return [encoded_request(host, port, key, "POST", "/v1/applications", body) for body in bodies]


async def drive(
    host: str,
    port: int,
    requests: list[bytes],
    rate: float,
    concurrency: int,
    *,
    give_up_after: float | None = None,
) -> tuple[np.ndarray, int, float]:
    """Schedule each request at ``i / rate`` and send it on the first free one of ``concurrency`` connections.

    A request's latency runs from its scheduled time to its answer, so waiting for a free
    connection counts (no coordinated omission). Returns each request's latency (s; NaN where it got
    no 2xx answer), the error count (transport errors and answers other than 2xx) and the elapsed time.
    ``give_up_after``: a request still waiting for a connection that many seconds after its scheduled time
    is not sent and counts as an error (an overloaded service then ends the run on time).
    """
    queue: asyncio.Queue = asyncio.Queue()
    latencies = np.full(len(requests), np.nan)
    errors = 0

    async def connection() -> None:
        nonlocal errors
        reader = writer = None
        while (item := await queue.get()) is not None:
            i, scheduled = item
            if give_up_after is not None and time.perf_counter() - scheduled > give_up_after:
                errors += 1
                continue
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                if head[9:10] == b"2":
                    latencies[i] = time.perf_counter() - scheduled
                else:
                    errors += 1
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                StopIteration,
                ValueError,
            ):
                errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(concurrency)]
    started = time.perf_counter()
    for i in range(len(requests)):
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, scheduled))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def run(coroutine):
    """Run on uvloop when it is installed (a cheaper load generator), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second to send")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send for")
    parser.add_argument("--concurrency", type=int, default=64, help="most requests in flight at once")
    parser.add_argument(
        "--workers", type=int, default=2, help="service worker processes (creditmesh serve --workers)"
    )
    parser.add_argument(
        "--train-borrowers", type=int, default=5_000, help="borrowers simulated to train the GBM on"
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    from decision import train_model

    from creditmesh.scoring.artifact import save_model

    console = make_console()
    model, table = train_model(args.train_borrowers, args.seed)
    bodies = application_bodies(table, int(args.rate * args.seconds), args.seed)
    with tempfile.TemporaryDirectory(prefix="creditmesh-api-load-") as tmp:
        folder = Path(tmp)
        key = create_app_key(str(folder / "service.db"))
        process, url, port = start_service(folder, save_model(model, folder / "gbm"), args.workers)
        try:
            warm = min(200, len(bodies))
            warm_up = encoded_requests(
                "127.0.0.1",
                port,
                key,
                application_bodies(table, warm, args.seed + 1, prefix="warm"),
            )
            run(drive("127.0.0.1", port, warm_up, args.rate, args.concurrency))  # not counted
            requests = encoded_requests("127.0.0.1", port, key, bodies)
            cpu = cpu_seconds(process.pid), cpu_seconds()
            latencies, errors, elapsed = run(drive("127.0.0.1", port, requests, args.rate, args.concurrency))
            latencies = latencies[~np.isnan(latencies)]
            server_cpu, client_cpu = cpu_seconds(process.pid) - cpu[0], cpu_seconds() - cpu[1]
        finally:
            process.terminate()
            process.wait(timeout=30)
    ms = latencies * 1_000
    p50, p90, p99 = (float(np.percentile(ms, q)) if len(ms) else float("nan") for q in (50, 90, 99))
    worst = float(ms.max()) if len(ms) else float("nan")
    achieved = len(latencies) / elapsed
    console.print(
        f"{len(bodies):,} credit-line decisions at a target of {args.rate:.0f}/s for {args.seconds:.0f} s "
        f"(after {warm} warm-up requests), concurrency ≤ {args.concurrency}, {args.workers} service worker(s), load average {load_average()}"
    )
    console.print(f"latency p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    console.print(f"achieved {achieved:.1f} decisions/s over {elapsed:.1f} s, errors {errors}")
    console.print(
        f"CPU per request: service {server_cpu / len(bodies) * 1e3:.2f} ms, load generator "
        f"{client_cpu / len(bodies) * 1e3:.2f} ms (both on this machine's {os.cpu_count()} cores)"
    )
    print_json_line(
        BENCHMARK,
        [
            result_row(
                "api_achieved_rate", "decisions/s", round(achieved, 1), goal=f"≥ {args.rate:.0f} sustained"
            ),
            result_row("api_latency_p50", "ms", round(p50, 2)),
            result_row("api_latency_p90", "ms", round(p90, 2)),
            result_row("api_latency_p99", "ms", round(p99, 2), goal="< 50"),
            result_row("api_latency_max", "ms", round(worst, 2)),
            result_row("api_errors", "requests", errors, goal="0"),
            result_row("api_service_cpu_per_request", "ms", round(server_cpu / len(bodies) * 1e3, 3)),
            result_row("api_client_cpu_per_request", "ms", round(client_cpu / len(bodies) * 1e3, 3)),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
