"""VADER's lexicon as the feature path loads it: duplicated keys resolved, no key ambiguous."""

from __future__ import annotations

import pytest

from shared.features import _vader_analyzer, vader_lexicon, vader_scores
from shared.lexicons.vader import (
    duplicated_keys,
    parse_lexicon_lines,
    read_lexicon_entries,
    read_word_lexicon,
    resolve_duplicates,
)

pytestmark = pytest.mark.code


def test_the_file_really_has_conflicting_duplicates() -> None:
    """The reason for the rule: if VADER fixes its file, this test says the rule may go."""
    duplicates = duplicated_keys(read_lexicon_entries())
    assert duplicates["d:"] == [-2.9, 1.2]
    assert any(min(values) < 0 < max(values) for values in duplicates.values())


def test_no_key_is_ambiguous_after_resolution() -> None:
    """Every key VADER can look up (lower case) has one valence, of the sign of its mean."""
    lexicon = read_word_lexicon()
    for key, values in duplicated_keys(read_lexicon_entries()).items():
        mean = sum(values) / len(values)
        if mean == 0:
            assert key not in lexicon
        else:
            assert (lexicon[key] > 0) == (mean > 0), key
    assert all(key == key.lower() and value != 0 for key, value in lexicon.items())


@pytest.mark.parametrize(("key", "sign"), [("d:", -1), ("d=", -1), (":p", 1), ("lol", 1)])
def test_resolved_signs(key: str, sign: int) -> None:
    assert read_word_lexicon()[key] * sign > 0


def test_capital_d_colon_reads_negative_to_vader() -> None:
    assert vader_scores(["D:"])[0, 3] < 0
    # even when VADER reads it as written, not as the normaliser's emoticon
    assert _vader_analyzer().polarity_scores("so D: today")["compound"] < 0


def test_resolution_rule_on_a_small_file() -> None:
    entries = parse_lexicon_lines(["a\t1.0\t0.5\t[]", "A\t3.0", "b\t-1.0", "b\t1.0", "", "c\t-2"])
    assert resolve_duplicates(entries) == {"a": 2.0, "c": -2.0}  # b cancels out: dropped


def test_the_analyzer_scores_emoji_as_words() -> None:
    lexicon = vader_lexicon()
    assert lexicon["😡"] == lexicon[":("] < 0 < lexicon[":)"] == lexicon["👍"]
    assert _vader_analyzer().emojis == {}
