"""Selection: the steps that turn loaded sources into a clean, balanced, leak-free corpus.

Run on all sources at once: duplicates across sources must go before splitting or the evaluation
leaks, and a text labelled both ways by two sources teaches nothing. Every step's counts are
recorded, in total and per source, for the data report.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import Any

import numpy as np
import pandas as pd

from training.data.common import (
    ENGLISH_LIKE,
    ENGLISH_MIN_CONFIDENCE,
    ENGLISH_MIN_WORDS,
    NEGATIVE,
    NEUTRAL_ATTR,
    NEUTRAL_KEPT_ATTR,
    DataError,
    SelectionConfig,
    loose_key,
    text_keys,
)

_LANGUAGE_NOISE_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|#|&\w+;")


def drop_empty(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["text"].str.strip().str.len() > 0]


@cache
def _language_identifier() -> Any:
    # Loaded once, lazily: the model takes ~0.3 s to read and only training needs it.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    load = getattr(LanguageIdentifier, "from_model_file", None)
    load = load or LanguageIdentifier.from_pickled_model  # py3langid < 0.4
    return load(MODEL_FILE, norm_probs=True)


def is_english(
    texts: Sequence[str],
    min_confidence: float = ENGLISH_MIN_CONFIDENCE,
    min_words: int = ENGLISH_MIN_WORDS,
) -> np.ndarray:
    """Lenient: only a confident non-English verdict on a text long enough to judge rejects it.

    URLs, mentions, '#' and HTML entities are removed first: they are not language and they
    tip short tweets towards random languages. Repeated texts are classified once.
    """
    identifier = _language_identifier()
    verdicts: dict[str, bool] = {}
    keep = np.ones(len(texts), dtype=bool)
    for row, text in enumerate(texts):
        stripped = " ".join(_LANGUAGE_NOISE_RE.sub(" ", text).split())
        if len(stripped.split()) < min_words:
            continue
        if stripped not in verdicts:
            language, confidence = identifier.classify(stripped)
            verdicts[stripped] = language in ENGLISH_LIKE or confidence < min_confidence
        keep[row] = verdicts[stripped]
    return keep


def filter_english(
    df: pd.DataFrame, min_confidence: float = ENGLISH_MIN_CONFIDENCE
) -> pd.DataFrame:
    return df[is_english(df["text"].tolist(), min_confidence=min_confidence)]


def drop_exact_duplicates(df: pd.DataFrame) -> pd.DataFrame:
    """Same tweet (by `text_key`: entities, case and spacing aside), same label: keep the first,
    so the order of the sources decides which copy (and which source weight) survives."""
    keys = pd.Series(text_keys(df["text"].tolist()), index=df.index)
    return df[~pd.DataFrame({"key": keys, "label": df["label"]}).duplicated(keep="first")]


def drop_conflicting_labels(df: pd.DataFrame) -> pd.DataFrame:
    """A tweet labelled both ways (in one source or across two) teaches nothing and poisons
    evaluation: drop every copy."""
    keys = pd.Series(text_keys(df["text"].tolist()), index=df.index)
    labels_per_text = df.groupby(keys, sort=False)["label"].transform("nunique")
    return df[labels_per_text.to_numpy() == 1]


def drop_author_repeats(df: pd.DataFrame) -> pd.DataFrame:
    """One user posting the same message (bar URLs, mentions, case) counts once; unknown users
    (text-only sources) are left alone because different people do say the same thing."""
    known = df["user"].str.len().to_numpy() > 0
    keys = pd.Series(loose_key(df["text"].tolist()), index=df.index)
    repeated = pd.DataFrame({"user": df["user"], "key": keys}).duplicated(keep="first")
    return df[~(known & repeated.to_numpy())]


def drop_overlap(train: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Remove from `train` every tweet that `other` (the frozen evaluation sets) holds, compared
    loosely so that a copy differing only by a URL, a mention or punctuation still counts."""
    held_out = set(loose_key(other["text"].tolist())) - {""}
    leaked = np.array([key in held_out for key in loose_key(train["text"].tolist())], dtype=bool)
    return train[~leaked]


def balance_classes(df: pd.DataFrame, seed: int = 42) -> pd.DataFrame:
    """Down-sample the majority class (seeded), keeping the original row order."""
    counts = df["label"].value_counts()
    if len(counts) < 2:
        raise DataError("cannot balance classes: only one label left after selection")
    target = int(counts.min())
    parts = [group.sample(n=target, random_state=seed) for _, group in df.groupby("label")]
    return pd.concat(parts).sort_index()


def count_rows(step: str, df: pd.DataFrame, before: int, seconds: float) -> dict[str, Any]:
    """Counts after one step: rows, removed, per label, and rows per source."""
    negative = int((df["label"] == NEGATIVE).sum())
    by_source = df["source"].value_counts(sort=False) if "source" in df else pd.Series()
    return {
        "step": step,
        "rows": len(df),
        "removed": before - len(df),
        "negative": negative,
        "positive": len(df) - negative,
        "by_source": {str(name): int(count) for name, count in by_source.items()},
        "seconds": round(seconds, 3),
    }


def plan_selection(
    config: SelectionConfig, exclude: pd.DataFrame | None
) -> list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]]:
    """The enabled steps, in the study's order; frozen-set removal comes before balancing so the
    classes stay exactly balanced."""
    english = partial(filter_english, min_confidence=config.english_min_confidence)
    steps = [
        ("drop_empty", drop_empty, True),
        ("english_only", english, config.english_only),
        ("drop_exact_duplicates", drop_exact_duplicates, config.dedupe),
        ("drop_conflicting_labels", drop_conflicting_labels, config.drop_conflicts),
        ("drop_author_repeats", drop_author_repeats, config.dedupe_author),
        ("drop_frozen_overlap", partial(drop_overlap, other=exclude), exclude is not None),
        ("balance_classes", partial(balance_classes, seed=config.seed), config.balance),
    ]
    return [(name, step) for name, step, enabled in steps if enabled]


def select_tweets(
    df: pd.DataFrame, config: SelectionConfig | None = None, exclude: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Apply the selection steps in order, recording counts after each; every tweet of `exclude`
    (the frozen evaluation sets, concatenated) is removed from the result."""
    config = config or SelectionConfig()
    steps = [count_rows("loaded", df, len(df), 0.0)]
    steps[0]["neutral_dropped"] = int(df.attrs.get(NEUTRAL_ATTR, 0))
    steps[0]["neutral_as_positive"] = int(df.attrs.get(NEUTRAL_KEPT_ATTR, 0))
    for name, step in plan_selection(config, exclude):
        started, before = time.perf_counter(), len(df)
        df = step(df)
        steps.append(count_rows(name, df, before, time.perf_counter() - started))
    return df.reset_index(drop=True), steps
