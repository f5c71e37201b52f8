"""The weekly harvest on the embedded defaults: SQLite log → local object store."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared.feedback import harvest as harvest_module
from shared.feedback.dispatch import REQUESTS_PREFIX
from shared.feedback.harvest import harvest, run_harvest
from shared.feedback.index import INDEX_PREFIX
from shared.feedback.records import (
    FeedbackRecord,
    HarvestError,
    Watermark,
    make_record,
    select_page,
)
from shared.feedback.sinks import SqliteFeedbackSink
from shared.feedback.sources import Page, SqliteSource
from shared.feedback.state import WATERMARK_NAME, mark_consumed, read_feedback
from shared.settings import Settings
from shared.storage import LocalObjectStore
from tests.utils.feedback_builders import (
    T0,
    Clock,
    CountingStore,
    Crash,
    CrashingStore,
    crash_points,
    flag_many,
    make_event,
)
from tests.utils.loopback_servers import GitHubServer

pytestmark = pytest.mark.code

TOKEN = "ghp_test_token_never_logged_0123456789"
NO_LAG = timedelta(0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sink(tmp_path: Path, clock: Clock) -> SqliteFeedbackSink:
    return SqliteFeedbackSink(tmp_path / "feedback.sqlite3", clock=clock)


@pytest.fixture
def source(sink: SqliteFeedbackSink) -> SqliteSource:
    return SqliteSource(sink.path, ingestion_lag=NO_LAG)


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "feedback-container")


def settings_for(threshold: int = 1000, **extra: object) -> Settings:
    return Settings(RETRAIN_THRESHOLD=threshold, **extra)


def harvested_ids(store: LocalObjectStore) -> list[str]:
    return [record["prediction_id"] for record in read_feedback(store)]


def indexed_ids(store: LocalObjectStore) -> list[str]:
    """Every id every index partition names (repeats included)."""
    ids = []
    for name in store.list(INDEX_PREFIX):
        batches = json.loads(store.get(name).data)["batches"]
        ids += [pid for batch in batches.values() for pid in batch["ids"]]
    return ids


# --- pure parts --------------------------------------------------------------------------------


def record_at(moment: datetime, index: int = 0) -> FeedbackRecord:
    record = make_record(moment, make_event(index))
    assert record is not None
    return record


def test_watermark_admits_later_times_and_unseen_ids_at_its_time() -> None:
    seen, unseen = record_at(T0, 1), record_at(T0, 2)
    watermark = Watermark(T0, frozenset({seen.prediction_id}))
    assert not watermark.admits(seen)
    assert watermark.admits(unseen)
    assert watermark.admits(record_at(T0 + timedelta(microseconds=1)))
    assert not watermark.admits(record_at(T0 - timedelta(microseconds=1)))


def test_watermark_advance_remembers_every_id_at_the_last_time() -> None:
    early, late_a, late_b = record_at(T0, 1), record_at(T0 + timedelta(seconds=1), 2), None
    late_b = record_at(T0 + timedelta(seconds=1), 3)
    watermark = Watermark().advance(sorted([late_b, early, late_a], key=FeedbackRecord.sort_key))
    assert watermark.time == T0 + timedelta(seconds=1)
    assert watermark.ids == {late_a.prediction_id, late_b.prediction_id}
    again = watermark.advance([record_at(watermark.time, 4)])
    assert len(again.ids) == 3  # same time: the ids add up
    assert Watermark.from_json(again.to_json(T0)) == again


def test_select_page_sorts_bounds_and_limits() -> None:
    records = [record_at(T0 + timedelta(minutes=m), m) for m in (5, 1, 3, 9)]
    since = Watermark(T0 + timedelta(minutes=1), frozenset({records[1].prediction_id}))
    page = select_page(records, since, T0 + timedelta(minutes=9), 2)
    assert [r.flagged_at.minute - T0.minute for r in page] == [3, 5]
    assert len(select_page(records, Watermark(since.time), T0 + timedelta(hours=1), 9)) == 4


def test_make_record_drops_rows_that_cannot_be_training_data() -> None:
    assert make_record(T0, {**make_event(1), "prediction_id": "nope"}) is None
    assert make_record(T0, {**make_event(1), "correct_label": ""}) is None
    assert make_record("2024-03-04T03:00:00.1234567Z", make_event(1)).flagged_at.microsecond == (
        123456
    )


# --- harvesting --------------------------------------------------------------------------------


def test_harvest_writes_data_then_index_then_watermark(
    sink: SqliteFeedbackSink, source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    ids = flag_many(sink, clock, 5)
    result = harvest(source, store, clock.now, settings_for())
    assert (result.new_records, result.duplicates, result.retrain_requested) == (5, 0, False)
    assert result.watermark == T0 + timedelta(minutes=4)
    [data_file] = store.list("feedback/")
    assert data_file.startswith(f"feedback/{clock.now:%Y/%m/%d}/")
    assert data_file.endswith(".jsonl")
    lines = store.get(data_file).data.decode().splitlines()
    assert [json.loads(line)["prediction_id"] for line in lines] == ids
    assert sorted(harvested_ids(store)) == sorted(ids)
    assert set(json.loads(lines[0])) == {"flagged_at", *make_event(0)}
    assert store.list(INDEX_PREFIX) == [f"{INDEX_PREFIX}{T0:%Y/%m/%d}.json"]
    assert store.get(WATERMARK_NAME) is not None


def test_rerun_harvests_nothing_twice(
    sink: SqliteFeedbackSink, source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    flag_many(sink, clock, 3)
    harvest(source, store, clock.now, settings_for())
    files = store.list()
    again = harvest(source, store, clock.now, settings_for())
    assert (again.new_records, again.duplicates) == (0, 0)
    assert store.list() == files
    later = flag_many(sink, clock, 2)
    third = harvest(source, store, clock.now, settings_for())
    assert third.new_records == 2
    assert harvested_ids(store)[-2:] == later


def test_equal_timestamps_are_neither_lost_nor_doubled(
    sink: SqliteFeedbackSink, source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    same_instant = flag_many(sink, clock, 7, step=timedelta(0))
    result = harvest(source, store, clock.now + timedelta(seconds=1), settings_for(), page_size=3)
    assert result.new_records == 7
    watermark = json.loads(store.get(WATERMARK_NAME).data)
    assert len(watermark["ids_at_time"]) == 7
    # a flag that lands later with the very same timestamp (a slow writer) is still picked up
    late = make_event(99, prediction_id="00000000-0000-4000-8000-000000000000")
    assert sink.record(late)
    again = harvest(source, store, clock.now + timedelta(seconds=2), settings_for())
    assert (again.new_records, again.duplicates) == (1, 0)
    assert sorted(harvested_ids(store)) == sorted([*same_instant, late["prediction_id"]])


def test_a_missed_week_loses_nothing(
    sink: SqliteFeedbackSink, source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    first_week = flag_many(sink, clock, 4, step=timedelta(days=1))
    harvest(source, store, clock.now, settings_for())
    missed = flag_many(sink, clock, 10, step=timedelta(days=1))  # no harvest for 10 days
    clock.advance(days=7)
    result = harvest(source, store, clock.now, settings_for(), page_size=4)
    assert result.new_records == 10
    assert harvested_ids(store) == first_week + missed


def test_rows_inside_the_ingestion_lag_wait_for_the_next_run(
    sink: SqliteFeedbackSink, store: LocalObjectStore, clock: Clock
) -> None:
    lagging = SqliteSource(sink.path, ingestion_lag=timedelta(minutes=10))
    early = flag_many(sink, clock, 2)
    clock.advance(minutes=20)
    recent = flag_many(sink, clock, 2)
    assert harvest(lagging, store, clock.now, settings_for()).new_records == 2
    clock.advance(minutes=15)
    assert harvest(lagging, store, clock.now, settings_for()).new_records == 2
    assert harvested_ids(store) == early + recent


def test_duplicates_from_the_source_are_counted_not_stored(store: LocalObjectStore) -> None:
    event = make_event(1)

    class Repeating:
        ingestion_lag = NO_LAG

        def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
            records = [make_record(T0 + timedelta(seconds=s), event) for s in (1, 2)]
            return Page([r for r in records if since.admits(r)])

    result = harvest(Repeating(), store, T0 + timedelta(hours=1), settings_for())
    assert (result.new_records, result.duplicates) == (1, 1)
    assert harvested_ids(store) == [event["prediction_id"]]


def test_a_partial_answer_is_kept_but_the_watermark_stays(store: LocalObjectStore) -> None:
    events = [make_event(i) for i in range(4)]
    records = [make_record(T0 + timedelta(minutes=i), e) for i, e in enumerate(events)]

    class Flaky:
        ingestion_lag = NO_LAG
        partial = True

        def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
            if self.partial:
                return Page([records[0], records[2]], partial=True)
            return Page([r for r in records if since.admits(r)])

    source = Flaky()
    first = harvest(source, store, T0 + timedelta(hours=1), settings_for())
    assert (first.new_records, first.partial, first.watermark) == (2, True, None)
    assert store.get(WATERMARK_NAME) is None
    source.partial = False
    second = harvest(source, store, T0 + timedelta(hours=1), settings_for())
    assert (second.new_records, second.duplicates, second.partial) == (2, 2, False)
    assert sorted(harvested_ids(store)) == sorted(e["prediction_id"] for e in events)


def test_a_concurrent_harvest_fails_instead_of_overwriting(
    sink: SqliteFeedbackSink, source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    flag_many(sink, clock, 2)

    class Racing(CrashingStore):
        def put(self, name: str, data: bytes, **conditions: object) -> str:
            if name.startswith(INDEX_PREFIX):  # another run gets there first, every time
                self.puts += 1
                self.inner.put(name, json.dumps({"batches": {}, "n": self.puts}).encode())
            return self.inner.put(name, data, **conditions)

    with pytest.raises(HarvestError, match="another run"):
        harvest(source, Racing(store, crash_at=0), clock.now, settings_for())


def test_corrupt_state_stops_the_harvest(
    source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    store.put(WATERMARK_NAME, b"{not json")
    with pytest.raises(HarvestError, match="not valid JSON"):
        harvest(source, store, clock.now, settings_for())


def test_read_feedback_ignores_files_the_index_does_not_name(
    sink: SqliteFeedbackSink, source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    ids = flag_many(sink, clock, 2)
    harvest(source, store, clock.now, settings_for())
    store.put("feedback/2024/01/01/orphan.jsonl", b'{"prediction_id": "x"}\n')
    assert harvested_ids(store) == ids


# --- crash at every write, then rerun ----------------------------------------------------------


def run_crash_scenario(tmp_path: Path, k: int, after_write: bool) -> tuple[Path, list[str]]:
    clock = Clock()
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3", clock=clock)
    source = SqliteSource(sink.path, ingestion_lag=NO_LAG)
    store = LocalObjectStore(tmp_path / "store")
    ids = flag_many(sink, clock, 7)
    crashing = CrashingStore(store, crash_at=k, after_write=after_write)
    with pytest.raises(Crash):
        harvest(source, crashing, clock.now, settings_for(threshold=5), page_size=3)
    ids += flag_many(sink, clock, 1)  # life goes on between the crash and the rerun
    result = harvest(source, store, clock.now, settings_for(threshold=5), page_size=3)
    assert result.duplicates <= 3
    return tmp_path, ids


def count_puts(tmp_path: Path) -> int:
    clock = Clock()
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3", clock=clock)
    flag_many(sink, clock, 7)
    counting = CountingStore(LocalObjectStore(tmp_path / "store"))
    source = SqliteSource(sink.path, ingestion_lag=NO_LAG)
    harvest(source, counting, clock.now, settings_for(threshold=5), page_size=3)
    return counting.puts


def test_a_crash_at_any_write_then_a_rerun_loses_and_doubles_nothing(tmp_path: Path) -> None:
    total = count_puts(tmp_path / "count")
    assert total == 10  # 3 pages x (data, index, watermark) + the retrain request
    for k, after_write in crash_points(total):
        folder, ids = run_crash_scenario(tmp_path / f"crash-{k}-{after_write}", k, after_write)
        store = LocalObjectStore(folder / "store")
        assert sorted(harvested_ids(store)) == sorted(ids), (k, after_write)
        assert len(store.list(REQUESTS_PREFIX)) == 1, (k, after_write)
        all_ids = indexed_ids(store)
        assert len(all_ids) == len(set(all_ids)) == len(ids), (k, after_write)


# --- retrain requests --------------------------------------------------------------------------


def test_threshold_crossing_requests_one_retrain(
    sink: SqliteFeedbackSink, source: SqliteSource, store: LocalObjectStore, clock: Clock
) -> None:
    settings = settings_for(threshold=5)
    flag_many(sink, clock, 4)
    assert harvest(source, store, clock.now, settings).retrain_requested is False
    flag_many(sink, clock, 2)
    crossing = harvest(source, store, clock.now, settings)
    assert (crossing.retrain_requested, crossing.unconsumed) == (True, 6)
    flag_many(sink, clock, 3)
    assert harvest(source, store, clock.now, settings).retrain_requested is False
    assert harvest(source, store, clock.now, settings).retrain_requested is False
    [request] = store.list(REQUESTS_PREFIX)
    assert json.loads(store.get(request).data)["dispatch"] == "not_configured"
    # the retrain consumes what it read; the next crossing asks again
    assert mark_consumed(store, harvested_ids(store)) == 9
    assert mark_consumed(store, harvested_ids(store)) == 0
    flag_many(sink, clock, 4)
    assert harvest(source, store, clock.now, settings).retrain_requested is False
    flag_many(sink, clock, 1)
    assert harvest(source, store, clock.now, settings).retrain_requested is True
    assert len(store.list(REQUESTS_PREFIX)) == 2
    assert len(read_feedback(store, unconsumed_only=True)) == 5
    assert len(read_feedback(store)) == 14


def test_crossing_sends_a_workflow_dispatch(
    sink: SqliteFeedbackSink,
    source: SqliteSource,
    store: LocalObjectStore,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(threshold=2, GITHUB_REPOSITORY="acme/bad-buzz", GITHUB_TOKEN=TOKEN)
    flag_many(sink, clock, 3)
    with GitHubServer() as github, caplog.at_level(logging.DEBUG):
        result = harvest(source, store, clock.now, settings, github_api_url=github.url)
    assert result.retrain_requested
    [request] = github.requests
    assert request.path == "/repos/acme/bad-buzz/actions/workflows/retrain.yml/dispatches"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    [name] = store.list(REQUESTS_PREFIX)
    assert request.json() == {
        "ref": "main",
        "inputs": {"request_id": name, "feedback_count": "3"},
    }
    assert json.loads(store.get(name).data)["dispatch"] == "sent"
    assert TOKEN not in caplog.text
    assert TOKEN not in "".join(store.get(n).data.decode() for n in store.list())


def test_a_failed_dispatch_is_logged_without_the_token_and_retried(
    sink: SqliteFeedbackSink,
    source: SqliteSource,
    store: LocalObjectStore,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(threshold=2, GITHUB_REPOSITORY="acme/bad-buzz", GITHUB_TOKEN=TOKEN)
    flag_many(sink, clock, 3)
    with GitHubServer(status=401) as github, caplog.at_level(logging.DEBUG):
        result = harvest(source, store, clock.now, settings, github_api_url=github.url)
    assert result.retrain_requested  # the request record is there; the dispatch is owed
    assert "HTTP 401" in caplog.text
    assert TOKEN not in caplog.text
    [name] = store.list(REQUESTS_PREFIX)
    assert json.loads(store.get(name).data)["dispatch"] == "failed"
    with GitHubServer() as github:
        again = harvest(source, store, clock.now, settings, github_api_url=github.url)
        assert len(github.requests) == 1
    assert again.retrain_requested is False
    assert json.loads(store.get(name).data)["dispatch"] == "sent"
    assert store.list(REQUESTS_PREFIX) == [name]


def test_an_unreachable_github_is_not_fatal(
    sink: SqliteFeedbackSink,
    source: SqliteSource,
    store: LocalObjectStore,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(threshold=1, GITHUB_REPOSITORY="acme/bad-buzz", GITHUB_TOKEN=TOKEN)
    flag_many(sink, clock, 1)
    with GitHubServer() as github:
        closed_port_url = github.url
    result = harvest(source, store, clock.now, settings, github_api_url=closed_port_url)
    assert result.retrain_requested
    assert result.new_records == 1
    assert TOKEN not in caplog.text


# --- entry points ------------------------------------------------------------------------------


def embedded_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        MODEL_STORE_PATH=tmp_path / "local" / "models",
        FEEDBACK_DB_PATH=tmp_path / "local" / "feedback.sqlite3",
        **extra,
    )


def test_run_harvest_uses_the_embedded_defaults(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path)
    sink = SqliteFeedbackSink(settings.FEEDBACK_DB_PATH, clock=lambda: T0)
    sink.record(make_event(1))
    result = run_harvest(settings, now=T0 + timedelta(hours=1))
    assert result.new_records == 1
    store = LocalObjectStore(tmp_path / "local" / "feedback")
    assert len(read_feedback(store)) == 1


def test_appinsights_backend_needs_a_workspace(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path, FEEDBACK_BACKEND="appinsights")
    with pytest.raises(HarvestError, match="LOG_ANALYTICS_WORKSPACE_ID"):
        run_harvest(settings)


def test_main_and_timer_run_one_harvest(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = embedded_settings(tmp_path, GITHUB_TOKEN=TOKEN)
    SqliteFeedbackSink(settings.FEEDBACK_DB_PATH, clock=lambda: T0).record(make_event(1))
    monkeypatch.setattr("shared.settings.get_settings", lambda: settings)
    assert harvest_module.main([]) == 0
    assert json.loads(capsys.readouterr().out)["new_records"] == 1
    with caplog.at_level(logging.INFO, logger="shared.feedback.harvest"):
        harvest_module.harvest_timer(type("Timer", (), {"past_due": True})())
    assert "feedback harvest done" in caplog.text
    assert TOKEN not in caplog.text


def test_the_timer_reports_each_run_for_the_harvest_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from shared.monitoring.run_report import RUN_EVENT, RUN_LOGGER

    settings = embedded_settings(tmp_path)
    monkeypatch.setattr("shared.settings.get_settings", lambda: settings)
    with caplog.at_level(logging.INFO, logger=RUN_LOGGER):
        harvest_module.harvest_timer(object())
    [success] = [r for r in caplog.records if r.getMessage() == RUN_EVENT]
    assert (success.job, success.outcome) == ("harvest", "success")
    assert json.loads(success.detail)["new_records"] == 0
    broken = embedded_settings(tmp_path, FEEDBACK_BACKEND="appinsights")  # no workspace
    monkeypatch.setattr("shared.settings.get_settings", lambda: broken)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=RUN_LOGGER), pytest.raises(HarvestError):
        harvest_module.harvest_timer(object())
    [failure] = [r for r in caplog.records if r.getMessage() == RUN_EVENT]
    assert failure.outcome == "failure"
    assert "LOG_ANALYTICS_WORKSPACE_ID" in failure.detail
