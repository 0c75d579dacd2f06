"""Benchmark: the decision service soaked under faults (issue 21's "Numbers to reach").

``creditmesh serve --workers 2`` runs over a throw-away PostgreSQL database. First the rate it
sustains is measured (closed loop, ``--concurrency`` connections, ``--calibrate-seconds``); then
credit-line applications are sent on a fixed schedule at ``--load`` (60 %) of that rate for
``--minutes`` while faults are injected:

- a worker killed (SIGKILL) every 60 s; uvicorn's supervisor starts another;
- PostgreSQL restarted once, half-way (``pg_ctlcluster --skip-systemctl-redirect <version> main
  restart``; the cluster is started again at the end whatever happens);
- bursts of 10 MB bodies (a valid key) and of wrong keys, from another loopback address
  (127.0.0.2), so the failed-key lock-out falls on the attacker, not on the load.

A request whose connection breaks (its worker was killed) is sent once more on a new connection, as
a client of an idempotent API does (a decision is stored once per application id). Figures: every
acknowledged decision (200) is looked up in the database afterwards (none may be lost); errors are
counted inside and outside the fault windows (a killed worker's 3 s, the restart until readiness
is back plus 1 s); readiness is polled every 100 ms and timed from the moment PostgreSQL accepts
connections again; p99 latency is over the requests scheduled outside every fault window.

Usage::

    python benchmarks/soak.py                         # full size: 10 minutes
    python benchmarks/soak.py --minutes 2 --no-pg-restart

Writes the timeline chart (``--chart``, PNG); the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, make_console, print_json_line, result_row  # noqa: E402
from api_load import application_bodies, create_app_key, run  # noqa: E402

from creditmesh.api.server import launch  # noqa: E402

BENCHMARK = "soak"
ATTACKER = "127.0.0.2"
PG_ADMIN = os.environ.get("CREDITMESH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: Seconds after a worker kill whose errors are blamed on it.
KILL_WINDOW = 3.0


@dataclass
class Timeline:
    """What happened, in seconds since the soak started."""

    kills: list[float] = field(default_factory=list)
    bursts: list[tuple[float, str]] = field(default_factory=list)
    restart: tuple[float, float] | None = None  # the restart command's start and end
    pg_back: float | None = None  # PostgreSQL accepts connections again
    ready_back: float | None = None  # /readyz answers 200 again after that
    attack_statuses: dict[str, int] = field(default_factory=dict)


def _pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


def _pg_ctl(action: str) -> int:
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", _pg_version(), "main", action],
        capture_output=True,
        timeout=120,
    ).returncode


def ensure_pg_running() -> None:
    """Start the cluster when it is not running (after a restart that failed half-way)."""
    if _pg_ctl("status") != 0:
        _pg_ctl("start")


def _pg_accepts(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(statement)


def start_service(db_url: str, model_path: Path, workers: int) -> tuple[subprocess.Popen, int]:
    """``creditmesh serve`` over ``db_url`` with rate limits out of the load's way, once it is ready."""
    env = {
        **os.environ,
        "CREDITMESH_DB": db_url,
        "CREDITMESH_IDENTIFIER_KEY": "soak-identifier-key-0123456789",
        "CREDITMESH_MODEL": str(model_path),
        "CREDITMESH_RATE_PER_KEY": "100000",
        "CREDITMESH_RATE_PER_ADDRESS": "100000",
    }
    # no access log (one line per request is not wanted on the console)
    process, _, port = launch(env, workers=workers, probe="/readyz", seconds=90, errors=subprocess.DEVNULL)
    return process, port


