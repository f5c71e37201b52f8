"""Emoticons and emoji → sentiment tokens: `<emo_pos>`, `<emo_neg>`, or a neutral `<emoji>`.

Emoticons are matched by the patterns of `shared.lexicons.emoticons` on the raw case (":D" is not
":d", "D:" is not "d:"). Emoji are matched whole: a pictograph with its variation selector, skin
tone, keycap mark, tag characters and zero-width-joined partners ("👨‍👩‍👧" is one family, not
three people), a regional-indicator pair (a flag), or a text-style symbol made emoji by U+FE0F
("‼️"). Each emoji's polarity comes from `shared.lexicons.emoji_polarity` (generated from the
`emoji` package, VADER's emoji lexicon and the reviewed lists): by its canonical form (no
variation selector, no skin tone), else, for a ZWJ sequence, by its first emoji; else neutral.

VADER reads the same matches through `mark_for_vader`: an emoticon becomes ":)" or ":(" (VADER
scores those two; it misreads "D:" and ignores "T_T"), an emoji its canonical form, spaced so
VADER sees it as a word; the feature path's analyzer gives those emoji a valence.
"""

from __future__ import annotations

import re

from shared.lexicons import emoji_polarity, emoticons
from shared.lexicons.emoji_sources import ZWJ, canonical_emoji

EMOJI_POLARITY: dict[str, int] = {
    **dict.fromkeys(emoji_polarity.POSITIVE.split(), 1),
    **dict.fromkeys(emoji_polarity.NEGATIVE.split(), -1),
}


def _compile_symbols() -> re.Pattern[str]:
    """One regex that starts with a plain character class, so `re` jumps between candidates in C.

    Each emoticon becomes: its first character (consumed by the shared class), a lookbehind that
    checks which first character it was, its guard shifted one character back, then the rest.
    Emoji all lie in EMOJI_RANGES, TEXT_STYLE_SYMBOLS or EMOJI_SYMBOLS: a few ranges keep the
    class fast.
    """
    symbols = emoji_polarity.TEXT_STYLE_SYMBOLS
    groups: dict[str, tuple[emoticons.Emoticon, ...]] = {
        "pos": emoticons.POSITIVE_EMOTICONS,
        "neg": emoticons.NEGATIVE_EMOTICONS,
        "emoji": (
            (None, f"[{emoticons.REGIONAL_INDICATORS}]", f"[{emoticons.REGIONAL_INDICATORS}]?"),
            (None, f"[{emoticons.EMOJI_RANGES}]", emoticons.EMOJI_TAIL),
            (None, f"[{symbols}]", "\ufe0f" + emoticons.EMOJI_TAIL),
            (None, f"[{emoji_polarity.EMOJI_SYMBOLS}]", emoticons.EMOJI_TAIL),
        ),
    }
    firsts = [first for _, first, _ in (*groups["pos"], *groups["neg"])]
    ascii_firsts = "".join(first.strip("[]") if first[0] == "[" else first for first in firsts)
    union = f"[{ascii_firsts}{emoticons.EMOJI_RANGES}{symbols}{emoji_polarity.EMOJI_SYMBOLS}]"
    alternatives = "|".join(
        f"(?P<{name}>"
        + "|".join(
            f"(?<={first})" + (f"(?<!{guard}.)" if guard else "") + rest
            for guard, first, rest in items
        )
        + ")"
        for name, items in groups.items()
    )
    return re.compile(f"{union}(?:{alternatives})", re.DOTALL)


SYMBOL_RE = _compile_symbols()
_TOKENS = {1: " <emo_pos> ", -1: " <emo_neg> ", 0: " <emoji> "}
_VADER_EMOTICONS = {"pos": " :) ", "neg": " :( "}


def emoji_sign(sequence: str) -> int:
    """+1, -1 or 0 for one emoji as matched ("👍🏽" → +1, "🤦🏻‍♀️" → -1, "✈️" → 0)."""
    canonical = canonical_emoji(sequence)
    sign = EMOJI_POLARITY.get(canonical)
    if sign is None and ZWJ in canonical:
        sign = EMOJI_POLARITY.get(canonical.split(ZWJ)[0])
    return sign or 0


def replace_emoticons(text: str) -> str:
    """Every emoticon and emoji → " <emo_pos> ", " <emo_neg> " or " <emoji> "."""
    return SYMBOL_RE.sub(_token_for, text)


def _token_for(match: re.Match[str]) -> str:
    if match.lastgroup == "emoji":
        return _TOKENS[emoji_sign(match.group())]
    return _TOKENS[1 if match.lastgroup == "pos" else -1]


def mark_for_vader(text: str) -> str:
    """Emoticons → " :) " / " :( ", emoji → their canonical form, spaced (see module doc).

    Until stable (≤ 3 passes): the spaces can complete an emoticon that needs a word end
    (")::)" → "): :)", in which "):" now counts).
    """
    marked, count = SYMBOL_RE.subn(_vader_symbol, text)
    for _ in range(2 if count else 0):  # most tweets have no symbol: one scan
        again = SYMBOL_RE.sub(_vader_symbol, marked)
        if again.split() == marked.split():
            break
        marked = again
    return marked


def _vader_symbol(match: re.Match[str]) -> str:
    if match.lastgroup == "emoji":
        return f" {canonical_emoji(match.group())} "
    return _VADER_EMOTICONS[match.lastgroup or "pos"]
