"""Flagging a wrong prediction: the event, the two sinks and POST /api/feedback."""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.api import feedback as feedback_api
from shared.api.errors import add_error_handlers
from shared.feedback.event import EVENT_NAME, PROPERTIES, build_event
from shared.feedback.sinks import (
    FEEDBACK_LOGGER,
    AppInsightsFeedbackSink,
    SqliteFeedbackSink,
    make_feedback_sink,
)
from shared.settings import Settings
from tests.utils.feedback_builders import T0, Clock, flag_many, make_event

pytestmark = pytest.mark.code

RAW = "Thanks @united, my bag is lost AGAIN!!! https://t.co/abc123 :("
API_KEY = "test-key-not-a-secret-0123456789"


# --- the event ---------------------------------------------------------------------------------


def test_event_has_exactly_the_properties_with_masked_normalised_text() -> None:
    pid = str(uuid.uuid4())
    event = build_event(pid, "positive", None, "v7", "en", RAW)
    assert tuple(event) == PROPERTIES
    assert event["correct_label"] == "negative"
    assert "<url>" in event["text"]
    assert "<mention>" in event["text"]
    assert "united" not in event["text"]
    assert "t.co" not in event["text"]
    assert event["text"] == event["text"].lower()
    assert all(isinstance(value, str) for value in event.values())


@pytest.mark.parametrize(
    ("predicted", "correct"), [("negative", "negative"), ("neutral", None), ("positive", "bad")]
)
def test_event_rejects_bad_labels(predicted: str, correct: str | None) -> None:
    with pytest.raises(ValueError, match="label"):
        build_event(str(uuid.uuid4()), predicted, correct, "v1", "en", "text")


def test_event_canonicalises_the_id_and_cleans_free_form_fields() -> None:
    pid = uuid.uuid4()
    event = build_event(str(pid).upper(), "negative", None, "v1; DROP", "<script>", "hi")
    assert event["prediction_id"] == str(pid)
    assert event["model_version"] == "unknown"
    assert event["language"] == "unknown"
    with pytest.raises(ValueError, match="badly formed"):
        build_event("not-a-uuid", "negative", None, "v1", "en", "hi")


# --- SQLite sink -------------------------------------------------------------------------------


def test_sqlite_sink_counts_a_prediction_once_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    sink = SqliteFeedbackSink(path)
    event = make_event(1)
    assert sink.record(event) is True
    assert sink.record(dict(event, text="different text, same prediction")) is False
    sink.close()
    reopened = SqliteFeedbackSink(path)
    assert reopened.count() == 1
    assert reopened.record(event) is False
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_sqlite_sink_is_thread_safe(tmp_path: Path) -> None:
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3")
    events = [make_event(i) for i in range(50)]
    outcomes: list[bool] = []
    lock = threading.Lock()

    def flag_all() -> None:
        for event in events:
            result = sink.record(event)
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=flag_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 50
    assert sink.count() == 50


def test_sqlite_read_since_keeps_equal_timestamps_apart(tmp_path: Path) -> None:
    clock = Clock()
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3", clock=clock)
    ids = flag_many(sink, clock, 5, step=T0 - T0)  # five rows at the same instant
    until = T0.replace(hour=4)
    first = sink.read_since(T0, until, limit=2)
    seen = {row.properties["prediction_id"] for row in first}
    rest = sink.read_since(T0, until, seen_at_since=seen)
    assert sorted(seen | {row.properties["prediction_id"] for row in rest}) == sorted(ids)
    assert len(first) + len(rest) == 5
    assert sink.read_since(until, until.replace(hour=5)) == []


def test_sqlite_sink_refuses_malformed_events(tmp_path: Path) -> None:
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3")
    with pytest.raises(ValueError, match="exactly the string properties"):
        sink.record({**make_event(1), "ip": "10.0.0.1"})


# --- App Insights sink --------------------------------------------------------------------------


def test_appinsights_sink_logs_the_event_as_a_trace(caplog: pytest.LogCaptureFixture) -> None:
    sink = AppInsightsFeedbackSink()
    event = make_event(3)
    with caplog.at_level(logging.INFO, logger=FEEDBACK_LOGGER):
        assert sink.record(event) is True
        assert sink.record(event) is False  # same instance: best-effort de-duplication
    records = [r for r in caplog.records if r.name == FEEDBACK_LOGGER]
    assert len(records) == 1
    record = records[0]
    assert record.getMessage() == EVENT_NAME
    assert record.levelno == logging.INFO
    assert {name: getattr(record, name) for name in PROPERTIES} == event
    assert not hasattr(record, "microsoft.custom_event.name")  # would make it an AppEvents row


def test_appinsights_sink_forgets_the_oldest_ids_beyond_capacity() -> None:
    sink = AppInsightsFeedbackSink(capacity=2)
    first, second, third = (make_event(i) for i in range(3))
    assert all(sink.record(event) for event in (first, second, third))
    assert sink.record(third) is False
    assert sink.record(first) is True  # evicted: the harvest de-duplicates it


