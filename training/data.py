"""Sentiment140 files in, clean balanced splits and a data report out.

Labels follow the project contract (shared/bundle.py): 1 = NEGATIVE (Sentiment140 polarity 0),
0 = positive (polarity 4). Neutral tweets (polarity 2, only in the manual test set) are dropped on
load and counted in `frame.attrs["neutral_dropped"]`, so the report can say what was left out.
Every loader returns the same columns (`text`, `label`, `user`, `source`), so selection never cares
where a tweet came from. Text stays raw apart from a safe mojibake repair: the normaliser in
shared/ owns everything else (HTML entities, URLs, case), so training and serving cannot drift.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("text", "label", "user", "source")
SENTIMENT140_COLUMNS = ("polarity", "id", "date", "query", "user", "text")
NEGATIVE, POSITIVE = 1, 0
POLARITY_LABELS = {"0": NEGATIVE, "4": POSITIVE}
LABEL_LABELS = {"1": NEGATIVE, "0": POSITIVE, "negative": NEGATIVE, "positive": POSITIVE}
NEUTRAL_VALUES = frozenset({"2", "neutral"})
NEUTRAL_ATTR = "neutral_dropped"

# Language filter, tuned by reading verdicts on the real 175k tweets (py3langid 0.4, normalised
# probabilities): short casual English is often labelled "pcm" (Nigerian Pidgin) or "zxx" (no
# language), and below 0.7 confidence the "foreign" verdicts are mostly English; texts of fewer
# than three words are too short to judge. This drops 308 of 174,750 tweets (0.18 %; Tagalog,
# Portuguese, Vietnamese, German, ...) in ~18 s of CPU (~0.1 ms a tweet).
ENGLISH_LIKE = frozenset({"en", "pcm", "zxx"})
ENGLISH_MIN_CONFIDENCE = 0.7
ENGLISH_MIN_WORDS = 3
_LANGUAGE_NOISE_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|#|&\w+;")
_LOOSE_NOISE_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|&\w+;|[^\w\s]")
_MOJIBAKE_RE = r"[\u00c2-\u00f4][\u0080-\u00bf]"
_TOKEN_RE = re.compile(r"\w+")

AIRLINE_TERMS: tuple[str, ...] = (
    "flight", "flights", "flying", "delayed", "delay", "delays", "cancelled", "canceled",
    "airline", "airlines", "airways", "airport", "airports", "airplane", "aeroplane", "luggage",
    "baggage", "boarding", "boarding pass", "gate", "pilot", "plane", "planes", "jet", "jetlag",
    "jet lag", "seat", "layover", "runway", "takeoff", "take off", "flight attendant",
    "stewardess", "carry-on", "check-in", "tsa", "united", "delta", "jetblue", "southwest",
    "american airlines", "americanair", "us airways", "usairways", "alaska airlines", "virgin",
    "virgin america", "virgin atlantic", "air canada", "westjet", "airtran", "continental",
    "spirit airlines", "frontier airlines", "ryanair", "easyjet", "lufthansa", "british airways",
    "air france", "klm", "iberia", "aer lingus", "emirates", "qantas", "jetstar", "airasia",
    "singapore airlines", "cathay pacific", "heathrow", "gatwick", "jfk", "lax", "o'hare",
)  # fmt: skip


class DataError(ValueError):
    """One-line, user-facing message; the CLI prints it and exits non-zero."""


@dataclass(frozen=True)
class SelectionConfig:
    """Which selection steps run and how; `airline_terms` feeds the report's airline slice."""

    english_only: bool = True
    english_min_confidence: float = ENGLISH_MIN_CONFIDENCE
    dedupe: bool = True
    drop_conflicts: bool = True
    dedupe_author: bool = True
    balance: bool = True
    seed: int = 42
    airline_terms: tuple[str, ...] = AIRLINE_TERMS


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        return [("train", self.train), ("val", self.val), ("test", self.test)]


# --- loading ---------------------------------------------------------------------------------


