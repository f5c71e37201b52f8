"""The one feature code path: VADER scores, the training columns, the ONNX feeds and the terms the
explainer looks up."""

from __future__ import annotations

import re

import numpy as np
import pytest

from shared.bundle import INPUT_TEXT, INPUT_VADER
from shared.features import (
    NGRAM_RANGE,
    TOKEN_PATTERN,
    build_feature_columns,
    build_model_inputs,
    extract_terms,
    vader_scores,
)
from shared.normalise import DEFAULT_OPTIONS, normalise_text

pytestmark = pytest.mark.code

TWEETS = [
    "I HATE my delayed flight!!! :( http://t.co/abc @united",
    "great crew, thank you :)",
    "",
]


def test_vader_scores_shape_dtype_and_column_order() -> None:
    scores = vader_scores(TWEETS)
    assert scores.shape == (3, 4)
    assert scores.dtype == np.float32
    neg, _, pos, compound = scores[0]
    assert INPUT_VADER == ("neg", "neu", "pos", "compound")
    assert neg > pos
    assert compound < 0
    assert scores[1][3] > 0  # the positive tweet's compound


@pytest.mark.parametrize("text", ["", "   "])
def test_vader_on_empty_text_is_all_zero(text: str) -> None:
    np.testing.assert_array_equal(vader_scores([text]), np.zeros((1, 4), dtype=np.float32))


def test_vader_scores_of_no_texts() -> None:
    assert vader_scores([]).shape == (0, 4)


def test_vader_reads_the_raw_case_and_emoticons_not_the_normalised_text() -> None:
    # VADER boosts capitals and reads ":(": the normalised text has lost both.
    shouting, calm = vader_scores(["this is BAD :(", "this is bad"])[:, 3]
    assert shouting < calm < 0


def test_feature_columns_are_the_normalised_text_and_four_scores() -> None:
    columns = build_feature_columns(TWEETS)
    assert list(columns) == [INPUT_TEXT, *INPUT_VADER]
    assert columns[INPUT_TEXT] == [normalise_text(text) for text in TWEETS]
    assert columns[INPUT_TEXT][0] == "i hate my delayed flight <emo_neg> <url> <mention>"
    scores = vader_scores(TWEETS)
    for index, name in enumerate(INPUT_VADER):
        np.testing.assert_array_equal(columns[name], scores[:, index])


def test_feature_columns_follow_the_normaliser_options() -> None:
    options = DEFAULT_OPTIONS.without("emoticons")
    columns = build_feature_columns(["great crew :)"], options)
    assert columns[INPUT_TEXT] == ["great crew"]


@pytest.mark.parametrize("count", [0, 1, 3])
def test_model_inputs_are_n_by_1_with_the_onnx_dtypes(count: int) -> None:
    feeds = build_model_inputs(TWEETS[:count])
    assert list(feeds) == [INPUT_TEXT, *INPUT_VADER]
    assert feeds[INPUT_TEXT].shape == (count, 1)
    assert feeds[INPUT_TEXT].dtype == object
    for name in INPUT_VADER:
        assert feeds[name].shape == (count, 1)
        assert feeds[name].dtype == np.float32


def test_model_inputs_hold_the_same_values_as_the_training_columns() -> None:
    feeds = build_model_inputs(TWEETS)
    columns = build_feature_columns(TWEETS)
    assert feeds[INPUT_TEXT][:, 0].tolist() == columns[INPUT_TEXT]
    for name in INPUT_VADER:
        np.testing.assert_array_equal(feeds[name][:, 0], columns[name])


def test_extract_terms_unigrams_then_bigrams_in_order() -> None:
    assert extract_terms("i hate my flight") == [
        "i",
        "hate",
        "my",
        "flight",
        "i hate",
        "hate my",
        "my flight",
    ]


def test_extract_terms_has_no_repeats() -> None:
    terms = extract_terms("so bad so bad so")
    assert terms == ["so", "bad", "so bad", "bad so"]
    assert len(terms) == len(set(terms))


def test_extract_terms_keeps_special_tokens_whole() -> None:
    assert extract_terms("late <url> <emo_neg>") == [
        "late",
        "<url>",
        "<emo_neg>",
        "late <url>",
        "<url> <emo_neg>",
    ]


def test_extract_terms_edge_cases() -> None:
    assert extract_terms("") == []
    assert extract_terms("alone") == ["alone"]
    assert extract_terms("a b c", ngram_range=(2, 2)) == ["a b", "b c"]
    assert extract_terms("a b c", ngram_range=(1, 1)) == ["a", "b", "c"]


def test_extract_terms_tokenises_like_the_vectoriser() -> None:
    # The explainer must see exactly the vectoriser's vocabulary: same pattern, same n-grams.
    from sklearn.feature_extraction.text import TfidfVectorizer

    text = normalise_text("Can't believe it, @united lost my bag AGAIN :( http://t.co/x #fail")
    vectoriser = TfidfVectorizer(
        lowercase=False, token_pattern=TOKEN_PATTERN, ngram_range=NGRAM_RANGE
    ).fit([text])
    assert sorted(extract_terms(text)) == sorted(vectoriser.get_feature_names_out())
    assert all(re.fullmatch(TOKEN_PATTERN, token) for token in text.split())