def workers_of(pid: int) -> list[int]:
    """The serving workers of the supervisor ``pid`` (multiprocessing's spawned children)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(int(child))
    return found


def encode(port: int, body: dict, key: str) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    return (
        f"POST /v1/applications HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


async def _exchange(reader, writer, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return int(head[9:12])


async def drive(port: int, requests: list[bytes], rate: float | None, concurrency: int, seconds: float):
    """Send ``requests`` (open loop at ``rate``, or closed loop when None, for at most ``seconds``).

    Returns per request: scheduled time (s since start), latency (s; NaN when not answered), status
    (0 for a transport error after one retry), and the number of retries.
    """
    n = len(requests)
    scheduled = np.full(n, np.nan)
    latency = np.full(n, np.nan)
    status = np.full(n, -1, np.int32)
    retries = 0
    queue: asyncio.Queue = asyncio.Queue()
    started = time.perf_counter()

    async def connection() -> None:
        nonlocal retries
        reader = writer = None
        while (item := await queue.get()) is not None:
            i, at = item
            for attempt in (0, 1):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    status[i] = await _exchange(reader, writer, requests[i])
                    latency[i] = time.perf_counter() - at
                    break
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    StopIteration,
                    ValueError,
                ):
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    status[i] = 0
                    retries += attempt == 0
            if status[i] in (408, 413) and writer is not None:  # the service closes after these
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(concurrency)]
    if rate is None:  # closed loop: keep every connection busy until the time is up
        for i in range(n):
            if time.perf_counter() - started > seconds:
                break
            while queue.qsize() > concurrency:
                await asyncio.sleep(0.001)
            now = time.perf_counter()
            scheduled[i] = now - started
            queue.put_nowait((i, now))
    else:
        for i in range(n):
            at = started + i / rate
            if (delay := at - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            scheduled[i] = at - started
            queue.put_nowait((i, at))
    for _ in tasks:
        queue.put_nowait(None)
    await asyncio.gather(*tasks)
    return scheduled, latency, status, retries, time.perf_counter() - started


def attack(port: int, kind: str, key: str) -> dict[str, int]:
    """A burst from the attacker's address: four 10 MB bodies, or 300 wrong keys; the answers counted."""
    answers: dict[str, int] = {}
    import httpx

    transport = httpx.HTTPTransport(local_address=ATTACKER)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=30) as http:
        if kind == "10MB bodies":
            body = b"[" + b"1," * 5_000_000 + b"1]"
            sends = [lambda: http.post("/v1/applications", content=body, headers={"X-API-Key": key})] * 4
        else:
            sends = [
                lambda i=i: http.post("/v1/applications", json={}, headers={"X-API-Key": f"guess-{i}"})
                for i in range(300)
            ]
        for send in sends:
            try:
                code = str(send().status_code)
            except httpx.HTTPError as error:
                code = type(error).__name__
            answers[code] = answers.get(code, 0) + 1
    return answers


def inject_faults(
    supervisor: int,
    port: int,
    key: str,
    seconds: float,
    restart_at: float | None,
    started: float,
    timeline: Timeline,
    stop,
) -> None:
    """The fault schedule, run in a thread beside the load."""
    import httpx

    events = [(t, "kill") for t in np.arange(30.0, seconds, 60.0)]
    events += [(seconds * 0.2, "10MB bodies"), (seconds * 0.4, "wrong keys"), (seconds * 0.7, "10MB bodies")]
    events += [(seconds * 0.85, "wrong keys")]
    if restart_at is not None:
        events.append((restart_at, "restart"))
    dsn = PG_ADMIN.replace("+psycopg", "")
    for at, what in sorted(events):
        while time.perf_counter() - started < at:
            if stop.is_set():
                return
            time.sleep(0.05)
        now = time.perf_counter() - started
        if what == "kill":
            workers = workers_of(supervisor)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                timeline.kills.append(now)
        elif what == "restart":
            begin = time.perf_counter() - started
            _pg_ctl("restart")
            timeline.restart = (begin, time.perf_counter() - started)
            while not _pg_accepts(dsn) and not stop.is_set():
                time.sleep(0.05)
            timeline.pg_back = time.perf_counter() - started
            while not stop.is_set():
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            timeline.ready_back = time.perf_counter() - started
        else:
            timeline.bursts.append((now, what))
            # in its own process: the attacker's CPU must not slow this process's load generator (the GIL)
            done = subprocess.run(
                [sys.executable, __file__, "--attack", what, "--port", str(port), "--key", key],
                capture_output=True,
                text=True,
                timeout=300,
            )
            for code, count in json.loads(done.stdout.strip().splitlines()[-1] or "{}").items():
                timeline.attack_statuses[code] = timeline.attack_statuses.get(code, 0) + count


def fault_windows(timeline: Timeline) -> list[tuple[float, float]]:
    windows = [(t, t + KILL_WINDOW) for t in timeline.kills]
    if timeline.restart is not None:
        windows.append((timeline.restart[0], (timeline.ready_back or timeline.restart[1]) + 1.0))
    return windows


