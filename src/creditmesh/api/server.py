"""Running the service: settings and artifacts checked once, then uvicorn with supervised workers.

:func:`serve` is what ``creditmesh serve`` runs. Before any worker starts it reads the settings and
loads the policy, the model and the partners once, so a start that cannot load them is one line
naming the setting (:class:`~creditmesh.errors.ParameterError`) and a non-zero exit, whatever
``--workers`` says. Each worker then asks the kernel to stop it when the supervisor dies
(``PR_SET_PDEATHSIG`` on Linux, and a watch on the parent's pid anywhere): after a ``kill -9`` of
the parent no worker keeps the port, and a restart can bind it again.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from creditmesh.api.settings import Settings
from creditmesh.errors import CreditmeshError, ParameterError

#: The environment variable that tells a worker which process supervises it.
SUPERVISOR_PID = "CREDITMESH_SUPERVISOR_PID"
#: Uvicorn's limits: an idle keep-alive connection is closed after this many seconds; request heads are bounded.
KEEP_ALIVE_SECONDS = 5
MAX_HEAD_BYTES = 16 * 1024
#: Connections a worker serves at once before answering 503 (a limit on everything).
MAX_CONNECTIONS = 1_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(
    env: Mapping[str, str],
    *,
    workers: int = 1,
    probe: str = "/healthz",
    seconds: float = 60.0,
    output: IO | int | None = None,
    errors: IO | int | None = None,
    new_session: bool = False,
) -> tuple[subprocess.Popen, str, int]:
    """``creditmesh serve`` in a process of its own on a free port; returns it, its base URL and its port
    once ``probe`` answers 200 (the demo, the tests that kill it, the load benchmarks).

    Raises ``RuntimeError`` naming what happened when the process exits first or does not answer within
    ``seconds`` (it is then stopped).
    """
    import httpx

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "creditmesh.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(
        command, env=dict(env), stdout=output, stderr=errors, start_new_session=new_session
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}{probe}", timeout=1).status_code == 200:
                return process, url, port
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the service did not answer {probe} within {seconds:.0f} s")


def _first_line(error: BaseException) -> str:
    text = error.reason if isinstance(error, CreditmeshError) else str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0][:300]


def check_artifacts(settings: Settings) -> None:
    """Load the policy, the model and the partners the settings name, or raise naming the setting."""
    from creditmesh.decision import default_policy_path, load_policy
    from creditmesh.scoring.artifact import load_model

    steps: list[tuple[str, Any]] = [
        ("CREDITMESH_POLICY", lambda: load_policy(settings.policy_path or default_policy_path())),
        ("CREDITMESH_MODEL", lambda: load_model(settings.model_path)),
    ]
    if settings.partners_path is not None:
        from creditmesh.matching import load_partners

        steps.append(("CREDITMESH_PARTNERS", lambda: load_partners(settings.partners_path)))
    for setting, load in steps:
        try:
            load()
        except Exception as error:  # noqa: BLE001 - whatever the loader raises, the setting is at fault
            raise ParameterError(setting, _first_line(error)) from None


def prepare_decision_log(settings: Settings) -> None:
    """Migrate the database and create the decision log's tables once, here, before several workers race to.

    A database that does not answer now is no reason not to start: the workers start not ready
    (``/readyz``) and create the tables when it answers.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from creditmesh.decision.audit import AuditLog
    from creditmesh.ledger import Ledger

    try:
        Ledger.connect(settings.db_url).close()
        log = AuditLog(settings.db_url)
        log.ping()
    except SQLAlchemyError:
        return
    log.engine.dispose()


def log_config(level: str) -> dict[str, Any]:
    """Uvicorn's logging plus the service's JSON lines (``creditmesh.access``, ``creditmesh.errors``) on stderr."""
    from uvicorn.config import LOGGING_CONFIG

    config = {**LOGGING_CONFIG, "formatters": dict(LOGGING_CONFIG["formatters"])}
    config["formatters"]["json_line"] = {"format": "%(message)s"}
    config["handlers"] = {
        **LOGGING_CONFIG["handlers"],
        "json_lines": {
            "class": "logging.StreamHandler",
            "formatter": "json_line",
            "stream": "ext://sys.stderr",
        },
    }
    config["loggers"] = {
        **LOGGING_CONFIG["loggers"],
        "creditmesh.access": {"handlers": ["json_lines"], "level": "INFO", "propagate": False},
        "creditmesh.errors": {"handlers": ["json_lines"], "level": "INFO", "propagate": False},
        "uvicorn": {**LOGGING_CONFIG["loggers"]["uvicorn"], "level": level.upper()},
    }
    return config


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "warning",
    access_log: bool = True,
) -> None:
    """Check the settings and artifacts, then serve until stopped (raises ParameterError before starting)."""
    import uvicorn

    settings = Settings.from_env()
    check_artifacts(settings)
    prepare_decision_log(settings)
    os.environ[SUPERVISOR_PID] = str(os.getpid())
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="creditmesh-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    config = log_config(log_level)
    if not access_log:
        config["loggers"]["creditmesh.access"]["level"] = "WARNING"
    try:
        uvicorn.run(
            "creditmesh.api.server:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=config,
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            limit_concurrency=MAX_CONNECTIONS,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _stop_with(parent: int) -> None:
    """Ask for SIGTERM when ``parent`` dies: from the kernel (Linux), and by watching our parent's pid."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-supervisor", daemon=True).start()


def worker_app():
    """The app factory a worker runs: stops with its supervisor, then :func:`create_app_from_env`."""
    from creditmesh.api.app import create_app_from_env

    supervisor = os.environ.get(SUPERVISOR_PID)
    if supervisor and int(supervisor) != os.getpid():
        _stop_with(int(supervisor))
    return create_app_from_env()
