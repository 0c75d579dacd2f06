"""Anchors that need their own virtual environment: built on demand, then driven as a worker process.

scorecardpy 0.1.9.7 and toad 0.1.7 (the last releases) break on pandas 3, which
creditmesh runs on, so each gets a virtual environment with the last pandas 2,
pinned in ``benchmarks/envs/<method>/requirements.txt``. The environment is built the
first time a benchmark needs it, under ``$CREDITMESH_BENCH_ENVS`` or ``<repo>/.bench-envs/``
(gitignored), and rebuilt when the requirements file changes. The method then runs in
``benchmarks/envs/anchor_worker.py`` inside that environment; each fold's training and
test rows travel as Parquet files, and the worker times the fit itself.

Importing this module has no side effects, and running it as a script does nothing
(``make bench`` loops over ``benchmarks/*.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENV_SPECS = HERE / "envs"
WORKER = ENV_SPECS / "anchor_worker.py"
REPLY = "@@REPLY "
TARGET = "__target__"
#: Building an environment downloads and installs a handful of wheels; give up after this long.
BUILD_TIMEOUT_S = 1800.0


class AnchorEnvError(RuntimeError):
    """An anchor's environment could not be built, or its worker failed; the message says which and why."""


def envs_root() -> Path:
    return Path(os.environ.get("CREDITMESH_BENCH_ENVS") or REPO / ".bench-envs")


def requirements_file(method: str) -> Path:
    return ENV_SPECS / method / "requirements.txt"


def _python_in(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_env(method: str, log=None) -> Path:
    """The interpreter of ``method``'s environment, built (or rebuilt after a requirements change) if needed."""
    requirements = requirements_file(method)
    if not requirements.is_file():
        raise AnchorEnvError(f"{method}: no {requirements.relative_to(REPO)}")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    env = envs_root() / method
    stamp = env / ".requirements.sha256"
    python = _python_in(env)
    if python.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return python
    if log:
        log(f"building {method}'s environment in {env} from {requirements.relative_to(REPO)} (once) ...")
    shutil.rmtree(env, ignore_errors=True)
    env.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", None) or sys.executable
    steps = [
        [base, "-m", "venv", str(env)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise AnchorEnvError(
                f"{method}: building its environment failed ({' '.join(step[:4])} ...): {tail}"
            )
    stamp.write_text(digest + "\n")
    return python


class AnchorWorker:
    """One long-lived worker process for one anchor model; ``fit`` then ``predict``, fold after fold.

    ``method`` names the environment (``benchmarks/envs/<method>``), ``model`` the worker's model in
    it (default: the method's name; ``toad_tutorial`` runs in toad's environment). ``special`` values
    (sentinels such as -1 or -99) go to every fit, for the libraries that bin them apart.
    """

    def __init__(
        self,
        method: str,
        *,
        model: str | None = None,
        special: tuple[float, ...] = (),
        timeout_s: float = 3600.0,
        log=None,
    ) -> None:
        self.method = method
        self.model = model or method
        self.special = [float(v) for v in special]
        self.timeout_s = timeout_s
        python = ensure_env(method, log=log)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"creditmesh-bench-{self.model}-"))
        self.log_path = envs_root() / method / "worker.log"
        self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [str(python), str(WORKER), self.model],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            cwd=self.tmp,
        )
        ready = self._read()
        self.pandas_version = ready.get("pandas")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        timer = threading.Timer(self.timeout_s, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:
                if line.startswith(REPLY):
                    return json.loads(line[len(REPLY) :])
        finally:
            timer.cancel()
        raise AnchorEnvError(f"{self.method}: worker exited (code {self.proc.wait()}); see {self.log_path}")

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError as error:
            raise AnchorEnvError(f"{self.method}: worker is gone; see {self.log_path}") from error
        answer = self._read()
        if not answer.get("ok"):
            raise AnchorEnvError(f"{self.method}: {answer.get('error', 'failed')}")
        return answer

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> float:
        """Fit on (X, y); the library's own fit time in seconds, measured in the worker."""
        train = X.copy()
        train[TARGET] = np.asarray(y, dtype=np.int64)
        path = self.tmp / "train.parquet"
        train.to_parquet(path, index=False)
        request = {"op": "fit", "train": str(path), "target": TARGET, "special": self.special}
        return float(self._ask(request)["fit_s"])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        test, out = self.tmp / "test.parquet", self.tmp / "pred.parquet"
        X.to_parquet(test, index=False)
        self._ask({"op": "predict", "test": str(test), "out": str(out)})
        return pd.read_parquet(out)["p"].to_numpy(dtype=float)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self._ask({"op": "quit"})
                self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a worker that will not quit is killed
            self.proc.kill()
        finally:
            self._log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


if __name__ == "__main__":  # a helper, not a benchmark
    sys.exit(0)