def test_make_feedback_sink_follows_the_backend_setting(tmp_path: Path) -> None:
    local = Settings(FEEDBACK_BACKEND="sqlite", FEEDBACK_DB_PATH=tmp_path / "f.sqlite3")
    assert isinstance(make_feedback_sink(local), SqliteFeedbackSink)
    azure = Settings(FEEDBACK_BACKEND="appinsights")
    assert isinstance(make_feedback_sink(azure), AppInsightsFeedbackSink)


# --- POST /api/feedback -------------------------------------------------------------------------


class FailingSink:
    def record(self, event: dict[str, str]) -> bool:
        raise sqlite3.OperationalError("disk I/O error")


def build_app(sink: object, settings: Settings, version: str | None = "champion-3") -> FastAPI:
    """The router alone, with what create_app would put on app.state."""
    app = FastAPI()
    add_error_handlers(app)
    app.include_router(feedback_api.router)
    app.state.settings = settings
    app.state.feedback_sink = sink
    model = SimpleNamespace(version=version) if version else None
    app.state.holder = SimpleNamespace(get=lambda: model)
    return app


@pytest.fixture
def sink(tmp_path: Path) -> SqliteFeedbackSink:
    return SqliteFeedbackSink(tmp_path / "feedback.sqlite3")


@pytest.fixture
def client(sink: SqliteFeedbackSink) -> Iterator[TestClient]:
    with TestClient(build_app(sink, Settings(AUTH_MODE="none"))) as test_client:
        yield test_client


def body(**overrides: object) -> dict[str, object]:
    base = {"prediction_id": str(uuid.uuid4()), "text": RAW, "predicted_label": "positive"}
    return {**base, **overrides}


def stored_events(sink: SqliteFeedbackSink) -> list[dict[str, str]]:
    return [row.properties for row in sink.read_since(T0.replace(year=2000), T0.replace(year=2100))]


def test_feedback_is_recorded_once(client: TestClient, sink: SqliteFeedbackSink) -> None:
    payload = body(language="en")
    first = client.post("/api/feedback", json=payload)
    again = client.post("/api/feedback", json=payload)
    assert first.status_code == again.status_code == 202
    assert first.json() == {"status": "recorded", "prediction_id": payload["prediction_id"]}
    assert again.json()["status"] == "duplicate"
    [event] = stored_events(sink)
    assert event["correct_label"] == "negative"
    assert event["model_version"] == "champion-3"  # from the holder: the client did not say
    assert "united" not in event["text"]
    assert "<url>" in event["text"]


def test_feedback_keeps_the_version_the_page_sends(
    client: TestClient, sink: SqliteFeedbackSink
) -> None:
    response = client.post("/api/feedback", json=body(model_version="v2", language="fr"))
    assert response.status_code == 202
    [event] = stored_events(sink)
    assert (event["model_version"], event["language"]) == ("v2", "fr")


def test_feedback_detects_the_language_when_absent(
    client: TestClient, sink: SqliteFeedbackSink
) -> None:
    assert client.post("/api/feedback", json=body()).status_code == 202
    assert stored_events(sink)[0]["language"] == "en"


def test_feedback_without_a_loaded_model_says_unknown(sink: SqliteFeedbackSink) -> None:
    with TestClient(build_app(sink, Settings(AUTH_MODE="none"), version=None)) as client:
        assert client.post("/api/feedback", json=body(language="en")).status_code == 202
    assert stored_events(sink)[0]["model_version"] == "unknown"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prediction_id": "42"}, "prediction_id"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"text": 12}, "text"),
        ({"predicted_label": "neutral"}, "predicted_label"),
        ({"correct_label": "positive"}, "body"),
        ({"colour": "red"}, "colour"),
        ({"model_version": "v" * 65}, "model_version"),
    ],
)
def test_feedback_rejects_invalid_bodies(
    client: TestClient, sink: SqliteFeedbackSink, overrides: dict[str, object], field: str
) -> None:
    response = client.post("/api/feedback", json=body(**overrides))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert RAW not in response.text
    assert stored_events(sink) == []


def test_feedback_needs_the_api_key_when_asked(sink: SqliteFeedbackSink) -> None:
    settings = Settings(AUTH_MODE="api_key", API_KEY=API_KEY)
    with TestClient(build_app(sink, settings)) as client:
        missing = client.post("/api/feedback", json=body(language="en"))
        wrong = client.post("/api/feedback", json=body(), headers={"x-api-key": "nope"})
        right = client.post(
            "/api/feedback", json=body(language="en"), headers={"x-api-key": API_KEY}
        )
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 202)
    assert len(stored_events(sink)) == 1
    assert API_KEY not in str(stored_events(sink))


def test_feedback_store_failure_is_a_503_without_details(caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(build_app(FailingSink(), Settings(AUTH_MODE="none"))) as client:
        response = client.post("/api/feedback", json=body(language="en"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "feedback_unavailable"
    assert "disk" not in response.text
    assert RAW not in caplog.text


def test_feedback_builds_a_sink_from_settings_when_none_is_set(tmp_path: Path) -> None:
    settings = Settings(AUTH_MODE="none", FEEDBACK_DB_PATH=tmp_path / "lazy.sqlite3")
    app = build_app(None, settings)
    with TestClient(app) as client:
        assert client.post("/api/feedback", json=body(language="en")).status_code == 202
    assert isinstance(app.state.feedback_sink, SqliteFeedbackSink)
    assert app.state.feedback_sink.count() == 1
