"""Prediction spans: the attributes dashboards need, never the text a user wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry
from shared.api.app import create_app
from shared.model_loader import ModelHolder
from shared.settings import Settings
from shared.telemetry_redaction import (
    RedactingSpanProcessor,
    install_log_redaction,
    redact_attribute,
    uninstall_log_redaction,
)
from shared.translation import TranslationResult
from tests.utils.translator_stub import run_translator_stub

pytestmark = pytest.mark.code

SECRET_TEXT = "my flight 4242 is delayed again, worst airline ever, Zanzibar"
SPAN_ATTRIBUTES = {
    "prediction_id",
    "model_version",
    "label",
    "negative_probability",
    "language",
    "translated",
    "latency_ms",
}


class EchoTranslator:
    def translate(self, text: str, source: str) -> TranslationResult:
        return TranslationResult(f"translated: {text}", True, None)


@pytest.fixture(scope="module")
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """Spans of this process, through an SDK provider (installed once: OTel allows one)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    span_exporter.clear()
    return span_exporter


@pytest.fixture(autouse=True)
def forget_configuration() -> Iterator[None]:
    telemetry.reset_telemetry_state()
    yield
    telemetry.reset_telemetry_state()


@pytest.fixture(scope="module")
def client(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("telemetry")
    settings = Settings(
        MODEL_STORE_PATH=root / "no-store",
        MODEL_CACHE_DIR=root / "cache",
        DEFAULT_BUNDLE_PATH=tiny_bundle,
    )
    app = create_app(settings, holder=ModelHolder(settings), translator=EchoTranslator())
    with TestClient(app) as test_client:
        yield test_client


def predict_spans(exporter: InMemorySpanExporter) -> list:
    return [s for s in exporter.get_finished_spans() if s.name == telemetry.SPAN_PREDICT]


def test_one_span_per_text_with_the_attributes(
    client: TestClient, spans: InMemorySpanExporter
) -> None:
    body = client.post("/api/predict", json={"text": SECRET_TEXT}).json()
    (span,) = predict_spans(spans)
    attributes = dict(span.attributes)
    assert set(attributes) == SPAN_ATTRIBUTES
    assert attributes["prediction_id"] == body["prediction_id"]
    assert attributes["model_version"] == "tiny-1"
    assert attributes["label"] == body["label"]
    assert attributes["negative_probability"] == pytest.approx(body["negative_probability"])
    assert (attributes["language"], attributes["translated"]) == ("en", False)
    assert attributes["latency_ms"] > 0
    assert span.end_time > span.start_time
    assert span.instrumentation_scope.name == telemetry.TRACER_NAME


def test_batch_spans_follow_the_results(client: TestClient, spans: InMemorySpanExporter) -> None:
    texts = [SECRET_TEXT, "great crew, thank you", "mon vol est encore annulé, service horrible"]
    body = client.post("/api/predict", json={"texts": texts}).json()
    recorded = predict_spans(spans)
    assert [s.attributes["prediction_id"] for s in recorded] == [
        r["prediction_id"] for r in body["results"]
    ]
    assert [s.attributes["translated"] for s in recorded] == [False, False, True]


def test_no_attribute_holds_the_text(client: TestClient, spans: InMemorySpanExporter) -> None:
    texts = [SECRET_TEXT, "vol annulé à Zanzibar, personnel très impoli et service horrible"]
    client.post("/api/predict", json={"texts": texts})
    recorded = spans.get_finished_spans()
    assert recorded
    words = {w.strip(",.") for text in texts for w in text.split() if len(w) > 4}
    for span in recorded:
        values = [str(v) for v in span.attributes.values()] + [span.name]
        for value in values:
            assert not any(word in value for word in words), (span.name, value)


def test_exporter_none_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "tracing_already_configured", lambda: False)
    before = trace.get_tracer_provider()
    assert telemetry.configure_telemetry(Settings(TELEMETRY_EXPORTER="none")) == "none"
    assert trace.get_tracer_provider() is before


def test_console_exporter_installs_an_sdk_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[object] = []
    monkeypatch.setattr(telemetry, "tracing_already_configured", lambda: False)
    monkeypatch.setattr(trace, "set_tracer_provider", installed.append)
    assert telemetry.configure_telemetry(Settings(TELEMETRY_EXPORTER="console")) == "console"
    (provider,) = installed
    assert isinstance(provider, TracerProvider)
    assert telemetry.configure_telemetry(Settings(TELEMETRY_EXPORTER="console")) == "console"
    assert len(installed) == 1  # once per process


def test_azure_exporter_calls_configure_azure_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.monitor.opentelemetry as azure_monitor

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(telemetry, "tracing_already_configured", lambda: False)
    monkeypatch.setattr(azure_monitor, "configure_azure_monitor", lambda **kw: calls.append(kw))
    connection = "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    settings = Settings(
        TELEMETRY_EXPORTER="azure", APPLICATIONINSIGHTS_CONNECTION_STRING=connection
    )
    assert telemetry.configure_telemetry(settings) == "azure"
    [call] = calls
    assert call["connection_string"] == connection
    assert [type(p) for p in call["span_processors"]] == [RedactingSpanProcessor]


