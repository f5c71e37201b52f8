"""The tweet normaliser that training and serving share, so both see the same words.

`normalise_text` turns a raw tweet into lowercase ASCII tokens separated by single spaces, plus
the special tokens `<url>`, `<mention>`, `<emo_pos>`, `<emo_neg>` and `<emoji>`. The steps run in
this order, because each one needs what the one before it leaves:

1. html       "&amp;lt;3" → "<3", twice: Sentiment140 is often escaped twice. Then, for text
              that is not ASCII, the mojibake half of `accents` ("â\x99¥" → "♥", "donï¿½t" →
              "don't"), curly apostrophes made straight, and runs of emoji capped.
2. urls, mentions, hashtags  on the raw case and punctuation ("#NeverAgain" → "never again").
3. emoticons  on the raw case (":D" is not ":d", "D:" is not "d:"); the emoticon patterns take
              their own runs (":((((", "xDDD"), so they need not wait for `repeats`.
4. accents    the ASCII fold (NFKD, accents dropped, then anything not ASCII), lowercase, and
              then repeats, last because the two before can make new runs ("NOoo", "áaa").
5. contractions and slang, looked up per token; apostrophes are dropped last.
6. spelling and lemmatise: off by default, slow, not shown to help.

Punctuation, "!" and "?" included, is dropped: the vectoriser's token pattern ignores it anyway,
and VADER, which does use it, reads `prepare_for_vader` instead. With the default options the
output is idempotent: normalising it again changes nothing. Never raises for a `str`; output is
at most `MAX_OUTPUT_CHARS`. Stateless apart from read-only caches, so it is thread-safe.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cache, lru_cache
from importlib.resources import files

from shared.lexicons import contractions, emoticons, slang

NORMALISER_VERSION = "1.0.0"
MAX_INPUT_CHARS = 2000  # ~4× the longest real tweet: the rest is noise or an attack
MAX_OUTPUT_CHARS = 2000
SPECIAL_TOKENS = ("<url>", "<mention>", "<emo_pos>", "<emo_neg>", "<emoji>")


@dataclass(frozen=True)
class NormaliserOptions:
    """Which steps run; every combination works. Stored in each bundle's manifest."""

    html: bool = True
    urls: bool = True
    mentions: bool = True
    hashtags: bool = True  # "#NeverAgain" → "never again"; off: "neveragain"
    repeats: bool = True  # a non-digit repeated 3+ times → 2 ("1000" is left alone)
    emoticons: bool = True
    slang: bool = True
    contractions: bool = True
    lowercase: bool = True
    accents: bool = True  # also repairs mojibake and drops anything not ASCII
    spelling: bool = False  # needs symspellpy
    lemmatise: bool = False  # needs simplemma

    def to_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in STEPS}

    @classmethod
    def from_dict(cls, data: Mapping[str, bool]) -> NormaliserOptions:
        """Missing steps take their default; unknown ones are an error (a newer normaliser?)."""
        unknown = sorted(set(data) - set(STEPS))
        if unknown:
            raise ValueError(f"unknown normaliser steps {unknown}; known: {list(STEPS)}")
        not_bool = sorted(name for name, value in data.items() if not isinstance(value, bool))
        if not_bool:
            raise ValueError(f"normaliser steps must be true or false: {not_bool}")
        return cls(**data)

    def without(self, step: str) -> NormaliserOptions:
        """A copy with one step switched off, for the ablation study."""
        if step not in STEPS:
            raise ValueError(f"unknown normaliser step {step!r}; known: {list(STEPS)}")
        return replace(self, **{step: False})


STEPS: tuple[str, ...] = tuple(field.name for field in fields(NormaliserOptions))
DEFAULT_OPTIONS = NormaliserOptions()

# --- steps 1-2: entities, mojibake ------------------------------------------------------------

_URL_RE = re.compile(
    r"(?:https?://|www\.)\S*"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|edu|gov)\b(?:/\S*)?"
    r"|\b(?:[a-z0-9-]+\.)+(?:ly|co|me|io|gl|be|fm|tv|us|uk|it|to|cc|gd|im|in|de|fr)/\S*",
    re.IGNORECASE,
)
# Most tweets have no URL: a plain substring test and a regex with a literal first character
# rule them out 10× faster than the case-blind URL regex itself.
_URL_HINT_RE = re.compile(
    r"\.(?:com|net|org|edu|gov)\b|\.(?:ly|co|me|io|gl|be|fm|tv|us|uk|it|to|cc|gd|im|in|de|fr)/"
)
_MENTION_RE = re.compile(r"(?<![\w@])@\w+")
_HASHTAG_RE = re.compile(r"(?<![\w&])#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|_+")

