"""What App Insights receives when a prediction is flagged or confirmed: the real Azure Monitor
exporter, pointed at a loopback ingestion endpoint.

Feedback goes through its own `AzureMonitorLogExporter`, synchronously (`AppInsightsFeedbackSink`):
the API answers 202 only once ingestion accepted the envelope. It must be a MessageData (an
AppTraces row, which the KQL reads), named by the event, with exactly the properties the KQL
extracts, and nothing personal: no raw text, no key, no address. The fault tests run the API as a
uvicorn process and end it right after the acknowledgements (kill -9, SIGTERM) or slow ingestion
down to 8 s a call at 16 clients: no acknowledged flag may be missing from what the stub received.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.feedback.event import EVENT_NAME, PROPERTIES
from shared.feedback.sinks import FEEDBACK_LOGGER, AppInsightsFeedbackSink, build_log_exporter
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


def connection_to(server: AppInsightsServer, ikey: str = IKEY) -> str:
    return f"InstrumentationKey={ikey};IngestionEndpoint={server.url}/"


def is_feedback(envelope: dict[str, Any]) -> bool:
    base = envelope["data"]["baseData"]
    return base.get("properties", {}).get("logger_name") == FEEDBACK_LOGGER


@pytest.fixture
def quiet_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in QUIET_EXPORTER.items():
        monkeypatch.setenv(name, value)


def kql_property_names() -> set[str]:
    return set(re.findall(r'Properties\["([^"]+)"\]', load_query()))


def test_a_flag_is_one_apptraces_message_with_the_kql_properties_when_record_returns(
    quiet_exporter: None,
) -> None:
    with AppInsightsServer() as server:
        # The envelope's shape is under test, not the deadline (its own tests are in
        # test_feedback.py): a loaded CI machine may take more than 2 s for a first export.
        sink = AppInsightsFeedbackSink(build_log_exporter(connection_to(server)), deadline=30.0)
        event = make_event(7)
        assert sink.record(event) is True
        [envelope] = [e for e in server.envelopes() if is_feedback(e)]  # no flush: already sent
        assert sink.record(event) is False
        sink.close()
        received = [e for e in server.envelopes() if is_feedback(e)]
    assert envelope["name"] == "Microsoft.ApplicationInsights.Message"
    assert envelope["iKey"] == IKEY
    assert envelope["data"]["baseType"] == "MessageData"  # AppTraces, not AppEvents
    base = envelope["data"]["baseData"]
    assert base["message"] == EVENT_NAME
    properties = {k: v for k, v in base["properties"].items() if not INFRASTRUCTURE_KEYS.match(k)}
    assert set(properties) == kql_property_names() == set(PROPERTIES)
    assert properties == event
    assert {r.path for r in server.requests} == {"/v2.1/track"}
    # Delivery is at least once: on a loaded machine the exporter may resend a call it timed
    # out on. Every copy is this one flag (the harvest keeps one per prediction id), and the
    # second record() of the same flag sent nothing new.
    assert all(copy["data"]["baseData"] == base for copy in received)


# --- predictions: nothing a user wrote in any payload, through the whole Azure Monitor distro ----

PERSONAL = {
    "name": "Jean Dupont",
    "phone": "06 12 34 56 78",
    "card": "4970 1012 3456 7890",
    "email": "jean.dupont@example.fr",
}
FRENCH_TWEET = (
    f"Bonjour, je suis {PERSONAL['name']}, mon vol est encore annulé ! Rappelez-moi au "
    f"{PERSONAL['phone']}, remboursez sur ma carte {PERSONAL['card']} ou écrivez à "
    f"{PERSONAL['email']}, service horrible"
)
EXPORT_WAIT_SECONDS = 30.0


def forms_of(text: str) -> set[str]:
    """Every way a piece of text can appear in a payload: as is, without its spaces, URL-encoded
    (both ways), JSON-escaped (non-ASCII as \\uXXXX), and each alphabetic word of 4+ letters
    before any "@" (name parts, the e-mail's local part)."""
    from urllib.parse import quote, quote_plus

    forms = {text, text.replace(" ", ""), quote(text), quote_plus(text), json.dumps(text)[1:-1]}
    words = re.findall(r"[^\W\d_]{4,}", text.split("@")[0])
    return forms | set(words) | {word.lower() for word in words}


def payload_texts(server: AppInsightsServer) -> list[str]:
    """Every request body the ingestion stub received, decoded (gzip undone by the stub)."""
    return [request.body.decode("utf-8", errors="replace") for request in server.requests]


def wait_for_envelopes(server: AppInsightsServer, wanted, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted(server.envelopes()):
            return
        time.sleep(0.2)


def is_translator_dependency(envelope: dict[str, Any], port: int) -> bool:
    base = envelope["data"]["baseData"]
    return envelope["data"]["baseType"] == "RemoteDependencyData" and str(port) in str(
        base.get("target", "")
    )


def test_predict_exports_nothing_a_user_wrote(
    tmp_path, tiny_bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bad-buzz serve` with TELEMETRY_EXPORTER=azure: the real distro (FastAPI, httpx, requests,
    logging instrumentation) exporting to a loopback ingestion endpoint; a French tweet full of
    personal data, sent in the body and in the query string, translated by the loopback stub,
    then with the translator gone (a failed dependency, a logged warning)."""
    import httpx

    from tests.utils.api_process import ApiProcess
    from tests.utils.translator_stub import run_translator_stub

    with AppInsightsServer() as ingestion, run_translator_stub() as stub:
        env = {
            "TELEMETRY_EXPORTER": "azure",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": (
                f"InstrumentationKey={IKEY};IngestionEndpoint={ingestion.url}/"
            ),
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export spans every 0.2 s, not 5 s
            "OTEL_BLRP_SCHEDULE_DELAY": "200",
            "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",  # every span, not a sample
            "OTEL_TRACES_SAMPLER_ARG": "1.0",
            **QUIET_EXPORTER,
            "DEFAULT_BUNDLE_PATH": str(tiny_bundle),
            "MODEL_STORE_PATH": str(tmp_path / "no-store"),
            "MODEL_CACHE_DIR": str(tmp_path / "cache"),
            "FEEDBACK_DB_PATH": str(tmp_path / "feedback.sqlite3"),
            "TRANSLATION_ENABLED": "true",
            "TRANSLATOR_URL": stub.url,
            "AUTH_MODE": "none",
        }
        with ApiProcess(env, tmp_path / "server.log") as server:
            predict = f"{server.base_url}/api/predict"
            answer = httpx.post(predict, json={"text": FRENCH_TWEET}, timeout=10).json()
            assert (answer["language"], answer["translated"]) == ("fr", True)
            assert stub.request_count == 1  # the tweet did go out in the translator's URL
            httpx.post(
                predict,
                params={"q": FRENCH_TWEET},
                json={"texts": [FRENCH_TWEET + " 2", FRENCH_TWEET + " 3"]},
                timeout=10,
            ).raise_for_status()
            stub.stop()  # the translator disappears: a failed call, a warning in the logs
            failed = httpx.post(predict, json={"text": FRENCH_TWEET + " 4"}, timeout=10).json()
            assert failed["translated"] is False
            wait_for_envelopes(
                ingestion,
                lambda found: sum(is_translator_dependency(e, stub.port) for e in found) >= 4,
                EXPORT_WAIT_SECONDS,
            )
    envelopes = ingestion.envelopes()
    kinds = {e["data"]["baseType"] for e in envelopes}
    assert {"RequestData", "RemoteDependencyData"} <= kinds, kinds
    dependencies = [e for e in envelopes if is_translator_dependency(e, stub.port)]
    assert len(dependencies) >= 4  # the translator calls were recorded (and redacted)
    assert all(d["data"]["baseData"]["data"].endswith("/m") for d in dependencies)
    payloads = payload_texts(ingestion)
    assert payloads
    for label, piece in PERSONAL.items():
        for form in forms_of(piece):
            leaks = [p for p in payloads if form in p]
            assert not leaks, f"{label} found as {form!r} in {len(leaks)} payload(s)"


# --- feedback: 202 is durable (the real exporter, a real uvicorn process, a loopback stub) ------
# A flag is acknowledged only once ingestion accepted it, so a kill -9 right after the answer,
# a SIGTERM, or ingestion answering in 8 s lose nothing that was acknowledged: every acked
# prediction id must be in a payload the ingestion stub received.

FLAGS = 48
ACKS_BEFORE_KILL = 24
SLOW_SECONDS = 8.0


class SlowIngestion(AppInsightsServer):
    """Ingestion that answers every other call after SLOW_SECONDS (the payload is received
    at once; only the answer is late)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def handle(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        import time

        with self.lock:
            self.calls += 1
            slow = self.calls % 2 == 0
        if slow:
            time.sleep(SLOW_SECONDS)
        return super().handle(request)


def feedback_server_env(tmp_path: Any, bundle: Any, ingestion: AppInsightsServer) -> dict:
    return {
        **QUIET_EXPORTER,
        "FEEDBACK_BACKEND": "appinsights",
        # its own ikey: the exporter's offline storage folder is per ikey, so no other test's
        # leftovers are replayed into this stub
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_to(ingestion, str(uuid.uuid4())),
        "DEFAULT_BUNDLE_PATH": str(bundle),
        "MODEL_STORE_PATH": str(tmp_path / "no-store"),
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "MODEL_REFRESH_SECONDS": "0",
        "TRANSLATION_ENABLED": "false",
        "FEEDBACK_TOKEN_KEY_PATH": str(tmp_path / "feedback-token.key"),
        "FEEDBACK_MAX_PER_HOUR": "100000",
        "AUTH_MODE": "none",
    }


def received_ids(server: AppInsightsServer) -> set[str]:
    return {
        e["data"]["baseData"]["properties"]["prediction_id"]
        for e in server.envelopes()
        if is_feedback(e)
    }


def predict_flags(base_url: str, count: int) -> list[dict[str, Any]]:
    import httpx

    texts = [f"flight {i} delayed again, worst airline ever" for i in range(count)]
    answer = httpx.post(f"{base_url}/api/predict", json={"texts": texts}, timeout=30)
    answer.raise_for_status()
    return answer.json()["results"]


def send_flags(
    base_url: str, predictions: list[dict[str, Any]], clients: int, on_ack: Any = None
) -> tuple[list[str], list[int]]:
    """Post one correction per prediction from `clients` threads; (acked ids, other statuses).

    Transport errors (the server was killed) are not acknowledgements and are not counted.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.utils.feedback_builders import feedback_body

    acked: list[str] = []
    others: list[int] = []
    lock = threading.Lock()

    def flag(prediction: dict[str, Any]) -> None:
        try:
            response = httpx.post(
                f"{base_url}/api/feedback", json=feedback_body(prediction), timeout=20
            )
        except httpx.TransportError:
            return
        with lock:
            if response.status_code == 202:
                acked.append(prediction["prediction_id"])
                if on_ack is not None:
                    on_ack(len(acked))
            else:
                others.append(response.status_code)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(flag, predictions))
    return acked, others


@pytest.mark.parametrize("ending", ["kill", "sigterm"])
def test_acknowledged_flags_survive_the_process_ending_right_after(
    tmp_path: Any, tiny_bundle: Any, ending: str
) -> None:
    from tests.utils.api_process import ApiProcess

    with AppInsightsServer() as ingestion:
        env = feedback_server_env(tmp_path, tiny_bundle, ingestion)
        server = ApiProcess(env, tmp_path / "server.log").start()
        stop = server.kill if ending == "kill" else server.stop  # SIGKILL, or SIGTERM and wait

        def end_after_enough(count: int) -> None:
            if count == ACKS_BEFORE_KILL:
                stop()  # while the other clients' flags are still in flight

        try:
            predictions = predict_flags(server.base_url, FLAGS)
            acked, others = send_flags(server.base_url, predictions, 8, end_after_enough)
        finally:
            server.stop()
        received = received_ids(ingestion)
    assert len(acked) >= ACKS_BEFORE_KILL
    assert set(acked) <= received, f"lost {len(set(acked) - received)} acknowledged flags"
    assert all(status == 503 for status in others), others


def test_slow_ingestion_at_16_clients_loses_no_acknowledged_flag(
    tmp_path: Any, tiny_bundle: Any
) -> None:
    from tests.utils.api_process import ApiProcess

    with SlowIngestion() as ingestion:
        env = feedback_server_env(tmp_path, tiny_bundle, ingestion)
        with ApiProcess(env, tmp_path / "server.log") as server:
            predictions = predict_flags(server.base_url, FLAGS)
            acked, others = send_flags(server.base_url, predictions, 16)
            server.kill()  # and nothing more gets out after the answers
        received = received_ids(ingestion)
    print(
        f"\nslow ingestion: {len(acked)} acknowledged, {len(others)} answered 503, "
        f"{len(received)} received, lost {len(set(acked) - received)}"
    )
    assert acked, "some flags should get through on the fast calls"
    assert others, "slow calls must be answered 503"
    assert set(others) == {503}, "slow calls must be 503s, never a false 202"
    assert set(acked) <= received


# --- personal data: nothing of it reaches ingestion through predict and feedback ---------------


def test_a_tweet_full_of_personal_data_leaves_none_in_the_payloads(
    tmp_path: Any, tiny_bundle: Any, quiet_exporter: None
) -> None:
    from shared.api.app import create_app
    from shared.model_loader import ModelHolder
    from tests.utils.feedback_builders import PERSONAL_TWEET, feedback_body, find_personal_data

    with AppInsightsServer() as ingestion:
        settings = Settings(
            FEEDBACK_BACKEND="appinsights",
            APPLICATIONINSIGHTS_CONNECTION_STRING=connection_to(ingestion, str(uuid.uuid4())),
            DEFAULT_BUNDLE_PATH=tiny_bundle,
            MODEL_STORE_PATH=tmp_path / "no-store",
            MODEL_CACHE_DIR=tmp_path / "cache",
            TRANSLATION_ENABLED=False,
            FEEDBACK_TOKEN_KEY_PATH=tmp_path / "key",
            AUTH_MODE="api_key",
            API_KEY=API_KEY,
        )
        headers = {"x-api-key": API_KEY, "x-forwarded-for": "203.0.113.9"}
        with TestClient(create_app(settings, holder=ModelHolder(settings))) as client:
            prediction = client.post(
                "/api/predict", json={"text": PERSONAL_TWEET}, headers=headers
            ).json()
            for kind in ("correction", "confirmation"):
                body = feedback_body(prediction, kind=kind)
                response = client.post("/api/feedback", json=body, headers=headers)
                assert response.status_code == 202
        payloads = {f"payload {i}": r.body for i, r in enumerate(ingestion.requests)}
        [envelope] = [e for e in ingestion.envelopes() if is_feedback(e)]
    assert find_personal_data(payloads) == []
    sent = json.dumps(envelope)
    for secret in (API_KEY, "203.0.113.9", "testclient"):
        assert secret not in sent
    properties = envelope["data"]["baseData"]["properties"]
    assert properties["text"] == prediction["model_text"]
    assert properties["text"].startswith("@user my name is <personname>, lost my bag AGAIN!!")
    assert "ai.location.ip" not in envelope["tags"]
