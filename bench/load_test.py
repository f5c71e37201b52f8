"""Load test: the API under uvicorn, N concurrent clients for a fixed time, a realistic mix.

Starts `python -m shared.api.serve` on a free loopback port with the embedded defaults (the model
in `models/default`, no model store, translation off, no key) and the feedback log in a
temporary folder, then runs `--clients` concurrent httpx.AsyncClient workers for `--duration`
seconds (and at most `--max-requests` requests) with this mix:

- 70% one tweet (`{"text"}`);
- 15% a batch of 10 to 100 tweets (`{"texts"}`);
- 15% feedback (`kind: "correction"`) on a prediction the server returned, sent back as the
  page sends it: the answer's `prediction_id`, `label`, `model_text` and `feedback_token`; one in
  ten of those repeats a flag already acknowledged (same body), which must answer 202
  "duplicate" (the intended repeats).

All clients share one address, so the server runs with FEEDBACK_MAX_PER_HOUR raised far above
the load (the cap is not what is measured; a 429 would count as an error).

It reports requests, errors (any non-2xx or transport failure, and any unexpected feedback
status), p50/p99 per kind, throughput, the server's resident memory (psutil) over the first
10 s and the last 10 s, and feedback integrity: after the server has stopped, every flag it
acknowledged as "recorded" is in the SQLite log exactly once, and nothing else is.

    python bench/load_test.py                       # 60 s, 32 clients
    python bench/load_test.py --duration 10 --clients 8

Prints a markdown table; exits 1 when there were errors or the feedback log does not match.
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import serving_process
from serving_process import (
    DEFAULT_BUNDLE,
    free_port,
    percentile,
    serving_env,
    start_server,
    stop_server,
    wait_for_prediction,
)

REQUEST_TIMEOUT_SECONDS = 30.0
MEMORY_WINDOW_SECONDS = 10.0
MEMORY_SAMPLE_SECONDS = 0.5
SINGLE, BATCH, FEEDBACK = "predict, 1 text", "predict, batch 10-100", "feedback"
MIX = ((SINGLE, 0.70), (BATCH, 0.15), (FEEDBACK, 0.15))
REPEAT_SHARE = 0.10  # of feedback: flag an id already flagged (must answer "duplicate")
POOL_SIZE = 5_000  # prediction answers kept for feedback
FEEDBACK_CAP = 100_000_000  # FEEDBACK_MAX_PER_HOUR of the bench server: never reached
TWEETS = [
    *serving_process.TWEETS,
    "why is the wifi never working on these planes #fail",
    "thanks for the upgrade, you made my day!!!",
    "three hours on the tarmac with no water. unacceptable",
    "smooth boarding and a kind pilot, would fly again",
]


# --- the load ---------------------------------------------------------------------------------


@dataclass
class LoadState:
    """Everything the workers share (one event loop: no locks needed)."""

    stop_at: float
    max_requests: int
    sent: int = 0
    texts_scored: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    pool: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=POOL_SIZE))
    recorded: dict[str, dict[str, object]] = field(default_factory=dict)  # id -> body sent
    repeats: int = 0
    unsettled: set[str] = field(default_factory=set)  # flags whose answer never arrived

    def may_send(self) -> bool:
        return time.monotonic() < self.stop_at and self.sent < self.max_requests

    def record(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)


def choose_kind(rng: random.Random, state: LoadState) -> str:
    roll, total = rng.random(), 0.0
    for kind, share in MIX:
        total += share
        if roll < total:
            return SINGLE if kind == FEEDBACK and not state.pool else kind
    return SINGLE


def make_text(rng: random.Random) -> str:
    return f"{rng.choice(TWEETS)} #{rng.randrange(1_000_000)}"


async def send_predict(
    client: httpx.AsyncClient, state: LoadState, rng: random.Random, kind: str
) -> None:
    texts = [make_text(rng) for _ in range(rng.randint(10, 100))] if kind == BATCH else None
    body = {"texts": texts} if texts else {"text": make_text(rng)}
    response = await timed(client, state, kind, "/api/predict", body)
    if response is None or response.status_code != 200:
        return
    answer = response.json()
    results = answer["results"] if texts else [answer]
    state.texts_scored += len(results)
    state.pool.extend(correction_of(result) for result in results)


def correction_of(prediction: dict) -> dict[str, object]:
    """The feedback body the page sends for one predict answer: "this prediction is wrong"."""
    body: dict[str, object] = {
        "prediction_id": prediction["prediction_id"],
        "kind": "correction",
        "text": prediction["model_text"],
        "predicted_label": prediction["label"],
        "feedback_token": prediction["feedback_token"],
    }
    if prediction["label"] == "unknown":  # no label to flip: the correction names one
        body["correct_label"] = "negative"
    return body


async def send_feedback(client: httpx.AsyncClient, state: LoadState, rng: random.Random) -> None:
    repeat = bool(state.recorded) and rng.random() < REPEAT_SHARE
    earlier = state.recorded[rng.choice(tuple(state.recorded))] if repeat else None
    body = earlier or state.pool.popleft()
    prediction_id = str(body["prediction_id"])
    state.unsettled.add(prediction_id)
    response = await timed(client, state, FEEDBACK, "/api/feedback", body)
    if response is None or response.status_code != 202:
        return
    state.unsettled.discard(prediction_id)
    status = response.json()["status"]
    if status != ("duplicate" if repeat else "recorded"):
        state.errors[
            f"feedback answered {status!r} to a {'repeat' if repeat else 'first'} flag"
        ] += 1
    if repeat:
        state.repeats += 1
    else:
        state.recorded[prediction_id] = body


async def timed(
    client: httpx.AsyncClient, state: LoadState, kind: str, path: str, body: object
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.post(path, json=body)
    except httpx.TransportError as exc:
        state.errors[f"{kind}: {type(exc).__name__}"] += 1
        return None
    state.record(kind, time.perf_counter() - started)
    if not 200 <= response.status_code < 300:
        state.errors[f"{kind}: HTTP {response.status_code}"] += 1
    return response


async def worker(client: httpx.AsyncClient, state: LoadState, seed: int) -> None:
    rng = random.Random(seed)
    while state.may_send():
        state.sent += 1
        kind = choose_kind(rng, state)
        if kind == FEEDBACK:
            await send_feedback(client, state, rng)
        else:
            await send_predict(client, state, rng, kind)


async def sample_memory(pid: int, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    process = psutil.Process(pid)
    began = time.monotonic()
    while not stop.is_set():
        samples.append((time.monotonic() - began, process.memory_info().rss / 2**20))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), MEMORY_SAMPLE_SECONDS)


async def run_load(
    base_url: str, pid: int, duration: float, clients: int, max_requests: int, seed: int
) -> tuple[LoadState, float, list[tuple[float, float]]]:
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, so a
    # request is never written onto a socket the server is closing (a client-side ReadError).
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0
    )
    memory: list[tuple[float, float]] = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        sampler = asyncio.create_task(sample_memory(pid, memory, stop))
        began = time.monotonic()
        state = LoadState(stop_at=began + duration, max_requests=max_requests)
        await asyncio.gather(*(worker(client, state, seed + n) for n in range(clients)))
        elapsed = time.monotonic() - began
        stop.set()
        await sampler
    return state, elapsed, memory


# --- the checks and the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Integrity:
    acknowledged: int
    repeats: int
    stored: int
    missing: int
    unexpected: int
    duplicated: int
    unsettled: int

    @property
    def ok(self) -> bool:
        return self.missing == self.unexpected == self.duplicated == 0


def check_feedback_log(db: Path, state: LoadState) -> Integrity:
    """Every "recorded" flag once in the log; rows the client never heard back about are allowed."""
    with sqlite3.connect(db) as connection:
        stored = [row[0] for row in connection.execute("SELECT prediction_id FROM feedback")]
    stored_set = set(stored)
    unexpected = stored_set - state.recorded.keys() - state.unsettled
    return Integrity(
        acknowledged=len(state.recorded),
        repeats=state.repeats,
        stored=len(stored),
        missing=len(state.recorded.keys() - stored_set),
        unexpected=len(unexpected),
        duplicated=len(stored) - len(stored_set),
        unsettled=len(state.unsettled),
    )


def window_mean(samples: list[tuple[float, float]], start: float, end: float) -> float:
    values = [rss for moment, rss in samples if start <= moment <= end]
    return statistics.fmean(values) if values else float("nan")


def render(
    state: LoadState,
    elapsed: float,
    memory: list[tuple[float, float]],
    integrity: Integrity,
    args: argparse.Namespace,
) -> str:
    total = state.sent  # one request per turn of a worker's loop
    errors = sum(state.errors.values())
    rows = [("requests", f"{total}", f"{args.clients} clients, {elapsed:.1f} s")]
    rows.append(("throughput", f"{total / elapsed:.0f} req/s", "all kinds"))
    rows.append(
        ("texts scored", f"{state.texts_scored / elapsed:.0f} texts/s", f"{state.texts_scored}")
    )
    for kind, _ in MIX:
        samples = [s * 1000 for s in state.latencies.get(kind, [])]
        if samples:
            note = f"p50 {percentile(samples, 50):.1f} ms, p99 {percentile(samples, 99):.1f} ms"
            rows.append((kind, f"{len(samples)} ({len(samples) / total:.0%})", note))
    detail = ", ".join(f"{key}: {n}" for key, n in state.errors.most_common()) or "none"
    rows.append(("errors", f"{errors}", detail))
    first = window_mean(memory, 0, MEMORY_WINDOW_SECONDS)
    last_start = max(0.0, memory[-1][0] - MEMORY_WINDOW_SECONDS) if memory else 0.0
    last = window_mean(memory, last_start, float("inf"))
    growth = (last - first) / first * 100
    rows.append(("server RSS, first 10 s", f"{first:.0f} MiB", "mean of 0.5 s samples"))
    rows.append(("server RSS, last 10 s", f"{last:.0f} MiB", f"growth {growth:+.1f}%"))
    timeline = [
        f"{int(start)}-{int(start + MEMORY_WINDOW_SECONDS)} s: "
        f"{window_mean(memory, start, start + MEMORY_WINDOW_SECONDS):.0f}"
        for start in range(0, int(memory[-1][0]) if memory else 0, int(MEMORY_WINDOW_SECONDS))
    ]
    rows.append(("server RSS by 10 s window", "MiB", ", ".join(timeline)))
    rows.append(
        (
            "feedback integrity",
            "ok" if integrity.ok else "BROKEN",
            f"{integrity.acknowledged} acknowledged 'recorded', {integrity.stored} rows in "
            f"SQLite; missing {integrity.missing}, unexpected {integrity.unexpected}, "
            f"duplicated {integrity.duplicated}; {integrity.repeats} repeats answered "
            f"'duplicate'; {integrity.unsettled} unanswered",
        )
    )
    title = (
        f"### Load test: {args.clients} clients, {args.duration:.0f} s, "
        f"{os.cpu_count()} CPUs, bundle {args.bundle.name}"
    )
    lines = [title, "", "| measure | value | note |", "| --- | --- | --- |"]
    lines += [f"| {m} | {v} | {n} |" for m, v, n in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument(
        "--max-requests", type=int, default=1_000_000, help="stop earlier after this many"
    )
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="bundle to serve")
    parser.add_argument("--seed", type=int, default=0, help="seed of the request mix")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.clients <= 0 or args.max_requests <= 0:
        parser.error("--duration, --clients and --max-requests must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bad-buzz-load-"))
    port = free_port()
    env = serving_env(
        args.bundle.resolve(),
        scratch,
        FEEDBACK_DB_PATH=str(scratch / "feedback.sqlite3"),
        FEEDBACK_BACKEND="sqlite",
        FEEDBACK_TOKEN_KEY_PATH=str(scratch / "feedback-token.key"),
        FEEDBACK_MAX_PER_HOUR=str(FEEDBACK_CAP),
    )
    process = start_server(env, port, scratch / "server.log")
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_prediction(base_url, process)
        state, elapsed, memory = asyncio.run(
            run_load(
                base_url, process.pid, args.duration, args.clients, args.max_requests, args.seed
            )
        )
        stop_server(process)  # the log is checked as a restarted reader would see it
        integrity = check_feedback_log(Path(env["FEEDBACK_DB_PATH"]), state)
        print(render(state, elapsed, memory, integrity, args))
        if state.errors:  # what the server said about them
            log = (scratch / "server.log").read_text(errors="replace").splitlines()
            problems = [line for line in log if "INFO" not in line or "Error" in line]
            print("\n".join(["server log, not INFO:", *problems[-40:]]), file=sys.stderr)
    finally:
        stop_server(process)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if integrity.ok and not state.errors else 1


if __name__ == "__main__":
    sys.exit(main())
