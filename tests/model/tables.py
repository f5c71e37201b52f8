"""The tables the behaviour tests share: emoji and emoticons with a clear polarity, and plain
complaints and praise to attach them to (issue 9: "a test table of at least 30 negative and 30
positive emoji and emoticons: alone, the label is right; appended to a complaint, P(negative)
does not fall").

The symbols are the ones people use to say one thing only (an angry face is never praise); the
ambiguous ones (😅, 😬, 🙃, 😏, :|) are left out on purpose. Emoji are written with the
variation selector where keyboards send one ("❤️", "☹️"). The complaints and praise are plain,
everyday tweets to an airline, chosen for being clear, not for what the shipped model does.
"""

from __future__ import annotations

import unicodedata

from tests.utils.emoji_table import (  # noqa: F401  (re-exported for the model tests)
    NEGATIVE_EMOJI,
    NEGATIVE_EMOTICONS,
    NEGATIVE_SYMBOLS,
    POSITIVE_EMOJI,
    POSITIVE_EMOTICONS,
    POSITIVE_SYMBOLS,
)

# Bases for the directional emoji tests: each symbol is appended to every one of them.
COMPLAINTS = [
    "my flight was cancelled and nobody told us why",
    "they lost my luggage and customer service hung up on me",
    "the staff at the gate were so rude to us",
    "delayed for 5 hours at the gate with no information",
    "they refused to refund my cancelled flight",
]
PRAISE = [
    "thank you for the upgrade, the crew was amazing",
    "great flight, landed early, love it",
    "the crew was so friendly and helpful, thank you",
    "happy to be home, smooth flight",
    "awesome service today, thanks so much",
]

_INVISIBLE = {"\ufe0f", "\ufe0e", "\u200d"}


def symbol_id(symbol: str) -> str:
    """A readable test id: the emoticon itself, or the Unicode names of the emoji's characters
    ("😡" → "pouting-face"; "👍🏿" → "thumbs-up-sign+emoji-modifier-fitzpatrick-type-6")."""
    if symbol.isascii():
        return symbol
    names = [unicodedata.name(char, f"u{ord(char):04x}") for char in symbol]
    kept = [name for char, name in zip(symbol, names, strict=True) if char not in _INVISIBLE]
    return "+".join(name.lower().replace(" ", "-") for name in kept)


def text_id(text: str, limit: int = 48) -> str:
    """A readable test id for a tweet: its first characters, emoji spelled by name."""
    spelled = "".join(char if char.isascii() else f"[{symbol_id(char)}]" for char in text)
    return spelled if len(spelled) <= limit else spelled[: limit - 3] + "..."