# Bytes of UTF-8 read as Latin-1 or cp1252: "Ã©" → "é", "â\x80\x99" → "’", "ï¿½" → U+FFFD.
_CP1252_ONLY = "ŒœŠšŸŽžƒˆ˜–—‘’‚“”„†‡•…‰‹›€™"
_CONT = f"[\u0080-\u00bf{_CP1252_ONLY}]"
_MOJIBAKE_RE = re.compile(
    f"[\u00c2-\u00df]{_CONT}|[\u00e0-\u00ef]{_CONT}{{2}}|[\u00f0-\u00f4]{_CONT}{{3}}"
)
# A lost character inside "donï¿½t", "Iï¿½m" or "sheï¿½s" was almost always an apostrophe.
_LOST_APOSTROPHE_RE = re.compile(
    r"(?<=[a-z])\ufffd(?=(?:s|d|ll|re|ve)\b)|(?<=n)\ufffd(?=t\b)|(?<=\bi)\ufffd(?=m\b)",
    re.IGNORECASE,
)

_UNICODE_TABLE = str.maketrans(
    {
        **dict.fromkeys("‘’‛′ʼ´", "'"),  # so contractions match, and the apostrophe is dropped
        **dict.fromkeys("\u200b\u2060\ufeff\u00ad"),  # invisible, often inside words
        "\ufffd": " ",
    }
)
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]+")  # also lone surrogates


def unescape_html(text: str) -> str:
    """Two rounds, because many tweets were escaped twice ("&amp;lt;")."""
    for _ in range(2):
        if "&" not in text:
            break
        text = html.unescape(text)
    return text


def repair_mojibake(text: str) -> str:
    text = _MOJIBAKE_RE.sub(_decode_mojibake, text)
    return _LOST_APOSTROPHE_RE.sub("'", text) if "\ufffd" in text else text


def _decode_mojibake(match: re.Match[str]) -> str:
    chars = match.group()
    try:
        raw = b"".join(
            bytes([ord(char)]) if ord(char) < 256 else char.encode("cp1252") for char in chars
        )
        return raw.decode("utf-8")
    except UnicodeError:  # not UTF-8 after all (an overlong form, say): leave it as written
        return chars


def replace_entities(text: str, options: NormaliserOptions) -> str:
    if options.urls:
        text = replace_urls(text, " <url> ")
    if options.mentions and "@" in text:
        text = _MENTION_RE.sub(" <mention> ", text)
    if options.hashtags and "#" in text:
        text = _HASHTAG_RE.sub(_split_hashtag, text)
    return text


def replace_urls(text: str, token: str) -> str:
    lowered = text.lower()
    if "http" in lowered or "www." in lowered or _URL_HINT_RE.search(lowered):
        return _URL_RE.sub(token, text)
    return text


