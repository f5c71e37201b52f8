"""Words: the ASCII fold, tokens, and the English-only word steps (contractions, slang,
spelling, lemmas).

The English-only steps only run on text the caller says is English (see
`shared.normalise.options.is_english`): on Spanish, "y" is "and", not slang for "why".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from importlib.resources import files

from shared.lexicons import contractions, slang
from shared.normalise.options import SPECIAL_TOKENS, NormaliserOptions
from shared.normalise.repair import cap_repeats

# Letters NFKD cannot split into a base letter and an accent.
_FOLD = "ß:ss æ:ae Æ:AE œ:oe Œ:OE ø:o Ø:O đ:d Đ:D ł:l Ł:L þ:th"
_FOLD_TABLE = str.maketrans(dict(pair.split(":") for pair in _FOLD.split()))

_SPECIAL = "|".join(re.escape(token) for token in SPECIAL_TOKENS)
_ASCII_TOKEN_RE = re.compile(f"{_SPECIAL}|[A-Za-z0-9']+")
_UNICODE_TOKEN_RE = re.compile(f"{_SPECIAL}|(?:[^\\W_]|')+")
_SLASHED_RE = re.compile(r"(?<![\w/])(?:b/c|w/o|w/e|w/)(?![/\w])|(?<![\w/])w/(?=\w)", re.I)
_PLAIN_WORD_RE = re.compile(r"[A-Za-z]{3,}")  # leave short words, numbers and tokens alone


def fold_accents(text: str) -> str:
    """Fold to ASCII ("Café" → "Cafe", "ｆｕｌｌ" → "full"); what has no ASCII form is dropped."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLD_TABLE))
    return text.encode("ascii", "ignore").decode("ascii")


@cache
def _word_table(use_contractions: bool, use_slang: bool) -> dict[str, str]:
    """One lookup per token for both steps; a contraction wins over slang."""
    table = dict(slang.SLANG) if use_slang else {}
    if use_contractions:
        table.update(contractions.WITHOUT_APOSTROPHE)
    return table


def expand_slashed(text: str) -> str:
    """ "b/c" → "because", "w/o" → "without": before tokens, which would split them."""
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
