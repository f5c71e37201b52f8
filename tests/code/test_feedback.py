"""Feedback: the event, the sinks, the tokens, the cap and POST /api/feedback.

Predictions come from the real app (`create_app`, a real ModelHolder on the tiny bundle), so
every token here was issued by predict itself; only the App Insights exporter is stood in for
(the real one runs against a loopback ingestion stub in tests/integration).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.api.app import create_app
from shared.api.rate_limit import HourlyLimiter
from shared.feedback.event import (
    KIND_CONFIRMATION,
    KIND_CORRECTION,
    PROPERTIES,
    build_event,
    check_event,
    text_sha256,
)
from shared.feedback.sinks import (
    AppInsightsFeedbackSink,
    FeedbackUnavailable,
    SqliteFeedbackSink,
    make_feedback_sink,
)
from shared.feedback.token import (
    TOKEN_TTL_SECONDS,
    TokenError,
    issue_token,
    make_claims,
    read_or_create_key_file,
    read_token,
    resolve_token_key,
)
from shared.model_loader import ModelHolder
from shared.privacy import mask_personal_data
from shared.settings import Settings
from tests.utils.feedback_builders import T0, Clock, feedback_body, flag_many, make_event

pytestmark = pytest.mark.code

RAW = "Thanks @united, my bag is lost AGAIN!!! https://t.co/abc123 :("
NEGATIVE = "my flight is delayed again, worst airline ever"
API_KEY = "test-key-not-a-secret-0123456789"
KEY = b"k" * 32
OTHER_KEY = b"o" * 32


# --- the event ---------------------------------------------------------------------------------


def test_event_has_exactly_the_properties_with_the_masked_text_as_read() -> None:
    pid = str(uuid.uuid4())
    event = build_event(pid, "positive", None, "v7", "en", RAW)
    assert tuple(event) == PROPERTIES
    assert event["kind"] == KIND_CORRECTION
    assert event["correct_label"] == "negative"
    assert event["text"] == mask_personal_data(RAW)
    assert "AGAIN!!!" in event["text"]  # not normalised: VADER needs capitals and punctuation
    assert "united" not in event["text"]
    assert "t.co" not in event["text"]
    assert event["text_sha256"] == text_sha256(event["text"])
    assert all(isinstance(value, str) for value in event.values())


def test_a_confirmation_teaches_the_predicted_label() -> None:
    event = build_event(str(uuid.uuid4()), "negative", None, "v1", "en", "late", KIND_CONFIRMATION)
    assert (event["kind"], event["correct_label"]) == ("confirmation", "negative")
    same = build_event(str(uuid.uuid4()), "positive", "positive", "v1", "en", "ok", "confirmation")
    assert same["correct_label"] == "positive"


@pytest.mark.parametrize(
    ("kind", "predicted", "correct", "message"),
    [
        ("correction", "negative", "negative", "differ"),
        ("correction", "neutral", None, "label"),
        ("correction", "positive", "bad", "label"),
        ("correction", "unknown", None, "needs correct_label"),
        ("confirmation", "unknown", None, "label"),
        ("confirmation", "negative", "positive", "predicted label"),
        ("praise", "negative", None, "kind"),
    ],
)
def test_event_rejects_kinds_and_labels_that_disagree(
    kind: str, predicted: str, correct: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_event(str(uuid.uuid4()), predicted, correct, "v1", "en", "text", kind)


def test_a_correction_of_unknown_keeps_the_label_given() -> None:
    event = build_event(str(uuid.uuid4()), "unknown", "negative", "v1", "en", "zzz")
    assert (event["predicted_label"], event["correct_label"]) == ("unknown", "negative")


def test_event_canonicalises_the_id_and_cleans_free_form_fields() -> None:
    pid = uuid.uuid4()
    event = build_event(str(pid).upper(), "negative", None, "v1; DROP", "<script>", "hi")
    assert event["prediction_id"] == str(pid)
    assert event["model_version"] == "unknown"
    assert event["language"] == "unknown"
    with pytest.raises(ValueError, match="badly formed"):
        build_event("not-a-uuid", "negative", None, "v1", "en", "hi")


def test_check_event_refuses_a_hash_that_is_not_the_texts() -> None:
    event = make_event(1)
    assert check_event(event) is event
    with pytest.raises(ValueError, match="text_sha256"):
        check_event({**event, "text": "something else"})


# --- SQLite sink -------------------------------------------------------------------------------


def test_sqlite_sink_counts_a_prediction_once_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    sink = SqliteFeedbackSink(path)
    event = make_event(1)
    assert sink.record(event) is True
    assert sink.record(make_event(2, prediction_id=event["prediction_id"])) is False
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


def test_sqlite_sink_refuses_malformed_events(tmp_path: Path) -> None:
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3")
    with pytest.raises(ValueError, match="exactly the string properties"):
        sink.record({**make_event(1), "ip": "10.0.0.1"})


# --- App Insights sink: the deadline logic (the real exporter: tests/integration) ---------------


class ScriptedExporter:
    """Answers like AzureMonitorLogExporter.export: SUCCESS, FAILURE, or after a delay."""

    def __init__(self, succeed: bool = True, delay: float = 0.0) -> None:
        self.succeed = succeed
        self.delay = delay
        self.batches: list[list[Any]] = []

    def export(self, batch: list[Any]) -> Any:
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        time.sleep(self.delay)
        self.batches.append(list(batch))
        return LogRecordExportResult.SUCCESS if self.succeed else LogRecordExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_appinsights_sink_answers_once_exported_and_counts_a_prediction_once() -> None:
    exporter = ScriptedExporter()
    sink = AppInsightsFeedbackSink(exporter)
    event = make_event(3)
    assert sink.record(event) is True
    assert sink.record(event) is False
    [[record]] = exporter.batches
    assert record.log_record.body == "incorrect_prediction"
    assert dict(record.log_record.attributes) == event
    assert record.instrumentation_scope.name == "bad_buzz.feedback"


@pytest.mark.parametrize("exporter", [ScriptedExporter(succeed=False), ScriptedExporter(delay=1)])
def test_appinsights_sink_refuses_to_ack_what_ingestion_did_not_take(
    exporter: ScriptedExporter,
) -> None:
    sink = AppInsightsFeedbackSink(exporter, deadline=0.2)
    event = make_event(4)
    started = time.monotonic()
    with pytest.raises(FeedbackUnavailable):
        sink.record(event)
    assert time.monotonic() - started < 0.9  # bounded by the deadline, not the exporter
    exporter.succeed, exporter.delay = True, 0.0
    time.sleep(1.0)  # the late export frees its slot
    assert sink.record(event) is True  # not remembered: the retry goes through


def test_appinsights_sink_bounds_exports_in_flight() -> None:
    sink = AppInsightsFeedbackSink(ScriptedExporter(delay=0.6), deadline=0.2, max_in_flight=1)
    with pytest.raises(FeedbackUnavailable):
        sink.record(make_event(5))
    with pytest.raises(FeedbackUnavailable, match="in flight"):
        sink.record(make_event(6))


def test_appinsights_sink_forgets_the_oldest_ids_beyond_capacity() -> None:
    sink = AppInsightsFeedbackSink(ScriptedExporter(), capacity=2)
    first, second, third = (make_event(i) for i in range(3))
    assert all(sink.record(event) for event in (first, second, third))
    assert sink.record(third) is False
    assert sink.record(first) is True  # evicted: the harvest de-duplicates it


def test_make_feedback_sink_follows_the_backend_setting(tmp_path: Path) -> None:
    local = Settings(FEEDBACK_BACKEND="sqlite", FEEDBACK_DB_PATH=tmp_path / "f.sqlite3")
    assert isinstance(make_feedback_sink(local), SqliteFeedbackSink)
    with pytest.raises(FeedbackUnavailable, match="connection string"):
        make_feedback_sink(Settings(FEEDBACK_BACKEND="appinsights"))
    connection = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
    azure = Settings(
        FEEDBACK_BACKEND="appinsights", APPLICATIONINSIGHTS_CONNECTION_STRING=connection
    )
    sink = make_feedback_sink(azure)
    try:
        assert isinstance(sink, AppInsightsFeedbackSink)
    finally:
        sink.close()  # nothing is exported; an open exporter would retry port 9 at exit


# --- tokens ------------------------------------------------------------------------------------


def claims(**overrides: Any) -> Any:
    values = {
        "prediction_id": str(uuid.uuid4()),
        "label": "negative",
        "model_version": "v1",
        "language": "en",
        "text_sha256": text_sha256("late again"),
    }
    return make_claims(**{**values, **overrides})


def test_a_token_round_trips_and_expires() -> None:
    issued = claims(now=1_000_000)
    token = issue_token(KEY, issued)
    assert read_token(KEY, token, now=1_000_000) == issued
    assert issued.expires_at == 1_000_000 + TOKEN_TTL_SECONDS
    with pytest.raises(TokenError) as expired:
        read_token(KEY, token, now=issued.expires_at)
    assert expired.value.reason == "expired"


def test_a_token_signed_with_another_key_or_edited_is_refused() -> None:
    token = issue_token(OTHER_KEY, claims())
    with pytest.raises(TokenError) as forged:
        read_token(KEY, token)
    assert forged.value.reason == "bad_signature"
    genuine = issue_token(KEY, claims(label="positive"))
    version, _payload, signature = genuine.split(".")
    edited = issue_token(KEY, claims(label="negative")).split(".")[1]
    with pytest.raises(TokenError):
        read_token(KEY, f"{version}.{edited}.{signature}")


@pytest.mark.parametrize("token", ["", "v1", "v1..", "v2.a.b", "v1.a.b", "v1.!!.@@", "x" * 5000])
def test_garbage_tokens_are_a_token_error_only(token: str) -> None:
    with pytest.raises(TokenError):
        read_token(KEY, token)


def test_the_local_key_file_is_created_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "feedback-token.key"
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(read_or_create_key_file(path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert len(keys[0]) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["feedback-token.key"]
    assert read_or_create_key_file(path) == keys[0]  # a restart keeps the key


def test_an_unresolved_or_short_key_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "k"
    unresolved = "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/x/1)"
    for value in (unresolved, "short"):
        settings = Settings(FEEDBACK_TOKEN_KEY=value, FEEDBACK_TOKEN_KEY_PATH=path)
        assert resolve_token_key(settings) is None
    assert not path.exists()
    good = Settings(FEEDBACK_TOKEN_KEY="z" * 40, FEEDBACK_TOKEN_KEY_PATH=path)
    assert resolve_token_key(good) == b"z" * 40


# --- the cap -----------------------------------------------------------------------------------


def test_the_hourly_limiter_refills_per_caller() -> None:
    now = [0.0]
    limiter = HourlyLimiter(2, clock=lambda: now[0])
    assert limiter.acquire("a") == limiter.acquire("a") == 0.0
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1800.0)  # one request every 30 minutes
    assert limiter.acquire("b") == 0.0
    now[0] = 1800.0
    assert limiter.acquire("a") == 0.0


def test_the_limiter_keeps_a_bounded_number_of_callers() -> None:
    limiter = HourlyLimiter(1, clock=lambda: 0.0, max_callers=3)
    for caller in "abcd":
        assert limiter.acquire(caller) == 0.0
    assert limiter.acquire("a") == 0.0  # forgotten: a fresh bucket
    assert limiter.acquire("d") > 0


# --- POST /api/feedback through the real app ---------------------------------------------------


def make_settings(tmp_path: Path, bundle: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "MODEL_STORE_PATH": tmp_path / "no-store",
        "MODEL_CACHE_DIR": tmp_path / "cache",
        "DEFAULT_BUNDLE_PATH": bundle,
        "TRANSLATION_ENABLED": False,
        "AUTH_MODE": "none",
        "FEEDBACK_DB_PATH": tmp_path / "feedback.sqlite3",
        "FEEDBACK_TOKEN_KEY_PATH": tmp_path / "feedback-token.key",
        "MODEL_REFRESH_SECONDS": 0,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def sink(tmp_path: Path) -> SqliteFeedbackSink:
    return SqliteFeedbackSink(tmp_path / "feedback.sqlite3")


def open_client(settings: Settings, sink: object) -> TestClient:
    app = create_app(settings, holder=ModelHolder(settings), feedback_sink=sink)
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path, tiny_bundle: Path, sink: SqliteFeedbackSink) -> Iterator[TestClient]:
    with open_client(make_settings(tmp_path, tiny_bundle), sink) as test_client:
        yield test_client


def predict(client: TestClient, text: str = RAW, **headers: str) -> dict[str, Any]:
    response = client.post("/api/predict", json={"text": text}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def stored_events(sink: SqliteFeedbackSink) -> list[dict[str, str]]:
    return [row.properties for row in sink.read_since(T0.replace(year=2000), T0.replace(year=2100))]


def test_predict_returns_the_masked_model_text_and_a_token(client: TestClient) -> None:
    prediction = predict(client)
    assert prediction["model_text"] == mask_personal_data(RAW)
    assert "@user" in prediction["model_text"]
    assert "http://url" in prediction["model_text"]
    assert prediction["feedback_token"].startswith("v1.")


def test_a_correction_stores_what_the_model_read(
    client: TestClient, sink: SqliteFeedbackSink
) -> None:
    prediction = predict(client)
    body = feedback_body(prediction)
    first = client.post("/api/feedback", json=body)
    again = client.post("/api/feedback", json=body)
    assert first.status_code == again.status_code == 202
    assert first.json() == {
        "status": "recorded",
        "prediction_id": prediction["prediction_id"],
        "kind": "correction",
    }
    assert again.json()["status"] == "duplicate"
    [event] = stored_events(sink)
    assert event["text"] == prediction["model_text"]
    assert event["text_sha256"] == text_sha256(prediction["model_text"])
    assert event["model_version"] == prediction["model_version"] == "tiny-1"
    assert event["predicted_label"] == prediction["label"]
    assert event["correct_label"] != prediction["label"]


def test_a_confirmation_is_recorded_with_the_predicted_label(
    client: TestClient, sink: SqliteFeedbackSink
) -> None:
    prediction = predict(client, NEGATIVE)
    response = client.post("/api/feedback", json=feedback_body(prediction, kind="confirmation"))
    assert response.status_code == 202
    [event] = stored_events(sink)
    assert event["kind"] == "confirmation"
    assert event["correct_label"] == event["predicted_label"] == prediction["label"]


def test_the_original_english_text_also_matches_its_token(
    client: TestClient, sink: SqliteFeedbackSink
) -> None:
    prediction = predict(client)
    response = client.post("/api/feedback", json=feedback_body(prediction, text=RAW))
    assert response.status_code == 202
    assert stored_events(sink)[0]["text"] == prediction["model_text"]


def test_feedback_on_unknown_needs_a_label_and_cannot_be_confirmed(
    client: TestClient, sink: SqliteFeedbackSink
) -> None:
    prediction = predict(client, "zzqx wvvkq")  # nothing the model knows
    assert prediction["label"] == "unknown"
    no_label = client.post("/api/feedback", json=feedback_body(prediction))
    confirmed = client.post("/api/feedback", json=feedback_body(prediction, kind="confirmation"))
    labelled = client.post(
        "/api/feedback", json=feedback_body(prediction, correct_label="positive")
    )
    assert (no_label.status_code, confirmed.status_code, labelled.status_code) == (422, 422, 202)
    [event] = stored_events(sink)
    assert (event["predicted_label"], event["correct_label"]) == ("unknown", "positive")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"text": "a different text the model never read"}, "feedback_token_mismatch"),
        ({"predicted_label": "flip"}, "feedback_token_mismatch"),
        ({"prediction_id": "new"}, "feedback_token_mismatch"),
        ({"model_version": "tiny-2"}, "feedback_token_mismatch"),
        ({"language": "fr"}, "feedback_token_mismatch"),
        ({"feedback_token": "v1.e30.AAAA"}, "invalid_feedback_token"),
        ({"feedback_token": "forged"}, "invalid_feedback_token"),
    ],
)
def test_feedback_that_does_not_match_its_token_is_refused(
    client: TestClient, sink: SqliteFeedbackSink, change: dict[str, str], code: str
) -> None:
    prediction = predict(client)
    body = feedback_body(prediction)
    if change.get("predicted_label") == "flip":
        change = {
            "predicted_label": "positive" if prediction["label"] == "negative" else "negative"
        }
    if change.get("prediction_id") == "new":
        change = {"prediction_id": str(uuid.uuid4())}
    response = client.post("/api/feedback", json={**body, **change})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == code
    assert stored_events(sink) == []


def test_a_token_from_another_key_and_an_expired_one_are_refused(
    client: TestClient, sink: SqliteFeedbackSink
) -> None:
    prediction = predict(client)
    forged_claims = read_token(
        client.app.state.feedback_signer._key,  # type: ignore[attr-defined]
        prediction["feedback_token"],
    )
    forged = issue_token(OTHER_KEY, forged_claims)
    expired = issue_token(
        client.app.state.feedback_signer._key,  # type: ignore[attr-defined]
        make_claims(
            forged_claims.prediction_id,
            forged_claims.label,
            forged_claims.model_version,
            forged_claims.language,
            forged_claims.text_sha256,
            now=time.time() - TOKEN_TTL_SECONDS - 1,
        ),
    )
    answers = [
        client.post("/api/feedback", json=feedback_body(prediction, feedback_token=token))
        for token in (forged, expired)
    ]
    codes = [(a.status_code, a.json()["error"]["code"]) for a in answers]
    assert codes == [(403, "invalid_feedback_token"), (403, "feedback_token_expired")]
    assert stored_events(sink) == []


def test_feedback_is_capped_per_caller_per_hour(
    tmp_path: Path, tiny_bundle: Path, sink: SqliteFeedbackSink
) -> None:
    settings = make_settings(tmp_path, tiny_bundle, FEEDBACK_MAX_PER_HOUR=3)
    with open_client(settings, sink) as client:
        predictions = [predict(client, f"{NEGATIVE} {i}") for i in range(5)]
        answers = [client.post("/api/feedback", json=feedback_body(p)) for p in predictions[:4]]
        made_up = client.post(
            "/api/feedback", json=feedback_body(predictions[4]), headers={"x-api-key": "other"}
        )
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[3].json()["error"]["code"] == "too_many_feedback_requests"
    assert 1 <= int(answers[3].headers["retry-after"]) <= 1200
    # With an open API keys are not checked: a made-up key is no new allowance.
    assert made_up.status_code == 429
    assert len(stored_events(sink)) == 3


def test_caller_is_the_key_only_when_keys_are_checked() -> None:
    from starlette.requests import Request

    from shared.api.rate_limit import caller_of

    def request(key: str) -> Request:
        headers = [(b"x-api-key", key.encode())]
        return Request({"type": "http", "headers": headers, "client": ("10.0.0.1", 1)})

    key = "sk-live-0123456789"
    assert caller_of(request(key), keyed=False) == caller_of(request("b"), keyed=False)
    assert caller_of(request(key), keyed=True) != caller_of(request("b"), keyed=True)
    assert key not in caller_of(request(key), keyed=True)  # a hash, never the key


def test_without_a_usable_key_predict_answers_and_feedback_is_503(
    tmp_path: Path, tiny_bundle: Path, sink: SqliteFeedbackSink
) -> None:
    unresolved = SecretStr("@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/k/)")
    settings = make_settings(tmp_path, tiny_bundle, FEEDBACK_TOKEN_KEY=unresolved)
    with open_client(settings, sink) as client:
        prediction = predict(client)
        assert prediction["feedback_token"] is None
        body = feedback_body(prediction, feedback_token="v1.a.b")
        response = client.post("/api/feedback", json=body)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "feedback_not_configured"
    assert stored_events(sink) == []


class FailingSink:
    def record(self, event: dict[str, str]) -> bool:
        raise FeedbackUnavailable("App Insights ingestion did not answer in time")


def test_a_store_that_cannot_keep_it_in_time_is_a_503_with_retry_after(
    tmp_path: Path, tiny_bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_client(make_settings(tmp_path, tiny_bundle), FailingSink()) as client:
        response = client.post("/api/feedback", json=feedback_body(predict(client)))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "feedback_unavailable"
    assert response.headers["retry-after"] == "2"
    assert RAW not in caplog.text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prediction_id": "42"}, "prediction_id"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": 12}, "text"),
        ({"predicted_label": "neutral"}, "predicted_label"),
        ({"kind": "praise"}, "kind"),
        ({"correct_label": "__same__"}, "body"),
        ({"colour": "red"}, "colour"),
        ({"model_version": "v" * 65}, "model_version"),
        ({"feedback_token": None}, "feedback_token"),
        ({"feedback_token": "t" * 1025}, "feedback_token"),
    ],
)
def test_feedback_rejects_invalid_bodies(
    client: TestClient, sink: SqliteFeedbackSink, overrides: dict[str, object], field: str
) -> None:
    prediction = predict(client)
    if overrides.get("correct_label") == "__same__":
        overrides = {"correct_label": prediction["label"]}
    body = {k: v for k, v in {**feedback_body(prediction), **overrides}.items() if v is not None}
    response = client.post("/api/feedback", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert RAW not in response.text
    assert stored_events(sink) == []


def test_feedback_needs_the_api_key_when_asked(
    tmp_path: Path, tiny_bundle: Path, sink: SqliteFeedbackSink
) -> None:
    settings = make_settings(tmp_path, tiny_bundle, AUTH_MODE="api_key", API_KEY=API_KEY)
    with open_client(settings, sink) as client:
        prediction = predict(client, **{"x-api-key": API_KEY})
        body = feedback_body(prediction)
        missing = client.post("/api/feedback", json=body)
        wrong = client.post("/api/feedback", json=body, headers={"x-api-key": "nope"})
        right = client.post("/api/feedback", json=body, headers={"x-api-key": API_KEY})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 202)
    assert len(stored_events(sink)) == 1
    assert API_KEY not in str(stored_events(sink))


def test_the_sink_is_built_from_settings_when_none_is_set(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    settings = make_settings(tmp_path, tiny_bundle, FEEDBACK_DB_PATH=tmp_path / "lazy.sqlite3")
    app = create_app(settings, holder=ModelHolder(settings))
    with TestClient(app) as client:
        prediction = predict(client)
        assert client.post("/api/feedback", json=feedback_body(prediction)).status_code == 202
    assert isinstance(app.state.feedback_sink, SqliteFeedbackSink)
    assert app.state.feedback_sink.count() == 1
