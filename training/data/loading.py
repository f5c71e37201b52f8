"""Sentiment140-style CSVs in, the common columns out.

Sentiment140 labels: polarity 0 = NEGATIVE (1), 4 = positive (0). Neutral tweets (polarity 2,
only in the manual test set) are dropped on load and counted in `frame.attrs["neutral_dropped"]`,
so the report can say what was left out. Text stays raw apart from a safe mojibake repair: the
normaliser in shared/ owns everything else (HTML entities, URLs, case), so training and serving
cannot drift.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from training.data.common import NEGATIVE, NEUTRAL_ATTR, POSITIVE, DataError

SENTIMENT140_COLUMNS = ("polarity", "id", "date", "query", "user", "text")
POLARITY_LABELS = {"0": NEGATIVE, "4": POSITIVE}
LABEL_LABELS = {"1": NEGATIVE, "0": POSITIVE, "negative": NEGATIVE, "positive": POSITIVE}
NEUTRAL_VALUES = frozenset({"2", "neutral"})
_MOJIBAKE_RE = r"[\u00c2-\u00f4][\u0080-\u00bf]"


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
