"""Minimum functionality of the shipped model, through POST /api/predict (issue 9 §3).

Cases any reasonable sentiment model gets right: clear complaints are negative, clear praise is
positive, an emoji or emoticon alone carries its own polarity, and plain negation flips a
feeling ("not happy" is a complaint; "not bad at all" is not one).
"""

from __future__ import annotations

import pytest

from tests.model.served import ServedModel, describe
from tests.model.tables import (
    NEGATIVE_SYMBOLS,
    POSITIVE_SYMBOLS,
    symbol_id,
    text_id,
)

pytestmark = pytest.mark.model

CLEAR_COMPLAINTS = [
    "my flight was cancelled and nobody told us why",
    "they lost my luggage and customer service hung up on me",
    "the staff at the gate were so rude to us",
    "delayed for 5 hours at the gate with no information, so angry",
    "they refused to refund my cancelled flight",
    "worst airline ever, never flying with them again",
    "terrible service, the seat was broken and dirty",
    "I hate this airline",
    "stuck on the tarmac for three hours, this is ridiculous",
    "missed my connection because of your delay, thanks for nothing",
    "you ruined my vacation",
    "my bag is still missing after three days",
    "they charged me twice and won't refund me",
    "the agent was rude and unhelpful",
    "I will never fly with you again",
    "my flight was cancelled and they lost my luggage, worst airline ever",
    "I hate flying with them, terrible service",
]
CLEAR_PRAISE = [
    "thank you for the upgrade, the crew was amazing!",
    "great flight, landed early, love it",
    "best airline ever, friendly staff",
    "the crew was so friendly and helpful, thank you",
    "loved the new seats, very comfortable flight",
    "awesome service today, thanks so much",
    "happy to be home, smooth flight",
    "flight attendants were lovely, thank you",
    "what a wonderful crew, thank you",
    "great flight, landed early, love it :)",
]
NEGATED_PRAISE = [  # a negated good word is a complaint
    "not happy with the service",
    "I am not happy with this airline",
    "the flight was not good",
    "I don't like this airline",
]
NEGATED_COMPLAINT = [  # a negated bad word is not a complaint
    "not bad at all, quite good",
    pytest.param(
        "the food was not bad at all",
        marks=pytest.mark.xfail(
            strict=True,
            reason="known failure of the shipped model, listed in docs/model_card.md: 'not' "
            "(+22) and 'at all' (+12) outweigh 'not bad' (-16); no corpus or weight tried in "
            "docs/ablation.md changes it. Strict: passing it means the card needs updating.",
        ),
    ),
]


@pytest.mark.parametrize("text", CLEAR_COMPLAINTS, ids=text_id)
def test_clear_complaint_is_negative(served: ServedModel, text: str) -> None:
    result = served.predict(text)
    assert result["label"] == "negative", describe(result)


@pytest.mark.parametrize("text", CLEAR_PRAISE, ids=text_id)
def test_clear_praise_is_positive(served: ServedModel, text: str) -> None:
    result = served.predict(text)
    assert result["label"] == "positive", describe(result)


def test_the_symbol_tables_hold_at_least_30_of_each() -> None:
    """The issue's floor for the emoji/emoticon table; no duplicates that would pad it."""
    assert len(set(NEGATIVE_SYMBOLS)) == len(NEGATIVE_SYMBOLS) >= 30
    assert len(set(POSITIVE_SYMBOLS)) == len(POSITIVE_SYMBOLS) >= 30
    assert not set(NEGATIVE_SYMBOLS) & set(POSITIVE_SYMBOLS)


@pytest.mark.parametrize("symbol", NEGATIVE_SYMBOLS, ids=symbol_id)
def test_negative_emoji_or_emoticon_alone_is_negative(served: ServedModel, symbol: str) -> None:
    result = served.predict(symbol)
    assert result["label"] == "negative", describe(result)


@pytest.mark.parametrize("symbol", POSITIVE_SYMBOLS, ids=symbol_id)
def test_positive_emoji_or_emoticon_alone_is_positive(served: ServedModel, symbol: str) -> None:
    result = served.predict(symbol)
    assert result["label"] == "positive", describe(result)


@pytest.mark.parametrize("text", NEGATED_PRAISE, ids=text_id)
def test_negated_praise_is_negative(served: ServedModel, text: str) -> None:
    result = served.predict(text)
    assert result["label"] == "negative", describe(result)


@pytest.mark.parametrize("text", NEGATED_COMPLAINT, ids=text_id)
def test_negated_complaint_is_not_negative(served: ServedModel, text: str) -> None:
    """Not negative, and not "unknown" either: the model knows every word of these."""
    result = served.predict(text)
    assert result["label"] == "positive", describe(result)