def _inside(times: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    inside = np.zeros(len(times), bool)
    for low, high in windows:
        inside |= (times >= low) & (times <= high)
    return inside


def chart(path: Path, scheduled, latency, status, timeline: Timeline) -> None:
    """The timeline: answers per second by kind, p99 latency per second, and the faults."""
    from matplotlib.figure import Figure

    answered_at = np.where(np.isnan(latency), scheduled, scheduled + np.nan_to_num(latency))
    second = np.floor(answered_at).astype(int)
    horizon = int(second.max()) + 1
    figure = Figure(figsize=(12, 6.5), layout="constrained")
    rate_axis, latency_axis = figure.subplots(2, 1, sharex=True)
    for label, mask, colour in (
        ("200", status == 200, "tab:green"),
        ("503 (database down)", status == 503, "tab:orange"),
        ("transport error", status == 0, "tab:red"),
        ("other", (status != 200) & (status != 503) & (status != 0), "tab:purple"),
    ):
        counts = np.bincount(second[mask], minlength=horizon)
        if counts.any():
            rate_axis.plot(np.arange(horizon), counts, label=label, color=colour, linewidth=0.8)
    rate_axis.set_ylabel("answers per second (when answered)")
    rate_axis.legend(loc="lower left", fontsize=8)
    p99 = np.full(horizon, np.nan)
    answered = ~np.isnan(latency)
    sent = np.floor(scheduled).astype(int)
    for s in range(horizon):
        chosen = latency[answered & (sent == s)]
        if len(chosen):
            p99[s] = np.percentile(chosen, 99) * 1_000
    latency_axis.plot(np.arange(horizon), p99, color="tab:blue", linewidth=0.8, label="p99 latency")
    latency_axis.axhline(50, color="grey", linestyle=":", label="50 ms")
    latency_axis.set_yscale("log")
    latency_axis.set_ylabel("p99 latency by second sent (ms)")
    latency_axis.set_xlabel("seconds since the soak started")
    for axis in (rate_axis, latency_axis):
        for t in timeline.kills:
            axis.axvline(t, color="tab:red", alpha=0.4, linewidth=0.8)
        for t, _ in timeline.bursts:
            axis.axvline(t, color="black", alpha=0.4, linewidth=0.8, linestyle="--")
        if timeline.restart is not None:
            axis.axvspan(
                timeline.restart[0], timeline.ready_back or timeline.restart[1], color="tab:orange", alpha=0.2
            )
    latency_axis.legend(loc="upper left", fontsize=8)
    figure.suptitle(
        "creditmesh serve under faults: worker killed (red lines), 10 MB / wrong-key bursts (dashed), "
        "PostgreSQL restart (shaded)",
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to soak")
    parser.add_argument("--load", type=float, default=0.6, help="share of the sustained rate to send")
    parser.add_argument(
        "--calibrate-seconds", type=float, default=20.0, help="how long to measure the sustained rate"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="most requests in flight at once")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-pg-restart", action="store_true", help="leave PostgreSQL running")
    parser.add_argument("--chart", type=Path, default=Path("soak_timeline.png"))
    parser.add_argument("--train-borrowers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--attack", help=argparse.SUPPRESS)  # internal: one burst, run in its own process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.attack:
        print(json.dumps(attack(args.port, args.attack, args.key)))
        return 0

    from decision import train_model

    from creditmesh.scoring.artifact import save_model

    console = make_console()
    seconds = args.minutes * 60
    model, table = train_model(args.train_borrowers, args.seed)
    name = f"creditmesh_soak_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    key = create_app_key(db_url)
    timeline = Timeline()
    stop = threading.Event()
    try:
        with tempfile.TemporaryDirectory(prefix="creditmesh-soak-") as tmp:
            process, port = start_service(db_url, save_model(model, Path(tmp) / "gbm"), args.workers)
            try:
                calibration = application_bodies(
                    table, int(5_000 * args.calibrate_seconds), args.seed, "calibrate"
                )
                requests = [encode(port, b, key) for b in calibration]
                _, _, status, _, elapsed = run(
                    drive(port, requests, None, args.concurrency, args.calibrate_seconds)
                )
                sustained = int((status == 200).sum()) / elapsed
                rate = sustained * args.load
                console.print(
                    f"sustained {sustained:.1f} decisions/s closed-loop; soaking at {rate:.1f}/s for {seconds:.0f} s"
                )
                bodies = application_bodies(table, int(rate * seconds), args.seed, "soak")
                requests = [encode(port, b, key) for b in bodies]
                started = time.perf_counter()
                faults = threading.Thread(
                    target=inject_faults,
                    args=(
                        process.pid,
                        port,
                        key,
                        seconds,
                        None if args.no_pg_restart else seconds / 2,
                        started,
                        timeline,
                        stop,
                    ),
                    daemon=True,
                )
                faults.start()
                scheduled, latency, status, retries, elapsed = run(
                    drive(port, requests, rate, args.concurrency, seconds)
                )
                stop.set()
                faults.join(timeout=120)
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            acknowledged = [b["application_id"] for b, s in zip(bodies, status) if s == 200]
            stored = _stored(db_url, acknowledged)
    finally:
        stop.set()
        ensure_pg_running()
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    windows = fault_windows(timeline)
    inside = _inside(scheduled, windows)
    errors = status != 200
    restart_window = fault_windows(Timeline(restart=timeline.restart, ready_back=timeline.ready_back))
    in_restart = _inside(scheduled, restart_window)
    outside_ms = latency[~inside & ~np.isnan(latency)] * 1_000
    p99 = float(np.percentile(outside_ms, 99)) if len(outside_ms) else float("nan")
    p50 = float(np.percentile(outside_ms, 50)) if len(outside_ms) else float("nan")
    readiness = None if timeline.ready_back is None else timeline.ready_back - timeline.pg_back
    lost = len(acknowledged) - stored
    chart(args.chart, scheduled, latency, status, timeline)
    console.print(
        f"{len(bodies):,} decisions at {rate:.1f}/s ({args.load:.0%} of {sustained:.1f}/s) for {elapsed:.0f} s, "
        f"{args.workers} workers, PostgreSQL, load average {load_average()}"
    )
    console.print(
        f"faults: {len(timeline.kills)} workers killed, bursts {[w for _, w in timeline.bursts]}, "
        f"PostgreSQL restart {timeline.restart and tuple(round(t, 1) for t in timeline.restart)}"
    )
    console.print(f"attack answers: {timeline.attack_statuses}")
    console.print(
        f"acknowledged {len(acknowledged):,}, found in the database {stored:,} (lost {lost}); "
        f"errors {int(errors.sum())}: {int((errors & in_restart).sum())} in the restart window, "
        f"{int((errors & inside & ~in_restart).sum())} in worker-kill windows, {int((errors & ~inside).sum())} outside; "
        f"retried after a broken connection {retries}"
    )
    console.print(
        f"readiness back {readiness if readiness is None else round(readiness, 2)} s after PostgreSQL; "
        f"outside the fault windows p50 {p50:.1f} ms, p99 {p99:.1f} ms; chart {args.chart}"
    )
    print_json_line(
        BENCHMARK,
        [
            result_row("soak_sustained_rate", "decisions/s", round(sustained, 1)),
            result_row("soak_rate", "decisions/s", round(rate, 1), goal=f"{args.load:.0%} of sustained"),
            result_row("soak_seconds", "s", round(elapsed, 1), goal="600"),
            result_row("soak_acknowledged", "decisions", len(acknowledged)),
            result_row("soak_lost_acknowledged", "decisions", lost, goal="0"),
            result_row("soak_errors_in_restart_window", "requests", int((errors & in_restart).sum())),
            result_row(
                "soak_errors_in_worker_kill_windows", "requests", int((errors & inside & ~in_restart).sum())
            ),
            result_row(
                "soak_errors_outside_fault_windows", "requests", int((errors & ~inside).sum()), goal="0"
            ),
            result_row("soak_retries_after_broken_connection", "requests", retries),
            result_row("soak_workers_killed", "workers", len(timeline.kills)),
            result_row(
                "soak_readiness_after_database",
                "s",
                None if readiness is None else round(readiness, 2),
                goal="< 5",
            ),
            result_row("soak_p50_outside_faults", "ms", round(p50, 2)),
            result_row("soak_p99_outside_faults", "ms", round(p99, 2), goal="< 50"),
        ],
    )
    return 0


def _stored(db_url: str, ids: list[str]) -> int:
    """How many of ``ids`` the decision log holds."""
    import psycopg

    dsn = db_url.replace("+psycopg", "")
    with psycopg.connect(dsn) as connection:
        found = 0
        for start in range(0, len(ids), 10_000):
            chunk = ids[start : start + 10_000]
            found += connection.execute(
                "SELECT count(*) FROM decision_log WHERE application_id = ANY(%s)", (chunk,)
            ).fetchone()[0]
    return found


if __name__ == "__main__":
    sys.exit(main())
