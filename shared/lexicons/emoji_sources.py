"""Derive `emoji_polarity.py`: the polarity of every emoji, from maintained sources.

Run `python -m shared.lexicons.emoji_sources > shared/lexicons/emoji_polarity.py` after
upgrading `emoji` or `vaderSentiment` (tests/code/test_emoji_polarity.py fails until you do),
and bump NORMALISER_VERSION: the table changes what the model reads.

Sources and rule, per emoji of the `emoji` package (every fully-qualified emoji of its Unicode
version, ZWJ sequences included), keyed by its canonical form (`canonical_emoji`):
1. the project's reviewed lists (`shared.lexicons.emoticons.POSITIVE_EMOJI`, `NEGATIVE_EMOJI`,
   `NEUTRAL_EMOJI`; flags are neutral), for the emoji whose names do not say how they are
   used (👍 "thumbs up", ❤ "red heart", 🙏 "folded hands"; VADER reads 💔 "broken heart" as
   positive); a ZWJ sequence takes the
   list's polarity of its first emoji (🤦‍♀️ is 🤦);
2. otherwise VADER reads the emoji's names: VADER's own description (emoji_utf8_lexicon.txt), the
   CLDR name and the aliases from `emoji` ("enraged face", ":rage:"), scored by VADER with its
   duplicate-free lexicon (shared.lexicons.vader); compound >= 0.05 is positive and <= -0.05
   negative (VADER's documented thresholds); anything else is neutral and left out.
Generated rather than computed at import, so that an upgrade of either package cannot change
the normaliser's output without a new NORMALISER_VERSION.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version

from shared.lexicons import emoticons
from shared.lexicons.vader import read_emoji_descriptions, read_word_lexicon

ZWJ = "\u200d"
_MODIFIERS_RE = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
VADER_THRESHOLD = 0.05
FULLY_QUALIFIED = 2  # emoji.STATUS["fully_qualified"]
_FLAG_RE = re.compile(f"[{emoticons.REGIONAL_INDICATORS}\U0001f3f4\U0001f3f3]")  # 🇺🇸 🏴 🏳


def canonical_emoji(sequence: str) -> str:
    """Without variation selectors and skin tones: "👍🏽" → "👍", "❤️" → "❤"."""
    return _MODIFIERS_RE.sub("", sequence)


def curated_polarity(canonical: str) -> int | None:
    """+1 / -1 / 0 from the reviewed lists, for the emoji or a ZWJ sequence's first emoji.

    Flags are neutral (a country is not a feeling, though VADER likes "United States").
    None when the lists do not say.
    """
    first = canonical.split(ZWJ)[0]
    if _FLAG_RE.match(first):
        return 0
    for candidate in (canonical, first):
        if len(candidate) != 1:
            continue
        for sign, members in ((1, emoticons.POSITIVE_EMOJI), (-1, emoticons.NEGATIVE_EMOJI)):
            if candidate in members:
                return sign
        if candidate in emoticons.NEUTRAL_EMOJI:
            return 0
    return None


def emoji_names(sequence: str, data: dict) -> list[str]:
    """VADER's description, the CLDR name and the aliases, as plain words."""
    descriptions = read_emoji_descriptions()
    names = [descriptions.get(sequence) or descriptions.get(canonical_emoji(sequence)) or ""]
    names += [data.get("en", ""), *data.get("alias", [])]
    return [name.strip(":").replace("_", " ").replace("-", " ") for name in names if name]


def name_polarity(names: list[str], analyzer) -> int:
    compound = analyzer.polarity_scores(". ".join(names))["compound"]
    if compound >= VADER_THRESHOLD:
        return 1
    return -1 if compound <= -VADER_THRESHOLD else 0


def derive_emoji_polarity() -> dict[str, int]:
    """Canonical emoji → +1 or -1, for every emoji that has a polarity; in the package's order."""
    import emoji
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon = read_word_lexicon()
    polarity: dict[str, int] = {}
    for sequence, data in emoji.EMOJI_DATA.items():
        canonical = canonical_emoji(sequence)
        if data["status"] != FULLY_QUALIFIED or not canonical or canonical in polarity:
            continue
        sign = curated_polarity(canonical)
        if sign is None:
            sign = name_polarity(emoji_names(sequence, data), analyzer)
        if sign:
            polarity[canonical] = sign
    return polarity


def symbols_outside_ranges(selector: str) -> str:
    """Characters outside `emoticons.EMOJI_RANGES` that are emoji followed by `selector`: "\ufe0f"
    gives the text-style symbols ("‼️"), "" those that are emoji on their own ("◾")."""
    import emoji

    ranges = re.compile(f"[{emoticons.EMOJI_RANGES}{emoticons.REGIONAL_INDICATORS}]")
    found = {
        sequence[0]
        for sequence, data in emoji.EMOJI_DATA.items()
        if data["status"] == FULLY_QUALIFIED
        and sequence == sequence[0] + selector
        and not sequence[0].isascii()
        and not ranges.match(sequence[0])
    }
    return "".join(sorted(found))


def quote(text: str) -> str:
    """A double-quoted Python literal (ruff format's style) for text without quotes."""
    return '"' + repr(text)[1:-1] + '"'


def render_string(keys: list[str], width: int = 60) -> str:
    """A parenthesised Python string of space-separated keys, lines of about `width` columns."""
    lines: list[str] = [""]
    for key in keys:
        if len(repr(lines[-1] + key)) * 2 > width * 2 - len(key) * 2 and lines[-1]:
            lines.append("")
        lines[-1] += key + " "
    body = "\n".join(f"    {quote(line)}" for line in lines)
    return f"(\n{body}\n)"


def render_module() -> str:
    polarity = derive_emoji_polarity()
    positive = render_string([key for key, sign in polarity.items() if sign > 0])
    negative = render_string([key for key, sign in polarity.items() if sign < 0])
    return (
        '"""Emoji polarity, GENERATED by `python -m shared.lexicons.emoji_sources`: do not '
        "edit.\n\n"
        f"Sources: emoji {version('emoji')}, vaderSentiment {version('vaderSentiment')}, and\n"
        "shared/lexicons/emoticons.py; the rule is in shared/lexicons/emoji_sources.py.\n"
        "Keys are canonical emoji (no variation selectors or skin tones), separated by "
        'spaces.\n"""\n\n'
        f"POSITIVE = {positive}\n\nNEGATIVE = {negative}\n\n"
        f"TEXT_STYLE_SYMBOLS = {quote(symbols_outside_ranges(chr(0xFE0F)))}\n\n"
        f"EMOJI_SYMBOLS = {quote(symbols_outside_ranges(''))}\n"
    )


if __name__ == "__main__":
    sys.stdout.write(render_module())
