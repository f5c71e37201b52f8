"""Behavioural tests of the shipped default model (Made-With-ML style).

Invariance, directional change and minimum functionality.

They run the bundle through `shared.inference`, the code path the Function App runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.inference import Predictor

pytestmark = pytest.mark.model

DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "models" / "default"


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    if not (DEFAULT_BUNDLE / "manifest.json").is_file():
        pytest.skip(
            f"no shipped bundle at {DEFAULT_BUNDLE}; "
            "build it with the command in docs/model_card.md"
        )
    return Predictor(DEFAULT_BUNDLE)


def label_of(predictor: Predictor, text: str) -> str:
    return predictor.predict([text])[0].label


def negative_probability(predictor: Predictor, text: str) -> float:
    return float(predictor.negative_probabilities([text])[0])


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("my flight was cancelled and they lost my luggage, worst airline ever", "negative"),
        ("delayed for 5 hours at the gate, no info, so angry", "negative"),
        ("I hate flying with them, terrible service", "negative"),
        ("thank you for the upgrade, the crew was amazing!", "positive"),
        ("great flight, landed early, love it :)", "positive"),
        ("best airline ever, friendly staff", "positive"),
    ],
)
def test_minimum_functionality(predictor: Predictor, text: str, label: str) -> None:
    assert label_of(predictor, text) == label


@pytest.mark.parametrize(
    ("text_a", "text_b"),
    [
        (
            "my flight is delayed again, so annoying",
            "@united my flight is delayed again, so annoying http://t.co/abc",
        ),
        ("loved the crew today", "LOVED the crew today"),
        ("the seat was broken and dirty", "the seat was broken and dirty #travel"),
        ("can't wait to fly home, so happy", "cant wait to fly home, so happy"),
    ],
)
def test_invariance(predictor: Predictor, text_a: str, text_b: str) -> None:
    """Mentions, URLs, case, hashtags and apostrophes must not change the verdict."""
    assert label_of(predictor, text_a) == label_of(predictor, text_b)


@pytest.mark.parametrize(
    ("base", "more_negative"),
    [
        ("the flight was ok", "the flight was ok but they lost my bag"),
        ("waiting at the airport", "waiting at the airport, delayed again, awful"),
        ("the food was good", "the food was not good"),
    ],
)
def test_directional_negative(predictor: Predictor, base: str, more_negative: str) -> None:
    assert negative_probability(predictor, more_negative) > negative_probability(predictor, base)


def test_negative_emoticon_pushes_negative(predictor: Predictor) -> None:
    assert negative_probability(predictor, "back home now :(") > negative_probability(
        predictor, "back home now :)"
    )


def test_manifest_meets_release_floor(predictor: Predictor) -> None:
    """The shipped bundle carries its release figures: guard against shipping a weak one."""
    metrics = predictor.manifest.metrics
    assert metrics["manual_test_accuracy"] >= 0.8
    assert metrics["test_recall_neg"] >= 0.78
    assert metrics["parity_max_abs_diff"] <= 1e-5
    assert metrics["parity_label_flips"] == 0
