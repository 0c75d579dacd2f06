"""``creditmesh serve`` as a real process: a bad start is one line and a non-zero exit; workers die with
their parent, so a restart binds the port again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from _service import free_port, service_env

CREDITMESH = str(Path(sys.executable).with_name("creditmesh"))


def _environment(settings, **changes) -> dict[str, str]:
    return {**service_env(settings), **changes}


@pytest.mark.parametrize(
    "setting, value, workers",
    [
        ("CREDITMESH_MODEL", "/nonexistent/model", "1"),
        ("CREDITMESH_MODEL", "/nonexistent/model", "2"),
        ("CREDITMESH_POLICY", "/nonexistent/policy.yaml", "2"),
    ],
)
def test_a_start_that_cannot_load_its_model_or_policy_is_one_line_and_a_failure(
    settings, workers, setting, value
):
    done = subprocess.run(
        [CREDITMESH, "serve", "--port", str(free_port()), "--workers", workers],
        env=_environment(settings, **{setting: value}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0 and len(lines) == 1 and setting in lines[0], (
        done.returncode,
        done.stderr[-500:],
    )


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _ready(url: str, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_with_their_parent_and_a_restart_binds_the_port_again(settings):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [CREDITMESH, "serve", "--port", str(port), "--workers", "2"]
    first = subprocess.Popen(command, env=_environment(settings), stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        assert _ready(url), "the service did not become ready"
        workers = {p for p in _children(first.pid) if _alive(p)}
        assert len(workers) >= 2
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), "workers outlived their parent"
    finally:
        for pid in {first.pid, *workers}:  # never leave a process behind, whatever the outcome
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    second = subprocess.Popen(command, env=_environment(settings), stderr=subprocess.DEVNULL)
    try:
        assert _ready(url), "a restart could not serve on the same port"
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
