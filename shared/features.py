"""The one feature code path: raw tweets → the ONNX model's inputs.

Training builds its feature frame with `build_feature_columns`, serving builds its ONNX feeds with
`build_model_inputs`; both go through the same normaliser and the same VADER scorer, so the two
sides cannot drift. The token pattern is shared with the vectoriser (training) and the explainer
(serving) for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np

from shared.bundle import INPUT_TEXT, INPUT_VADER
from shared.normalise import DEFAULT_OPTIONS, NormaliserOptions, normalise_text, prepare_for_vader

# skl2onnx converts a custom token_pattern exactly (its default pattern it does not); special
# tokens such as <url> and <emo_neg> stay whole so the model can weigh them.
TOKEN_PATTERN = r"<?[A-Za-z0-9_]+>?"  # noqa: S105 - a regex, not a password
NGRAM_RANGE = (1, 2)
_TOKEN_RE = re.compile(TOKEN_PATTERN)


@cache
def _vader_analyzer():
    # Imported lazily: the lexicon load costs ~50 ms and should not slow down app indexing.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_scores(texts: Sequence[str]) -> np.ndarray:
    """VADER (neg, neu, pos, compound) for each tweet, as float32 [N, 4]."""
    analyzer = _vader_analyzer()
    scores = np.empty((len(texts), len(INPUT_VADER)), dtype=np.float32)
    for row, text in enumerate(texts):
        polarity = analyzer.polarity_scores(prepare_for_vader(text))
        scores[row] = [polarity[name] for name in INPUT_VADER]
    return scores


def build_feature_columns(
    texts: Sequence[str],
    options: NormaliserOptions = DEFAULT_OPTIONS,
    normalised: Sequence[str] | None = None,
) -> dict[str, list[str] | np.ndarray]:
    """Column name → values, one entry per model input; training wraps it in a DataFrame.

    `normalised`: the texts already through `normalise_text` with `options` (serving needs them
    for the explanation too, and normalising twice costs ~20 µs a tweet).
    """
    if normalised is None:
        normalised = [normalise_text(text, options) for text in texts]
    columns: dict[str, list[str] | np.ndarray] = {INPUT_TEXT: list(normalised)}
    scores = vader_scores(texts)
    for index, name in enumerate(INPUT_VADER):
        columns[name] = scores[:, index]
    return columns


def build_model_inputs(
    texts: Sequence[str],
    options: NormaliserOptions = DEFAULT_OPTIONS,
    normalised: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """The onnxruntime feeds for raw tweets: every input shaped [N, 1]."""
    columns = build_feature_columns(texts, options, normalised)
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
