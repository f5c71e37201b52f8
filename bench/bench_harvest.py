"""The harvest's time at 100k flags, its memory against past feedback, and late flags.

    python bench/bench_harvest.py                    # SQLite log → local folder store
    python bench/bench_harvest.py --azurite          # also into Azurite (azurite-blob on PATH)
    python bench/bench_harvest.py --records 20000 --blob-connection-string "..."
    python bench/bench_harvest.py --memory           # 10k new flags on top of 30k vs 3M past ids
    python bench/bench_harvest.py --late 8000        # flags ingested 55 min late: share harvested

Timing prints one line per step: the first harvest of everything, a rerun that finds nothing
new, a weekly run adding 1% on top, and `read_feedback` (what the retrain does). `--memory`
fills an index with past ids spread over two years (what a store holds after years of
feedback), then runs one weekly harvest in a fresh process and prints its Python peak
(tracemalloc) and its RSS growth (psutil). `--late` flags at random over two days, a quarter of
them visible only 55 min after their time, harvested every 20 min.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.feedback.event import build_event
from shared.feedback.harvest import harvest
from shared.feedback.index import partition_name
from shared.feedback.records import Watermark, make_record, select_page
from shared.feedback.records import format_time as record_time
from shared.feedback.sinks import SqliteFeedbackSink, format_time
from shared.feedback.sources import LOGS_INGESTION_LAG, LOGS_LATE_WINDOW, Page, SqliteSource
from shared.feedback.state import WATERMARK_NAME, read_feedback
from shared.settings import Settings
from shared.storage import LocalObjectStore, ObjectStore, open_object_store

START = datetime(2024, 1, 1, tzinfo=UTC)
TEXTS = [
    "@united my flight is delayed again http://t.co/abc",
    "lost my bag, worst airline ever!!!",
    "great crew, smooth landing :)",
    "why is the wifi never working on board?",
]


def fill_sink(path: Path, count: int, offset: int = 0, start: datetime = START) -> None:
    """`count` events, about 20 s apart with some sharing a timestamp, in one transaction."""
    SqliteFeedbackSink(path).close()  # creates the schema
    rows = []
    for i in range(offset, offset + count):
        event = build_event(str(uuid.uuid4()), ("negative", "positive")[i % 2], None, "v1", "en",
                            TEXTS[i % len(TEXTS)])  # fmt: skip
        moment = start + timedelta(seconds=20 * (i - i % 3))  # triples share a timestamp
        rows.append(
            (event["prediction_id"], json.dumps(event, sort_keys=True), format_time(moment))
        )
    with sqlite3.connect(path) as connection:
        connection.executemany("INSERT INTO feedback VALUES (?, ?, ?)", rows)


def timed(label: str, step: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = step()
    print(f"{label:<44} {time.perf_counter() - started:7.2f} s", flush=True)
    return result


def run_store(name: str, store: ObjectStore, db: Path, count: int) -> None:
    source = SqliteSource(db, ingestion_lag=timedelta(0))
    settings = Settings(RETRAIN_THRESHOLD=max(count // 2, 1))
    now = START + timedelta(days=60)
    first = timed(f"[{name}] harvest {count:,} new", lambda: harvest(source, store, now, settings))
    assert first.new_records == count, first
    again = timed(f"[{name}] rerun, nothing new", lambda: harvest(source, store, now, settings))
    assert again.new_records == 0, again
    extra = max(count // 100, 1)
    fill_sink(db, extra, offset=count)
    later = now + timedelta(days=60)
    weekly = timed(f"[{name}] +{extra:,} on top of {count:,}",
                   lambda: harvest(source, store, later, settings))  # fmt: skip
    assert weekly.new_records == extra, weekly
    records = timed(f"[{name}] read_feedback", lambda: read_feedback(store))
    assert len(records) == count + extra


@contextmanager
def azurite(workdir: Path) -> Iterator[str]:
    """A throwaway in-memory Azurite (the integration tests' fixture); yields its connection."""
    from tests.integration.conftest import AZURITE_BINARY, Azurite
    from tests.utils.processes import free_port

    binary = shutil.which(AZURITE_BINARY)
    if binary is None:
        raise SystemExit(f"{AZURITE_BINARY} is not on PATH (npm install -g azurite)")
    service = Azurite(binary, workdir, free_port())
    service.start()
    try:
        yield service.connection_string
    finally:
        service.stop()


# --- memory against past feedback ------------------------------------------------------------

MEMORY_NEW = 10_000
PAST_DAYS = 730


def fill_past_index(store: LocalObjectStore, past: int, before: datetime) -> None:
    """`past` harvested ids in day partitions over the two years before `before`, + watermark."""
    per_day = math.ceil(past / PAST_DAYS)
    for day in range(PAST_DAYS):
        ids = [str(uuid.uuid4()) for _ in range(min(per_day, past - day * per_day))]
        if not ids:
            break
        moment = before - timedelta(days=PAST_DAYS - day)
        batch = {"path": f"feedback/{moment:%Y/%m/%d}/past.jsonl", "ids": ids,
                 "harvested_at": record_time(moment)}  # fmt: skip
        content = {"version": 2, "batches": {"past": batch}, "consumed": ids}
        store.put(partition_name(moment.date()), json.dumps(content).encode())
    mark = Watermark(before - timedelta(days=1))
    store.put(WATERMARK_NAME, json.dumps(mark.to_json(before)).encode())


def measure_harvest(store_root: Path, db: Path, now: datetime) -> None:
    """In a fresh process: one weekly harvest; prints its tracemalloc peak and RSS growth."""
    import psutil

    process = psutil.Process()
    source = SqliteSource(db, ingestion_lag=timedelta(0))
    settings = Settings(RETRAIN_THRESHOLD=10**9)
    store = LocalObjectStore(store_root)
    gc.collect()
    rss_before = process.memory_info().rss
    tracemalloc.start()
    result = harvest(source, store, now, settings)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_growth = process.memory_info().rss - rss_before
    started = time.perf_counter()
    harvest(source, store, now, settings)  # untraced rerun: the weekly cost of what is stored
    rerun = time.perf_counter() - started
    figures = {"new": result.new_records, "peak": peak, "rss": rss_growth, "rerun": rerun}
    print(json.dumps(figures))


def run_memory(work: Path) -> None:
    week_start = START + timedelta(days=PAST_DAYS)
    for past in (30_000, 3_000_000):
        folder = work / f"past-{past}"
        timed(f"index of {past:,} past ids over 2 years",
              lambda f=folder, p=past: fill_past_index(LocalObjectStore(f / "store"), p, week_start))  # fmt: skip
        db = folder / "log.db"
        fill_sink(db, MEMORY_NEW, start=week_start)  # this week's flags, every 20 s
        now = week_start + timedelta(days=7)
        out = subprocess.run(
            [sys.executable, __file__, "--measure-harvest", str(folder / "store"), str(db),
             now.isoformat()], capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        figures = json.loads(out.strip().splitlines()[-1])
        assert figures["new"] == MEMORY_NEW, figures
        print(f"[memory] {past:>9,} past ids, {MEMORY_NEW:,} new: peak "
              f"{figures['peak'] / 2**20:6.1f} MiB (tracemalloc), RSS +{figures['rss'] / 2**20:6.1f}"
              f" MiB; a rerun takes {figures['rerun']:.1f} s", flush=True)  # fmt: skip
        shutil.rmtree(folder)


# --- late flags --------------------------------------------------------------------------------


class LateSource:
    """Rows visible only from their `visible_at`: what AppTraces does while ingestion lags."""

    ingestion_lag = LOGS_INGESTION_LAG
    late_window = LOGS_LATE_WINDOW

    def __init__(self) -> None:
        self.rows: list[tuple[object, datetime]] = []
        self.now = START

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
        visible = [record for record, at in self.rows if at <= self.now]
        return Page(select_page(visible, since, until, limit))


def run_late(count: int, work: Path) -> None:
    rng = random.Random(7)
    source, late = LateSource(), set()
    for i in range(count):
        event = build_event(str(uuid.uuid4()), "negative", None, "v1", "en", TEXTS[i % 4])
        moment = START + timedelta(seconds=rng.randint(0, 2 * 86_400))
        delay = timedelta(minutes=55) if i % 4 == 0 else timedelta(seconds=rng.randint(5, 120))
        source.rows.append((make_record(moment, event), moment + delay))
        if i % 4 == 0:
            late.add(event["prediction_id"])
    store = LocalObjectStore(work / "late")
    settings = Settings(RETRAIN_THRESHOLD=10**9)
    while source.now < START + timedelta(days=2, hours=3):
        source.now += timedelta(minutes=20)
        harvest(source, store, source.now, settings)
    found = [r["prediction_id"] for r in read_feedback(store)]
    got = len(late & set(found))
    lower = (0.025 ** (1 / len(late))) if got == len(late) else float("nan")
    print(f"[late] {got:,} of {len(late):,} flags ingested 55 min late harvested "
          f"({got / len(late):.1%}; one-sided 97.5% Clopper-Pearson lower bound {lower:.2%}); "
          f"{len(found):,} of {count:,} in all, {len(found) - len(set(found))} doubled")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--azurite", action="store_true", help="start Azurite and bench it too")
    parser.add_argument("--blob-connection-string", help="bench this blob account too")
    parser.add_argument("--memory", action="store_true", help="memory: 30k vs 3M past ids")
    parser.add_argument("--late", type=int, metavar="N", help="N flags, a quarter 55 min late")
    parser.add_argument("--measure-harvest", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_harvest:
        root, db, now = args.measure_harvest
        measure_harvest(Path(root), Path(db), datetime.fromisoformat(now))
        return
    if args.memory or args.late:
        with tempfile.TemporaryDirectory() as folder:
            if args.late:
                run_late(args.late, Path(folder))
            if args.memory:
                run_memory(Path(folder))
        return
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        timed(
            f"fill the SQLite log with {args.records:,}",
            lambda: fill_sink(work / "a.db", args.records),
        )
        run_store("local", LocalObjectStore(work / "store"), work / "a.db", args.records)
        if args.azurite or args.blob_connection_string:
            with azurite(work) if args.azurite else nullcontext(args.blob_connection_string) as cs:
                fill_sink(work / "b.db", args.records)
                settings = Settings(MODEL_STORE_CONNECTION_STRING=cs)
                store = open_object_store(settings, f"bench-{uuid.uuid4().hex[:12]}")
                run_store("blob", store, work / "b.db", args.records)


if __name__ == "__main__":
    main()
