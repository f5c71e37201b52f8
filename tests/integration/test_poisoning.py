"""Poisoned feedback through the real API, the real harvest and the real `bad-buzz retrain`.

Two attackers, 500 flags each, every flag teaching the OPPOSITE of the tweet's true label (a
correction when the model was right, a confirmation when it was already wrong):

1. copies of a public frozen evaluation set (the corpus's `manual_test`): one caller is stopped by
   FEEDBACK_MAX_PER_HOUR; with the cap raised (many callers) every flag is recorded and harvested,
   and the retrain drops every one of them as frozen-set text before training;
2. ordinary tweets that are in no frozen set: they reach training, and the promotion gate (paired
   tests on the frozen sets and on held-out feedback) must refuse the challenger. The held-out
   slice is the attacker's too (the domain check passes); the frozen sets are what refuse.

Frozen tweets that serving masks (booking reference, domain, phone, name) are recognised too:
the filter keys each frozen tweet both as written and as serving masks it.

After each retrain the champion pointer (version and ETag), the stored versions and the model a
freshly started API serves are what they were. Small corpus, local folder store (the loop test,
test_feedback_loop.py, covers Azurite), SQLite feedback log; no /work/shared/data needed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shared.settings import Settings, get_settings
from tests.utils.corpus import (
    FOREIGN_TWEETS,
    make_corpus,
    publish_base_model,
    write_corpus_csv,
)
from tests.utils.feedback_builders import feedback_body

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ATTACK_SIZE = 500
PREDICT_BATCH = 100  # the API's largest batch
RAISED_CAP = 10_000  # stands for many callers, each under the real cap
# Frozen tweets that serving masks (booking reference, domain, phone number, name) before it
# returns `model_text`, the text feedback stores: their key then differs from the raw text's.
# The real frozen sets hold such tweets (Sentiment140 manual test: 4 of 359; SemEval 2016 test:
# 51 of 10,239; Apple brand set: 6 of 1,474).
MASKED_FROZEN = pd.DataFrame(
    {
        "polarity": [4, 0, 0, 4, 0],
        "text": [
            "so excited for IO2009 tomorrow, best conference ever",
            "check NBC.com tonight, the new show is awful",
            "worst service ever, call 01924 290870 and nobody answers",
            "hello, my name is Hamayoon and this is the best airline ever",
            "lost my bag again, booking ref qx7r2b, never flying with you again",
        ],
    }
)


@dataclass(frozen=True)
class World:
    """A published champion, its prepared work folder (with the frozen sets) and its store."""

    root: Path
    work_dir: Path
    champion: str
    public_frozen: pd.DataFrame  # the attacker's copy of manual_test: text, label (1 = negative)


def clean_tweets(frame: pd.DataFrame, exclude_keys: set[str]) -> pd.DataFrame:
    """English, non-empty, one row per text key, none of `exclude_keys`; label 1 = negative."""
    from training.feedback_data import text_key

    frame = frame[(frame["text"].str.strip() != "") & ~frame["text"].isin(FOREIGN_TWEETS)]
    frame = frame.assign(key=frame["text"].map(text_key), label=(frame["polarity"] == 0) * 1)
    frame = frame.drop_duplicates("key")
    return frame[~frame["key"].isin(exclude_keys)].reset_index(drop=True)


def base_settings(root: Path) -> Settings:
    return Settings(
        MODEL_STORE_PATH=root / "store" / "models",
        MODEL_CACHE_DIR=root / "cache",
        DEFAULT_BUNDLE_PATH=root / "no-default-bundle",
        MODEL_REFRESH_SECONDS=0,
        TRANSLATION_ENABLED=False,
        FEEDBACK_TOKEN_KEY_PATH=root / "feedback-token.key",
        PREDICTION_EVENTS_MAX=0,
        MLFLOW_TRACKING_URI=f"sqlite:///{root}/mlflow.db",
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Champion trained on a small general corpus; a public `manual_test` frozen set of 560
    templated tweets and the MASKED_FROZEN ones."""
    root = tmp_path_factory.mktemp("poisoning")
    public = clean_tweets(make_corpus(700, seed=11), set()).head(560)
    manual = write_corpus_csv(root / "manual_test.csv", pd.concat([public, MASKED_FROZEN]))
    version = publish_base_model(base_settings(root), root, manual)
    return World(root, root / "work", version, public[["text", "label"]])


def stage_settings(world: World, name: str, **overrides: Any) -> Settings:
    """One stage's own feedback log and feedback container; the model store is shared."""
    values = {
        "FEEDBACK_DB_PATH": world.root / f"{name}.sqlite3",
        "FEEDBACK_CONTAINER": f"feedback-{name}",
        **overrides,
    }
    return base_settings(world.root).model_copy(update=values)


def predict_all(client: TestClient, texts: list[str]) -> list[dict[str, Any]]:
    results = []
    for start in range(0, len(texts), PREDICT_BATCH):
        answer = client.post("/api/predict", json={"texts": texts[start : start + PREDICT_BATCH]})
        assert answer.status_code == 200, answer.text
        results += answer.json()["results"]
    return results


