"""Emoji and emoticons reach the model as sentiment tokens, and VADER scores them the same way.

The polarity table is generated from maintained sources (the `emoji` package, VADER's emoji
lexicon) plus the reviewed lists; these tests fail when either drifts from the stored table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.features import vader_scores
from shared.lexicons import emoji_sources
from shared.normalise import normalise_text, prepare_for_vader
from tests.utils.emoji_table import NEGATIVE_SYMBOLS, POSITIVE_SYMBOLS

pytestmark = pytest.mark.code

emoji = pytest.importorskip("emoji")

# The shared table (what the model tests use too), plus symbols only the normaliser and VADER
# are held to here: skin tones, ZWJ sequences, rarer emoticons.
NEGATIVE = [
    *NEGATIVE_SYMBOLS,
    "😷",
    "😿",
    "😾",
    "❌",
    "🤦",
    "🤦🏻\u200d♀️",
    "🥺",
    "😨",
    "😧",
    "🛑",
    ":[",
    ":|",
    "-_-",
    ":S",
    ";(",
    ":@",
    "D=",
    ":\\",
    ">:-(",
    ":((((",
]
POSITIVE = [
    *POSITIVE_SYMBOLS,
    "👍🏽",
    "♥️",
    "🙏🏾",
    "😋",
    "✌️",
    "⭐",
    "🎊",
    "👌",
    "🌈",
    "😉",
    "🙂",
    "💙",
    "🥂",
    "🔥",
    "XD",
    ":]",
    ":*",
    "=D",
    "\\o/",
    ":p",
    ":3",
    ":-)))",
    "<333",
    "^^",
]
NEUTRAL = [
    "✈️",
    "🇺🇸",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "🧳",
    "☕",
    "👨\u200d👩\u200d👧",
    "🚗",
    "©️",
    "‼️",
]


def test_the_table_is_big_enough() -> None:
    assert len(NEGATIVE) >= 30
    assert len(POSITIVE) >= 30


@pytest.mark.parametrize("symbol", NEGATIVE)
def test_negative_alone_is_negative_for_the_normaliser_and_vader(symbol: str) -> None:
    assert normalise_text(symbol).split() == ["<emo_neg>"] * len(normalise_text(symbol).split())
    assert normalise_text(symbol) != ""
    assert vader_scores([symbol])[0, 3] < 0, prepare_for_vader(symbol)


@pytest.mark.parametrize("symbol", POSITIVE)
def test_positive_alone_is_positive_for_the_normaliser_and_vader(symbol: str) -> None:
    assert set(normalise_text(symbol).split()) == {"<emo_pos>"}
    assert vader_scores([symbol])[0, 3] > 0, prepare_for_vader(symbol)


@pytest.mark.parametrize("symbol", NEUTRAL)
def test_neutral_emoji_is_one_neutral_token(symbol: str) -> None:
    assert normalise_text(symbol) == "<emoji>"
    assert vader_scores([symbol])[0, 3] == 0


@pytest.mark.parametrize("symbol", ["😡", "🤬", "👎", "D:", ":'("])
def test_a_negative_symbol_does_not_soften_a_complaint(symbol: str) -> None:
    complaint = "my flight is delayed again and nobody tells us anything"
    plain, with_symbol = vader_scores([complaint, f"{complaint} {symbol}"])[:, 3]
    assert with_symbol < plain
    assert normalise_text(f"{complaint} {symbol}").endswith("<emo_neg>")


@pytest.mark.parametrize(("base", "tone"), [("👍", "🏿"), ("🙏", "🏻"), ("🤦‍♂️", "🏽")])
def test_skin_tones_and_selectors_do_not_change_the_token(base: str, tone: str) -> None:
    first = base[0]
    toned = first + tone + base[1:]
    assert normalise_text(toned) == normalise_text(base) == normalise_text(first)
    assert vader_scores([toned])[0, 3] == vader_scores([base])[0, 3]


def fully_qualified_emoji() -> list[str]:
    return [
        sequence
        for sequence, data in emoji.EMOJI_DATA.items()
        if data["status"] == emoji.STATUS["fully_qualified"] and "\u20e3" not in sequence
    ]


def test_every_emoji_of_the_emoji_package_is_exactly_one_token() -> None:
    """Keycaps ("1️⃣") are left out on purpose: they read as their digit."""
    wrong = {
        sequence: normalise_text(f"a{sequence}b")
        for sequence in fully_qualified_emoji()
        if len(normalise_text(f"a{sequence}b").split()) != 3
    }
    assert not wrong, list(wrong.items())[:10]


def test_the_stored_polarity_table_matches_its_sources() -> None:
    """Fails after an upgrade of `emoji` or vaderSentiment: regenerate (see emoji_sources)."""
    stored = Path(emoji_sources.__file__).with_name("emoji_polarity.py").read_text("utf-8")
    assert stored == emoji_sources.render_module()


def test_curated_lists_win_over_names() -> None:
    # VADER reads "broken heart" as positive and "thumbs up" as nothing.
    assert emoji_sources.curated_polarity("💔") == -1
    assert emoji_sources.curated_polarity("👍") == 1
    assert emoji_sources.curated_polarity("🇺🇸") == 0
    assert emoji_sources.curated_polarity("🫠") is None


NEGATED_COMPLAINTS = (
    "delayed for 5 hours at the gate with no information",
    "not one word from the crew",
    "they never called back",
)


@pytest.mark.parametrize("symbol", NEGATIVE)
@pytest.mark.parametrize("complaint", NEGATED_COMPLAINTS)
def test_a_negation_before_a_symbol_does_not_flip_it(complaint: str, symbol: str) -> None:
    """VADER negates a lexicon item by the words before it: "no information :(" read happier
    than "information :(". A symbol keeps its own valence, so appending one never helps."""
    before = vader_scores([complaint])[0][3]
    after = vader_scores([f"{complaint} {symbol}"])[0][3]
    assert after <= before, (complaint, symbol, before, after)


@pytest.mark.parametrize("symbol", POSITIVE)
def test_a_negation_before_a_positive_symbol_does_not_flip_it(symbol: str) -> None:
    praise = "no problems at all, the crew was great"
    assert vader_scores([f"{praise} {symbol}"])[0][3] >= vader_scores([praise])[0][3]
