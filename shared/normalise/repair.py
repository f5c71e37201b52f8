"""Repair what went wrong before the text reached us: HTML entities, mojibake, invisible and
control characters, runs of a character; and decide when nothing visible is left.

Sentiment140 and scraped tweets are often escaped several times ("&amp;amp;lt;3") and decoded
with the wrong codec, sometimes twice ("canÃ¢â‚¬â„¢t"). Both repairs run in turns until the
text stops changing, at most `MAX_REPAIR_ROUNDS` turns, so a repaired text repairs to itself.
Mojibake is ftfy's job (https://ftfy.readthedocs.io): it undoes layered mis-decodings and is
conservative about text that only looks odd.
"""

from __future__ import annotations

import html
import re

import ftfy

MAX_REPAIR_ROUNDS = 4  # "&amp;amp;amp;lt;3" (escaped three times) needs all four

# ftfy is ~15 µs a call; mojibake of UTF-8 always holds a lead byte read as Latin-1/cp1252
# (U+00C2..U+00F4), so text without one is left alone at the cost of a regex search.
_MOJIBAKE_HINT_RE = re.compile("[\u00c2-\u00f4]")
_FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,  # done here, in turns with the mojibake repair
    fix_character_width=False,  # the ASCII fold does it; VADER reads the text as written
    fix_latin_ligatures=False,
    uncurl_quotes=False,  # UNICODE_TABLE does it, in both the normaliser and prepare_for_vader
    remove_control_chars=False,  # CONTROL_RE turns them into spaces, which keep words apart
    normalization=None,
    explain=False,
)
# A lost character inside "donï¿½t", "Iï¿½m" or "sheï¿½s" was almost always an apostrophe.
_LOST_APOSTROPHE_RE = re.compile(
    r"(?<=[a-z])\ufffd(?=(?:s|d|ll|re|ve)\b)|(?<=n)\ufffd(?=t\b)|(?<=\bi)\ufffd(?=m\b)",
    re.IGNORECASE,
)
UNICODE_TABLE = str.maketrans(
    {
        **dict.fromkeys("‘’‛′ʼ´", "'"),  # so contractions match, and the apostrophe is dropped
        **dict.fromkeys("\u200b\u2060\ufeff\u00ad"),  # invisible, often inside words
        "\ufffd": " ",
    }
)
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]+")  # also lone surrogates

# Any character, so that the regex engine's fastest path runs; runs of digits are then put back
# in the callback, which is rare: "1000" is a number, not an emphasis.
_REPEAT_RE = re.compile(r"(.)\1\1+", re.DOTALL)

# Invisible: Unicode White_Space, controls (Cc), format characters (Cf, e.g. U+200B, U+202E),
# surrogates, and every Default_Ignorable_Code_Point of Unicode 15.1 DerivedCoreProperties.txt
# (variation selectors, Hangul fillers, tag characters...), plus U+2800 BRAILLE PATTERN BLANK,
# which renders as nothing and is the favourite "empty" tweet.
_BLANK_RE = re.compile(
    "[\\s\x00-\x1f\x7f-\x9f\u00a0\u00ad\u034f\u061c\u0600-\u0605\u06dd\u070f\u0890\u0891"
    "\u08e2\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u206f"
    "\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\ud800-\udfff\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]*"
)


def is_blank(text: str) -> bool:
    """True when `text` shows nothing: only whitespace, control, format or invisible characters.

    The API refuses such text like an empty one (422), since the model would read "" anyway.
    """
    return _BLANK_RE.fullmatch(text) is not None


def repair_text(text: str, entities: bool = True, mojibake: bool = True) -> str:
    """Unescape HTML entities and undo mojibake in turns until stable (≤ MAX_REPAIR_ROUNDS).

    "&amp;amp;amp;lt;3" → "<3"; "canÃ¢â‚¬â„¢t" → "can’t"; "donï¿½t" → "don't". ASCII text
    without "&" costs two C-level checks.
    """
    for _ in range(MAX_REPAIR_ROUNDS):
        before = text
        if entities and "&" in text:
            text = html.unescape(text)
        if mojibake and not text.isascii() and _MOJIBAKE_HINT_RE.search(text):
            text = ftfy.fix_text(text, _FTFY_CONFIG)
        if text == before:
            break
    if mojibake and "\ufffd" in text:
        text = _LOST_APOSTROPHE_RE.sub("'", text)
    return text


def cap_repeats(text: str) -> str:
    """Runs of 3+ of one character → 2 ("sooooo" → "soo", "!!!!" → "!!"), digits excepted."""
    return _REPEAT_RE.sub(_cap_run, text)


def _cap_run(match: re.Match[str]) -> str:
    run = match.group()
    return run if "0" <= run[0] <= "9" else run[:2]