def check_file(path: Path) -> bytes:
    """Fail early with one clear line; return the first bytes so the caller can sniff the format."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open("rb") as stream:
        head = stream.read(4096)
    if not head.strip():
        raise DataError(f"{path}: file is empty")
    if head.startswith((b"PK\x03\x04", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DataError(
            f"{path}: unreadable encoding (binary, zip or UTF-16?): expected a text CSV"
        )
    return head


def read_csv(path: Path, *, header: bool, encoding: str) -> pd.DataFrame:
    """Every field as a string: ids, polarity codes and texts like "0004" must survive as typed."""
    try:
        return pd.read_csv(
            path,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
            on_bad_lines="error",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed CSV ({str(exc).strip().splitlines()[-1]})") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: file is empty") from exc


def repair_mojibake(texts: pd.Series) -> pd.Series:
    """Undo UTF-8 bytes that were decoded as latin-1 ("Ã©" → "é", "ï¿½" → "\ufffd").

    Only rows whose whole text round-trips latin-1 → strict UTF-8 change, so a genuine latin-1
    "café" is never touched. The original file's "ï¿½" (a lost character) becomes one U+FFFD.
    """
    suspects = texts.str.contains(_MOJIBAKE_RE, regex=True)
    if not suspects.any():
        return texts
    repaired = texts.copy()
    repaired[suspects] = [_repair_text(text) for text in texts[suspects].tolist()]
    return repaired


def _repair_text(text: str) -> str:
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def encode_labels(values: pd.Series, mapping: dict[str, int], path: Path) -> pd.Series:
    """Raw label strings to 1/0; neutral becomes NA (the caller drops it), anything else fails."""
    keys = values.str.strip().str.lower()
    unknown = sorted(set(keys.tolist()) - set(mapping) - NEUTRAL_VALUES)
    if unknown:
        shown = ", ".join(repr(value) for value in unknown[:5])
        more = f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else ""
        expected = "/".join(sorted(mapping))
        raise DataError(f"{path}: unknown labels {shown}{more}; expected {expected} (2 = neutral)")
    return keys.map(mapping)


def finish_frame(texts: pd.Series, labels: pd.Series, users: pd.Series, path: Path) -> pd.DataFrame:
    """The common loader output: neutral dropped and counted, mojibake repaired, typed columns."""
    keep = labels.notna().to_numpy()
    frame = pd.DataFrame(
        {
            "text": repair_mojibake(texts[keep].reset_index(drop=True)).astype(str),
            "label": labels[keep].to_numpy(dtype=np.int8),
            "user": users[keep].reset_index(drop=True).astype(str),
            "source": path.name,
        }
    )
    frame.attrs[NEUTRAL_ATTR] = int((~keep).sum())
    if frame.empty:
        raise DataError(f"{path}: no labelled rows")
    return frame


def load_sentiment140_csv(path: Path) -> pd.DataFrame:
    """The original format: no header, six quoted fields, latin-1 (which decodes any byte).

    pandas pads a short row with empty fields; its empty text is then dropped by `drop_empty`.
    """
    check_file(path)
    raw = read_csv(path, header=False, encoding="latin-1")
    if raw.shape[1] != len(SENTIMENT140_COLUMNS):
        raise DataError(
            f"{path}: expected {len(SENTIMENT140_COLUMNS)} columns "
            f"({','.join(SENTIMENT140_COLUMNS)}), found {raw.shape[1]}"
        )
    raw.columns = list(SENTIMENT140_COLUMNS)
    labels = encode_labels(raw["polarity"], POLARITY_LABELS, path)
    return finish_frame(raw["text"], labels, raw["user"], path)


def load_labelled_csv(path: Path) -> pd.DataFrame:
    """A CSV with a header: `polarity` (0/4 coding) or `label` (1/0, negative/positive) and `text`.

    UTF-8 is tried first and latin-1 second, because hand-made exports come in either.
    """
    check_file(path)
    try:
        raw = read_csv(path, header=True, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raw = read_csv(path, header=True, encoding="latin-1")
    raw.columns = [str(name).strip().lower() for name in raw.columns]
    label_columns = [name for name in ("polarity", "label") if name in raw.columns]
    if "text" not in raw.columns or len(label_columns) != 1:
        found = ",".join(raw.columns)
        raise DataError(f"{path}: expected columns polarity,text or label,text; found {found}")
    if raw.empty:
        raise DataError(f"{path}: header but no rows")
    column = label_columns[0]
    mapping = POLARITY_LABELS if column == "polarity" else LABEL_LABELS
    labels = encode_labels(raw[column], mapping, path)
    users = raw["user"] if "user" in raw.columns else pd.Series([""] * len(raw), dtype=str)
    return finish_frame(raw["text"], labels, users, path)


def sniff_format(head: bytes, path: Path) -> str:
    """ "labelled" for a header naming text and a label, "sentiment140" for six fields starting
    with a number; anything else is refused with both accepted formats named."""
    first_line = head.decode("latin-1").lstrip("\ufeff\u00ef\u00bb\u00bf").splitlines()[0]
    fields = [field.strip().lower() for field in next(csv.reader([first_line]))]
    if "text" in fields and ({"polarity", "label"} & set(fields)):
        return "labelled"
    if len(fields) == len(SENTIMENT140_COLUMNS) and fields[0].isdigit():
        return "sentiment140"
    raise DataError(
        f"{path}: unrecognised format (first line has {len(fields)} fields): expected the 6-column "
        "Sentiment140 CSV or a CSV with header polarity,text or label,text"
    )


def load_source(path: Path) -> pd.DataFrame:
    """Whichever of the two formats the file is in, judged from its first line."""
    kind = sniff_format(check_file(path), path)
    return load_sentiment140_csv(path) if kind == "sentiment140" else load_labelled_csv(path)


def load_sources(paths: Sequence[Path]) -> pd.DataFrame:
    """All files as one frame, in the given order (de-duplication keeps the first occurrence)."""
    if not paths:
        raise DataError("no data files given")
    frames = [load_source(Path(path)) for path in paths]
    merged = pd.concat(frames, ignore_index=True)
    merged.attrs[NEUTRAL_ATTR] = sum(frame.attrs.get(NEUTRAL_ATTR, 0) for frame in frames)
    return merged


def load_manual_test(path: Path) -> pd.DataFrame:
    """The hand-labelled benchmark (359 binary rows of 498): evaluation only, never training."""
    return load_source(path)


# --- selection -------------------------------------------------------------------------------


def loose_key(texts: Iterable[str]) -> list[str]:
    """Text as a reader would compare it: lowercase, no URLs, mentions, entities or punctuation."""
    return [" ".join(_LOOSE_NOISE_RE.sub(" ", text.lower()).split()) for text in texts]


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
    """Same text, same label: keep the first, so the order of the sources decides which survives."""
    return df.drop_duplicates(subset=["text", "label"], keep="first")


def drop_conflicting_labels(df: pd.DataFrame) -> pd.DataFrame:
    """A text labelled both ways teaches nothing and poisons evaluation: drop every copy."""
    labels_per_text = df.groupby("text", sort=False)["label"].transform("nunique")
    return df[labels_per_text.to_numpy() == 1]


def drop_author_repeats(df: pd.DataFrame) -> pd.DataFrame:
    """One user posting the same message (bar URLs, mentions, case) counts once; unknown users
    (text-only sources) are left alone because different people do say the same thing."""
    known = df["user"].str.len().to_numpy() > 0
    keys = pd.Series(loose_key(df["text"].tolist()), index=df.index)
    repeated = pd.DataFrame({"user": df["user"], "key": keys}).duplicated(keep="first")
    return df[~(known & repeated.to_numpy())]


def drop_overlap(train: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Remove from `train` every tweet that `other` (the manual test set) holds, compared loosely
    so that a copy differing only by a URL or a mention still counts as a leak."""
    held_out = set(loose_key(other["text"].tolist()))
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
    negative = int((df["label"] == NEGATIVE).sum())
    return {
        "step": step,
        "rows": len(df),
        "removed": before - len(df),
        "negative": negative,
        "positive": len(df) - negative,
        "seconds": round(seconds, 3),
    }