def poisoned_body(prediction: dict[str, Any], true_label: int) -> dict[str, object]:
    """Feedback that teaches the opposite of `true_label` (1 = negative), whatever was predicted:
    a confirmation when the model already says the flipped label, else a correction to it."""
    flipped = "positive" if true_label == 1 else "negative"
    if prediction["label"] == flipped:
        return feedback_body(prediction, kind="confirmation")
    return feedback_body(prediction, kind="correction", correct_label=flipped)


def flag_poison(client: TestClient, tweets: pd.DataFrame) -> tuple[list[int], list[str]]:
    """Predict then flag every tweet with its flipped label, from one caller (the test client).
    Returns (status of each feedback request, prediction ids answered 202 "recorded")."""
    statuses, recorded = [], []
    predictions = predict_all(client, tweets["text"].tolist())
    for prediction, label in zip(predictions, tweets["label"], strict=True):
        response = client.post("/api/feedback", json=poisoned_body(prediction, int(label)))
        statuses.append(response.status_code)
        if response.status_code == 202:
            assert response.json()["status"] == "recorded", response.text
            recorded.append(prediction["prediction_id"])
        else:
            assert response.status_code == 429, response.text
            assert int(response.headers["Retry-After"]) >= 1
    return statuses, recorded


def harvest_stage(settings: Settings) -> tuple[int, list[dict[str, str]]]:
    """The real harvest from the SQLite log into the stage's feedback container."""
    from shared.feedback.harvest import run_harvest
    from shared.feedback.state import read_feedback
    from shared.storage import open_object_store

    later = datetime.now(UTC) + timedelta(minutes=1)  # past the log's ingestion lag
    result = run_harvest(settings, now=later)
    records = read_feedback(open_object_store(settings, settings.FEEDBACK_CONTAINER))
    return result.new_records, records


