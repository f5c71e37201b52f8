"""The API as a benchmark target: one uvicorn process on a free loopback port, started,
polled until it predicts, and stopped the same way by every serving benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = REPO_ROOT / "models" / "default"
START_TIMEOUT_SECONDS = 90.0
TWEETS = [
    "my flight is delayed again, worst airline ever",
    "great flight, friendly crew, thank you!",
    "lost my luggage and nobody at the desk cares. never again @airline",
    "on time and comfortable seats, happy :) http://t.co/xyz",
    "cancelled flight, stuck at the airport all night, so tired and angry",
    "the food was ok i guess, seat a bit small but the crew was lovely",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank: with 200 samples, p99 is the second slowest."""
    ordered = sorted(samples)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def serving_env(bundle: Path | None, root: Path, **extra: str) -> dict[str, str]:
    """The embedded defaults: `bundle` as the shipped default, no store, translation off."""
    root.mkdir(parents=True, exist_ok=True)
    return {
        "DEFAULT_BUNDLE_PATH": str(bundle or root / "no-default"),
        "MODEL_STORE_PATH": str(root / "store"),  # absent: serve the shipped bundle
        "MODEL_CACHE_DIR": str(root / "cache"),
        "TRANSLATION_ENABLED": "false",  # no internet: the model's and the app's costs only
        "TELEMETRY_EXPORTER": "none",
        "AUTH_MODE": "none",
        **extra,
    }


def start_server(env: dict[str, str], port: int, log: Path | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "shared.api.serve", "--host", "127.0.0.1"]
    output = log.open("wb") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log:
            output.close()


def wait_for_prediction(
    base_url: str, process: subprocess.Popen, text: str = TWEETS[0], poll: float = 0.1
) -> float:
    """Poll until one prediction of `text` succeeds; return the monotonic time it did."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server process exited before serving")
        try:
            response = httpx.post(f"{base_url}/api/predict", json={"text": text}, timeout=30)
            if response.status_code == 200:
                return time.monotonic()
        except httpx.TransportError:
            pass
        time.sleep(poll)
    raise RuntimeError("no successful prediction before the timeout")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
