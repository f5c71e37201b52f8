"""Faults, seen from the API: the store, the model files, the translator, Log Analytics, crashes.

Each test injects one fault into real components (Azurite stopped, files damaged in the store,
the translator stub hanging, the Log Analytics stand-in throttling, a publisher or a server
process dying) and checks what a caller sees through `create_app` (TestClient) or over HTTP:
the API keeps answering with the last good model, or answers a clear 503 when there is no model
at all, within a bounded time; nothing acknowledged is lost and nothing is counted twice.

Faults already proven elsewhere are not repeated here; docs/reliability.md lists them with the
test that proves each.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from shared import model_loader
from shared.api.app import create_app
from shared.bundle import MODEL_FILE
from shared.feedback.harvest import harvest
from shared.feedback.records import HarvestError
from shared.feedback.sinks import SqliteFeedbackSink
from shared.feedback.sources import LogsQuerySource
from shared.feedback.state import WATERMARK_NAME, read_feedback
from shared.model_store import CHAMPION_NAME, ModelStore, open_model_store
from shared.settings import Settings
from shared.storage import LocalObjectStore
from tests.code.test_model_store_local import real_bundles  # noqa: F401 - session fixture
from tests.integration.conftest import Azurite
from tests.utils.api_process import ApiProcess
from tests.utils.feedback_builders import T0, CountingStore, Crash, CrashingStore, crash_points
from tests.utils.feedback_builders import make_event as make_flag_event
from tests.utils.loopback_servers import LogAnalyticsServer, LogRow, SilentSwitch
from tests.utils.translator_stub import run_translator_stub

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEGATIVE = "my flight is delayed again, worst airline ever"
FRENCH = "mon vol est encore annulé, le service est horrible et le personnel impoli"
REFRESH_SECONDS = 0.2  # the holder looks at the pointer on the first request after this
STORE_OUTAGE_BUDGET_SECONDS = 10.0  # a request that meets a dead store still answers in this
TRANSLATION_BUDGET_SECONDS = 2.0  # "answers within ~2 s" with a hanging translator


def store_settings(connection: str, container: str, tmp_path: Path, default: Path) -> Settings:
    """The API's settings with the model store at the Blob `connection` string, everything else
    (cache, feedback log, private paths) under `tmp_path`; translation and auth off."""
    return Settings(
        MODEL_STORE_CONNECTION_STRING=connection,
        MODEL_STORE_ACCOUNT_URL=None,
        MODEL_STORE_CONTAINER=container,
        MODEL_STORE_PATH=tmp_path / "unused-local-store",
        MODEL_CACHE_DIR=tmp_path / "cache",
        DEFAULT_BUNDLE_PATH=default,
        MODEL_REFRESH_SECONDS=REFRESH_SECONDS,
        FEEDBACK_DB_PATH=tmp_path / "feedback.sqlite3",
        TRANSLATION_ENABLED=False,
        AUTH_MODE="none",
        **private_paths(tmp_path),
    )


def blob_settings(azurite: Azurite, container: str, tmp_path: Path, default: Path) -> Settings:
    return store_settings(azurite.connection_string, container, tmp_path, default)


def private_paths(tmp_path: Path) -> dict[str, object]:
    """Files the app writes besides the feedback log, kept in the test's folder: the feedback
    token key (shared by a restarted instance, as by instances of one app) and prediction events."""
    return {
        "FEEDBACK_TOKEN_KEY_PATH": tmp_path / "feedback-token.key",
        "PREDICTION_EVENTS_PATH": tmp_path / "predictions.sqlite3",
        "FEEDBACK_MAX_PER_HOUR": 1_000_000,
    }


def local_settings(tmp_path: Path, default: Path, **overrides: object) -> Settings:
    (tmp_path / "store").mkdir(exist_ok=True)
    values: dict[str, object] = {
        "MODEL_STORE_PATH": tmp_path / "store",
        "MODEL_STORE_CONNECTION_STRING": None,
        "MODEL_STORE_ACCOUNT_URL": None,
        "MODEL_CACHE_DIR": tmp_path / "cache",
        "DEFAULT_BUNDLE_PATH": default,
        "MODEL_REFRESH_SECONDS": REFRESH_SECONDS,
        "FEEDBACK_DB_PATH": tmp_path / "feedback.sqlite3",
        "TRANSLATION_ENABLED": False,
        "AUTH_MODE": "none",
        **private_paths(tmp_path),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def api() -> Iterator:
    """api(settings) -> a TestClient on create_app(settings); all closed at the end."""
    clients: list[TestClient] = []

    def make(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def predict(client: TestClient, text: str = NEGATIVE) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = client.post("/api/predict", json={"text": text})
    return response, time.monotonic() - began


def served_version(client: TestClient) -> str | None:
    response, _ = predict(client)
    return response.json()["model_version"] if response.status_code == 200 else None


def wait_for_refresh() -> None:
    time.sleep(REFRESH_SECONDS * 1.5)


def assert_no_model_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "model_unavailable"
    assert response.headers["retry-after"] == "30"


# --- the model store (Azurite) stops ------------------------------------------------------------


def test_store_down_at_cold_start_serves_the_shipped_bundle(
    api, azurite: Azurite, blob_container: str, tmp_path: Path, tiny_bundle: Path
) -> None:
    client = api(blob_settings(azurite, blob_container, tmp_path, tiny_bundle))
    azurite.stop()
    try:
        response, elapsed = predict(client)
        health = client.get("/api/health")
    finally:
        azurite.start()
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "tiny-1"
    assert elapsed < STORE_OUTAGE_BUDGET_SECONDS
    print(f"store down at cold start: 200 from the shipped bundle in {elapsed:.2f} s")
    body = health.json()
    assert (health.status_code, body["status"], body["source"]) == (200, "degraded", "default")
    assert body["store"] == "unreachable"
    assert body["detail"].startswith("store unreachable")


def test_store_down_at_cold_start_without_any_model_is_a_clear_503_then_recovers(
    api,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    real_bundles: dict[str, Path],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(model_loader, "EMPTY_RETRY_SECONDS", REFRESH_SECONDS)
    settings = blob_settings(azurite, blob_container, tmp_path, tmp_path / "no-default")
    client = api(settings)
    azurite.stop()
    try:
        response, elapsed = predict(client)
        health = client.get("/api/health")
    finally:
        azurite.start()
    assert_no_model_503(response)
    assert elapsed < STORE_OUTAGE_BUDGET_SECONDS
    print(f"store down at cold start, no model: 503 in {elapsed:.2f} s")
    assert (health.status_code, health.json()["status"]) == (503, "unavailable")
    assert "store unreachable" in health.json()["detail"]
    open_model_store(settings).publish(real_bundles["v1"])  # the store is back, with a champion
    wait_for_refresh()
    assert served_version(client) == "v1"  # without a restart
    assert client.get("/api/health").json()["status"] == "ok"


def test_store_down_during_refresh_keeps_answering_then_follows_again(
    api,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    tiny_bundle: Path,
    real_bundles: dict[str, Path],  # noqa: F811
) -> None:
    settings = blob_settings(azurite, blob_container, tmp_path, tiny_bundle)
    open_model_store(settings).publish(real_bundles["v1"])
    client = api(settings)
    assert served_version(client) == "v1"
    azurite.stop()
    answers: list[tuple[int, str, float]] = []
    try:
        for _ in range(8):
            wait_for_refresh()  # every request is due for a refresh, and meets the dead store
            response, elapsed = predict(client)
            answers.append((response.status_code, response.json().get("model_version"), elapsed))
        health = client.get("/api/health").json()
    finally:
        azurite.start()  # in-memory Azurite comes back empty
    assert {(status, version) for status, version, _ in answers} == {(200, "v1")}
    assert max(elapsed for *_, elapsed in answers) < STORE_OUTAGE_BUDGET_SECONDS
    print(f"store down during refresh: latencies {[round(e, 2) for *_, e in answers]} s")
    assert (health["status"], health["store"], health["model_version"]) == (
        "degraded",
        "unreachable",
        "v1",
    )
    open_model_store(settings).publish(real_bundles["v2"])
    wait_for_refresh()
    assert served_version(client) == "v2"
    health = client.get("/api/health").json()
    assert (health["status"], health["store"]) == ("ok", "reachable")


# --- a bad champion: missing version, truncated or tampered model --------------------------------


def point_at_a_bad_champion(store: ModelStore, bundles: dict[str, Path], damage: str) -> str:
    """Make champion.json name a version that cannot be served; returns that version."""
    if damage == "missing":
        store.objects.put(CHAMPION_NAME, b'{"version": "ghost", "previous": ["v1"]}')
        return "ghost"
    store.publish(bundles["v2"])  # verified when published; the bytes rot afterwards
    name = f"v2/{MODEL_FILE}"
    data = store.objects.get(name).data
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:  # tampered: same size, one byte changed
        middle = len(data) // 2
        data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    store.objects.put(name, data)
    return "v2"


REASONS = {"missing": "missing", "truncated": "sha256", "tampered": "sha256"}


@pytest.mark.parametrize("damage", sorted(REASONS))
def test_bad_champion_at_cold_start_is_a_clear_503(
    api,
    tmp_path: Path,
    tiny_bundle: Path,
    real_bundles: dict[str, Path],  # noqa: F811
    damage: str,
) -> None:
    """A champion is declared but unusable and nothing is cached: no silent stale default."""
    settings = local_settings(tmp_path, tiny_bundle)
    store = ModelStore(LocalObjectStore(settings.MODEL_STORE_PATH))
    version = point_at_a_bad_champion(store, real_bundles, damage)
    client = api(settings)
    response, _ = predict(client)
    assert_no_model_503(response)
    health = client.get("/api/health")
    assert health.status_code == 503
    assert f"champion {version}" in health.json()["detail"]
    assert REASONS[damage] in health.json()["detail"]
    assert not (settings.MODEL_CACHE_DIR / version).exists()  # nothing bad was cached


@pytest.mark.parametrize("damage", sorted(REASONS))
def test_bad_champion_during_refresh_keeps_the_last_good_model(
    api,
    tmp_path: Path,
    tiny_bundle: Path,
    real_bundles: dict[str, Path],  # noqa: F811
    damage: str,
) -> None:
    settings = local_settings(tmp_path, tiny_bundle)
    store = ModelStore(LocalObjectStore(settings.MODEL_STORE_PATH))
    store.publish(real_bundles["v1"])
    client = api(settings)
    assert served_version(client) == "v1"
    version = point_at_a_bad_champion(store, real_bundles, damage)
    wait_for_refresh()
    assert served_version(client) == "v1"
    health = client.get("/api/health").json()
    assert (health["status"], health["model_version"]) == ("degraded", "v1")
    assert f"champion {version}" in health["detail"]
    assert REASONS[damage] in health["detail"]
    store.publish(real_bundles["v3"])  # the fix: a good champion
    wait_for_refresh()
    assert served_version(client) == "v3"
    assert client.get("/api/health").json()["status"] == "ok"


# --- a publication that dies half-way -----------------------------------------------------------


def test_a_publication_crash_at_any_write_never_reaches_callers(
    api,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    tiny_bundle: Path,
    real_bundles: dict[str, Path],  # noqa: F811
) -> None:
    """Publishing v2 dies before/after each of its writes: callers see v1, or all of v2."""
    counting_settings = blob_settings(azurite, f"{blob_container}-n", tmp_path, tiny_bundle)
    counting = open_model_store(counting_settings)
    counting.publish(real_bundles["v1"])
    objects = CountingStore(counting.objects)
    ModelStore(objects).publish(real_bundles["v2"])
    assert objects.puts == 4  # model.onnx, explain.json, manifest.json, champion.json
    for k, after_write in crash_points(objects.puts):
        label = f"{k}{'a' if after_write else 'b'}"
        settings = blob_settings(
            azurite, f"{blob_container}-{label}", tmp_path / label, tiny_bundle
        )
        store = open_model_store(settings)
        store.publish(real_bundles["v1"])
        client = api(settings)
        assert served_version(client) == "v1"
        with pytest.raises(Crash):
            ModelStore(CrashingStore(store.objects, k, after_write)).publish(real_bundles["v2"])
        wait_for_refresh()
        pointer_moved = (k, after_write) == (4, True)
        assert served_version(client) == ("v2" if pointer_moved else "v1"), label
        assert client.get("/api/health").json()["status"] == "ok", label
        store.publish(real_bundles["v2"])  # the publisher's rerun completes the publication
        wait_for_refresh()
        assert served_version(client) == "v2", label


# --- the translator hangs -------------------------------------------------------------------------


@pytest.fixture
def hanging_translator() -> Iterator[str]:
    with run_translator_stub(mode="hang", hang_seconds=10.0) as stub:
        yield stub.url


def test_a_hanging_translator_costs_at_most_the_budget(
    api, tmp_path: Path, tiny_bundle: Path, hanging_translator: str
) -> None:
    settings = local_settings(
        tmp_path,
        tiny_bundle,
        TRANSLATION_ENABLED=True,
        TRANSLATOR_URL=hanging_translator,
        TRANSLATION_TIMEOUT_SECONDS=1.5,
    )
    client = api(settings)
    # Cold-start costs (model, language identifier) are not the translator's: pay them first.
    predict(client, NEGATIVE)
    from shared.language import detect_language

    detect_language(FRENCH)
    response, elapsed = predict(client, FRENCH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["language"], body["translated"], body["translation_reason"]) == (
        "fr",
        False,
        "timeout",
    )
    assert elapsed < TRANSLATION_BUDGET_SECONDS + 0.5, elapsed
    print(f"hanging translator, one text: {elapsed:.2f} s")
    english, elapsed_english = predict(client, NEGATIVE)
    assert english.json()["translation_reason"] == "already English"
    assert elapsed_english < 1.0  # English never waits for the translator


def test_a_hanging_translator_holds_a_batch_at_most_the_batch_budget(
    api, tmp_path: Path, tiny_bundle: Path, hanging_translator: str
) -> None:
    """40 hanging texts four at a time would take 15 s; the batch deadline cuts it to ~3 s."""
    from shared.api.predict import BATCH_TRANSLATION_BUDGET

    settings = local_settings(
        tmp_path, tiny_bundle, TRANSLATION_ENABLED=True, TRANSLATOR_URL=hanging_translator
    )
    client = api(settings)
    texts = [f"{FRENCH} {index}" for index in range(40)]
    began = time.monotonic()
    response = client.post("/api/predict", json={"texts": [NEGATIVE, *texts]})
    elapsed = time.monotonic() - began
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["translation_reason"] for r in results] == ["already English"] + ["timeout"] * 40
    assert [r["translated"] for r in results] == [False] * 41
    assert elapsed < BATCH_TRANSLATION_BUDGET + 1.0, elapsed
    print(f"hanging translator, batch of 40 foreign texts: {elapsed:.2f} s")


def test_translation_works_again_once_the_translator_answers(
    api, tmp_path: Path, tiny_bundle: Path
) -> None:
    with run_translator_stub(mode="hang", hang_seconds=10.0) as stub:
        settings = local_settings(
            tmp_path, tiny_bundle, TRANSLATION_ENABLED=True, TRANSLATOR_URL=stub.url
        )
        client = api(settings)
        assert predict(client, FRENCH)[0].json()["translation_reason"] == "timeout"
        stub.mode = "translate"
        time.sleep(1.6)  # let the pool's worker give up on the hanging call
        body = predict(client, FRENCH)[0].json()
    assert (body["translated"], body["translation_reason"]) == (True, None)  # not cached


def french_texts(count: int, tag: str) -> list[str]:
    """Distinct French texts (never served from the translator's cache)."""
    return [f"{FRENCH} {tag} {index}" for index in range(count)]


def test_a_slow_drip_translator_frees_its_workers_at_the_deadline(
    api, tmp_path: Path, tiny_bundle: Path
) -> None:
    """A byte every 0.5 s: no socket read ever times out, only the whole-call deadline stops it.

    Twice as many French tweets as translation workers at once: each is answered within the
    budget, and once the translator answers again, translation works again within 2 s (it took
    ~80 s when the 1.5 s timeout was per read and four dripping answers held every worker).
    """
    from shared.translation import POOL_WORKERS

    with run_translator_stub(mode="drip", drip_seconds=0.5) as stub:
        settings = local_settings(
            tmp_path, tiny_bundle, TRANSLATION_ENABLED=True, TRANSLATOR_URL=stub.url
        )
        client = api(settings)
        predict(client, NEGATIVE)  # cold-start costs (model, language identifier) paid here
        with ThreadPoolExecutor(POOL_WORKERS * 2) as pool:
            answers = list(pool.map(lambda text: predict(client, text), french_texts(8, "drip")))
        assert stub.request_count >= POOL_WORKERS  # the dripping answers did hold workers
        stub.mode = "translate"
        recovered = time.monotonic()
        body: dict = {}
        for text in french_texts(40, "after"):
            body = predict(client, text)[0].json()
            if body["translated"]:
                break
            time.sleep(0.05)
        outage = time.monotonic() - recovered
    assert {a.json()["translation_reason"] for a, _ in answers} == {"timeout"}
    slowest = max(elapsed for _, elapsed in answers)
    assert slowest < TRANSLATION_BUDGET_SECONDS + 1.0, slowest
    assert body["translated"] is True
    assert outage <= 2.0, outage
    print(f"slow-drip translator: slowest answer {slowest:.2f} s; translation back {outage:.2f} s")


def feedback_body(prediction: dict) -> dict:
    """A correction of a prediction, as the page sends it: the text the model read and the
    prediction's token (both required: a predict answer without them fails here, loudly)."""
    assert prediction["feedback_token"], "predict returned no feedback_token"
    return {
        "prediction_id": prediction["prediction_id"],
        "kind": "correction",
        "text": prediction["model_text"],
        "predicted_label": prediction["label"],
        "feedback_token": prediction["feedback_token"],
    }


def time_probes(client: httpx.Client, feedback: dict, seconds: float) -> dict[str, list[float]]:
    """Feedback and health, one after the other for `seconds`: their latencies."""
    latencies: dict[str, list[float]] = {"feedback": [], "health": []}
    expected = {"feedback": 202, "health": 200}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for kind, send in (
            ("feedback", lambda: client.post("/api/feedback", json=feedback)),
            ("health", lambda: client.get("/api/health")),
        ):
            began = time.monotonic()
            response = send()
            latencies[kind].append(time.monotonic() - began)
            assert response.status_code == expected[kind], response.text
    return latencies


def send_french_batches(base_url: str, stop: threading.Event, answered: list[int]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            texts = french_texts(10, uuid.uuid4().hex[:8])
            answered.append(client.post("/api/predict", json={"texts": texts}).status_code)


HANGING_LOAD_CLIENTS = 48  # more than the shared threadpool's 40 threads


def test_a_hanging_translator_under_french_batches_does_not_slow_feedback_or_health(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    """48 clients sending French batches to a hanging translator, over HTTP (uvicorn): feedback
    and health answer as fast as on an idle server (p50 within 2x). Before the translator had
    its own pool, each batch held a thread of the shared threadpool for 3 s: feedback p50 went
    from 1.0 to 5.1 s, health from 0.7 to 3.0 s."""
    from statistics import median

    with run_translator_stub(mode="hang", hang_seconds=60.0) as stub:
        env = {
            "DEFAULT_BUNDLE_PATH": str(tiny_bundle),
            "MODEL_STORE_PATH": str(tmp_path / "no-store"),
            "MODEL_CACHE_DIR": str(tmp_path / "cache"),
            "FEEDBACK_DB_PATH": str(tmp_path / "feedback.sqlite3"),
            "FEEDBACK_TOKEN_KEY_PATH": str(tmp_path / "feedback-token.key"),
            "FEEDBACK_MAX_PER_HOUR": "1000000",
            "PREDICTION_EVENTS_PATH": str(tmp_path / "predictions.sqlite3"),
            "TRANSLATION_ENABLED": "true",
            "TRANSLATOR_URL": stub.url,
            "AUTH_MODE": "none",
        }
        stop = threading.Event()
        answered: list[int] = []
        with (
            ApiProcess(env, tmp_path / "server.log") as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            prediction = client.post("/api/predict", json={"text": NEGATIVE}).json()
            feedback = feedback_body(prediction)
            idle = time_probes(client, feedback, seconds=3.0)
            senders = [
                threading.Thread(target=send_french_batches, args=(server.base_url, stop, answered))
                for _ in range(HANGING_LOAD_CLIENTS)
            ]
            for sender in senders:
                sender.start()
            try:
                time.sleep(1.0)  # every sender has a batch waiting on the translator
                loaded = time_probes(client, feedback, seconds=6.0)
            finally:
                stop.set()
                for sender in senders:
                    sender.join(timeout=30)
    assert stub.request_count > 0  # the batches did reach the translator
    assert answered
    assert set(answered) == {200}
    figures = {kind: (median(idle[kind]), median(loaded[kind]), len(loaded[kind])) for kind in idle}
    for kind, (before, during, count) in figures.items():
        print(
            f"hanging translator, {HANGING_LOAD_CLIENTS} French batch clients: {kind} p50 "
            f"{before * 1000:.1f} ms idle -> {during * 1000:.1f} ms (n={count}); "
            f"{len(answered)} batches answered"
        )
        assert during <= 2 * before + 0.05, (kind, before, during)


# --- a model store that accepts connections and never answers -----------------------------------

STORE_WAIT_LIMIT_SECONDS = 5.0  # "no request, /api/health included, waits more than ~5 s"


def switch_settings(port: int, container: str, tmp_path: Path, default: Path) -> Settings:
    """Blob settings whose endpoint is the SilentSwitch on `port` (Azurite's account and key)."""
    from tests.integration.conftest import AZURITE_ACCOUNT, AZURITE_KEY

    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )
    return store_settings(connection, container, tmp_path, default)


def timed(send) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = send()
    return response, time.monotonic() - began


def test_a_silent_store_at_cold_start_holds_no_request_past_5_s(
    api, tmp_path: Path, tiny_bundle: Path
) -> None:
    """First requests of an instance (predict and /api/health at once) while the store accepts
    connections and never answers: the shipped bundle within the budget (it was 92 s)."""
    with SilentSwitch() as store:
        client = api(switch_settings(store.port, "models", tmp_path, tiny_bundle))
        with ThreadPoolExecutor(3) as pool:
            calls = [
                pool.submit(timed, lambda: client.post("/api/predict", json={"text": NEGATIVE})),
                pool.submit(timed, lambda: client.get("/api/health")),
                pool.submit(timed, lambda: client.post("/api/predict", json={"text": NEGATIVE})),
            ]
            answers = [call.result() for call in calls]
        assert store.accepted >= 1  # the store was asked, and said nothing
    statuses = [response.status_code for response, _ in answers]
    assert statuses == [200, 200, 200], [r.text for r, _ in answers]
    assert answers[0][0].json()["model_version"] == "tiny-1"
    health = answers[1][0].json()
    assert (health["status"], health["source"], health["store"]) == (
        "degraded",
        "default",
        "unreachable",
    )
    worst = max(elapsed for _, elapsed in answers)
    assert worst < STORE_WAIT_LIMIT_SECONDS, worst
    print(f"silent store at cold start: {[round(e, 2) for _, e in answers]} s (worst {worst:.2f})")


def test_a_store_going_silent_holds_no_refreshing_request_past_5_s(
    api,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    tiny_bundle: Path,
    real_bundles: dict[str, Path],  # noqa: F811
) -> None:
    """Azurite behind a switch that goes silent: every request due for a refresh meets a store
    that accepts and never answers. The last good model answers within the budget (was 64 s)."""
    with SilentSwitch(target_port=azurite.port) as store:
        settings = switch_settings(store.port, blob_container, tmp_path, tiny_bundle)
        open_model_store(settings).publish(real_bundles["v1"])
        client = api(settings)
        assert served_version(client) == "v1"
        store.go_silent()
        answers: list[tuple[str, int, float]] = []
        for _ in range(4):
            wait_for_refresh()
            response, elapsed = predict(client)
            answers.append(("predict", response.status_code, elapsed))
            wait_for_refresh()
            response, elapsed = timed(lambda: client.get("/api/health"))
            answers.append(("health", response.status_code, elapsed))
        health = client.get("/api/health").json()
    assert {status for _, status, _ in answers} == {200}
    assert (health["model_version"], health["status"], health["store"]) == (
        "v1",
        "degraded",
        "unreachable",
    )
    worst = max(elapsed for *_, elapsed in answers)
    assert worst < STORE_WAIT_LIMIT_SECONDS, worst
    print(f"store silent during refresh: {[(k, round(e, 2)) for k, _, e in answers]}")


# --- Log Analytics keeps throttling ---------------------------------------------------------------


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: object):
        from azure.core.credentials import AccessToken

        return AccessToken("static-test-token", int(time.time()) + 3600)


def test_log_analytics_throttling_beyond_the_retries_moves_nothing(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "feedback")
    settings = Settings(RETRAIN_THRESHOLD=1000)
    now = T0 + timedelta(days=1)
    with LogAnalyticsServer(default_answer="throttle") as server:
        rows = [LogRow(T0 + timedelta(minutes=m), make_flag_event(m)) for m in range(5)]
        server.add_rows(rows)
        source = LogsQuerySource(
            "workspace", StaticCredential(), server.url, retry_total=1, retry_backoff_factor=0.01
        )
        began = time.monotonic()
        with pytest.raises(HarvestError, match="429"):
            harvest(source, store, now, settings)
        elapsed = time.monotonic() - began
        assert store.list() == []  # no data, no index, no watermark
        assert len(server.query_requests()) == 2  # one try, one retry after Retry-After: 1
        server.default_answer = "ok"  # the throttling ends: the next run takes everything once
        result = harvest(source, store, now, settings)
    assert elapsed < 10
    assert result.new_records == 5
    assert sorted(r["prediction_id"] for r in read_feedback(store)) == sorted(
        row.values["prediction_id"] for row in rows
    )
    assert store.get(WATERMARK_NAME) is not None


# --- restarts -------------------------------------------------------------------------------------


def flag(client: TestClient | httpx.Client) -> dict:
    """Feedback on a fresh prediction of `client`'s server (feedback needs the prediction's
    token): the body to send, which any instance sharing the token key accepts."""
    response = client.post("/api/predict", json={"text": NEGATIVE})
    response.raise_for_status()
    return feedback_body(response.json())


def test_a_new_instance_resumes_the_same_model_and_feedback_state(
    api,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    tiny_bundle: Path,
    real_bundles: dict[str, Path],  # noqa: F811
) -> None:
    """Restart (new app, new ModelHolder, new sink) on the same cache and feedback log."""
    settings = blob_settings(azurite, blob_container, tmp_path, tiny_bundle)
    store = open_model_store(settings)
    store.publish(real_bundles["v1"])
    first = api(settings)
    assert served_version(first) == "v1"
    store.publish(real_bundles["v2"])
    wait_for_refresh()
    assert served_version(first) == "v2"
    flags = [flag(first) for _ in range(5)]
    assert all(first.post("/api/feedback", json=body).status_code == 202 for body in flags)
    azurite.stop()  # and the store goes down while the instance restarts
    try:
        second = api(settings)
        assert served_version(second) == "v2"  # the version served last, from the cache
        health = second.get("/api/health").json()
        answers = [second.post("/api/feedback", json=body).json()["status"] for body in flags]
        new_flag = second.post("/api/feedback", json=flag(second)).json()["status"]
    finally:
        azurite.start()
    assert (health["source"], health["status"]) == ("cache", "degraded")
    assert answers == ["duplicate"] * 5
    assert new_flag == "recorded"
    assert SqliteFeedbackSink(settings.FEEDBACK_DB_PATH).count() == 6


def send_flags_until_killed(base_url: str, acked: list[dict], stop: threading.Event) -> None:
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while not stop.is_set():
            try:
                body = flag(client)
                response = client.post("/api/feedback", json=body)
            except (httpx.TransportError, httpx.HTTPStatusError):
                return  # the server is gone
            if response.status_code == 202 and response.json()["status"] == "recorded":
                acked.append(body)


def test_a_killed_server_loses_no_acknowledged_flag_and_a_new_one_counts_none_twice(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    """SIGKILL mid-traffic: every 202 is in the log once; a new process says 'duplicate'."""
    db = tmp_path / "feedback.sqlite3"
    (tmp_path / "store").mkdir()
    env = {
        "DEFAULT_BUNDLE_PATH": str(tiny_bundle),
        "MODEL_STORE_PATH": str(tmp_path / "store"),
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "FEEDBACK_DB_PATH": str(db),
        "TRANSLATION_ENABLED": "false",
        "AUTH_MODE": "none",
        **{name: str(value) for name, value in private_paths(tmp_path).items()},
    }
    server = ApiProcess(env, tmp_path / "server.log").start()
    acked: list[dict] = []
    stop = threading.Event()
    senders = [
        threading.Thread(target=send_flags_until_killed, args=(server.base_url, acked, stop))
        for _ in range(8)
    ]
    try:
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 10
        while len(acked) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # mid-traffic: requests are in flight
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=10)
        server.stop()
    bodies = list(acked)
    acknowledged = [body["prediction_id"] for body in bodies]
    assert len(acknowledged) >= 100
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = [row[0] for row in connection.execute("SELECT prediction_id FROM feedback")]
    assert len(stored) == len(set(stored))
    assert set(acknowledged) <= set(stored)
    assert len(stored) - len(acknowledged) <= len(senders)  # written, then killed before the 202
    with (
        ApiProcess(env, tmp_path / "server2.log") as restarted,
        httpx.Client(base_url=restarted.base_url, timeout=10) as client,
    ):
        again = [client.post("/api/feedback", json=body).json()["status"] for body in bodies[:50]]
    assert again == ["duplicate"] * len(again)
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == len(stored)
    print(f"killed server: {len(acknowledged)} acknowledged, {len(stored)} stored")
