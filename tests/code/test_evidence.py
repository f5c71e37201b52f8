"""measure_evidence: did the model see anything it knows?"""

from __future__ import annotations

import pytest

from shared.features import Evidence, extract_terms, find_vader_words, measure_evidence
from shared.normalise import normalise_text

pytestmark = pytest.mark.code

COMPLAINT = "@united my flight is delayed again, worst airline ever"
# A vocabulary as explain.json holds it: every term of a model trained on a few complaints.
VOCABULARY = frozenset(
    extract_terms(normalise_text(COMPLAINT))
    + extract_terms(normalise_text("lost my bag :( http://t.co/x 3 hours"))
)


def evidence_of(text: str, language: str | None = "en") -> Evidence:
    return measure_evidence(text, normalise_text(text, language=language), VOCABULARY)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@someone",
        "@someone @other http://t.co/abc www.example.com",
        "شركة الطيران أضاعت حقيبتي وتأخرت الرحلة ثلاث ساعات",  # Arabic, untranslated
        "मेरी उड़ान 3 घंटे देर से है",  # Hindi with a number the model knows
        "✈️",
        "...",
    ],
)
def test_no_evidence(text: str) -> None:
    evidence = evidence_of(text)
    assert not evidence.has_evidence, evidence


def test_a_normal_complaint_has_evidence() -> None:
    evidence = evidence_of(COMPLAINT)
    assert evidence.has_evidence
    assert {"flight", "delayed", "worst"} <= set(evidence.known_terms)
    assert "<mention>" not in " ".join(evidence.known_terms)
    assert {"delayed", "worst"} <= set(evidence.vader_words)
    assert evidence.sentiment_tokens == 0


@pytest.mark.parametrize(("text", "count"), [("😡😡 🤬", 3), ("D:", 1), (":) <3", 2)])
def test_emoji_and_emoticons_are_evidence_even_when_unknown(text: str, count: int) -> None:
    evidence = measure_evidence(text, normalise_text(text), frozenset())
    assert evidence.has_evidence
    assert evidence.sentiment_tokens == count
    assert evidence.vader_words


def test_vader_words_alone_are_evidence() -> None:
    evidence = measure_evidence("Terrible!", normalise_text("Terrible!"), frozenset())
    assert evidence == Evidence((), ("Terrible",), 0)
    assert evidence.has_evidence


def test_numbers_and_entities_are_not_known_terms() -> None:
    evidence = evidence_of("@bob 3 http://t.co/x")
    assert evidence.known_terms == ()
    assert "3 hours" in evidence_of("3 hours").known_terms


def test_vader_words_ignore_mentions_that_would_score() -> None:
    assert find_vader_words("@happyflyer @lovely_day") == ()
