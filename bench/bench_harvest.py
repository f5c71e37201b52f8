"""How long the harvest takes at 100k flagged predictions (target: under 30 s).

    python bench/bench_harvest.py                    # SQLite log → local folder store
    python bench/bench_harvest.py --azurite          # also into Azurite (azurite-blob on PATH)
    python bench/bench_harvest.py --records 20000 --blob-connection-string "..."

Prints one line per step: the first harvest of everything, a rerun that finds nothing new, a
weekly run adding 1% on top, and `read_feedback` (what the retrain does).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.feedback.event import build_event
from shared.feedback.harvest import harvest
from shared.feedback.sinks import SqliteFeedbackSink, format_time
from shared.feedback.sources import SqliteSource
from shared.feedback.state import read_feedback
from shared.settings import Settings
from shared.storage import LocalObjectStore, ObjectStore, open_object_store

START = datetime(2024, 1, 1, tzinfo=UTC)
TEXTS = [
    "@united my flight is delayed again http://t.co/abc",
    "lost my bag, worst airline ever!!!",
    "great crew, smooth landing :)",
    "why is the wifi never working on board?",
]


def fill_sink(path: Path, count: int, offset: int = 0) -> None:
    """`count` events, about 20 s apart with some sharing a timestamp, in one transaction."""
    SqliteFeedbackSink(path).close()  # creates the schema
    rows = []
    for i in range(offset, offset + count):
        event = build_event(str(uuid.uuid4()), ("negative", "positive")[i % 2], None, "v1", "en",
                            TEXTS[i % len(TEXTS)])  # fmt: skip
        moment = START + timedelta(seconds=20 * (i - i % 3))  # triples share a timestamp
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--azurite", action="store_true", help="start Azurite and bench it too")
    parser.add_argument("--blob-connection-string", help="bench this blob account too")
    args = parser.parse_args()
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
