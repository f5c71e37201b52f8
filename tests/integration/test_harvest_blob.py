"""The harvest into Blob Storage (Azurite): ETag conditions, and a crash at every write.

Both sources are used: the local SQLite log, and the real LogsQueryClient against the loopback
Log Analytics server. For each put k of a clean run, the run is repeated with a store that dies
just before, or just after, put k; a rerun must then leave exactly the flagged records, once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken

from shared.feedback.dispatch import REQUESTS_PREFIX
from shared.feedback.harvest import harvest
from shared.feedback.index import INDEX_PREFIX
from shared.feedback.records import HarvestError
from shared.feedback.sinks import SqliteFeedbackSink
from shared.feedback.sources import FeedbackSource, LogsQuerySource, SqliteSource
from shared.feedback.state import mark_consumed, read_feedback
from shared.settings import Settings
from shared.storage import ObjectStore, open_object_store
from tests.integration.conftest import Azurite
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
from tests.utils.loopback_servers import GitHubServer, LogAnalyticsServer, LogRow

pytestmark = pytest.mark.integration

SETTINGS = Settings(RETRAIN_THRESHOLD=5)
PAGE = 3
RECORDS = 7  # pages of 3, 3, 1: 9 puts, plus the retrain request


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("static-test-token", int(time.time()) + 3600)


def blob_store(azurite: Azurite, container: str) -> ObjectStore:
    settings = Settings(MODEL_STORE_CONNECTION_STRING=azurite.connection_string)
    return open_object_store(settings, container)


def harvested(store: ObjectStore) -> list[str]:
    return [record["prediction_id"] for record in read_feedback(store)]


def check_exactly_once(store: ObjectStore, ids: list[str], label: object) -> None:
    assert sorted(harvested(store)) == sorted(ids), label
    indexed = [
        pid
        for name in store.list(INDEX_PREFIX)
        for batch in json.loads(store.get(name).data)["batches"].values()
        for pid in batch["ids"]
    ]
    assert len(indexed) == len(set(indexed)) == len(ids), label
    assert len(store.list(REQUESTS_PREFIX)) == 1, label


def crash_and_rerun(
    store: ObjectStore,
    source: FeedbackSource,
    now: datetime,
    k: int,
    after_write: bool,
    between: Callable[[], list[str]],
) -> list[str]:
    """Run until put k dies, let `between` add records, rerun; returns the ids it added."""
    with pytest.raises(Crash):
        harvest(source, CrashingStore(store, k, after_write), now, SETTINGS, page_size=PAGE)
    added = between()
    harvest(source, store, now + timedelta(hours=1), SETTINGS, page_size=PAGE)
    return added


# --- SQLite → Blob -------------------------------------------------------------------------


def sqlite_scenario(folder: Path) -> tuple[SqliteSource, SqliteFeedbackSink, Clock, list[str]]:
    clock = Clock()
    sink = SqliteFeedbackSink(folder / "feedback.sqlite3", clock=clock)
    ids = flag_many(sink, clock, RECORDS)
    return SqliteSource(sink.path, ingestion_lag=timedelta(0)), sink, clock, ids


def test_sqlite_to_blob_survives_a_crash_at_every_put(
    azurite: Azurite, blob_container: str, tmp_path: Path
) -> None:
    source, _, clock, _ = sqlite_scenario(tmp_path / "count")
    counting = CountingStore(blob_store(azurite, blob_container))
    harvest(source, counting, clock.now, SETTINGS, page_size=PAGE)
    assert counting.puts == 10
    for k, after_write in crash_points(counting.puts):
        folder = tmp_path / f"k{k}-{after_write}"
        folder.mkdir()
        source, sink, clock, ids = sqlite_scenario(folder)
        store = blob_store(azurite, f"{blob_container}-{k}-{int(after_write)}")
        ids += crash_and_rerun(
            store, source, clock.now + timedelta(hours=1), k, after_write,
            lambda sink=sink, clock=clock: flag_many(sink, clock, 1),
        )  # fmt: skip
        check_exactly_once(store, ids, (k, after_write))


# --- Log Analytics (loopback) → Blob -------------------------------------------------------


def test_log_analytics_to_blob_survives_a_crash_at_every_put(
    azurite: Azurite, blob_container: str
) -> None:
    now = T0 + timedelta(days=1)
    for k, after_write in crash_points(10):
        with LogAnalyticsServer() as server:
            rows = [LogRow(T0 + timedelta(minutes=m), make_event(m)) for m in range(RECORDS)]
            server.add_rows(rows)
            ids = [row.values["prediction_id"] for row in rows]
            source = LogsQuerySource(
                "workspace", StaticCredential(), server.url, retry_backoff_factor=0.01
            )

            def late_row(server: LogAnalyticsServer = server) -> list[str]:
                row = LogRow(T0 + timedelta(hours=2), make_event(99))
                server.add_rows([row])
                return [row.values["prediction_id"]]

            store = blob_store(azurite, f"{blob_container}-la-{k}-{int(after_write)}")
            ids += crash_and_rerun(store, source, now, k, after_write, late_row)
        check_exactly_once(store, ids, (k, after_write))


# --- conditional writes and the retrain's side ----------------------------------------------


def test_consumption_and_races_on_blob(
    azurite: Azurite, blob_container: str, tmp_path: Path
) -> None:
    source, sink, clock, ids = sqlite_scenario(tmp_path)
    store = blob_store(azurite, blob_container)
    assert harvest(source, store, clock.now, SETTINGS).retrain_requested
    assert mark_consumed(store, ids[:4]) == 4
    assert len(read_feedback(store, unconsumed_only=True)) == RECORDS - 4
    flag_many(sink, clock, 2)

    class Racing(CrashingStore):
        def put(self, name: str, data: bytes, **conditions: object) -> str:
            if name.startswith(INDEX_PREFIX):  # another writer, every time: a new ETag
                current = self.inner.get(name)
                self.inner.put(name, current.data if current else b'{"batches": {}}')
            return self.inner.put(name, data, **conditions)

    with pytest.raises(HarvestError, match="another run"):
        harvest(source, Racing(store, crash_at=0), clock.now, SETTINGS)
    result = harvest(source, store, clock.now, SETTINGS)
    assert result.new_records == 2
    assert len(harvested(store)) == RECORDS + 2


# --- two harvests side by side at the threshold ---------------------------------------------


class BarrierStore(CrashingStore):
    """Each run's first retrain-request write waits for the other run: both read, then write."""

    def __init__(self, inner: ObjectStore, barrier: threading.Barrier) -> None:
        super().__init__(inner, crash_at=0)
        self.barrier = barrier

    def put(self, name: str, data: bytes, **conditions: object) -> str:
        if name.startswith(REQUESTS_PREFIX) and self.barrier is not None:
            self.barrier, barrier = None, self.barrier
            barrier.wait(timeout=20)
        return self.inner.put(name, data, **conditions)


