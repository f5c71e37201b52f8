"""Builders of real model bundles for tests: the real training and export code on tiny data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

NEGATIVE_TWEETS = [
    "my flight is delayed again, worst airline ever",
    "lost my luggage and nobody helps, so angry",
    "cancelled flight, stuck at the airport all night :(",
    "terrible service, rude staff and a dirty plane",
    "i hate waiting at the gate for hours",
    "this is awful, my bag is broken",
    "so sad and tired, bad day",
    "worst customer service, never flying again",
    "the food was horrible and the seat was broken",
    "delayed for five hours, missed my connection, furious",
    "ugh, sick and miserable today",
    "i am so disappointed with this terrible trip",
]
POSITIVE_TWEETS = [
    "great flight, friendly crew, thank you!",
    "love this airline, smooth landing :)",
    "on time and comfortable seats, happy",
    "the staff were wonderful and helpful",
    "best trip ever, amazing views",
    "good food and a lovely crew",
    "so happy to be home, great day",
    "awesome service, quick boarding, thanks",
    "what a beautiful morning, excellent coffee",
    "fantastic experience, will fly again",
    "nice and relaxing flight, loved it",
    "thank you for the upgrade, brilliant",
]


def tiny_training_frame() -> tuple[list[str], np.ndarray]:
    texts = NEGATIVE_TWEETS + POSITIVE_TWEETS
    labels = np.array([1] * len(NEGATIVE_TWEETS) + [0] * len(POSITIVE_TWEETS))
    return texts, labels


def build_tiny_bundle(dest: Path, version: str = "tiny-1", threshold: float = 0.5) -> Path:
    """Train the production pipeline on two dozen tweets, export it, write a bundle at `dest`."""
    from shared.features import build_feature_columns
    from shared.normalise import DEFAULT_OPTIONS
    from training.export import check_parity, convert_pipeline, write_bundle
    from training.train import build_pipeline

    texts, labels = tiny_training_frame()
    frame = pd.DataFrame(build_feature_columns(texts, DEFAULT_OPTIONS))
    pipeline = build_pipeline("tfidf_lr_vader", c=10.0, min_df=1).fit(frame, labels)
    onnx_bytes = convert_pipeline(pipeline)
    check_parity(pipeline, onnx_bytes, frame)
    write_bundle(
        pipeline,
        onnx_bytes,
        dest,
        version=version,
        threshold=threshold,
        options=DEFAULT_OPTIONS,
        metrics={"test_accuracy": 1.0},
        data_fingerprint="tiny",
    )
    return dest
