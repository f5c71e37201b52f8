"""Several named, weighted sources into one corpus; the frozen evaluation sets beside it.

A source is a name, its files, a sample weight for training, and how its neutral tweets count.
`--source NAME=PATH[:WEIGHT]` on the command line becomes one `Source`: PATH is a CSV file
(Sentiment140 or polarity/label,text), a SemEval `.txt` file, or a folder of either.
The frozen sets are never trained on and their tweets are removed from the corpus (by loose text
key, so a copy with another URL or case still counts): the Sentiment140 hand-labelled test, one
whole SemEval test file, and the brand set (negative vs positive, and negative vs the rest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from training.data.brand import load_brand_csv
from training.data.common import (
    NEUTRAL_ATTR,
    NEUTRAL_KEPT_ATTR,
    DataError,
    NeutralPolicy,
)
from training.data.loading import load_manual_test, load_sources
from training.data.selection import drop_conflicting_labels, drop_exact_duplicates
from training.data.semeval import SEMEVAL_GLOB, load_semeval, semeval_files

SourceKind = Literal["csv", "semeval"]
MANUAL_TEST_PREFIX = "testdata.manual"
# A whole year's official test file, never a random slice (README of the shared data): 2015's
# test set comes from other weeks and topics than every training file, it is mid-sized (365
# negative, 1,038 positive) so its AUC interval is about ±0.015, and holding it out costs the
# corpus only 5 % of SemEval's labelled tweets (2016's test file would cost 40 %).
SEMEVAL_HOLDOUT = "twitter-2015test-A.txt"
BRAND_FILE = "Apple-Twitter-Sentiment-DFE.csv"
FROZEN_SET_NAMES = ("manual_test", "semeval_test", "brand", "brand_rest")
DOMAIN_SETS = ("brand", "brand_rest")


@dataclass(frozen=True)
class Source:
    """One named input of the corpus; `weight` multiplies its tweets' sample weight."""

    name: str
    paths: tuple[Path, ...]
    weight: float = 1.0
    kind: SourceKind = "csv"
    neutral: NeutralPolicy = "drop"


@dataclass(frozen=True)
class FrozenFiles:
    """Where the frozen evaluation sets come from; None leaves a set out."""

    manual_test: Path | None = None
    semeval_test: Path | None = None
    brand: Path | None = None


def parse_weight(text: str, spec: str) -> float:
    try:
        weight = float(text)
    except ValueError as exc:
        raise DataError(f"source {spec!r}: weight {text!r} is not a number") from exc
    if not math.isfinite(weight) or weight <= 0:
        raise DataError(f"source {spec!r}: weight must be a positive number, not {text}")
    return weight


def parse_source_spec(spec: str, neutral: NeutralPolicy = "drop") -> Source:
    """`NAME=PATH[:WEIGHT]` → Source. The weight is the part after the last colon when it is a
    number (so a path with a colon still works); PATH must exist."""
    name, sep, rest = spec.partition("=")
    if not sep or not name.strip() or not rest:
        raise DataError(f"source {spec!r}: expected NAME=PATH[:WEIGHT]")
    path_text, weight = rest, 1.0
    head, colon, tail = rest.rpartition(":")
    if colon and head and not Path(rest).exists():
        path_text, weight = head, parse_weight(tail, spec)
    return source_from_path(name.strip(), Path(path_text), weight, neutral)


def source_from_path(
    name: str, path: Path, weight: float = 1.0, neutral: NeutralPolicy = "drop"
) -> Source:
    """A file or a folder as a Source: SemEval `.txt` files, else CSVs (the hand-labelled test
    file of a Sentiment140 folder is left out: it is a frozen set)."""
    if path.is_dir():
        if any(path.glob(SEMEVAL_GLOB)):
            return Source(name, tuple(semeval_files(path)), weight, "semeval", neutral)
        csvs = [p for p in sorted(path.glob("*.csv")) if not p.name.startswith(MANUAL_TEST_PREFIX)]
        if not csvs:
            raise DataError(f"{path}: no training CSV or SemEval file in this folder")
        return Source(name, tuple(csvs), weight, "csv", neutral)
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    kind: SourceKind = "semeval" if path.suffix.lower() == ".txt" else "csv"
    return Source(name, (path,), weight, kind, neutral)


def without_files(sources: Sequence[Source], names: set[str]) -> list[Source]:
    """The sources minus files held out by name (the SemEval test file); empty sources go."""
    kept = []
    for source in sources:
        paths = tuple(path for path in source.paths if path.name not in names)
        if paths:
            kept.append(replace(source, paths=paths))
    return kept


def load_source_frame(source: Source) -> pd.DataFrame:
    """One source's files as the common columns, `source` set to its name, plus its `weight`."""
    if source.kind == "semeval":
        frame = load_semeval(source.paths, neutral=source.neutral)
    else:
        frame = load_sources(list(source.paths))
    attrs = dict(frame.attrs)
    frame = frame.assign(source=source.name, weight=source.weight)
    frame.attrs.update(attrs)
    return frame


def load_corpus(sources: Sequence[Source]) -> pd.DataFrame:
    """All sources as one frame, in the given order (de-duplication keeps the first copy);
    attrs sum the neutral tweets dropped and kept as not-negative."""
    if not sources:
        raise DataError("no data sources given")
    names = [source.name for source in sources]
    if len(set(names)) != len(names):
        raise DataError(f"source names must be unique: {', '.join(names)}")
    frames = [load_source_frame(source) for source in sources]
    corpus = pd.concat(frames, ignore_index=True)
    for attr in (NEUTRAL_ATTR, NEUTRAL_KEPT_ATTR):
        corpus.attrs[attr] = sum(int(frame.attrs.get(attr, 0)) for frame in frames)
    return corpus


def dedupe_frozen(frame: pd.DataFrame) -> pd.DataFrame:
    """One copy per tweet, none of a tweet labelled both ways; the loader's attrs are kept and
    the repeats counted (`repeats_dropped`)."""
    attrs = dict(frame.attrs)
    unique = drop_conflicting_labels(drop_exact_duplicates(frame)).reset_index(drop=True)
    unique.attrs.update(attrs, repeats_dropped=len(frame) - len(unique))
    return unique


def load_frozen_sets(files: FrozenFiles) -> dict[str, pd.DataFrame]:
    """Every frozen set that has a file: manual_test (359 tweets, as published), semeval_test
    (negative vs positive), brand (negative vs positive) and brand_rest (negative vs the rest:
    what the business asks on real traffic, where neutral is the majority)."""
    frozen: dict[str, pd.DataFrame] = {}
    if files.manual_test is not None:
        frozen["manual_test"] = load_manual_test(files.manual_test)
    if files.semeval_test is not None:
        frozen["semeval_test"] = dedupe_frozen(load_semeval([files.semeval_test], "drop"))
    if files.brand is not None:
        frozen["brand"] = dedupe_frozen(load_brand_csv(files.brand, "drop"))
        frozen["brand_rest"] = dedupe_frozen(load_brand_csv(files.brand, "positive"))
    return frozen


def frozen_union(frozen: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Every frozen tweet in one frame, for removing them from the training corpus."""
    if not frozen:
        return None
    return pd.concat([frame[["text", "label"]] for frame in frozen.values()], ignore_index=True)