@pytest.mark.parametrize("failed_first", [False, True], ids=["new_crossing", "failed_retry"])
def test_two_harvests_at_the_threshold_dispatch_once(
    azurite: Azurite, blob_container: str, tmp_path: Path, failed_first: bool
) -> None:
    """A timer re-fire beside an overlapping retry: exactly one workflow_dispatch arrives."""
    source, sink, clock, _ = sqlite_scenario(tmp_path)
    store = blob_store(azurite, f"{blob_container}-race-{int(failed_first)}")
    harvest(source, store, clock.now, Settings(RETRAIN_THRESHOLD=1000))
    github_settings = Settings(
        RETRAIN_THRESHOLD=5, GITHUB_REPOSITORY="acme/bad-buzz", GITHUB_TOKEN="ghp_test"
    )
    if failed_first:
        with GitHubServer(status=503) as down:
            harvest(source, store, clock.now, github_settings, github_api_url=down.url)
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]
    with GitHubServer(delay=0.3) as github:

        def run(i: int) -> None:
            own_source = SqliteSource(sink.path, ingestion_lag=timedelta(0))
            racing = BarrierStore(store, barrier)
            try:
                outcomes[i] = harvest(
                    own_source, racing, clock.now + timedelta(seconds=i), github_settings,
                    github_api_url=github.url,
                )  # fmt: skip
            except Exception as exc:  # reported below
                outcomes[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len(github.requests) == 1
    [name] = store.list(REQUESTS_PREFIX)
    assert json.loads(store.get(name).data)["dispatch"] == "sent"
