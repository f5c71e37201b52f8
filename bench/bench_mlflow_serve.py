"""Our API against `mlflow models serve` of the same registered model, side by side, in one run.

The original study loaded its model from the MLflow registry; `mlflow models serve` is what a user
would pick instead of this repository's serving. Both servers here answer for ONE training run of
the project's own job (`bad-buzz run --no-serve`): the scikit-learn pipeline it registered in a
local MLflow store (`models:/tweet-sentiment/<n>`) and the ONNX bundle exported from that same
pipeline (`manifest.registered_version` names the registry version).

Measured on loopback, one worker each, the same light keep-alive HTTP client for both, the two
servers taking turns request by request (so a drifting machine load hits both alike):
- one tweet a request, p50/p99; a batch of 100 tweets a request, p50/p99;
- resident memory of each server's whole process tree after the load (RSS and PSS, psutil);
- installed size of each serving stack: the installed distributions each needs, with their
  dependencies (from the installed metadata, no download): requirements.txt for ours; mlflow and
  scikit-learn for the MLflow way.

What each server gets: ours the raw tweet (it normalises, computes VADER, scores and explains);
MLflow the model's signature, the five feature columns (normalised text + VADER scores), computed
by the client OUTSIDE the timing. That flatters MLflow: it skips the feature code path entirely.

    python bench/bench_mlflow_serve.py                       # trains once into .local/bench-mlflow
    python bench/bench_mlflow_serve.py --requests 300 --batches 30 --json out.json

Offline: `--env-manager local` serves from this environment (no virtualenv, no download).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving_process import (
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

DATA = REPO_ROOT.parent / "shared" / "data" / "sentiment140"
DEFAULT_TRAINING = DATA / "training_sample_47k.csv"
MANUAL_TEST = DATA / "testdata.manual.2009.06.14.csv"
START_TIMEOUT_SECONDS = 180.0
MLFLOW_STACK = ("mlflow", "scikit-learn")


# --- one training run, registered and exported -------------------------------------------------


def train_once(work: Path, data: Path) -> tuple[Path, Any, dict[str, str]]:
    """Run the project's job once (reused on later runs): bundle folder, manifest, MLflow env."""
    from shared.bundle import read_manifest

    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "MODEL_STORE_PATH": str(work / "store"),
    }
    bundles = sorted((work / "bundles").glob("*/manifest.json"))
    if not bundles:
        command = [sys.executable, "-m", "training.cli", "run", "--data", str(data), "--no-serve"]
        command += ["--work-dir", str(work / "job"), "--bundle-root", str(work / "bundles")]
        print(f"training once: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        subprocess.run(command, cwd=REPO_ROOT, env=env, check=True)
        bundles = sorted((work / "bundles").glob("*/manifest.json"))
    bundle = bundles[-1].parent
    manifest = read_manifest(bundle)
    if not manifest.registered_version:
        raise SystemExit(f"{bundle}: the pipeline was not registered in MLflow")
    return bundle, manifest, env


def load_tweets(limit: int = 400) -> list[str]:
    """Real tweets (the hand-labelled Sentiment140 test set), else the bench's six."""
    if not MANUAL_TEST.is_file():
        return TWEETS
    with MANUAL_TEST.open(encoding="latin-1", newline="") as handle:
        return [row[5] for row in csv.reader(handle) if len(row) == 6][:limit]


def mlflow_rows(texts: list[str], manifest: Any) -> tuple[list[str], list[list[Any]]]:
    """The registered model's inputs: normalised text and VADER scores, one row per tweet."""
    from shared.features import build_feature_columns
    from shared.normalise import NormaliserOptions

    columns = build_feature_columns(texts, NormaliserOptions.from_dict(manifest.normaliser_options))
    names = list(manifest.input_names)
    rows = [[_plain(columns[name][i]) for name in names] for i in range(len(texts))]
    return names, rows


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def feature_ms(texts: list[str], manifest: Any, runs: int = 30) -> dict[str, float]:
    """What an MLflow client pays before each request: normalise + VADER, p50 (ms)."""
    from shared.features import build_feature_columns
    from shared.normalise import NormaliserOptions

    options = NormaliserOptions.from_dict(manifest.normaliser_options)
    figures = {}
    for key, size in (("single", 1), ("batch100", 100)):
        samples = []
        for run in range(runs):
            start = (run * size) % max(1, len(texts) - size)
            began = time.perf_counter()
            build_feature_columns(texts[start : start + size], options)
            samples.append((time.perf_counter() - began) * 1000)
        figures[key] = percentile(samples, 50)
    return figures


# --- a light HTTP/1.1 keep-alive client (the same for both servers) ---------------------------


class Connection:
    """One kept-alive socket: a prepared request out, the answer read by its Content-Length."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def post(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        status = int(self.file.readline().split()[1])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, self.file.read(length)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def prepared(path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    return f"{head}content-length: {len(data)}\r\n\r\n".encode() + data


def time_post(connection: Connection, request: bytes, server: str = "") -> float:
    """Seconds for one request and its answer; any non-200 stops the bench."""
    start = time.perf_counter()
    status, body = connection.post(request)
    elapsed = time.perf_counter() - start
    if status != 200:
        raise RuntimeError(f"{server}{': ' if server else ''}HTTP {status}: {body[:300]!r}")
    return elapsed


def time_requests(port: int, requests: list[bytes], count: int, warmup: int = 10) -> list[float]:
    """Seconds per request, cycling through `requests`; any non-200 stops the bench."""
    connection = Connection(port)
    try:
        samples = []
        for index in range(warmup + count):
            elapsed = time_post(connection, requests[index % len(requests)])
            if index >= warmup:
                samples.append(elapsed)
        return samples
    finally:
        connection.close()


# --- the two servers ---------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    single: list[bytes]
    batch: list[bytes]
    ready_seconds: float = 0.0


def start_mlflow(manifest: Any, env: dict[str, str], log: Path, rows, names) -> Server:
    port = free_port()
    uri = f"models:/{manifest.registered_model}/{manifest.registered_version}"
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )

    def body(chunk: list[list[Any]]) -> bytes:
        return prepared("/invocations", {"dataframe_split": {"columns": names, "data": chunk}})

    server = Server("mlflow models serve", process, port, [body([r]) for r in rows], [])
    server.batch = [body(rows[i : i + 100]) for i in range(0, len(rows) - 99, 100)]
    wait_until_200(server)
    server.ready_seconds = time.monotonic() - started
    return server


def start_ours(bundle: Path, scratch: Path, log: Path, texts: list[str]) -> Server:
    port = free_port()
    started = time.monotonic()
    process = start_server(serving_env(bundle, scratch), port, log)
    wait_for_prediction(f"http://127.0.0.1:{port}", process, texts[0])
    single = [prepared("/api/predict", {"text": t}) for t in texts]
    batch = [
        prepared("/api/predict", {"texts": texts[i : i + 100]})
        for i in range(0, len(texts) - 99, 100)
    ]
    server = Server("our API (shared.api.serve)", process, port, single, batch)
    server.ready_seconds = time.monotonic() - started
    return server


def wait_until_200(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited before serving")
        try:
            time_requests(server.port, server.single[:1], 1, warmup=0)
            return
        except (OSError, RuntimeError, IndexError, ValueError):
            time.sleep(0.2)
    raise RuntimeError(f"{server.name}: no successful prediction in {START_TIMEOUT_SECONDS} s")


def tree_memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) summed over the process and all its descendants, MiB; PSS counts shared
    pages once, so it is the fairer sum for a tree (mlflow runs uvicorn as a child)."""
    import psutil

    root = psutil.Process(pid)
    rss = pss = 0
    for process in [root, *root.children(recursive=True)]:
        info = process.memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


# --- installed size of a stack ----------------------------------------------------------------


def requirement_names(path: Path) -> list[str]:
    from packaging.requirements import Requirement

    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


def dependency_closure(names: list[str]) -> tuple[set[str], list[str]]:
    """Installed distributions `names` need (markers evaluated here, extras not followed)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    missing: list[str] = []
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        seen.add(name)
        for spec in dist.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen, missing


def installed_mib(names: list[str]) -> tuple[float, int, list[str]]:
    """Bytes on disk of every file the closure's distributions installed, MiB."""
    from importlib import metadata

    closure, missing = dependency_closure(names)
    total = 0
    for name in closure:
        for file in metadata.distribution(name).files or []:
            path = Path(file.locate())
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20, len(closure), missing


# --- the run -----------------------------------------------------------------------------------


def time_interleaved(
    servers: list[Server], kind: str, count: int, warmup: int
) -> list[list[float]]:
    """Seconds per request for each server, taking turns request by request: a machine whose
    load drifts (2 shared cores) slows both alike, so the ratio holds even when figures move."""
    connections = [Connection(server.port) for server in servers]
    samples: list[list[float]] = [[] for _ in servers]
    try:
        for index in range(warmup + count):
            for server, connection, timings in zip(servers, connections, samples, strict=True):
                requests = getattr(server, kind)
                elapsed = time_post(connection, requests[index % len(requests)], server.name)
                if index >= warmup:
                    timings.append(elapsed)
    finally:
        for connection in connections:
            connection.close()
    return samples


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process and its descendants, seconds."""
    import psutil

    root = psutil.Process(pid)
    times = [p.cpu_times() for p in [root, *root.children(recursive=True)]]
    return sum(t.user + t.system for t in times)


def measure_all(servers: list[Server], requests: int, batches: int) -> list[dict[str, Any]]:
    """Latencies (taking turns) and each server's CPU time per request, which waiting for a
    busy core does not inflate: the figure that least depends on what else the machine runs."""
    results: list[dict[str, Any]] = [{} for _ in servers]
    for kind, count, warmup in (("single", requests, 10), ("batch", batches, 2)):
        before = [tree_cpu_seconds(server.process.pid) for server in servers]
        samples = time_interleaved(servers, kind, count, warmup)
        for index, server in enumerate(servers):
            cpu = tree_cpu_seconds(server.process.pid) - before[index]
            results[index][f"{kind}_cpu_ms"] = cpu * 1000 / (count + warmup)
            results[index][kind] = samples[index]
    return [
        {**summarise(server, result.pop("single"), result.pop("batch")), **result}
        for server, result in zip(servers, results, strict=True)
    ]


def summarise(server: Server, single: list[float], batch: list[float]) -> dict[str, Any]:
    rss, pss = tree_memory_mib(server.process.pid)
    ms = [s * 1000 for s in single]
    batch_ms = [s * 1000 for s in batch]
    return {
        "server": server.name,
        "single_p50_ms": percentile(ms, 50),
        "single_p99_ms": percentile(ms, 99),
        "batch100_p50_ms": percentile(batch_ms, 50),
        "batch100_p99_ms": percentile(batch_ms, 99),
        "rss_mib": rss,
        "pss_mib": pss,
        "ready_s": server.ready_seconds,
        "requests": len(single),
        "batches": len(batch),
    }


def print_table(
    results: list[dict[str, Any]], sizes: dict[str, tuple], model: str, features: dict
) -> None:
    ours, theirs = results
    theirs["single_plus_features_ms"] = theirs["single_p50_ms"] + features["single"]
    theirs["batch100_plus_features_ms"] = theirs["batch100_p50_ms"] + features["batch100"]
    ours["single_plus_features_ms"] = ours["single_p50_ms"]
    ours["batch100_plus_features_ms"] = ours["batch100_p50_ms"]
    print(f"\nsame model: {model}\n")
    print("| measure | our API | mlflow models serve | ratio |")
    print("|---|---|---|---|")
    for key, label in (
        ("single_p50_ms", "1 tweet, p50 (ms)"),
        ("single_p99_ms", "1 tweet, p99 (ms)"),
        ("batch100_p50_ms", "batch of 100, p50 (ms)"),
        ("batch100_p99_ms", "batch of 100, p99 (ms)"),
        ("single_cpu_ms", "server CPU per 1-tweet request (ms)"),
        ("batch_cpu_ms", "server CPU per batch of 100 (ms)"),
        ("single_plus_features_ms", "1 tweet, p50 + the client's feature code (ms)"),
        ("batch100_plus_features_ms", "batch of 100, p50 + the client's feature code (ms)"),
        ("rss_mib", "resident memory, process tree RSS (MiB)"),
        ("pss_mib", "resident memory, process tree PSS (MiB)"),
        ("ready_s", "start until first answer (s)"),
    ):
        ratio = theirs[key] / ours[key] if ours[key] else float("nan")
        print(f"| {label} | {ours[key]:.1f} | {theirs[key]:.1f} | {ratio:.1f}× |")
    (ours_mib, ours_n, _), (their_mib, their_n, _) = sizes["ours"], sizes["mlflow"]
    print(
        f"| installed size (MiB, distributions) | {ours_mib:.0f} ({ours_n}) | "
        f"{their_mib:.0f} ({their_n}) | {their_mib / ours_mib:.1f}× |"
    )
    print(
        f"\n{ours['requests']} single requests and {ours['batches']} batches per server, taking "
        f"turns request by request; load average {os.getloadavg()[0]:.1f} at the end."
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_TRAINING, help="training CSV")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / ".local" / "bench-mlflow")
    parser.add_argument("--requests", type=int, default=300, help="single-tweet requests each")
    parser.add_argument("--batches", type=int, default=30, help="batches of 100 each")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    bundle, manifest, env = train_once(args.work, args.data)
    texts = load_tweets()
    names, rows = mlflow_rows(texts, manifest)
    servers: list[Server] = []
    try:
        servers.append(start_ours(bundle, args.work / "serve", args.work / "ours.log", texts))
        servers.append(start_mlflow(manifest, env, args.work / "mlflow.log", rows, names))
        results = measure_all(servers, args.requests, args.batches)
    finally:
        for server in servers:
            stop_server(server.process)
    sizes = {
        "ours": installed_mib(requirement_names(REPO_ROOT / "requirements.txt")),
        "mlflow": installed_mib(list(MLFLOW_STACK)),
    }
    model = (
        f"{manifest.registered_model} v{manifest.registered_version} = bundle {manifest.version}"
    )
    features = feature_ms(texts, manifest)
    print_table(results, sizes, model, features)
    if args.json:
        figures = {"results": results, "sizes": sizes, "client_features_ms": features}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