def test_azure_exporter_leaves_the_worker_integration_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import azure.monitor.opentelemetry as azure_monitor

    def fail(**kwargs: object) -> None:
        raise AssertionError("the worker already configured Azure Monitor")

    monkeypatch.setenv(telemetry.WORKER_TELEMETRY_FLAG, "true")
    monkeypatch.setattr(azure_monitor, "configure_azure_monitor", fail)
    settings = Settings(TELEMETRY_EXPORTER="azure", APPLICATIONINSIGHTS_CONNECTION_STRING="x=y")
    assert telemetry.configure_telemetry(settings) == "existing"


def test_the_worker_provider_gets_the_redaction_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """In Azure TELEMETRY_EXPORTER is unset ("none") and the worker owns the provider."""
    provider = TracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(telemetry, "tracing_already_configured", lambda: True)
    assert telemetry.configure_telemetry(Settings(TELEMETRY_EXPORTER="none")) == "existing"
    processors = provider._active_span_processor._span_processors
    assert [type(p) for p in processors] == [RedactingSpanProcessor]


# --- redaction of what other instrumentation records ---------------------------------------------

PERSONAL = ["Jean Dupont", "06 12 34 56 78", "4970 1012 3456 7890", "jean.dupont@example.fr"]
TWEET = f"Je suis {PERSONAL[0]}, appelez le {PERSONAL[1]}, carte {PERSONAL[2]}, {PERSONAL[3]}"


def encodings(text: str) -> set[str]:
    """The forms a piece of text takes in telemetry: raw, URL-encoded both ways, JSON-escaped."""
    import json
    from urllib.parse import quote, quote_plus

    return {text, quote(text), quote_plus(text), json.dumps(text)[1:-1]}


def assert_nothing_personal(dump: str) -> None:
    for piece in PERSONAL:
        for form in encodings(piece):
            assert form not in dump, (piece, form)


@pytest.fixture
def worker_like_provider() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider as the Functions worker builds it: the exporter's processor added FIRST,
    ours after it; the requests library instrumented as the Azure Monitor distro does."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert telemetry.add_redaction(provider)
    RequestsInstrumentor().instrument(tracer_provider=provider)
    try:
        yield provider, exporter
    finally:
        RequestsInstrumentor().uninstrument()


def spans_dump(exporter: InMemorySpanExporter) -> str:
    return "\n".join(span.to_json() for span in exporter.get_finished_spans())


def test_http_client_spans_lose_the_query_string(worker_like_provider) -> None:
    """Without the redaction the span's url.full/http.url is the whole translator URL."""
    import requests

    _, exporter = worker_like_provider
    with run_translator_stub() as stub:
        requests.get(stub.url, params={"tl": "en", "sl": "auto", "q": TWEET}, timeout=5)
    (span,) = exporter.get_finished_spans()
    urls = [v for k, v in span.attributes.items() if k in ("http.url", "url.full")]
    assert urls
    assert all(url == stub.url for url in urls)  # scheme, host, port, path: kept
    assert_nothing_personal(spans_dump(exporter))


def test_exceptions_on_spans_lose_their_message(worker_like_provider) -> None:
    """A refused connection: requests' message repeats the URL, query string included."""
    import requests

    _, exporter = worker_like_provider
    with run_translator_stub() as stopped:
        url = stopped.url
    with pytest.raises(requests.ConnectionError) as raised:
        requests.get(url, params={"q": TWEET}, timeout=5)
    assert "q=" in str(raised.value)  # the message does hold the text...
    (span,) = exporter.get_finished_spans()
    [event] = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"].endswith("ConnectionError")
    assert "File " in event.attributes["exception.stacktrace"]  # frames are kept
    assert_nothing_personal(spans_dump(exporter))  # ...the span does not


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("http.target", "/api/predict?q=Jean+Dupont", "/api/predict"),
        ("url.full", "https://user:pw@host:8443/m?q=x#frag", "https://host:8443/m"),
        ("url.query", "q=Jean", None),
        ("db.statement", "SELECT 1 WHERE text = 'Jean Dupont'", "SELECT 1 WHERE text = ?"),
        ("exception.message", "bad input 'Jean Dupont'", "exception"),
        ("http.route", "/api/predict", "/api/predict"),
        ("label", "negative", "negative"),
        ("latency_ms", 1.5, 1.5),
    ],
)
def test_redaction_rules(key: str, value: object, expected: object) -> None:
    assert redact_attribute(key, value) == expected


def test_log_records_lose_query_strings_and_exception_messages() -> None:
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    install_log_redaction()
    try:
        logger.warning("GET %s failed", f"http://127.0.0.1/m?q={TWEET}")
        try:
            raise ValueError(f"cannot score {TWEET}")
        except ValueError:
            logger.exception("scoring failed")
    finally:
        uninstall_log_redaction()
        logger.removeHandler(handler)
    formatted = "\n".join(logging.Formatter().format(record) for record in records)
    assert "GET http://127.0.0.1/m" in formatted
    assert "ValueError" in formatted
    assert_nothing_personal(formatted)


def test_azure_exporter_without_connection_string_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "tracing_already_configured", lambda: False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    settings = Settings(TELEMETRY_EXPORTER="azure", APPLICATIONINSIGHTS_CONNECTION_STRING=None)
    assert telemetry.configure_telemetry(settings) == "none"
