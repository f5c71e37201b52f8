"""The harvest through the real LogsQueryClient against a loopback Log Analytics query API.

The server filters its rows by the timespan the client sends but knows no KQL (no `take`, no
seen-id filter), so the harvest's own bounds, paging and de-duplication are what keep the
result exact. Scripted answers cover partial results, throttling, a service that stays down and
one that accepts and never answers; rows can become visible late, as ingestion does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken

from shared.feedback.event import build_event
from shared.feedback.harvest import harvest
from shared.feedback.records import HarvestError
from shared.feedback.sources import (
    LOGS_LATE_WINDOW,
    QUERY_DEADLINE_SECONDS,
    LogsQuerySource,
    load_query,
)
from shared.feedback.state import WATERMARK_NAME, read_feedback
from shared.settings import Settings
from shared.storage import LocalObjectStore
from tests.utils.feedback_builders import T0, Clock, make_event
from tests.utils.loopback_servers import LogAnalyticsServer, LogRow

pytestmark = pytest.mark.integration

WORKSPACE = "00000000-1111-2222-3333-444444444444"
STATIC_TOKEN = "static-test-token"
LAG = timedelta(minutes=30)


class StaticCredential:
    """A TokenCredential that never talks to Entra ID."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(STATIC_TOKEN, int(time.time()) + 3600)


@pytest.fixture
def server() -> Iterator[LogAnalyticsServer]:
    with LogAnalyticsServer() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "feedback")


def make_source(server: LogAnalyticsServer, retry_total: int = 3) -> LogsQuerySource:
    return LogsQuerySource(
        WORKSPACE,
        StaticCredential(),
        server.url,
        ingestion_lag=LAG,
        retry_total=retry_total,
        retry_backoff_factor=0.01,
    )


def add_rows(server: LogAnalyticsServer, times: list[datetime]) -> list[str]:
    rows = [LogRow(moment, make_event(i)) for i, moment in enumerate(times)]
    server.add_rows(rows)
    return [row.values["prediction_id"] for row in rows]


def harvested(store: LocalObjectStore) -> list[str]:
    return [record["prediction_id"] for record in read_feedback(store)]


SETTINGS = Settings(RETRAIN_THRESHOLD=1000)


def test_harvest_reads_the_window_with_the_shared_query(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    ids = add_rows(server, [T0 + timedelta(hours=h) for h in range(5)])
    too_recent = add_rows(server, [T0 + timedelta(hours=5, minutes=50)])  # inside the lag
    result = harvest(make_source(server), store, T0 + timedelta(hours=6), SETTINGS)
    assert result.new_records == 5
    assert harvested(store) == ids
    [request] = server.query_requests()
    assert request.path == f"/v1/workspaces/{WORKSPACE}/query"
    assert request.headers["Authorization"] == f"Bearer {STATIC_TOKEN}"
    sent = request.json()
    assert load_query().strip() in sent["query"]
    assert sent["query"].startswith("let harvest_since")
    assert sent["timespan"].endswith("T08:30:01.000Z")  # now - lag + slack
    assert too_recent[0] not in harvested(store)


def test_the_next_harvest_starts_its_late_window_behind_the_watermark(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    first = add_rows(server, [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1)])
    harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS)
    same_time = add_rows(server, [T0 + timedelta(hours=1)])  # late, at the watermark's time
    later = add_rows(server, [T0 + timedelta(days=3)])
    result = harvest(make_source(server), store, T0 + timedelta(days=7), SETTINGS)
    assert (result.new_records, result.duplicates) == (2, 0)
    assert sorted(harvested(store)) == sorted(first + same_time + later)
    start = server.query_requests()[-1].json()["timespan"].split("/")[0]
    mark = T0 + timedelta(hours=1)
    expected = mark - LOGS_LATE_WINDOW - timedelta(seconds=1)  # late window, then the slack
    assert start.startswith(f"{expected:%Y-%m-%dT%H:%M:%S}")