def _split_hashtag(match: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", match.group(1)) + " "


# --- steps 3-4: emoticons, emoji and repeats ------------------------------------------------

# Any character, so that the regex engine's fastest path runs; runs of digits are then put back
# in the callback, which is rare: "1000" is a number, not an emphasis.
_REPEAT_RE = re.compile(r"(.)\1\1+", re.DOTALL)


def cap_repeats(text: str) -> str:
    return _REPEAT_RE.sub(_cap_run, text)


def _cap_run(match: re.Match[str]) -> str:
    run = match.group()
    return run if "0" <= run[0] <= "9" else run[:2]


def _compile_emoticons() -> re.Pattern[str]:
    """One regex that starts with a plain character class, so `re` jumps between candidates in C.

    Each emoticon becomes: its first character (consumed by the shared class), a lookbehind that
    checks which first character it was, its guard shifted one character back, then the rest.
    """
    tail = emoticons.EMOJI_TAIL
    groups: dict[str, tuple[emoticons.Emoticon, ...]] = {
        "pos": emoticons.POSITIVE_EMOTICONS,
        "neg": emoticons.NEGATIVE_EMOTICONS,
        "emoji_pos": ((None, f"[{emoticons.POSITIVE_EMOJI}]", tail),),
        "emoji_neg": ((None, f"[{emoticons.NEGATIVE_EMOJI}]", tail),),
        "emoji": (
            (None, f"[{emoticons.REGIONAL_INDICATORS}]", f"[{emoticons.REGIONAL_INDICATORS}]?"),
            (None, f"[{emoticons.EMOJI_RANGES}]", tail),
        ),
    }
    # Emoji all lie in EMOJI_RANGES: a few ranges keep the class fast, 200 literals do not.
    firsts = [first for _, first, _ in (*groups["pos"], *groups["neg"])]
    ascii_firsts = "".join(first.strip("[]") if first[0] == "[" else first for first in firsts)
    union = f"[{ascii_firsts}{emoticons.EMOJI_RANGES}]"
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


_EMOTICON_RE = _compile_emoticons()
_EMOTICON_TOKENS = {
    "pos": " <emo_pos> ",
    "neg": " <emo_neg> ",
    "emoji_pos": " <emo_pos> ",
    "emoji_neg": " <emo_neg> ",
    "emoji": " <emoji> ",
}


def replace_emoticons(text: str) -> str:
    return _EMOTICON_RE.sub(lambda match: _EMOTICON_TOKENS[match.lastgroup or "emoji"], text)


# --- step 4: ASCII fold ---------------------------------------------------------------------

# Letters NFKD cannot split into a base letter and an accent.
_FOLD = "ß:ss æ:ae Æ:AE œ:oe Œ:OE ø:o Ø:O đ:d Đ:D ł:l Ł:L þ:th"
_FOLD_TABLE = str.maketrans(dict(pair.split(":") for pair in _FOLD.split()))


def fold_accents(text: str) -> str:
    """Fold to ASCII ("Café" → "Cafe", "ｆｕｌｌ" → "full"); what has no ASCII form is dropped."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD_TABLE))
    return text.encode("ascii", "ignore").decode("ascii")


# --- step 5: tokens, contractions, slang ----------------------------------------------------

_SPECIAL = "|".join(re.escape(token) for token in SPECIAL_TOKENS)
_ASCII_TOKEN_RE = re.compile(f"{_SPECIAL}|[A-Za-z0-9']+")
_UNICODE_TOKEN_RE = re.compile(f"{_SPECIAL}|(?:[^\\W_]|')+")
_SLASHED_RE = re.compile(r"(?<![\w/])(?:b/c|w/o|w/e|w/)(?![/\w])|(?<![\w/])w/(?=\w)", re.I)


@cache
def _word_table(use_contractions: bool, use_slang: bool) -> dict[str, str]:
    """One lookup per token for both steps; a contraction wins over slang."""
    table = dict(slang.SLANG) if use_slang else {}
    if use_contractions:
        table.update(contractions.WITHOUT_APOSTROPHE)
    return table


def expand_slashed(text: str) -> str:
    if "/" not in text:
        return text
    return _SLASHED_RE.sub(lambda match: f" {slang.SLASHED[match.group().lower()]} ", text)


def map_words(text: str, options: NormaliserOptions) -> list[str]:
    """Tokens, each mapped once through contractions and slang, apostrophes dropped."""
    pattern = _ASCII_TOKEN_RE if options.accents else _UNICODE_TOKEN_RE
    words = pattern.findall(text)
    if not options.lowercase:
        return [_map_word(word, options) for word in words]
    table = _word_table(options.contractions, options.slang)
    if "'" not in text:  # most tweets: one lookup per token, all in C
        return list(map(table.get, words, words))
    return [
        table.get(word, word) if "'" not in word else _map_apostrophe_word(word, options)
        for word in words
    ]


def _map_word(word: str, options: NormaliserOptions) -> str:
    """Look up in lower case but keep the writer's case when nothing matches."""
    if "'" in word:
        return _map_apostrophe_word(word, options)
    return _word_table(options.contractions, options.slang).get(word.lower(), word)


def _map_apostrophe_word(word: str, options: NormaliserOptions) -> str:
    core = word.strip("'")
    if options.contractions and word[0] == "'" and core.lower() == "s":
        return ""  # "'s" cut off its noun, as in "@united's" → "<mention> 's"
    if options.contractions and "'" in core:
        expanded = _expand_contraction(core, options)
        if expanded is not None:
            return expanded
    core = core.replace("'", "")
    if options.repeats:  # dropping the apostrophe of "aa'a" makes a new run
        core = cap_repeats(core)
    return _map_word(core, options)


def _expand_contraction(word: str, options: NormaliserOptions) -> str | None:
    key = word.lower()
    if key in contractions.IRREGULAR:
        return contractions.IRREGULAR[key]
    for suffix, expansion in contractions.SUFFIXES:
        if key.endswith(suffix):
            stem = word[: -len(suffix)]
            if suffix == "'s" and stem.lower() not in contractions.IS_STEMS:
                expansion = ""  # possessive
            return f"{_map_word(stem, options)} {expansion}".strip()
    return None


# --- step 6: optional, slow steps -------------------------------------------------------------


@cache
def _load_spelling() -> Callable[[str], str]:
    try:
        from symspellpy import SymSpell, Verbosity
    except ImportError as exc:
        raise ImportError(
            "NormaliserOptions(spelling=True) needs symspellpy: pip install symspellpy"
        ) from exc
    checker = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    checker.load_dictionary(
        str(files("symspellpy") / "frequency_dictionary_en_82_765.txt"), term_index=0, count_index=1
    )

    @lru_cache(maxsize=65536)
    def correct(word: str) -> str:
        found = checker.lookup(word, Verbosity.TOP, max_edit_distance=2, include_unknown=True)
        return found[0].term if found else word

    return correct


@cache
def _load_lemmatiser() -> Callable[[str], str]:
    try:
        import simplemma
    except ImportError as exc:
        raise ImportError(
            "NormaliserOptions(lemmatise=True) needs simplemma: pip install simplemma"
        ) from exc
    return lru_cache(maxsize=65536)(lambda word: simplemma.lemmatize(word, lang="en"))


_PLAIN_WORD_RE = re.compile(r"[A-Za-z]{3,}")  # leave short words, numbers and tokens alone


def refine_words(words: list[str], options: NormaliserOptions) -> list[str]:
    """Spelling, then lemmas; a result that is not a plain word is ignored."""
    steps = [_load_spelling()] if options.spelling else []
    steps += [_load_lemmatiser()] if options.lemmatise else []
    refined = []
    for word in " ".join(words).split():
        for step in steps:
            if _PLAIN_WORD_RE.fullmatch(word):
                new = step(word.lower())
                word = new.lower() if options.lowercase else new
        refined.append(word if word.isascii() or not options.accents else "")
    return refined


# --- the pipeline -----------------------------------------------------------------------------


def normalise_text(text: str, options: NormaliserOptions = DEFAULT_OPTIONS) -> str:
    """A raw tweet → space-separated tokens (see the module docstring for the steps)."""
    if not isinstance(text, str):
        raise TypeError(f"normalise_text expects str, got {type(text).__name__}")
    words = map_words(rewrite_text(text[:MAX_INPUT_CHARS], options), options)
    if options.spelling or options.lemmatise:
        words = refine_words(words, options)
    return bound_output(" ".join(filter(None, words)))


def rewrite_text(text: str, options: NormaliserOptions) -> str:
    """Steps 1-4: everything that needs the text whole, before it is cut into tokens."""
    if options.html:
        text = unescape_html(text)
    if not text.isascii():
        text = repair_mojibake(text) if options.accents else unicodedata.normalize("NFC", text)
        text = text.translate(_UNICODE_TABLE)
        text = cap_repeats(text) if options.repeats else text  # "😭😭😭" before it is 3 tokens
    text = replace_entities(text, options)
    if options.emoticons:
        text = replace_emoticons(text)
    if options.accents and not text.isascii():
        text = fold_accents(text)
    if options.lowercase:  # after the fold, which turns "𝑨" into "A"
        text = text.lower()
    if options.repeats:  # after both, which can make new runs ("NOoo", "áaa")
        text = cap_repeats(text)
    return expand_slashed(text) if options.slang else text


def normalise_texts(
    texts: Iterable[str], options: NormaliserOptions = DEFAULT_OPTIONS
) -> list[str]:
    return [normalise_text(text, options) for text in texts]


def bound_output(text: str) -> str:
    """Cut at a space so that no token (above all `<emo_pos>`) is cut in half."""
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    head = text[: MAX_OUTPUT_CHARS + 1]
    cut = head.rfind(" ")
    return head[:cut] if cut > 0 else head[:MAX_OUTPUT_CHARS]


def prepare_for_vader(text: str) -> str:
    """What VADER reads: like the tweet as written, since VADER scores caps, "!!" and ":(".

    So only what misleads it goes: entities, URLs and mentions (a handle such as @happyflyer
    would score), mojibake, control characters and lone surrogates, and runs past two.
    """
    if not isinstance(text, str):
        raise TypeError(f"prepare_for_vader expects str, got {type(text).__name__}")
    text = unescape_html(text[:MAX_INPUT_CHARS])
    if not text.isascii():
        text = repair_mojibake(text).translate(_UNICODE_TABLE)
    text = replace_urls(_CONTROL_RE.sub(" ", text), " ")
    if "@" in text:
        text = _MENTION_RE.sub(" ", text)
    return bound_output(" ".join(cap_repeats(text).split()))
