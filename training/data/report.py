"""Splits, fingerprint and the data report (overall, per source, per frozen set)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.data.airline import count_airline
from training.data.common import AIRLINE_TERMS, NEGATIVE, DataError, Splits

_TOKEN_RE = re.compile(r"\w+")


def split_data(
    df: pd.DataFrame, test_size: float = 0.1, val_size: float = 0.1, seed: int = 42
) -> Splits:
    """Stratified on the label and seeded: the same frame always gives the same three splits."""
    from sklearn.model_selection import train_test_split

    if not (0 < test_size < 1 and 0 <= val_size < 1 and test_size + val_size < 1):
        raise DataError(f"bad split sizes: test={test_size}, val={val_size}")
    try:
        rest, test = train_test_split(
            df, test_size=test_size, stratify=df["label"], random_state=seed
        )
        val = rest.iloc[:0]
        if val_size > 0:
            share = val_size / (1 - test_size)
            rest, val = train_test_split(
                rest, test_size=share, stratify=rest["label"], random_state=seed
            )
    except ValueError as exc:  # too few rows for a stratified split
        raise DataError(f"cannot split {len(df)} rows into train/val/test: {exc}") from exc
    return Splits(*(part.reset_index(drop=True) for part in (rest, val, test)))


def data_fingerprint(df: pd.DataFrame) -> str:
    """sha256 of the sorted (label, text) pairs: independent of row order and of other columns."""
    lines = sorted(f"{label}\t{text}" for label, text in zip(df["label"], df["text"], strict=True))
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", errors="surrogatepass") + b"\n")
    return digest.hexdigest()


def label_balance(df: pd.DataFrame) -> dict[str, Any]:
    negative = int((df["label"] == NEGATIVE).sum())
    share = round(negative / len(df), 4) if len(df) else 0.0
    return {
        "rows": len(df),
        "negative": negative,
        "positive": len(df) - negative,
        "negative_share": share,
    }


def describe_lengths(texts: pd.Series) -> dict[str, int]:
    lengths = texts.str.len().to_numpy()
    if len(lengths) == 0:
        return {"min": 0, "p50": 0, "p95": 0, "max": 0}
    p50, p95 = np.percentile(lengths, [50, 95])
    return {"min": int(lengths.min()), "p50": int(p50), "p95": int(p95), "max": int(lengths.max())}


def vocabulary_size(texts: Iterable[str]) -> int:
    vocabulary: set[str] = set()
    for text in texts:
        vocabulary.update(_TOKEN_RE.findall(text.lower()))
    return len(vocabulary)


def describe_sources(
    steps: list[dict[str, Any]], df_final: pd.DataFrame, splits: Splits
) -> dict[str, dict[str, Any]]:
    """Per source: rows loaded, removed by each step, kept, label balance and rows per split."""
    names = list(steps[0].get("by_source", {})) if steps else []
    previous = dict(steps[0].get("by_source", {})) if steps else {}
    removed: dict[str, dict[str, int]] = {name: {} for name in names}
    for step in steps[1:]:
        now = step.get("by_source", {})
        for name in names:
            removed[name][step["step"]] = previous.get(name, 0) - now.get(name, 0)
        previous = now
    per_source = {}
    for name in names:
        kept = df_final[df_final["source"] == name]
        per_source[name] = {
            "loaded": int(steps[0]["by_source"][name]),
            "removed_by_step": removed[name],
            **label_balance(kept),
            "splits": {
                split: int((part["source"] == name).sum()) for split, part in splits.items()
            },
        }
    return per_source


def describe_frozen(
    frozen: dict[str, pd.DataFrame], airline_terms: Sequence[str] = AIRLINE_TERMS
) -> dict[str, dict[str, Any]]:
    """The frozen evaluation sets as evaluated: size, balance, what their loaders left out."""
    return {
        name: {
            **label_balance(frame),
            **{key: int(value) for key, value in frame.attrs.items() if isinstance(value, int)},
            "files": sorted({str(source) for source in frame["source"]}),
            "airline": count_airline(frame, airline_terms),
        }
        for name, frame in frozen.items()
    }


def build_data_report(
    steps: list[dict[str, Any]],
    df_final: pd.DataFrame,
    splits: Splits,
    airline_terms: Sequence[str] = AIRLINE_TERMS,
    manual_test: pd.DataFrame | None = None,
    frozen: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Everything a reviewer needs to trust the data, as plain JSON types (it goes into MLflow
    and the manifest's `extra`). Frozen sets are described, not selected: each is the benchmark
    as published, minus its neutral tweets (and, for the brand set, its repeats)."""
    split_reports = {
        name: {**label_balance(frame), "airline": count_airline(frame, airline_terms)}
        for name, frame in splits.items()
    }
    report = {
        "steps": steps,
        "neutral_dropped": int(steps[0].get("neutral_dropped", 0)) if steps else 0,
        "neutral_as_positive": int(steps[0].get("neutral_as_positive", 0)) if steps else 0,
        "labels": label_balance(df_final),
        "text_length": describe_lengths(df_final["text"]),
        "vocabulary_size": vocabulary_size(df_final["text"].tolist()),
        "airline_rows": count_airline(df_final, airline_terms),
        "splits": split_reports,
        "per_source": describe_sources(steps, df_final, splits),
        "fingerprint": data_fingerprint(df_final),
    }
    frozen = dict(frozen or {})
    if manual_test is not None:
        frozen.setdefault("manual_test", manual_test)
    report["frozen_sets"] = describe_frozen(frozen, airline_terms)
    if "manual_test" in frozen:
        report["manual_test"] = report["frozen_sets"]["manual_test"]
    return report
