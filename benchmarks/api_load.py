"""Benchmark: the HTTP decision service under a fixed request rate, over loopback.

The service runs in its own process (``creditmesh serve``: uvicorn, one worker) with a SQLite
audit log on a temporary file and a GBM trained on a small simulated platform
(``decision.train_model``). A bounded async client (``httpx.AsyncClient``, at most
``--concurrency`` requests in flight) sends credit-line applications, each with a fresh id, on a
fixed schedule of ``--rate`` requests per second for ``--seconds`` seconds (open loop: a slow
answer does not delay the next send). Latency is measured per request from its send to its
answer; a request that finds every connection busy waits, and that wait counts.

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
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, make_console, print_json_line, result_row  # noqa: E402

BENCHMARK = "api_load"
API_KEY = "bench-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def application_bodies(table, n: int, seed: int) -> list[dict]:
    """``n`` credit-line application bodies resampled from ``table``, each with a fresh id."""
    from creditmesh.scoring.dataset import APPLICATION_FEATURES

    rows = table[list(APPLICATION_FEATURES)].to_dict("records")
    picks = np.random.default_rng(seed).integers(0, len(rows), n)
    bodies = []
    for i, pick in enumerate(picks):
        body = {"application_id": f"load-{seed}-{i}"}
        for name, value in rows[pick].items():
            body[name] = None if value != value else (value if isinstance(value, str) else int(value))
        bodies.append(body)
    return bodies


def start_service(folder: Path, model_path: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "CREDITMESH_DB": str(folder / "decisions.db"), "CREDITMESH_API_KEYS": API_KEY,
           "CREDITMESH_MODEL": str(model_path)}
    process = subprocess.Popen([sys.executable, "-c", "from creditmesh.cli import app; app()", "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the service did not answer /healthz within 60 s")


async def drive(url: str, bodies: list[dict], rate: float, concurrency: int) -> tuple[np.ndarray, int, float]:
    """Send each body at its scheduled time; the latencies (s) of the answered, the error count, the elapsed time."""
    import httpx

    limit = asyncio.Semaphore(concurrency)
    latencies = np.full(len(bodies), np.nan)
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}, limits=limits, timeout=10) as client:

        async def one(i: int, body: dict) -> None:
            nonlocal errors
            async with limit:
                sent = time.perf_counter()
                try:
                    answer = await client.post("/v1/applications", json=body)
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies[i] = time.perf_counter() - sent
                else:
                    errors += 1

        started = time.perf_counter()
        tasks = []
        for i, body in enumerate(bodies):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, body)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return latencies[~np.isnan(latencies)], errors, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second to send")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to send for")
    parser.add_argument("--concurrency", type=int, default=64, help="most requests in flight at once")
    parser.add_argument("--train-borrowers", type=int, default=5_000, help="borrowers simulated to train the GBM on")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    from decision import train_model

    from creditmesh.scoring.artifact import save_model

    console = make_console()
    model, table = train_model(args.train_borrowers, args.seed)
    bodies = application_bodies(table, int(args.rate * args.seconds), args.seed)
    with tempfile.TemporaryDirectory(prefix="creditmesh-api-load-") as tmp:
        folder = Path(tmp)
        process, url = start_service(folder, save_model(model, folder / "gbm"))
        try:
            asyncio.run(drive(url, bodies[: min(200, len(bodies))], args.rate, args.concurrency))  # warm-up, not counted
            warm = min(200, len(bodies))
            latencies, errors, elapsed = asyncio.run(drive(url, [{**b, "application_id": f"{b['application_id']}-w"}
                                                                for b in bodies], args.rate, args.concurrency))
        finally:
            process.terminate()
            process.wait(timeout=30)
    ms = latencies * 1_000
    p50, p90, p99 = (float(np.percentile(ms, q)) if len(ms) else float("nan") for q in (50, 90, 99))
    worst = float(ms.max()) if len(ms) else float("nan")
    achieved = len(latencies) / elapsed
    console.print(f"{len(bodies):,} credit-line decisions at a target of {args.rate:.0f}/s for {args.seconds:.0f} s "
                  f"(after {warm} warm-up requests), concurrency ≤ {args.concurrency}, load average {load_average()}")
    console.print(f"latency p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    console.print(f"achieved {achieved:.1f} decisions/s over {elapsed:.1f} s, errors {errors}")
    print_json_line(BENCHMARK, [
        result_row("api_achieved_rate", "decisions/s", round(achieved, 1), goal=f"≥ {args.rate:.0f} sustained"),
        result_row("api_latency_p50", "ms", round(p50, 2)),
        result_row("api_latency_p90", "ms", round(p90, 2)),
        result_row("api_latency_p99", "ms", round(p99, 2), goal="< 50"),
        result_row("api_latency_max", "ms", round(worst, 2)),
        result_row("api_errors", "requests", errors, goal="0"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
