"""SemEval Twitter sentiment (Subtask A gold, 2013-2016) in, the common columns out.

Format (../shared/data/semeval/README.md): UTF-8, `tweet_id<TAB>label<TAB>text`, no header,
labels negative / neutral / positive. Quirks handled here, each with a fixture test:
- trailing empty fields (`...text<TAB>` in twitter-2016test-A.txt): dropped;
- texts wrapped in double quotes, with `""` or `\\"` for a quote inside, and a few with a newline
  inside the quotes (the record goes on over the next line, which does not start with an id);
- JSON-style escapes in the 2013/2015 files (`\\u002c` for a comma, `\\u2019` for an apostrophe);
- duplicate annotations of one tweet (same id, or the same text under two ids) across and within
  files: one copy kept; a tweet labelled differently in two places is dropped everywhere.
HTML entities are left for the normaliser, as for every source; `text_key` sees through them.
Neutral tweets are dropped (`neutral="drop"`) or kept as not-negative (`neutral="positive"`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from training.data.common import (
    DataError,
    NeutralPolicy,
    label_mapping,
    neutral_counts,
    text_keys,
)
from training.data.loading import check_file

SEMEVAL_GLOB = "twitter-*-A.txt"
SEMEVAL_CLASSES = ("negative", "neutral", "positive")
_RECORD_RE = re.compile(r"^(\d+)\t(negative|neutral|positive)\t", re.IGNORECASE)
_ESCAPE_RE = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
_QUOTE_RUN_RE = re.compile(r'"{2,}')
DUPLICATES_ATTR = "duplicates_dropped"
CONFLICTS_ATTR = "conflicts_dropped"


def parse_semeval_lines(lines: Sequence[str], path: Path) -> list[tuple[str, str, str]]:
    """(id, class, raw text) per record; a line that does not start a record continues the
    previous one (a newline inside quotes). Text before the first record is refused."""
    records: list[list[str]] = []
    for number, line in enumerate(lines, start=1):
        match = _RECORD_RE.match(line)
        if match:
            records.append([match[1], match[2].lower(), line[match.end() :]])
        elif records:
            records[-1][2] += "\n" + line
        elif line.strip():
            raise DataError(f"{path}: line {number} is not `tweet_id<TAB>label<TAB>text`")
    # The file's last newline (and blank lines after a record) are not part of the tweet.
    return [(tweet_id, label, text.rstrip("\n")) for tweet_id, label, text in records]


def decode_escapes(text: str) -> str:
    """`\\u002c` → `,`; surrogate pairs (`\\ud83d\\ude21`) become one emoji. Runs only."""

    def decode(match: re.Match[str]) -> str:
        units = [int(chunk, 16) for chunk in match[0].split("\\u")[1:]]
        raw = b"".join(unit.to_bytes(2, "big") for unit in units)
        return raw.decode("utf-16-be", errors="replace")

    return _ESCAPE_RE.sub(decode, text)


def clean_semeval_text(raw: str) -> str:
    """Trailing empty fields and blank lines off, outer quotes off (with `""`, `\\"` and layers
    of both inside undone), JSON-style escapes decoded. A lone quote on one side stays."""
    text = raw.rstrip("\t\r\n ")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        # Quotes were escaped in layers (JSON `\\"`, CSV `""`, sometimes both, twice): a run of
        # quotes inside is one quote of the tweet.
        text = _QUOTE_RUN_RE.sub('"', text[1:-1].replace('\\"', '"'))
    return decode_escapes(text).strip()


def read_semeval_file(path: Path) -> pd.DataFrame:
    """One file as rows of id, class (3 values), text and file name; no label mapping yet."""
    check_file(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start}); SemEval files are UTF-8") from exc
    # split("\n"), not splitlines(): U+2028 or U+0085 inside a tweet is not a line break here.
    records = parse_semeval_lines(content.split("\n"), path)
    if not records:
        raise DataError(f"{path}: no `tweet_id<TAB>label<TAB>text` records")
    ids, classes, texts = zip(*records, strict=True)
    return pd.DataFrame(
        {
            "id": ids,
            "sentiment": classes,
            "text": [clean_semeval_text(text) for text in texts],
            "file": path.name,
        }
    )


def drop_semeval_duplicates(rows: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """One row per tweet (by id, then by text key); a tweet with two different classes anywhere
    (three-way, before neutral is mapped) is dropped entirely. Returns rows, duplicates, conflicts.
    """
    rows = rows[rows["text"].str.strip().str.len() > 0]
    keys = pd.Series(text_keys(rows["text"].tolist()), index=rows.index)
    conflicting = (rows.groupby("id")["sentiment"].transform("nunique") > 1) | (
        rows.groupby(keys)["sentiment"].transform("nunique") > 1
    )
    clean = rows[~conflicting.to_numpy()]
    clean_keys = keys[~conflicting.to_numpy()]
    unique = clean[~(clean["id"].duplicated() | clean_keys.duplicated()).to_numpy()]
    return unique, len(clean) - len(unique), int(conflicting.sum())


def semeval_labels(classes: pd.Series, neutral: NeutralPolicy) -> pd.Series:
    """negative → 1, positive → 0, neutral → 0 (kept as not-negative) or NA (dropped)."""
    return classes.map(label_mapping("negative", "positive", "neutral", neutral))


def load_semeval(paths: Sequence[Path], neutral: NeutralPolicy = "drop") -> pd.DataFrame:
    """Several SemEval files as one de-duplicated frame with the common columns (`source` is the
    file name; `user` is unknown). attrs count neutral dropped/kept, duplicates and conflicts."""
    if not paths:
        raise DataError("no SemEval files given")
    rows = pd.concat([read_semeval_file(Path(path)) for path in paths], ignore_index=True)
    rows, duplicates, conflicts = drop_semeval_duplicates(rows)
    labels = semeval_labels(rows["sentiment"], neutral)
    keep = labels.notna().to_numpy()
    neutral_rows = int((rows["sentiment"] == "neutral").sum())
    frame = pd.DataFrame(
        {
            "text": rows["text"].to_numpy()[keep],
            "label": labels[keep].to_numpy(dtype=np.int8),
            "user": "",
            "source": rows["file"].to_numpy()[keep],
        }
    )
    frame.attrs.update(
        {
            **neutral_counts(neutral_rows, neutral),
            DUPLICATES_ATTR: duplicates,
            CONFLICTS_ATTR: conflicts,
        }
    )
    if frame.empty:
        raise DataError(f"{paths[0]}: no labelled rows")
    return frame


def semeval_files(folder: Path) -> list[Path]:
    """The Subtask A files of a folder, sorted by name (so by year)."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    files = sorted(folder.glob(SEMEVAL_GLOB))
    if not files:
        raise DataError(f"{folder}: no SemEval files ({SEMEVAL_GLOB})")
    return files