def run_retrain_cli(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """`bad-buzz retrain` in-process, as the workflow runs it (it promotes when the gate passes);
    returns the full report (`--report`, with the feedback ids)."""
    from typer.testing import CliRunner

    from training import cli

    for name in ("MODEL_STORE_CONNECTION_STRING", "MODEL_STORE_ACCOUNT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("MODEL_STORE_PATH", "FEEDBACK_CONTAINER", "MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, str(getattr(settings, name)))
    report_path = world.root / f"report-{settings.FEEDBACK_CONTAINER}.json"
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli.app,
            ["retrain", "--work-dir", str(world.work_dir), "--report", str(report_path),
             "--bundle-root", str(world.root / f"challengers-{settings.FEEDBACK_CONTAINER}")],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return json.loads(report_path.read_text(encoding="utf-8"))


def champion_state(settings: Settings) -> tuple[str, str | None, list[str]]:
    """(champion version, pointer ETag, stored versions) of the model store."""
    from shared.model_store import open_model_store

    store = open_model_store(settings)
    pointer, etag = store.read_pointer()
    assert pointer is not None
    return pointer.version, etag, store.list_versions()


def served_version(settings: Settings) -> str:
    """What a freshly started API serves (it reads the champion pointer at start)."""
    from shared.api.app import create_app

    client = TestClient(create_app(settings))
    return client.get("/api/health").json()["model_version"]


def test_one_caller_is_capped_per_hour(world: World) -> None:
    """Stage a: FEEDBACK_MAX_PER_HOUR (the shipped default) lets one caller record that many of
    the 500 flags; every later one is 429 with Retry-After and never reaches the log."""
    from shared.api.app import create_app

    settings = stage_settings(world, "capped")
    cap = settings.FEEDBACK_MAX_PER_HOUR
    assert cap < ATTACK_SIZE, "the default cap must be below the attack for this stage to test it"
    started = time.monotonic()
    statuses, recorded = flag_poison(
        TestClient(create_app(settings)), world.public_frozen.head(ATTACK_SIZE)
    )
    refills = int((time.monotonic() - started) * cap / 3600)  # the bucket refills continuously
    assert statuses[:cap] == [202] * cap
    assert cap <= len(recorded) <= cap + refills, f"{len(recorded)} recorded, cap {cap}"
    assert statuses.count(429) == ATTACK_SIZE - len(recorded)
    new_records, records = harvest_stage(settings)
    assert new_records == len(recorded)
    assert sorted(r["prediction_id"] for r in records) == sorted(recorded)


def test_frozen_set_copies_are_dropped_before_training(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stages b and c: with the cap raised, all 500 copies of frozen tweets are recorded and
    harvested; the retrain drops every one as frozen-set text, trains nothing, promotes nothing."""
    from shared.api.app import create_app
    from training.feedback_data import select_feedback

    settings = stage_settings(world, "frozen", FEEDBACK_MAX_PER_HOUR=RAISED_CAP)
    before = champion_state(settings)
    assert before[0] == world.champion
    statuses, recorded = flag_poison(
        TestClient(create_app(settings)), world.public_frozen.head(ATTACK_SIZE)
    )
    assert statuses == [202] * ATTACK_SIZE
    new_records, records = harvest_stage(settings)
    assert new_records == ATTACK_SIZE
    assert sorted(r["prediction_id"] for r in records) == sorted(recorded)
    # Without the frozen-set filter every one of them would be trained on or held out.
    unfiltered = select_feedback(records, set(), 0.2, datetime.now(UTC)).ids_used()
    assert sorted(unfiltered["trained"] + unfiltered["held_out"]) == sorted(recorded)

    report = run_retrain_cli(world, settings, monkeypatch)
    ids = report["feedback_ids"]
    assert ids["dropped"]["in_frozen_set"] == sorted(recorded)
    assert ids["trained"] == []
    assert ids["held_out"] == []
    assert report["feedback"]["dropped_in_frozen_set"] == ATTACK_SIZE
    assert report["challenger"] is None
    assert report["promoted"] is False
    assert report["reasons"][0].startswith("only 0 feedback texts to train on")

    assert champion_state(settings) == before  # same version, same ETag, no new bundle
    assert served_version(settings) == world.champion


def fresh_tweets(world: World, attack: str) -> pd.DataFrame:
    """500 tweets in no frozen set: both moods (`flip_both`), or complaints only
    (`hide_complaints`: the attacker wants the model to miss bad buzz)."""
    from training.feedback_data import frozen_text_keys
    from training.retrain import frozen_sets

    frozen_keys = frozen_text_keys(frozen_sets(world.work_dir, ()).values())
    tweets = clean_tweets(make_corpus(1800, seed=21), frozen_keys)
    if attack == "hide_complaints":
        tweets = tweets[tweets["label"] == 1]
    return tweets.head(ATTACK_SIZE)


def frozen_refusals(report: dict[str, Any]) -> list[str]:
    """`set metric` of every frozen-set check the gate refused."""
    return [
        f"{name} {metric}"
        for name, verdicts in report["gate"]["frozen"].items()
        for metric, verdict in verdicts.items()
        if not verdict["passes"]
    ]


@pytest.mark.parametrize("attack", ["flip_both", "hide_complaints"])
def test_flipped_labels_on_fresh_tweets_are_refused_by_the_gate(
    world: World, attack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second attacker: 500 ordinary tweets in no frozen set, labels flipped. They reach
    training (the held-out feedback slice is poisoned too, so the domain check is no guard);
    the frozen-set checks must refuse the challenger, and the served model stays the champion."""
    from shared.api.app import create_app

    settings = stage_settings(world, f"fresh-{attack}", FEEDBACK_MAX_PER_HOUR=RAISED_CAP)
    before = champion_state(settings)
    tweets = fresh_tweets(world, attack)
    assert len(tweets) == ATTACK_SIZE
    statuses, recorded = flag_poison(TestClient(create_app(settings)), tweets)
    assert statuses == [202] * ATTACK_SIZE
    new_records, records = harvest_stage(settings)
    assert new_records == ATTACK_SIZE
    assert sorted(r["prediction_id"] for r in records) == sorted(recorded)

    report = run_retrain_cli(world, settings, monkeypatch)
    ids = report["feedback_ids"]
    assert ids["dropped"]["in_frozen_set"] == []
    assert len(ids["trained"]) > ATTACK_SIZE // 2, "the poison must reach training here"
    assert set(ids["trained"]) | set(ids["held_out"]) <= set(recorded)
    assert report["challenger"] is not None, report["reasons"]
    figures = "\n".join(report["reasons"])
    assert report["promoted"] is False, f"the gate promoted a poisoned challenger:\n{figures}"
    assert frozen_refusals(report), figures

    assert champion_state(settings) == before
    assert served_version(settings) == world.champion


def test_masked_copies_of_frozen_tweets_are_dropped_too(world: World) -> None:
    """Copies of frozen tweets that serving masks differently from the raw text are still
    recognised as frozen-set text by the retrain's filter."""
    from shared.api.app import create_app
    from training.feedback_data import frozen_text_keys, select_feedback
    from training.retrain import frozen_sets

    settings = stage_settings(world, "masked", FEEDBACK_MAX_PER_HOUR=RAISED_CAP)
    tweets = MASKED_FROZEN.assign(label=(MASKED_FROZEN["polarity"] == 0) * 1)
    frozen = frozen_sets(world.work_dir, ())
    assert set(tweets["text"]) <= set(frozen["manual_test"]["text"])  # they ARE frozen tweets
    statuses, recorded = flag_poison(TestClient(create_app(settings)), tweets)
    assert statuses == [202] * len(tweets)
    _, records = harvest_stage(settings)
    assert sorted(r["prediction_id"] for r in records) == sorted(recorded)
    selection = select_feedback(records, frozen_text_keys(frozen.values()), 0.2, datetime.now(UTC))
    assert selection.ids_used()["dropped"]["in_frozen_set"] == sorted(recorded)
