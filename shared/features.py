"""The one feature code path: raw tweets → the ONNX model's inputs, and what the model saw.

Training builds its feature frame with `build_feature_columns`, serving builds its ONNX feeds with
`build_model_inputs`; both go through the same normaliser and the same VADER scorer, so the two
sides cannot drift. The token pattern is shared with the vectoriser (training) and the explainer
(serving) for the same reason. `measure_evidence` says whether the model had anything to go on.

VADER's analyzer here is VADER with two changes made at load: its word lexicon's duplicated keys
are resolved (`shared.lexicons.vader`: "D:" reads negative), and every emoji with a polarity
(`shared.lexicons.emoji_polarity`) is a word of the lexicon worth what ":)" or ":(" is worth;
`prepare_for_vader` spells emoji and emoticons so that VADER finds them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

from shared.bundle import INPUT_TEXT, INPUT_VADER
from shared.lexicons.vader import read_word_lexicon
from shared.normalise import (
    DEFAULT_OPTIONS,
    ENTITY_TOKENS,
    SENTIMENT_TOKENS,
    NormaliserOptions,
    normalise_text,
    prepare_for_vader,
)
from shared.normalise.symbols import EMOJI_POLARITY

# skl2onnx converts a custom token_pattern exactly (its default pattern it does not); special
# tokens such as <url> and <emo_neg> stay whole so the model can weigh them.
TOKEN_PATTERN = r"<?[A-Za-z0-9_]+>?"  # noqa: S105 - a regex, not a password
NGRAM_RANGE = (1, 2)
_TOKEN_RE = re.compile(TOKEN_PATTERN)
Languages = str | None | Sequence[str | None]


def vader_lexicon() -> dict[str, float]:
    """The analyzer's lexicon: VADER's words, duplicates resolved, plus emoji at ±":)"/":("."""
    words = read_word_lexicon()
    valence = {1: words[":)"], -1: words[":("]}
    return {**words, **{emoji: valence[sign] for emoji, sign in EMOJI_POLARITY.items()}}


SYMBOL_WORDS = (":)", ":(")  # what prepare_for_vader writes for every emoticon
# Serving prepares each tweet twice, for the VADER scores and for the evidence: the second time
# is a cache hit. Bounded, so a training run over 150k tweets keeps only the last few.
prepared_for_vader = lru_cache(maxsize=1024)(prepare_for_vader)


@cache
def _vader_analyzer():
    # Imported lazily: the lexicon load costs ~50 ms and should not slow down app indexing.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    class TweetAnalyzer(SentimentIntensityAnalyzer):
        """VADER, except that an emoji or emoticon keeps its own valence.

        VADER negates and boosts a lexicon item by the words before it, so in "no information
        :(" the "no" turned the ":(" positive (compound −0.44 → +0.05): a frown appended to a
        complaint made it read happier. A symbol says how the writer feels whatever precedes it.
        """

        symbols = frozenset(SYMBOL_WORDS) | frozenset(EMOJI_POLARITY)

        def sentiment_valence(self, valence, sentitext, item, i, sentiments):
            if item in self.symbols and item in self.lexicon:
                sentiments.append(self.lexicon[item])
                return sentiments
            return super().sentiment_valence(valence, sentitext, item, i, sentiments)

    analyzer = TweetAnalyzer()
    analyzer.lexicon = vader_lexicon()
    analyzer.emojis = {}  # emoji are lexicon words here, not descriptions to score
    return analyzer


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER (neg, neu, pos, compound) for each tweet, as float32 [N, 4]."""
    analyzer = _vader_analyzer()
    scores = np.empty((len(texts), len(INPUT_VADER)), dtype=np.float32)
    for row, text in enumerate(texts):
        polarity = analyzer.polarity_scores(prepared_for_vader(text))
        scores[row] = [polarity[name] for name in INPUT_VADER]
    return scores


def per_text(languages: Languages, count: int) -> list[str | None]:
    """One language code per text: a single code (or None) applies to all of them."""
    if languages is None or isinstance(languages, str):
        return [languages] * count
    if len(languages) != count:
        raise ValueError(f"{len(languages)} languages for {count} texts")
    return list(languages)


def build_feature_columns(
    texts: Sequence[str],
    options: NormaliserOptions = DEFAULT_OPTIONS,
    normalised: Sequence[str] | None = None,
    language: Languages = "en",
) -> dict[str, list[str] | np.ndarray]:
    """Column name → values, one entry per model input; training wraps it in a DataFrame.

    `normalised`: the texts already through `normalise_text` with `options` (serving needs them
    for the explanation too, and normalising twice costs ~20 µs a tweet). `language`: one code
    for all texts or one per text; English-only normaliser steps skip other languages.
    """
    if normalised is None:
        codes = per_text(language, len(texts))
        normalised = [
            normalise_text(text, options, code) for text, code in zip(texts, codes, strict=True)
        ]
    columns: dict[str, list[str] | np.ndarray] = {INPUT_TEXT: list(normalised)}
    scores = vader_scores(texts)
    for index, name in enumerate(INPUT_VADER):
        columns[name] = scores[:, index]
    return columns


def build_model_inputs(
    texts: Sequence[str],
    options: NormaliserOptions = DEFAULT_OPTIONS,
    normalised: Sequence[str] | None = None,
    language: Languages = "en",
) -> dict[str, np.ndarray]:
    """The onnxruntime feeds for raw tweets: every input shaped [N, 1]."""
    columns = build_feature_columns(texts, options, normalised, language)
    feeds = {INPUT_TEXT: np.array(columns[INPUT_TEXT], dtype=object).reshape(-1, 1)}
    for name in INPUT_VADER:
        feeds[name] = np.asarray(columns[name], dtype=np.float32).reshape(-1, 1)
    return feeds


def extract_terms(normalised_text: str, ngram_range: tuple[int, int] = NGRAM_RANGE) -> list[str]:
    """The n-grams the vectoriser sees in a normalised text, in order, without repeats."""
    tokens = _TOKEN_RE.findall(normalised_text)
    low, high = ngram_range
    terms: dict[str, None] = {}
    for size in range(low, high + 1):
        for start in range(len(tokens) - size + 1):
            terms[" ".join(tokens[start : start + size])] = None
    return list(terms)


# --- evidence: did the model see anything it knows? ------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What the model had to go on for one text.

    known_terms: n-grams of the normalised text in the model's vocabulary, leaving out those with
        `<url>` or `<mention>` in them and those of numbers only (they say nothing of a feeling);
    vader_words: the words and emoji of `prepare_for_vader(raw)` VADER's lexicon scores non-zero;
    sentiment_tokens: how many `<emo_pos>` / `<emo_neg>` the normalised text holds.
    """

    known_terms: tuple[str, ...]
    vader_words: tuple[str, ...]
    sentiment_tokens: int

    @property
    def has_evidence(self) -> bool:
        """False for empty text, only mentions or URLs, or a script the fold drops (Arabic)."""
        return bool(self.known_terms or self.vader_words or self.sentiment_tokens)


def measure_evidence(
    raw_text: str,
    normalised_text: str,
    vocabulary: Collection[str],
    terms: Sequence[str] | None = None,
) -> Evidence:
    """The evidence in one tweet; `vocabulary`: the model's terms (the bundle's explain.json).

    `terms`: `extract_terms(normalised_text)` when the caller has it already (serving does, for
    the explanation): extracting them costs more than the rest of the measure.
    """
    terms = extract_terms(normalised_text) if terms is None else terms
    known = tuple(term for term in terms if term in vocabulary and not _says_nothing(term))
    tokens = normalised_text.split()
    count = sum(tokens.count(token) for token in SENTIMENT_TOKENS)
    return Evidence(known, find_vader_words(raw_text), count)


@lru_cache(maxsize=1 << 16)  # the same terms come back tweet after tweet
def _says_nothing(term: str) -> bool:
    """A term with `<url>` or `<mention>` in it, or only numbers ("3", "2 3")."""
    tokens = term.split()
    return any(token in ENTITY_TOKENS for token in tokens) or all(map(str.isdigit, tokens))


def find_vader_words(raw_text: str) -> tuple[str, ...]:
    """The tokens of `prepare_for_vader(raw_text)` that VADER's lexicon scores, as VADER reads
    them (split on spaces, outer punctuation stripped unless that leaves ≤ 2 characters: its
    `SentiText._strip_punc_if_word`, called here without building a SentiText, which also
    measures capitals: a tenth of a batch's serving time)."""
    from vaderSentiment.vaderSentiment import SentiText

    lexicon = _vader_analyzer().lexicon
    strip = SentiText._strip_punc_if_word
    words = map(strip, prepared_for_vader(raw_text).split())
    return tuple(word for word in words if word.lower() in lexicon)
