"""Invariance of the shipped model, through POST /api/predict (issue 9 §3).

What does not change what a tweet says must not change the verdict: links, @mentions, case,
letters repeated for emphasis, the skin tone of an emoji, whitespace around the text. Skin tones
and surrounding whitespace change nothing a reader sees in the words, so for those the
probability itself must not move either.
"""

from __future__ import annotations

import pytest

from tests.model.served import ServedModel, describe

pytestmark = pytest.mark.model

SAME_PROBABILITY = 1e-6  # float32 inference: identical features give identical scores

SAME_LABEL_PAIRS = [
    pytest.param(
        "my flight is delayed again, so annoying",
        "my flight is delayed again, so annoying http://t.co/abc123",
        id="url-added-to-complaint",
    ),
    pytest.param(
        "loved the crew today",
        "loved the crew today https://example.com/photos/42",
        id="url-added-to-praise",
    ),
    pytest.param(
        "they lost my bag https://t.co/xyz and nobody answers",
        "they lost my bag and nobody answers",
        id="url-removed-mid-tweet",
    ),
    pytest.param(
        "@united my bag never arrived", "my bag never arrived", id="mention-removed-complaint"
    ),
    pytest.param(
        "thanks @delta for the smooth flight",
        "thanks for the smooth flight",
        id="mention-removed-praise",
    ),
    pytest.param(
        "the seat was broken and dirty",
        "@AmericanAir @jane_doe the seat was broken and dirty",
        id="two-mentions-added",
    ),
    pytest.param(
        "the seat was broken and dirty",
        "the seat was broken and dirty #travel",
        id="hashtag-added",
    ),
    pytest.param(
        "can't wait to fly home, so happy",
        "cant wait to fly home, so happy",
        id="apostrophe-dropped",
    ),
    pytest.param("LOVED the crew today", "loved the crew today", id="case-upper-praise"),
    pytest.param(
        "MY FLIGHT WAS CANCELLED AGAIN", "my flight was cancelled again", id="case-upper-complaint"
    ),
    pytest.param("Worst Airline Ever", "worst airline ever", id="case-title"),
    pytest.param("the service was sooo bad", "the service was so bad", id="repeats-sooo-bad"),
    pytest.param("the crew was sooooo nice", "the crew was so nice", id="repeats-sooooo-nice"),
    pytest.param("I am soooo angry right now", "I am so angry right now", id="repeats-angry"),
    pytest.param("the seats were sooo comfy", "the seats were so comfy", id="repeats-comfy"),
    pytest.param("loooove this airline", "love this airline", id="repeats-loooove"),
    pytest.param(
        "worst flight everrrr!!!!", "worst flight ever!", id="repeats-letters-and-punctuation"
    ),
]

SAME_SCORE_PAIRS = [
    pytest.param(
        "the flight was great 👍🏻", "the flight was great 👍🏿", id="skin-tone-light-dark"
    ),
    pytest.param("the flight was great 👍🏽", "the flight was great 👍", id="skin-tone-none"),
    pytest.param("thanks for the help 🙏🏾", "thanks for the help 🙏", id="skin-tone-folded-hands"),
    pytest.param("i waited for hours 👎🏼", "i waited for hours 👎🏾", id="skin-tone-thumbs-down"),
    pytest.param("👏🏻", "👏🏿", id="skin-tone-alone"),
    pytest.param(
        "my flight was cancelled again", "my flight was cancelled again   ", id="trailing-spaces"
    ),
    pytest.param("great crew, thank you", "great crew, thank you\n\t ", id="trailing-newline-tab"),
    pytest.param("they lost my bag", "  they lost my bag", id="leading-spaces"),
]


@pytest.mark.parametrize(("text_a", "text_b"), SAME_LABEL_PAIRS + SAME_SCORE_PAIRS)
def test_label_does_not_flip(served: ServedModel, text_a: str, text_b: str) -> None:
    result_a, result_b = served.predict_many([text_a, text_b])
    assert result_a["label"] == result_b["label"], f"{describe(result_a)}\n{describe(result_b)}"


@pytest.mark.parametrize(("text_a", "text_b"), SAME_SCORE_PAIRS)
def test_probability_does_not_move(served: ServedModel, text_a: str, text_b: str) -> None:
    result_a, result_b = served.predict_many([text_a, text_b])
    assert result_a["negative_probability"] == pytest.approx(
        result_b["negative_probability"], abs=SAME_PROBABILITY
    ), f"{describe(result_a)}\n{describe(result_b)}"