def test_paging_without_server_side_take_is_exact(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    ids = add_rows(server, [T0 + timedelta(minutes=m // 2) for m in range(11)])
    result = harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS, page_size=3)
    assert (result.new_records, result.duplicates) == (11, 0)
    assert sorted(harvested(store)) == sorted(ids)
    assert len(server.query_requests()) == 4  # 3 + 3 + 3 + 2
    assert "| take 3" in server.query_requests()[0].json()["query"]


def test_a_partial_result_is_kept_and_the_watermark_stays(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    ids = add_rows(server, [T0 + timedelta(minutes=m) for m in range(6)])
    server.then("partial")
    first = harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS)
    assert (first.new_records, first.partial, first.watermark) == (3, True, None)
    assert store.get(WATERMARK_NAME) is None
    second = harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS)
    assert (second.new_records, second.duplicates, second.partial) == (3, 3, False)
    assert sorted(harvested(store)) == sorted(ids)


@pytest.mark.parametrize("answer", ["throttle", "throttle_no_header"])
def test_throttling_is_retried(
    server: LogAnalyticsServer, store: LocalObjectStore, answer: str
) -> None:
    ids = add_rows(server, [T0])
    server.then(answer)
    started = time.monotonic()
    result = harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS)
    assert result.new_records == 1
    assert harvested(store) == ids
    assert len(server.query_requests()) == 2
    if answer == "throttle":
        assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured


def test_a_server_that_stays_down_leaves_the_watermark_alone(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    add_rows(server, [T0])
    harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS)
    before = store.get(WATERMARK_NAME)
    add_rows(server, [T0 + timedelta(days=2)])
    server.default_answer = "error500"
    with pytest.raises(HarvestError, match="HTTP 500") as raised:
        harvest(make_source(server, retry_total=2), store, T0 + timedelta(days=7), SETTINGS)
    assert STATIC_TOKEN not in str(raised.value)
    assert len(server.query_requests()) == 1 + 3  # the first harvest, then 1 try + 2 retries
    assert store.get(WATERMARK_NAME) == before
    assert len(harvested(store)) == 1


def test_an_unreachable_service_is_a_harvest_error(store: LocalObjectStore) -> None:
    with LogAnalyticsServer() as gone:
        url = gone.url
    source = LogsQuerySource(
        WORKSPACE, StaticCredential(), url, retry_total=1, retry_backoff_factor=0.01
    )
    with pytest.raises(HarvestError, match="unreachable"):
        harvest(source, store, T0, SETTINGS)
    assert store.list() == []


def test_plain_http_is_refused_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        LogsQuerySource(WORKSPACE, StaticCredential(), "http://logs.example.invalid")


def test_rows_without_a_valid_id_are_dropped(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    good = add_rows(server, [T0])
    server.add_rows([LogRow(T0, {**make_event(5), "prediction_id": "not-a-uuid"})])
    result = harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS)
    assert result.new_records == 1
    assert harvested(store) == good
    stored = json.loads(store.get(WATERMARK_NAME).data)
    assert all(uuid.UUID(pid) for pid in stored["ids_at_time"])


# --- late flags, both kinds, a total deadline ------------------------------------------------


def test_a_flag_ingested_55_minutes_late_is_harvested(store: LocalObjectStore) -> None:
    clock = Clock(T0 + timedelta(minutes=50))
    with LogAnalyticsServer(clock=clock) as server:
        on_time = add_rows(server, [T0 + timedelta(minutes=m) for m in range(0, 20, 2)])
        late = LogRow(T0 + timedelta(minutes=5), make_event(99), T0 + timedelta(minutes=60))
        server.add_rows([late])
        first = harvest(make_source(server), store, clock.now, SETTINGS)
        assert first.new_records == len(on_time)  # the late flag is not visible yet
        assert first.watermark > late.time
        clock.advance(days=7)  # the next weekly run
        second = harvest(make_source(server), store, clock.now, SETTINGS)
    assert (second.new_records, second.duplicates) == (1, 0)
    assert sorted(harvested(store)) == sorted([*on_time, late.values["prediction_id"]])
    start = server.query_requests()[-1].json()["timespan"].split("/")[0]
    assert start < late.time.isoformat()  # the run re-read its late window


def test_confirmations_are_harvested_apart_from_corrections(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    corrections = add_rows(server, [T0, T0 + timedelta(minutes=1)])
    confirmed = build_event(str(uuid.uuid4()), "negative", None, "v1", "en", "ok", "confirmation")
    server.add_rows([LogRow(T0 + timedelta(minutes=2), confirmed)])
    legacy = {k: v for k, v in make_event(7).items() if k not in ("kind", "text_sha256")}
    server.add_rows([LogRow(T0 + timedelta(minutes=3), legacy)])  # logged before kinds existed
    assert harvest(make_source(server), store, T0 + timedelta(days=1), SETTINGS).new_records == 4
    kinds = {r["prediction_id"]: r["kind"] for r in read_feedback(store)}
    assert kinds == {
        corrections[0]: "correction",
        corrections[1]: "correction",
        confirmed["prediction_id"]: "confirmation",
        legacy["prediction_id"]: "correction",
    }
    assert "['kind']" in server.query_requests()[0].json()["query"]


def test_an_endpoint_that_never_answers_fails_within_the_deadline(
    server: LogAnalyticsServer, store: LocalObjectStore
) -> None:
    add_rows(server, [T0])
    server.default_answer = "hang"  # accepts, reads the query, never answers
    source = LogsQuerySource(
        WORKSPACE, StaticCredential(), server.url, retry_total=3, deadline_seconds=2.0
    )
    started = time.monotonic()
    with pytest.raises(HarvestError, match="no answer within 2 s"):
        harvest(source, store, T0 + timedelta(days=1), SETTINGS)
    assert time.monotonic() - started < 2.0 + 3.0  # the deadline, not the SDK's read timeout
    assert store.list() == []  # nothing moved: no data, no index, no watermark
    assert 30 <= QUERY_DEADLINE_SECONDS <= 300  # the documented production deadline
