"""The whole loop, end to end, on real parts: Azurite for both stores, the SQLite feedback log,
the real API, the real training, harvest and retrain code.

predict → flag the wrong ones → harvest → retrain → promote → the API answers with the new
version, and the flagged tweets are now answered right.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shared.settings import Settings
from tests.utils.corpus import publish_base_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def loop_settings(azurite, blob_container: str, tmp_path: Path) -> Settings:
    return Settings(
        MODEL_STORE_CONNECTION_STRING=azurite.connection_string,
        MODEL_STORE_CONTAINER=blob_container,
        FEEDBACK_CONTAINER=f"{blob_container}-feedback",
        FEEDBACK_DB_PATH=tmp_path / "feedback.sqlite3",
        MODEL_CACHE_DIR=tmp_path / "cache",
        DEFAULT_BUNDLE_PATH=tmp_path / "no-default-bundle",
        MODEL_REFRESH_SECONDS=0.5,
        TRANSLATION_ENABLED=False,
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/mlflow.db",
        RETRAIN_THRESHOLD=20,
        FEEDBACK_MAX_PER_HOUR=10_000,  # one caller flags a few hundred tweets here
    )


# Jargon the base corpus never uses: its sentiment is only learnable from the feedback. Each
# tweet also carries a general word of the opposite mood (sarcasm, grumbling), so the base
# model gets both kinds wrong and users flag both ways.
NEGATIVE_JARGON = ("bumped", "diverted", "overbooked", "stranded", "offloaded", "misconnected")
POSITIVE_JARGON = ("upgraded", "comped", "flatbed", "waived", "lounged", "fasttracked")


def make_jargon_tweets(n: int, seed: int) -> pd.DataFrame:
    """Airline tweets whose only sentiment-bearing word is domain jargon (label 0 = negative)."""
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        negative = index % 2 == 0
        word = rng.choice(NEGATIVE_JARGON if negative else POSITIVE_JARGON)
        mood = "lovely, so excited" if negative else "ugh, so tired"
        gate = f"{rng.choice('ABCDE')}{rng.randint(1, 60)}"
        text = f"{mood}: flight {rng.randint(100, 9999)} {word} at gate {gate}"
        rows.append({"polarity": 0 if negative else 4, "text": text})
    return pd.DataFrame(rows).drop_duplicates("text")


def flag_wrong_predictions(client: TestClient, tweets) -> list[dict]:
    """Predict every airline tweet; flag, with the right label, each one the model got wrong."""
    flagged = []
    for text, label in zip(tweets["text"], tweets["polarity"], strict=True):
        truth = "negative" if label == 0 else "positive"
        answer = client.post("/api/predict", json={"text": text}).json()
        if answer["label"] != truth:
            body = {
                "prediction_id": answer["prediction_id"],
                "text": answer.get("model_text", text),  # what the model read
                "predicted_label": answer["label"],
            }
            if "feedback_token" in answer:  # signed predictions: only those can be flagged
                body |= {"feedback_token": answer["feedback_token"], "kind": "correction"}
            response = client.post("/api/feedback", json=body)
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "recorded"
            flagged.append(body)
    return flagged


def accuracy_on(client: TestClient, tweets) -> float:
    texts = tweets["text"].tolist()
    results = client.post("/api/predict", json={"texts": texts}).json()["results"]
    truth = ["negative" if p == 0 else "positive" for p in tweets["polarity"]]
    return sum(r["label"] == t for r, t in zip(results, truth, strict=True)) / len(texts)


def wait_for_version(client: TestClient, version: str, seconds: float = 20.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.post("/api/predict", json={"text": "the crew was lovely"}).json()
        if answer["model_version"] == version:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"serving never switched to {version}")


def test_predict_flag_harvest_retrain_promote(loop_settings: Settings, tmp_path: Path) -> None:
    from shared.api.app import create_app
    from shared.feedback.harvest import harvest
    from shared.feedback.sources import SqliteSource
    from shared.feedback.state import mark_consumed, read_feedback
    from shared.model_store import open_model_store
    from shared.storage import open_object_store
    from training.retrain import RetrainConfig, retrain

    champion = publish_base_model(loop_settings, tmp_path)
    client = TestClient(create_app(loop_settings))
    assert client.post("/api/predict", json={"text": "hello"}).json()["model_version"] == champion

    airline = make_jargon_tweets(400, seed=2)
    seen, unseen = airline.iloc[:300], airline.iloc[300:]
    before = accuracy_on(client, unseen)
    bodies = flag_wrong_predictions(client, seen)
    flagged = [body["prediction_id"] for body in bodies]
    assert len(flagged) >= loop_settings.RETRAIN_THRESHOLD, (
        "the base model must get the new domain wrong"
    )

    # Flagging the same prediction again counts once.
    assert client.post("/api/feedback", json=bodies[0]).json()["status"] == "duplicate"

    feedback_store = open_object_store(loop_settings, loop_settings.FEEDBACK_CONTAINER)
    later = datetime.now(UTC) + timedelta(minutes=1)  # past the log's ingestion lag
    result = harvest(
        SqliteSource(loop_settings.FEEDBACK_DB_PATH), feedback_store, later, loop_settings
    )
    assert result.new_records == len(flagged)
    assert result.retrain_requested
    rerun = harvest(
        SqliteSource(loop_settings.FEEDBACK_DB_PATH), feedback_store, later, loop_settings
    )
    assert rerun.new_records == 0  # nothing duplicated

    records = read_feedback(feedback_store)
    assert sorted(r["prediction_id"] for r in records) == sorted(flagged)
    store = open_model_store(loop_settings)
    report, challenger_dir = retrain(
        store, records, tmp_path / "work", tmp_path / "bundles", RetrainConfig(max_age_days=None)
    )
    assert report.promoted, report.reasons
    assert report.gate["domain"]["lower"] > 0  # the gain is shown, not just observed
    trained = set(report.feedback_ids["trained"]) | set(report.feedback_ids["held_out"])
    assert trained == set(flagged)
    store.publish(challenger_dir, make_champion=True, expected_etag=report.champion_etag)
    assert mark_consumed(feedback_store, [r["prediction_id"] for r in records]) == len(records)

    answer = wait_for_version(client, report.challenger)
    assert answer["model_version"] != champion
    after = accuracy_on(client, unseen)
    assert after > before, f"unseen airline tweets: {before:.2f} → {after:.2f}"
    health = client.get("/api/health").json()
    assert health["model_version"] == report.challenger
    assert health["status"] == "ok"