def plan_selection(
    config: SelectionConfig, exclude: pd.DataFrame | None
) -> list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]]:
    """The enabled steps, in the study's order; overlap removal comes before balancing so the
    classes stay exactly balanced."""
    english = partial(filter_english, min_confidence=config.english_min_confidence)
    steps = [
        ("drop_empty", drop_empty, True),
        ("english_only", english, config.english_only),
        ("drop_exact_duplicates", drop_exact_duplicates, config.dedupe),
        ("drop_conflicting_labels", drop_conflicting_labels, config.drop_conflicts),
        ("drop_author_repeats", drop_author_repeats, config.dedupe_author),
        ("drop_manual_test_overlap", partial(drop_overlap, other=exclude), exclude is not None),
        ("balance_classes", partial(balance_classes, seed=config.seed), config.balance),
    ]
    return [(name, step) for name, step, enabled in steps if enabled]


def select_tweets(
    df: pd.DataFrame, config: SelectionConfig | None = None, exclude: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Apply the selection steps in order, recording counts after each; `exclude` (the manual test
    set) is removed from the result. Run it on all sources at once: cross-source duplicates must
    go before splitting or the evaluation leaks."""
    config = config or SelectionConfig()
    steps = [count_rows("loaded", df, len(df), 0.0)]
    steps[0]["neutral_dropped"] = int(df.attrs.get(NEUTRAL_ATTR, 0))
    for name, step in plan_selection(config, exclude):
        started, before = time.perf_counter(), len(df)
        df = step(df)
        steps.append(count_rows(name, df, before, time.perf_counter() - started))
    return df.reset_index(drop=True), steps


# --- airline slice, splits, report -----------------------------------------------------------


def trie_pattern(words: Iterable[str]) -> str:
    """A regex alternation factored by common prefixes ("del(?:ay|ta)"): Python's `re` tries the
    alternatives of a flat list one by one, which made the airline scan ~7x slower."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_branch(trie)


def _trie_branch(node: dict[str, Any]) -> str:
    optional = "" in node
    pieces = [
        (r"\s+" if char == " " else re.escape(char)) + _trie_branch(child)
        for char, child in sorted(node.items())
        if char
    ]
    if not pieces:
        return ""
    body = pieces[0] if len(pieces) == 1 else f"(?:{'|'.join(pieces)})"
    return f"(?:{body})?" if optional else body


@cache
def airline_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """One regex over lowercased text; multi-word terms match any run of whitespace."""
    words = {" ".join(term.lower().split()) for term in terms if term.strip()}
    return re.compile(rf"(?<!\w){trie_pattern(words)}(?!\w)")


def is_airline(texts: Sequence[str], terms: Sequence[str] = AIRLINE_TERMS) -> np.ndarray:
    """Whole-word, case-insensitive match of any term ("#delta" and "@united" count)."""
    if not any(term.strip() for term in terms):
        return np.zeros(len(texts), dtype=bool)
    search = airline_pattern(tuple(terms)).search
    matches = (search(text.lower()) is not None for text in texts)
    return np.fromiter(matches, dtype=bool, count=len(texts))


def count_airline(df: pd.DataFrame, terms: Sequence[str] = AIRLINE_TERMS) -> int:
    return int(is_airline(df["text"].tolist(), terms).sum())


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


def build_data_report(
    steps: list[dict[str, Any]],
    df_final: pd.DataFrame,
    splits: Splits,
    airline_terms: Sequence[str] = AIRLINE_TERMS,
    manual_test: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Everything a reviewer needs to trust the data, as plain JSON types (it goes into MLflow
    and the manifest's `extra`). The manual test set is described, not selected: it is the
    benchmark as published, minus its neutral tweets."""
    split_reports = {
        name: {**label_balance(frame), "airline": count_airline(frame, airline_terms)}
        for name, frame in splits.items()
    }
    report = {
        "steps": steps,
        "neutral_dropped": int(steps[0].get("neutral_dropped", 0)) if steps else 0,
        "labels": label_balance(df_final),
        "text_length": describe_lengths(df_final["text"]),
        "vocabulary_size": vocabulary_size(df_final["text"].tolist()),
        "airline_rows": count_airline(df_final, airline_terms),
        "splits": split_reports,
        "fingerprint": data_fingerprint(df_final),
    }
    if manual_test is not None:
        report["manual_test"] = {
            **label_balance(manual_test),
            "neutral_dropped": int(manual_test.attrs.get(NEUTRAL_ATTR, 0)),
            "airline": count_airline(manual_test, airline_terms),
        }
    return report
