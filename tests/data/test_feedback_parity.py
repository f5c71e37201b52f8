"""Stored feedback is exactly what the model read: featurising it gives the served probability.

3,000 real tweets (1,500 Sentiment140, 1,500 of the brand's own traffic) go through the real app:
POST /api/predict on the shipped model (models/default), then POST /api/feedback with what
predict returned, into the SQLite sink. Each stored event's text is then featurised the way
retraining and the gate do (shared.inference.Predictor → shared.features.build_model_inputs) and
scored again: the probability must come back within 1e-6 with no label flip. Non-English tweets
go through a stand-in translator, so the stored text of a translated tweet is the translation.

Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shared.api.app import create_app
from shared.feedback.sinks import SqliteFeedbackSink
from shared.inference import Predictor
from shared.model_loader import ModelHolder
from shared.settings import Settings
from shared.translation import TranslationResult
from tests.utils.feedback_builders import T0, feedback_body

pytestmark = pytest.mark.data

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared/data"))
SENTIMENT140 = DATA_DIR / "sentiment140" / "training_sample_47k.csv"
BRAND = DATA_DIR / "domain" / "Apple-Twitter-Sentiment-DFE.csv"
BUNDLE = ROOT / "models" / "default"
PER_SOURCE = 1500
BATCH = 100
TOLERANCE = 1e-6


class SuffixTranslator:
    """A deterministic stand-in for the translator: the "English" text differs from the input."""

    def translate(self, text: str, source: str) -> TranslationResult:
        return TranslationResult(f"{text} (translated, call +1 212 555 0100)", True, None)


def sample_tweets() -> list[str]:
    if not (SENTIMENT140.is_file() and BRAND.is_file()):
        pytest.skip(f"real data absent: {SENTIMENT140} and {BRAND} are needed")
    with SENTIMENT140.open(encoding="latin-1", newline="") as handle:
        generic = [row[5] for row in csv.reader(handle)]
    with BRAND.open(encoding="latin-1", newline="") as handle:
        brand = [row["text"] for row in csv.DictReader(handle)]
    rng = random.Random(20261129)
    texts = rng.sample(generic, PER_SOURCE) + rng.sample(brand, PER_SOURCE)
    return [text.strip()[:500] for text in texts if text.strip()]


def serve_and_flag(tmp_path: Path, texts: list[str]) -> tuple[list[dict], SqliteFeedbackSink]:
    settings = Settings(
        DEFAULT_BUNDLE_PATH=BUNDLE,
        MODEL_STORE_PATH=tmp_path / "no-store",
        MODEL_CACHE_DIR=tmp_path / "cache",
        MODEL_REFRESH_SECONDS=0,
        FEEDBACK_TOKEN_KEY_PATH=tmp_path / "key",
        FEEDBACK_MAX_PER_HOUR=100_000,
    )
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3")
    app = create_app(
        settings, holder=ModelHolder(settings), translator=SuffixTranslator(), feedback_sink=sink
    )
    served = []
    with TestClient(app) as client:
        for start in range(0, len(texts), BATCH):
            answer = client.post("/api/predict", json={"texts": texts[start : start + BATCH]})
            assert answer.status_code == 200, answer.text
            served.extend(answer.json()["results"])
        for prediction in served:
            kind = "confirmation" if prediction["label"] != "unknown" else "correction"
            extra = {} if kind == "confirmation" else {"correct_label": "negative"}
            body = feedback_body(prediction, kind=kind, **extra)
            response = client.post("/api/feedback", json=body)
            assert response.status_code == 202, response.text
    return served, sink


def test_stored_feedback_reproduces_the_served_probability(tmp_path: Path) -> None:
    texts = sample_tweets()
    served, sink = serve_and_flag(tmp_path, texts)
    rows = sink.read_since(T0.replace(year=2000), T0.replace(year=2100), limit=len(served) + 1)
    stored = {row.properties["prediction_id"]: row.properties for row in rows}
    assert len(stored) == len(served) == len(texts)
    events = [stored[p["prediction_id"]] for p in served]
    assert all(e["text"] == p["model_text"] for e, p in zip(events, served, strict=True))
    assert sum(p["translated"] for p in served) > 0  # the translated path is exercised
    predictor = Predictor(BUNDLE)
    again = predictor.negative_probabilities([event["text"] for event in events])
    before = np.array([p["negative_probability"] for p in served])
    threshold = predictor.manifest.threshold
    worst = float(np.max(np.abs(again - before)))
    flips = int(np.sum((again >= threshold) != (before >= threshold)))
    print(f"\n{len(events)} stored events: max |diff| {worst:.2e}, label flips {flips}")
    assert worst <= TOLERANCE
    assert flips == 0
