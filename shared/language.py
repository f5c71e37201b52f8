"""Which language a tweet is in, so only tweets that are clearly not English go to translation.

The model is trained on English tweets, and translation costs a network call on the request path,
so the rule leans towards English: a wrong "en" costs a little accuracy on a rare foreign tweet, a
wrong "fr" costs a slow call and a mangled English tweet. The rule, in order:

1. Remove what says nothing about the language: URLs, @mentions, HTML entities, the `#` of
   hashtags, emoji, digits and punctuation; squash "sooooo" to "soo".
2. No letters left → "und" (undetermined: nothing to translate).
3. Latin-script text (at least half its letters are Latin) is "en" unless it has at least
   `MIN_LATIN_LETTERS` letters AND py3langid gives its best language at least `MIN_CONFIDENCE`:
   short English slang ("omg gr8 thx", "my bag is lost") looks like any Latin-script language.
   Codes py3langid gives to English-like text (`ENGLISH_LIKE`, e.g. Nigerian Pidgin) count as "en".
4. Other scripts cannot be English: their best language is returned whatever its confidence.

The thresholds were set on 5,000 random Sentiment140 tweets (mostly English, some Tagalog,
Romanian, Turkish...): with 15 letters and 0.6, the 10 tweets not called "en" were all
genuinely not English. They rely on py3langid >= 0.4, whose probabilities (`norm_probs`) are
calibrated across text lengths (0.3's are not, and it has no `from_model_file`).
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

ENGLISH = "en"
UNDETERMINED = "und"
NO_LINGUISTIC_CONTENT = "zxx"
MIN_LATIN_LETTERS = 15
MIN_CONFIDENCE = 0.6
ENGLISH_LIKE = frozenset({ENGLISH, "pcm", NO_LINGUISTIC_CONTENT})

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")
_APOSTROPHES = frozenset("'’")

_identifier: LanguageIdentifier | None = None
_identifier_lock = threading.Lock()


def get_identifier() -> LanguageIdentifier:
    """The py3langid identifier, loaded once (about 1 s: the model is unpacked), then shared.

    Loaded on first use rather than at import so indexing the Function App stays fast; call it at
    start-up to move the cost off the first request. All languages stay enabled.
    """
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def clean_tweet(text: str) -> str:
    """The words of a tweet without the parts every language shares (links, handles, emoji)."""
    text = _MENTION.sub(" ", _URL.sub(" ", html.unescape(text)))
    kept = (c if unicodedata.category(c)[0] in "LM" or c in _APOSTROPHES else " " for c in text)
    return " ".join(_REPEAT.sub(r"\1\1", "".join(kept)).split())


def is_latin(letter: str) -> bool:
    """Latin script: ASCII, Latin-1, Latin Extended-A/B and Extended Additional (Vietnamese)."""
    code = ord(letter)
    return code < 0x250 or 0x1E00 <= code <= 0x1EFF


def detect_language(text: str) -> str:
    """ISO 639 code of the tweet's language (2 letters, 3 for a few), "en" when unsure.

    Never raises: any str gets an answer (see the module docstring for the rule).
    """
    cleaned = clean_tweet(text)
    letters = [c for c in cleaned if c.isalpha()]
    if not letters:
        return UNDETERMINED
    latin_script = 2 * sum(map(is_latin, letters)) >= len(letters)
    if latin_script and len(letters) < MIN_LATIN_LETTERS:
        return ENGLISH
    code, confidence = get_identifier().classify(cleaned)
    if not latin_script:
        return UNDETERMINED if code == NO_LINGUISTIC_CONTENT else code
    if confidence < MIN_CONFIDENCE or code in ENGLISH_LIKE:
        return ENGLISH
    return code
