"""The API as a separate process (`python -m shared.api.serve`, uvicorn) on a free loopback port.

For tests that need a real process boundary: killing the server mid-traffic (SIGKILL, no
shutdown code runs) and starting a new one on the same files, as a crashed and restarted
Functions worker would.

    with ApiProcess(env, log_path) as server:
        httpx.get(f"{server.base_url}/api/health")
        server.kill()
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.utils.processes import free_port, stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60.0


class ApiProcess:
    """One server process; `env` is added to this process's environment (the app settings)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self, expected_health: int = 200) -> ApiProcess:
        command = [
            *(sys.executable, "-m", "shared.api.serve"),
            *("--host", "127.0.0.1", "--port", str(self.port)),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env={**os.environ, "TELEMETRY_EXPORTER": "none", **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_for_health(expected_health)
        return self

    def wait_for_health(self, expected: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=5).status_code == expected:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        log = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the API process did not answer health {expected}:\n{log}")

    def kill(self) -> None:
        """SIGKILL: the process dies where it stands, no cleanup, no flush."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> ApiProcess:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
