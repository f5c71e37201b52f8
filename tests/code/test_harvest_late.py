"""The harvest misses nothing and stays small: late flags, clocks stepping back, both kinds.

Sources here are stubs that deliver rows when the test says they become visible, as Log
Analytics does once ingestion (or the exporter's retry from disk) has caught up.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared.feedback.event import build_event
from shared.feedback.harvest import harvest
from shared.feedback.index import DUPLICATE_WINDOW, INDEX_PREFIX, IndexWindow
from shared.feedback.records import (
    CONFIRMATION,
    CORRECTION,
    FeedbackRecord,
    Watermark,
    make_record,
    select_page,
)
from shared.feedback.sinks import SqliteFeedbackSink
from shared.feedback.sources import LOGS_INGESTION_LAG, LOGS_LATE_WINDOW, Page, SqliteSource
from shared.feedback.state import WATERMARK_NAME, read_feedback
from shared.settings import Settings
from shared.storage import LocalObjectStore
from tests.utils.feedback_builders import T0, Clock, flag_many, make_event

pytestmark = pytest.mark.code

SETTINGS = Settings(RETRAIN_THRESHOLD=100_000)
LATE = timedelta(minutes=55)


@dataclass
class DelayedSource:
    """Rows that become visible at `visible_at` (ingestion done), like AppTraces in Azure."""

    clock: Clock
    ingestion_lag: timedelta = LOGS_INGESTION_LAG
    late_window: timedelta = LOGS_LATE_WINDOW
    rows: list[tuple[FeedbackRecord, datetime]] = field(default_factory=list)

    def add(self, flagged_at: datetime, delay: timedelta = timedelta(0), **event: str) -> str:
        values = {**make_event(len(self.rows)), **event}
        record = make_record(flagged_at, values)
        assert record is not None
        self.rows.append((record, flagged_at + delay))
        return record.prediction_id

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
        visible = [r for r, at in self.rows if at <= self.clock.now]
        return Page(select_page(visible, since, until, limit))


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "feedback")


def harvested(store: LocalObjectStore) -> list[str]:
    return [record["prediction_id"] for record in read_feedback(store)]


def run_every(source: DelayedSource, store: LocalObjectStore, step: timedelta, until: datetime):
    results = []
    while source.clock.now < until:
        source.clock.advance(seconds=step.total_seconds())
        results.append(harvest(source, store, source.clock.now, SETTINGS))
    return results


# --- late flags ------------------------------------------------------------------------------


def test_a_flag_ingested_55_minutes_late_is_harvested_once(store: LocalObjectStore) -> None:
    clock = Clock(T0)
    source = DelayedSource(clock)
    on_time = [source.add(T0 + timedelta(minutes=m)) for m in range(0, 60, 5)]
    late = source.add(T0 + timedelta(minutes=12), delay=LATE)  # visible at 01:07 after T0
    clock.advance(minutes=50)  # until = T0 + 20 min: the watermark passes the late flag's time
    first = harvest(source, store, clock.now, SETTINGS)
    assert first.watermark is not None
    assert first.watermark > T0 + timedelta(minutes=12)
    assert late not in harvested(store)
    results = run_every(source, store, timedelta(hours=1), T0 + timedelta(hours=5))
    assert sorted(harvested(store)) == sorted([*on_time, late])
    assert sum(r.new_records for r in [first, *results]) == len(on_time) + 1
    assert all(r.duplicates == 0 for r in results)


def test_without_the_late_window_the_same_flag_is_lost(store: LocalObjectStore) -> None:
    """The fault as filed: reading strictly after the watermark skips the late flag."""
    clock = Clock(T0)
    source = DelayedSource(clock, late_window=timedelta(0))
    source.add(T0 + timedelta(minutes=30))
    late = source.add(T0 + timedelta(minutes=12), delay=LATE)
    clock.advance(minutes=61)
    harvest(source, store, clock.now, SETTINGS)
    run_every(source, store, timedelta(hours=1), T0 + timedelta(hours=5))
    assert late not in harvested(store)


def test_many_late_flags_at_random_are_all_harvested_exactly_once(
    store: LocalObjectStore,
) -> None:
    """400 flags over 10 h, one in four visible 55 min late; a harvest every 20 min."""
    rng = random.Random(11)
    clock = Clock(T0)
    source = DelayedSource(clock)
    ids, late = [], []
    for _ in range(400):
        delay = LATE if rng.random() < 0.25 else timedelta(seconds=rng.randint(5, 180))
        moment = T0 + timedelta(seconds=rng.randint(0, 36_000))
        ids.append(source.add(moment, delay))
        if delay == LATE:
            late.append(ids[-1])
    results = run_every(source, store, timedelta(minutes=20), T0 + timedelta(hours=12))
    found = harvested(store)
    assert sorted(found) == sorted(ids)
    assert len(found) == len(set(found))
    assert set(late) <= set(found)
    assert len(late) > 50
    assert sum(r.new_records for r in results) == 400


def test_the_late_window_covers_the_exporters_retry_from_disk() -> None:
    assert timedelta(hours=48) + LOGS_INGESTION_LAG <= LOGS_LATE_WINDOW


# --- clocks stepping back --------------------------------------------------------------------


def test_a_harvest_whose_clock_steps_back_loses_and_doubles_nothing(
    store: LocalObjectStore,
) -> None:
    clock = Clock(T0)
    source = DelayedSource(clock)
    ids = [source.add(T0 + timedelta(minutes=m)) for m in range(0, 180, 10)]
    clock.advance(hours=2)
    harvest(source, store, clock.now, SETTINGS)
    mark = json.loads(store.get(WATERMARK_NAME).data)
    clock.advance(hours=-3)  # NTP correction, or a host with a wrong clock runs the timer
    back = harvest(source, store, clock.now, SETTINGS)
    assert (back.new_records, back.duplicates) == (0, 0)
    assert json.loads(store.get(WATERMARK_NAME).data)["time"] == mark["time"]  # not moved back
    ids.append(source.add(T0 + timedelta(minutes=5)))  # flagged meanwhile, stamped in the past
    clock.advance(hours=6)
    forward = harvest(source, store, clock.now, SETTINGS)
    assert forward.duplicates == 0
    found = harvested(store)
    assert sorted(found) == sorted(ids)
    assert len(found) == len(set(found))


def test_a_sink_whose_clock_steps_back_still_gets_harvested(tmp_path: Path) -> None:
    clock = Clock(T0)
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3", clock=clock)
    store = LocalObjectStore(tmp_path / "store")
    source = SqliteSource(sink.path, ingestion_lag=timedelta(0))
    first = flag_many(sink, clock, 5, step=timedelta(minutes=10))
    harvest(source, store, clock.now, SETTINGS)
    clock.advance(hours=-2)  # the serving host's clock jumps back: rows behind the watermark
    behind = flag_many(sink, clock, 3)
    clock.advance(hours=3)
    result = harvest(source, store, clock.now, SETTINGS)
    assert (result.new_records, result.duplicates) == (3, 0)
    assert sorted(harvested(store)) == sorted(first + behind)


# --- both kinds ------------------------------------------------------------------------------


def confirmation(index: int) -> dict[str, str]:
    predicted = "negative" if index % 2 else "positive"
    return build_event(
        str(uuid.uuid4()), predicted, None, "v1", "en", f"smooth flight {index}", kind=CONFIRMATION
    )


def test_corrections_and_confirmations_are_both_harvested_with_their_kind(
    tmp_path: Path, store: LocalObjectStore
) -> None:
    clock = Clock(T0)
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3", clock=clock)
    corrections = flag_many(sink, clock, 3)
    confirmations = []
    for i in range(4):
        event = confirmation(i)
        assert sink.record(event)
        confirmations.append(event["prediction_id"])
        clock.advance(minutes=1)
    source = SqliteSource(sink.path, ingestion_lag=timedelta(0))
    assert harvest(source, store, clock.now, SETTINGS).new_records == 7
    kinds = {r["prediction_id"]: r["kind"] for r in read_feedback(store)}
    assert kinds == {
        **dict.fromkeys(corrections, CORRECTION),
        **dict.fromkeys(confirmations, CONFIRMATION),
    }
    for record in read_feedback(store):
        same = record["correct_label"] == record["predicted_label"]
        assert same == (record["kind"] == CONFIRMATION)


def test_rows_before_kinds_existed_are_corrections_and_contradictions_are_dropped() -> None:
    legacy = {k: v for k, v in make_event(1).items() if k not in ("kind", "text_sha256")}
    record = make_record(T0, legacy)
    assert record is not None
    assert record.kind == CORRECTION
    assert record.properties["text_sha256"] == make_event(1)["text_sha256"]
    assert make_record(T0, {**make_event(1), "kind": CONFIRMATION}) is None  # labels differ
    assert make_record(T0, {**confirmation(1), "kind": CORRECTION}) is None
    assert make_record(T0, {**make_event(1), "kind": "praise"}) is None
    assert make_record(T0, {**make_event(1), "text_sha256": "0" * 64}) is None


# --- the index stays small -------------------------------------------------------------------


def test_a_harvest_keeps_only_the_partitions_near_what_it_reads(store: LocalObjectStore) -> None:
    window = IndexWindow(store)
    days = 90
    for day in range(days):
        moment = T0 + timedelta(days=day)
        record = make_record(moment, make_event(day))
        window.forget_before(moment)
        assert not window.is_harvested(record)
        assert len(window.partitions) <= 2 * DUPLICATE_WINDOW.days + 4  # about two weeks
    last = T0 + timedelta(days=days - 1)
    assert min(window.partitions) >= (last - DUPLICATE_WINDOW - timedelta(days=2)).date()


def test_the_index_is_one_partition_per_day_flagged(store: LocalObjectStore) -> None:
    clock = Clock(T0)
    source = DelayedSource(clock, ingestion_lag=timedelta(0))
    ids = [source.add(T0 + timedelta(hours=7 * h)) for h in range(12)]  # 3.5 days
    clock.advance(days=5)
    harvest(source, store, clock.now, SETTINGS, page_size=5)
    names = store.list(INDEX_PREFIX)
    assert names == [f"{INDEX_PREFIX}{T0 + timedelta(days=d):%Y/%m/%d}.json" for d in range(4)]
    assert harvested(store) == ids
    for name in names:
        day = name[len(INDEX_PREFIX) : -len(".json")]
        for batch in json.loads(store.get(name).data)["batches"].values():
            assert batch["path"].startswith(f"feedback/{day}/")


def test_a_repeat_flag_within_the_duplicate_window_is_dropped(store: LocalObjectStore) -> None:
    clock = Clock(T0)
    source = DelayedSource(clock, ingestion_lag=timedelta(0))
    first = source.add(T0)
    clock.advance(hours=1)
    harvest(source, store, clock.now, SETTINGS)
    source.add(T0 + timedelta(days=3), prediction_id=first)  # flagged again, another instance
    clock.advance(days=4)
    result = harvest(source, store, clock.now, SETTINGS)
    assert (result.new_records, result.duplicates) == (0, 1)
    assert harvested(store) == [first]


def test_a_data_file_deleted_by_retention_is_skipped(
    store: LocalObjectStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0)
    source = DelayedSource(clock, ingestion_lag=timedelta(0))
    old, new = source.add(T0), source.add(T0 + timedelta(days=40))
    clock.advance(days=41)
    harvest(source, store, clock.now, SETTINGS)
    [expired] = [n for n in store.list("feedback/") if f"{T0:%Y/%m/%d}" in n]
    store.delete(expired)  # a lifecycle rule removed the old data file; its partition stays
    assert harvested(store) == [new]
    assert "is gone" in caplog.text
    assert old not in harvested(store)
