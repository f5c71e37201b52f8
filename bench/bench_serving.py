"""Serving benchmark: latency, throughput, cold start, memory and package size of the API.

Measures what a user and the Azure bill feel, on this machine:

- in-process latency of one prediction through `create_app` (TestClient) and of the bare
  `Predictor.predict` call, p50/p99;
- loopback HTTP against `python -m shared.api.serve` (uvicorn): 1 client p50/p99, 16 concurrent
  clients (requests/s and p50/p99), one batch of 100 texts;
- cold start: a new server process until its first successful prediction, with the model in a
  local store (empty cache, no default bundle), as a fresh Functions instance would;
- resident memory of the server process after the load;
- installed size of requirements.txt (`pip install --target`; skip with --skip-install-size).

    python bench/bench_serving.py                   # models/default, else a tiny bundle
    python bench/bench_serving.py --bundle tiny --skip-install-size

Prints a markdown table. Translation is off: these are the model's and the app's costs, not the
translator's network round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

DEFAULT_BUNDLE = REPO_ROOT / "models" / "default"
TWEETS = [
    "my flight is delayed again, worst airline ever",
    "great flight, friendly crew, thank you!",
    "lost my luggage and nobody at the desk cares. never again @airline",
    "on time and comfortable seats, happy :) http://t.co/xyz",
    "cancelled flight, stuck at the airport all night, so tired and angry",
    "the food was ok i guess, seat a bit small but the crew was lovely",
]
START_TIMEOUT_SECONDS = 90.0


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    note: str = ""


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile: with 200 samples, p99 is the second slowest."""
    ordered = sorted(samples)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def describe_ms(samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return f"p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms"


def time_calls(call: Callable[[int], object], count: int, warmup: int = 5) -> list[float]:
    """Seconds per call, after a few untimed calls (first-use costs are measured elsewhere)."""
    for index in range(warmup):
        call(index)
    samples = []
    for index in range(count):
        start = time.perf_counter()
        call(index)
        samples.append(time.perf_counter() - start)
    return samples


# --- in process -------------------------------------------------------------------------------


def bench_in_process(bundle: Path, count: int, scratch: Path) -> list[Row]:
    from fastapi.testclient import TestClient

    from shared.api.app import create_app
    from shared.inference import Predictor
    from shared.settings import Settings

    settings = Settings(**serving_env(bundle, scratch / "in-process"))
    predictor = Predictor(bundle)
    direct = time_calls(lambda i: predictor.predict([TWEETS[i % len(TWEETS)]]), count)
    with TestClient(create_app(settings)) as client:

        def post(index: int) -> None:
            body = {"text": TWEETS[index % len(TWEETS)]}
            client.post("/api/predict", json=body).raise_for_status()

        through_app = time_calls(post, count)
    return [
        Row("Predictor.predict, 1 text", describe_ms(direct), f"{count} calls"),
        Row("create_app via TestClient, 1 text", describe_ms(through_app), f"{count} requests"),
    ]


# --- a server process -------------------------------------------------------------------------


def serving_env(bundle: Path | None, root: Path) -> dict[str, str]:
    """App settings for a server: `bundle` as the default, an empty cache, translation off."""
    root.mkdir(parents=True, exist_ok=True)
    return {
        "DEFAULT_BUNDLE_PATH": str(bundle or root / "no-default"),
        "MODEL_STORE_PATH": str(root / "store"),
        "MODEL_CACHE_DIR": str(root / "cache"),
        "TRANSLATION_ENABLED": "false",
        "TELEMETRY_EXPORTER": "none",
        "AUTH_MODE": "none",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "shared.api.serve", "--port", str(port)]
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_prediction(base_url: str, process: subprocess.Popen[bytes]) -> float:
    """Poll until one prediction succeeds; return the monotonic time it did."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server process exited before serving")
        try:
            response = httpx.post(f"{base_url}/api/predict", json={"text": TWEETS[0]}, timeout=30)
            if response.status_code == 200:
                return time.monotonic()
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("no successful prediction before the timeout")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bench_http(bundle: Path, count: int, clients: int, scratch: Path) -> list[Row]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_server(serving_env(bundle, scratch / "http"), port)
    try:
        wait_for_prediction(base_url, process)
        rows = [bench_sequential(base_url, count), bench_batch(base_url, max(5, count // 20))]
        rows.append(asyncio.run(bench_concurrent(base_url, count * 2, clients)))
        rows.append(
            Row(
                "server resident memory (RSS)",
                f"{rss_mib(process.pid):.0f} MiB",
                "after the load above",
            )
        )
    finally:
        stop(process)
    return rows


def bench_sequential(base_url: str, count: int) -> Row:
    with httpx.Client(base_url=base_url, timeout=30) as client:

        def post(index: int) -> None:
            body = {"text": TWEETS[index % len(TWEETS)]}
            client.post("/api/predict", json=body).raise_for_status()

        samples = time_calls(post, count)
    return Row("loopback HTTP, 1 client, 1 text", describe_ms(samples), f"{count} requests")


def bench_batch(base_url: str, runs: int) -> Row:
    texts = [TWEETS[i % len(TWEETS)] + f" #{i}" for i in range(100)]
    with httpx.Client(base_url=base_url, timeout=60) as client:

        def post(_: int) -> None:
            client.post("/api/predict", json={"texts": texts}).raise_for_status()

        samples = time_calls(post, runs, warmup=1)
    return Row("loopback HTTP, batch of 100 texts", describe_ms(samples), f"{runs} requests")


async def bench_concurrent(base_url: str, total: int, clients: int) -> Row:
    """`clients` workers share `total` requests; throughput over the wall time of all of them."""
    samples: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def worker(offset: int) -> None:
            for index in range(offset, total, clients):
                start = time.perf_counter()
                body = {"text": TWEETS[index % len(TWEETS)]}
                (await client.post("/api/predict", json=body)).raise_for_status()
                samples.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker(offset) for offset in range(clients)))
        elapsed = time.perf_counter() - began
    value = f"{total / elapsed:.0f} req/s"
    return Row(f"loopback HTTP, {clients} concurrent clients", value, describe_ms(samples))


def rss_mib(pid: int) -> float:
    try:
        import psutil
    except ImportError:  # Linux without psutil: the kernel says it too
        status = Path(f"/proc/{pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
        return int(kib) / 1024
    return psutil.Process(pid).memory_info().rss / 2**20


# --- cold start -------------------------------------------------------------------------------


def publish_to_local_store(bundle: Path, store_root: Path) -> None:
    from shared.model_store import ModelStore
    from shared.storage import LocalObjectStore

    store_root.mkdir(parents=True, exist_ok=True)
    ModelStore(LocalObjectStore(store_root)).publish(bundle)


def bench_cold_start(bundle: Path, runs: int, scratch: Path) -> Row:
    """New process → first successful prediction, the model coming from the local store."""
    samples = []
    for run in range(runs):
        env = serving_env(None, scratch / f"cold-{run}")
        publish_to_local_store(bundle, Path(env["MODEL_STORE_PATH"]))
        port = free_port()
        began = time.monotonic()
        process = start_server(env, port)
        try:
            samples.append(wait_for_prediction(f"http://127.0.0.1:{port}", process) - began)
        finally:
            stop(process)
    median = statistics.median(samples)
    spread = f"min {min(samples):.2f} s, max {max(samples):.2f} s, {runs} runs"
    return Row("cold start to first prediction (local store)", f"{median:.2f} s", spread)


# --- package size -----------------------------------------------------------------------------


def bench_install_size(requirements: Path, scratch: Path) -> Row:
    target = scratch / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]
    subprocess.run(command, check=True, capture_output=True)
    sizes = {entry.name: folder_size(entry) for entry in target.iterdir()}
    top = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:4]
    note = ", ".join(f"{name} {size / 2**20:.0f}" for name, size in top)
    return Row(
        "installed size of requirements.txt",
        f"{sum(sizes.values()) / 2**20:.0f} MiB",
        f"largest (MiB): {note}",
    )


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# --- main -------------------------------------------------------------------------------------


def resolve_bundle(choice: str | None, scratch: Path) -> Path:
    """A bundle folder: the given path, 'tiny' (built now), or models/default when present."""
    if choice and choice != "tiny":
        return Path(choice)
    if choice is None and (DEFAULT_BUNDLE / "manifest.json").is_file():
        return DEFAULT_BUNDLE
    from tests.utils.bundles import build_tiny_bundle  # needs the training extras

    return build_tiny_bundle(scratch / "tiny-1")


def render_table(rows: list[Row], title: str) -> str:
    lines = [f"### {title}", "", "| measure | value | note |", "| --- | --- | --- |"]
    lines += [f"| {row.measure} | {row.value} | {row.note} |" for row in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", help="bundle folder, or 'tiny' (default: models/default)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per measure")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold starts to time")
    parser.add_argument("--skip-install-size", action="store_true", help="no pip install")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        bundle = resolve_bundle(args.bundle, scratch)
        rows = bench_in_process(bundle, args.requests, scratch)
        rows += bench_http(bundle, args.requests, args.clients, scratch)
        rows.append(bench_cold_start(bundle, args.cold_runs, scratch))
        if not args.skip_install_size:
            rows.append(bench_install_size(REPO_ROOT / "requirements.txt", scratch))
        version = bundle.name if bundle != DEFAULT_BUNDLE else "models/default"
        print(render_table(rows, f"Serving benchmark: bundle {version}, {os.cpu_count()} CPUs"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
