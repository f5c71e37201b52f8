"""What App Insights receives when a prediction is flagged: the real Azure Monitor exporter,
pointed at a loopback ingestion endpoint.

The chain is the one Azure runs: `AppInsightsFeedbackSink` logs on `bad_buzz.feedback`, the
OpenTelemetry logging handler on the root logger (as the Functions worker and
`configure_azure_monitor` install it) makes a log record, and `AzureMonitorLogExporter` posts
the envelope. It must be a MessageData (an AppTraces row, which the KQL reads), named by the
event, with exactly the properties the KQL extracts, and nothing personal: no raw text, no key.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.api import feedback as feedback_api
from shared.api.errors import add_error_handlers
from shared.feedback.event import EVENT_NAME, PROPERTIES
from shared.feedback.sinks import FEEDBACK_LOGGER, AppInsightsFeedbackSink
from shared.feedback.sources import load_query
from shared.settings import Settings
from tests.utils.feedback_builders import make_event
from tests.utils.loopback_servers import AppInsightsServer

pytestmark = pytest.mark.integration

IKEY = "00000000-0000-0000-0000-000000000000"
API_KEY = "export-test-key-0123456789abcdef"
RAW = "@united lost my bag AGAIN, call me at https://example.com/me #NeverAgain"
# Added by the OpenTelemetry handler and the exporter to every record: not ours, not the KQL's.
INFRASTRUCTURE_KEYS = re.compile(r"^(logger_name|code\..*)$")
QUIET_EXPORTER = {
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",  # no calls to Microsoft's endpoints
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
}


@dataclass
class Pipeline:
    server: AppInsightsServer
    provider: Any

    def flush(self) -> list[dict[str, Any]]:
        assert self.provider.force_flush(10_000)
        return [e for e in self.server.envelopes() if is_feedback(e)]


def is_feedback(envelope: dict[str, Any]) -> bool:
    base = envelope["data"]["baseData"]
    return base.get("properties", {}).get("logger_name") == FEEDBACK_LOGGER


def make_handler(provider: Any) -> logging.Handler:
    """The handler the Azure Monitor distro installs (the SDK's own one on older versions)."""
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:  # pragma: no cover - depends on the installed distro
        from opentelemetry.sdk._logs import LoggingHandler
    return LoggingHandler(logger_provider=provider)


@pytest.fixture
def pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    for name, value in QUIET_EXPORTER.items():
        monkeypatch.setenv(name, value)
    with AppInsightsServer() as server:
        connection = f"InstrumentationKey={IKEY};IngestionEndpoint={server.url}/"
        exporter = AzureMonitorLogExporter(
            connection_string=connection, disable_offline_storage=True
        )
        provider = LoggerProvider()
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        handler = make_handler(provider)
        logging.getLogger().addHandler(handler)
        try:
            yield Pipeline(server, provider)
        finally:
            logging.getLogger().removeHandler(handler)
            provider.shutdown()


def kql_property_names() -> set[str]:
    return set(re.findall(r'Properties\["([^"]+)"\]', load_query()))


def test_a_flag_becomes_one_apptraces_message_with_the_kql_properties(
    pipeline: Pipeline,
) -> None:
    sink = AppInsightsFeedbackSink()
    event = make_event(7)
    assert sink.record(event) is True
    assert sink.record(event) is False
    [envelope] = pipeline.flush()
    assert envelope["name"] == "Microsoft.ApplicationInsights.Message"
    assert envelope["iKey"] == IKEY
    assert envelope["data"]["baseType"] == "MessageData"  # AppTraces, not AppEvents
    base = envelope["data"]["baseData"]
    assert base["message"] == EVENT_NAME
    properties = {k: v for k, v in base["properties"].items() if not INFRASTRUCTURE_KEYS.match(k)}
    assert set(properties) == kql_property_names() == set(PROPERTIES)
    assert properties == event
    assert [r.path for r in pipeline.server.requests] == ["/v2.1/track"]


def test_nothing_personal_leaves_through_the_route(pipeline: Pipeline) -> None:
    app = FastAPI()
    add_error_handlers(app)
    app.include_router(feedback_api.router)
    app.state.settings = Settings(AUTH_MODE="api_key", API_KEY=API_KEY)
    app.state.feedback_sink = AppInsightsFeedbackSink()
    prediction_id = str(uuid.uuid4())
    payload = {"prediction_id": prediction_id, "text": RAW, "predicted_label": "positive"}
    with TestClient(app) as client:
        response = client.post(
            "/api/feedback",
            json={**payload, "model_version": "v3", "language": "en"},
            headers={"x-api-key": API_KEY, "x-forwarded-for": "203.0.113.9"},
        )
    assert response.status_code == 202
    [envelope] = pipeline.flush()
    sent = json.dumps(envelope)
    for secret in (API_KEY, RAW, "united", "example.com", "203.0.113.9", "testclient"):
        assert secret not in sent
    properties = envelope["data"]["baseData"]["properties"]
    assert properties["prediction_id"] == prediction_id
    assert properties["text"].startswith("<mention> lost my bag again")
    assert "<url>" in properties["text"]
    assert "ai.location.ip" not in envelope["tags"]
