"""Serving benchmark: latency, throughput, cold start, memory and package size of the API.

Measures what a user and the Azure bill feel, on this machine:

- in-process latency of one prediction through `create_app` (TestClient) and of the bare
  `Predictor.predict` call, p50/p99;
- the bare `Predictor.predict` call on a batch of 100 texts;
- loopback HTTP against `python -m shared.api.serve` (uvicorn): 1 client p50/p99 (a light
  keep-alive client, and httpx.Client for comparison with older figures), 16 concurrent clients
  (requests/s, p50/p99, errors, and the server's CPU time per request), one batch of 100 texts;
- cold start: a new server process until its first successful prediction, with the model in a
  local store (empty cache, no default bundle), as a fresh Functions instance would; once with a
  tweet that needs the language identifier (its ~1 s load included), once with one that the
  English shortcut of shared/language.py decides without it;
- resident memory of the server process after the load (and its peak);
- installed size of requirements.txt (`pip install --target`; skip with --skip-install-size).

The concurrent clients are plain asyncio streams writing a prepared HTTP/1.1 request: httpx
costs ~2.5 ms of CPU a request on this machine, more than the server, so on 2 cores 16 httpx
clients measured httpx rather than the API. The server's CPU time per request is the figure that
least depends on what else the machine runs.

    python bench/bench_serving.py                   # models/default, else a tiny bundle
    python bench/bench_serving.py --bundle tiny --skip-install-size

Prints a markdown table. Translation is off: these are the model's and the app's costs, not the
translator's network round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from serving_process import (
    DEFAULT_BUNDLE,
    TWEETS,
    free_port,
    percentile,
    serving_env,
    start_server,
    stop_server,
    wait_for_prediction,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# Decided "en" by shared/language.py's function-word shortcut, with no language identifier;
# TWEETS[0] needs the identifier. `check_cold_start_texts` keeps both true.
SHORTCUT_TWEET = TWEETS[2]
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    note: str = ""


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
    batch = time_calls(lambda _: predictor.predict(batch_texts()), max(5, count // 20), warmup=1)
    with TestClient(create_app(settings)) as client:

        def post(index: int) -> None:
            body = {"text": TWEETS[index % len(TWEETS)]}
            client.post("/api/predict", json=body).raise_for_status()

        through_app = time_calls(post, count)
    return [
        Row("Predictor.predict, 1 text", describe_ms(direct), f"{count} calls"),
        Row("Predictor.predict, 100 texts", describe_ms(batch), f"{len(batch)} calls"),
        Row("create_app via TestClient, 1 text", describe_ms(through_app), f"{count} requests"),
    ]


# --- a server process -------------------------------------------------------------------------


def bench_http(bundle: Path, count: int, clients: int, scratch: Path) -> list[Row]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_server(serving_env(bundle, scratch / "http"), port)
    try:
        wait_for_prediction(
            base_url, process, poll=POLL_SECONDS
        )  # TWEETS[0] waits for the language identifier
        rows = [
            asyncio.run(bench_light_sequential(port, count)),
            bench_sequential(base_url, count),
            bench_batch(base_url, max(5, count // 20)),
            asyncio.run(bench_concurrent(port, process.pid, count * 5, clients)),
        ]
        rss, peak = memory_mib(process.pid)
        rows.append(Row("server resident memory (RSS)", f"{rss:.0f} MiB", f"peak {peak:.0f} MiB"))
    finally:
        stop_server(process)
    return rows


def batch_texts() -> list[str]:
    return [TWEETS[i % len(TWEETS)] + f" #{i}" for i in range(100)]


def bench_sequential(base_url: str, count: int) -> Row:
    with httpx.Client(base_url=base_url, timeout=30) as client:

        def post(index: int) -> None:
            body = {"text": TWEETS[index % len(TWEETS)]}
            client.post("/api/predict", json=body).raise_for_status()

        samples = time_calls(post, count)
    return Row("loopback HTTP, 1 httpx.Client, 1 text", describe_ms(samples), f"{count} requests")


def bench_batch(base_url: str, runs: int) -> Row:
    texts = batch_texts()
    with httpx.Client(base_url=base_url, timeout=60) as client:

        def post(_: int) -> None:
            client.post("/api/predict", json={"texts": texts}).raise_for_status()

        samples = time_calls(post, runs, warmup=1)
    return Row("loopback HTTP, batch of 100 texts", describe_ms(samples), f"{runs} requests")


# --- a light HTTP/1.1 client: a prepared keep-alive request, the answer read by its length ----


def predict_request(text: str) -> bytes:
    body = json.dumps({"text": text}).encode()
    head = "POST /api/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    return f"{head}content-length: {len(body)}\r\n\r\n".encode() + body


async def post_prepared(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request on a kept-alive connection; the status, once the whole body is read."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def run_clients(port: int, total: int, clients: int) -> tuple[list[float], int, float]:
    """`clients` connections share `total` requests: (latencies, errors, wall seconds)."""
    requests = [predict_request(text) for text in TWEETS]
    samples: list[float] = []
    errors = 0

    async def worker(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for index in range(offset, total, clients):
            start = time.perf_counter()
            status = await post_prepared(reader, writer, requests[index % len(requests)])
            samples.append(time.perf_counter() - start)
            errors += status != 200
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(offset) for offset in range(clients)))
    return samples, errors, time.perf_counter() - began


async def bench_light_sequential(port: int, count: int) -> Row:
    await run_clients(port, 5, 1)  # warm-up
    samples, errors, _ = await run_clients(port, count, 1)
    note = f"{count} requests, {errors} errors, light client"
    return Row("loopback HTTP, 1 client, 1 text", describe_ms(samples), note)


async def bench_concurrent(port: int, pid: int, total: int, clients: int) -> Row:
    """Throughput over the wall time of all requests, and the server's CPU time per request."""
    cpu_before = cpu_seconds(pid)
    samples, errors, elapsed = await run_clients(port, total, clients)
    cpu_ms = (cpu_seconds(pid) - cpu_before) / total * 1000
    note = f"{describe_ms(samples)}, {errors} errors, server CPU {cpu_ms:.2f} ms/request"
    return Row(f"loopback HTTP, {clients} concurrent clients", f"{total / elapsed:.0f} req/s", note)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux: /proc; psutil is not needed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float, float]:
    """Resident memory of a process now and at its peak (Linux VmRSS / VmHWM), MiB."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    kib = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith("Vm")}
    return kib["VmRSS"] / 1024, kib["VmHWM"] / 1024


# --- cold start -------------------------------------------------------------------------------


def publish_to_local_store(bundle: Path, store_root: Path) -> None:
    from shared.model_store import ModelStore
    from shared.storage import LocalObjectStore

    store_root.mkdir(parents=True, exist_ok=True)
    ModelStore(LocalObjectStore(store_root)).publish(bundle)


def check_cold_start_texts() -> None:
    from shared.language import clean_tweet, reads_as_english

    assert reads_as_english(clean_tweet(SHORTCUT_TWEET)), SHORTCUT_TWEET
    assert not reads_as_english(clean_tweet(TWEETS[0])), TWEETS[0]


def bench_cold_start(bundle: Path, runs: int, scratch: Path, text: str, label: str) -> Row:
    """New process → first successful prediction of `text`, the model from the local store."""
    samples = []
    for run in range(runs):
        env = serving_env(None, scratch / f"cold-{label}-{run}")
        publish_to_local_store(bundle, Path(env["MODEL_STORE_PATH"]))
        port = free_port()
        began = time.monotonic()
        process = start_server(env, port)
        try:
            ready = wait_for_prediction(f"http://127.0.0.1:{port}", process, text, POLL_SECONDS)
            samples.append(ready - began)
        finally:
            stop_server(process)
    median = statistics.median(samples)
    spread = f"min {min(samples):.2f} s, max {max(samples):.2f} s, {runs} runs"
    return Row(f"cold start to first prediction ({label})", f"{median:.2f} s", spread)


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
        check_cold_start_texts()
        rows.append(bench_cold_start(bundle, args.cold_runs, scratch, TWEETS[0], "needs langid"))
        rows.append(
            bench_cold_start(bundle, args.cold_runs, scratch, SHORTCUT_TWEET, "English shortcut")
        )
        if not args.skip_install_size:
            rows.append(bench_install_size(REPO_ROOT / "requirements.txt", scratch))
        version = bundle.name if bundle != DEFAULT_BUNDLE else "models/default"
        print(render_table(rows, f"Serving benchmark: bundle {version}, {os.cpu_count()} CPUs"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
