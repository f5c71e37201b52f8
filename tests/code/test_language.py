"""Language detection: English slang stays English, real foreign sentences are caught."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import language
from shared.language import (
    ENGLISH,
    UNDETERMINED,
    clean_tweet,
    detect_language,
    get_identifier,
    reads_as_english,
)

pytestmark = pytest.mark.code


@pytest.mark.parametrize(
    "tweet",
    [
        "my flight is delayed again, worst airline ever",
        "@united omg gr8 flight thx",
        "wtf",
        "lol",
        "my bag is lost",
        "yall r trash fr fr smh idk why i even bother lol",
        "ugh!!!! soooooo tired of waiting at the gate for hours #fail http://t.co/abc",
        "Oh well work tomorro. Nitey nite",
        "I love my family.",
        "THIS IS THE WORST SERVICE I HAVE EVER HAD",
        "cancelled flight, stuck at the airport all night :( 😡😡",
    ],
)
def test_english_tweets_stay_english(tweet: str) -> None:
    assert detect_language(tweet) == ENGLISH


@pytest.mark.parametrize(
    ("sentence", "code"),
    [
        ("Je suis très en colère contre vous, mon vol est encore annulé", "fr"),
        ("je suis très en colère", "fr"),
        ("@vueling mi vuelo fue cancelado otra vez, qué desastre", "es"),
        ("Mein Flug wurde schon wieder gestrichen, furchtbar! #lufthansa", "de"),
        ("Sono molto arrabbiato, il volo è in ritardo", "it"),
        ("飞机又延误了三个小时，太糟糕了", "zh"),
        ("フライトがキャンセルされた", "ja"),
    ],
)
def test_foreign_sentences_are_detected(sentence: str, code: str) -> None:
    assert detect_language(sentence) == code


@pytest.mark.parametrize("text", ["", "   ", "😀😀🔥", "123 456", "@united http://t.co/x", "!!!"])
def test_text_without_letters_is_undetermined(text: str) -> None:
    assert detect_language(text) == UNDETERMINED


@pytest.mark.parametrize("text", ["vol annulé", "Tschüss", "ok", "a"])
def test_short_latin_text_counts_as_english(text: str) -> None:
    """Below MIN_LATIN_LETTERS the rule leans English rather than guess."""
    assert detect_language(text) == ENGLISH


def test_cleaning_keeps_only_words() -> None:
    cleaned = clean_tweet("@united #fail soooo late!!! http://t.co/x &amp; 😡 don't 123")
    assert cleaned == "fail soo late don't"


def test_identifier_is_loaded_once() -> None:
    assert get_identifier() is get_identifier()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_any_text_gets_a_short_code(text: str) -> None:
    code = detect_language(text)
    assert isinstance(code, str)
    assert 2 <= len(code) <= 3


@pytest.mark.parametrize(
    "tweet",
    [
        "lost my luggage and nobody at the desk cares. never again @airline",
        "the food was ok i guess, seat a bit small but the crew was lovely",
        "I don't know why they cancelled it, that's the third time this month",
    ],
)
def test_english_function_words_decide_without_the_identifier(
    tweet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut of step 3: these never reach py3langid (~0.1 ms each, and its ~1 s load)."""
    monkeypatch.setattr(language, "get_identifier", lambda: pytest.fail("identifier asked"))
    assert reads_as_english(clean_tweet(tweet))
    assert detect_language(tweet) == ENGLISH


@pytest.mark.parametrize(
    "text",
    [
        "Mein Flug wurde schon wieder gestrichen, furchtbar",  # no English function word
        "het is zo laat en de vlucht is weer vertraagd",  # "is" alone is Dutch too
        "the vol est annulé encore une fois, quel désastre",  # accents: py3langid decides
        "my flight is delayed again, worst airline ever",  # no distinctive word: py3langid
    ],
)
def test_the_shortcut_leaves_doubtful_text_to_the_identifier(text: str) -> None:
    assert not reads_as_english(clean_tweet(text))


def test_warming_loads_the_identifier_once_in_the_background() -> None:
    language.warm_identifier()
    language.warm_identifier()
    assert get_identifier() is get_identifier()
    assert language.identifier_loaded()
