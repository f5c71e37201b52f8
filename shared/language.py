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
   Before asking py3langid (~0.1 ms a text, and a ~1 s load), ASCII text that reads as English is
   "en" at once (`reads_as_english`): at least `MIN_FUNCTION_WORDS` English function words, one of
   them distinctive (`DISTINCTIVE_WORDS`: "the", "you", "don't"... rare as words elsewhere), making
   up at least a quarter of its words.
4. Other scripts cannot be English: their best language is returned whatever its confidence.

The thresholds were set on 5,000 random Sentiment140 tweets (mostly English, some Tagalog,
Romanian, Turkish...): with 15 letters and 0.6, the 10 tweets not called "en" were all
genuinely not English. They rely on py3langid >= 0.4, whose probabilities (`norm_probs`) are
calibrated across text lengths (0.3's are not, and it has no `from_model_file`). The function-word
shortcut of step 3 decides 55% of the 152,866 distinct Sentiment140 tweets without py3langid and
disagrees with it on 8 of them, all half English ("is just got home.. kakapagod ang medical
mission.. pero masaya..", "Evident, nu stiu cu ce sa ma imbrac. How lame is that?").
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

# English function words: DISTINCTIVE ones are rare as words in other Latin-script languages,
# SHARED ones are common English but also words elsewhere ("is" in Dutch, "my" in Polish).
# fmt: off
DISTINCTIVE_WORDS = frozenset({
    "the", "and", "you", "that", "this", "with", "have", "what", "just", "your",
    "it's", "don't", "i'm", "can't", "i've", "i'll", "you're", "that's", "didn't", "doesn't",
    "isn't", "wasn't", "won't", "they", "from", "about", "would", "could", "should", "been",
    "were", "will", "going", "really", "today", "tonight", "got", "get", "think", "know",
    "want", "need", "there", "their", "when", "which", "who", "why", "how", "because",
})
SHARED_WORDS = frozenset({
    "my", "is", "of", "it", "be", "at", "not", "all", "so", "me",
    "to", "in", "on", "was", "are", "but", "for",
})
# fmt: on
MIN_FUNCTION_WORDS = 3

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")
_APOSTROPHES = frozenset("'’")
# The ASCII case of clean_tweet's letter filter, done by str.translate instead of one Python call
# per character: ASCII letters are the only ASCII characters in Unicode categories L and M.
_ASCII_NON_LETTERS = str.maketrans(
    {chr(c): " " for c in range(128) if not chr(c).isalpha() and chr(c) != "'"}
)

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


def identifier_loaded() -> bool:
    """True once `get_identifier` returns at once: callers on an event loop may then detect."""
    return _identifier is not None


def warm_identifier() -> None:
    """Start loading the identifier on a daemon thread, unless it is loaded or loading.

    Most of the load is LZMA decompression, which releases the GIL: started on the first request,
    it runs beside the model load instead of after it. A text that needs the identifier before it
    is ready waits on `get_identifier`'s lock, so detection never answers without it. Two threads
    started at once are harmless: the second finds the identifier loaded.
    """
    if _identifier is None and not _identifier_lock.locked():
        threading.Thread(target=get_identifier, name="langid-load", daemon=True).start()


def clean_tweet(text: str) -> str:
    """The words of a tweet without the parts every language shares (links, handles, emoji)."""
    text = _MENTION.sub(" ", _URL.sub(" ", html.unescape(text)))
    if text.isascii():
        kept = text.translate(_ASCII_NON_LETTERS)
    else:
        kept = "".join(
            c if unicodedata.category(c)[0] in "LM" or c in _APOSTROPHES else " " for c in text
        )
    return " ".join(_REPEAT.sub(r"\1\1", kept).split())


def reads_as_english(cleaned: str) -> bool:
    """ASCII words, a quarter of them English function words, one distinctive (step 3)."""
    if not cleaned.isascii():
        return False  # an accent hints at another language: py3langid decides
    words = cleaned.lower().split()
    distinctive = sum(word in DISTINCTIVE_WORDS for word in words)
    function_words = distinctive + sum(word in SHARED_WORDS for word in words)
    return distinctive >= 1 and function_words >= max(MIN_FUNCTION_WORDS, len(words) / 4)


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
    latin_script = cleaned.isascii() or 2 * sum(map(is_latin, letters)) >= len(letters)
    if latin_script and (len(letters) < MIN_LATIN_LETTERS or reads_as_english(cleaned)):
        return ENGLISH
    code, confidence = get_identifier().classify(cleaned)
    if not latin_script:
        return UNDETERMINED if code == NO_LINGUISTIC_CONTENT else code
    if confidence < MIN_CONFIDENCE or code in ENGLISH_LIKE:
        return ENGLISH
    return code
