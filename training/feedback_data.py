"""Harvested feedback → the rows a retrain may use, and the record of which ones it used. Pure.

What reaches training is filtered, in this order, and every dropped record is accounted for:
1. unusable records (no text, no binary label) go;
2. records older than the window go (`max_age_days`): a retrain learns recent traffic, and a
   poisoned or stale flag does not stay in every retrain forever;
3. records whose text is in a frozen evaluation set go (compared by `text_key`, so another URL,
   mention or case still counts): feedback must never train on what judges the challenger;
4. one row per text: repeats of a text count once, a text flagged both ways is dropped;
5. the rest is split into training and held-out rows by a hash of the TEXT KEY, not by an id a
   client picks: a text is always on the same side, in every retrain, whoever flagged it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from shared.feedback.records import to_utc

KIND_CORRECTION = "correction"
KIND_CONFIRMATION = "confirmation"
LABELS = {"negative": 1, "positive": 0}
COLUMNS = ["text", "label", "kind", "prediction_id", "text_key", "user", "source", "airline"]
# URLs, mentions, the serving masks (<url>, <mention>, <phone>...), entities, punctuation.
_KEY_NOISE_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|<\w+>|&\w+;|[^\w\s]")


def text_key(text: str) -> str:
    """A tweet as a reader compares it: lowercase words only, without URLs, mentions or masks.

    The stored feedback text is masked (`<mention>`), a frozen set's text is raw (`@united`):
    both give the same key."""
    return " ".join(_KEY_NOISE_RE.sub(" ", str(text).lower()).split())


def key_bucket(key: str) -> float:
    """A stable number in [0, 1) from the text key: the same text, the same side, every run."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 2**32


def is_holdout(key: str, share: float) -> bool:
    return key_bucket(key) < share


@dataclass
class FeedbackSelection:
    """The rows a retrain trains on and judges on, and the ids behind each decision."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    dropped: dict[str, list[str]] = field(default_factory=dict)  # reason -> prediction ids

    def ids_used(self) -> dict[str, Any]:
        """What the report and MLflow record: ids trained on, held out, and dropped by reason."""
        return {
            "trained": sorted(id_ for ids in self.train["ids"] for id_ in ids),
            "held_out": sorted(id_ for ids in self.holdout["ids"] for id_ in ids),
            "dropped": {reason: sorted(ids) for reason, ids in self.dropped.items()},
        }

    def counts(self) -> dict[str, int]:
        return {
            "train_rows": len(self.train),
            "holdout_rows": len(self.holdout),
            **{f"dropped_{reason}": len(ids) for reason, ids in self.dropped.items()},
        }


def record_kind(record: dict[str, Any]) -> str:
    """Events before confirmations existed are corrections (they were "this is wrong" clicks)."""
    if record.get("kind") in (KIND_CORRECTION, KIND_CONFIRMATION):
        return str(record["kind"])
    label = record.get("correct_label")
    agrees = bool(label) and label == record.get("predicted_label")
    return KIND_CONFIRMATION if agrees else KIND_CORRECTION


def feedback_frame(records: Iterable[dict[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    """(one row per usable record, ids of the unusable ones); label 1 = negative."""
    rows, unusable = [], []
    for r in records:
        if not str(r.get("text") or "").strip() or r.get("correct_label") not in LABELS:
            unusable.append(str(r.get("prediction_id", "")))
            continue
        rows.append(
            {
                "text": r["text"],
                "label": LABELS[r["correct_label"]],
                "kind": record_kind(r),
                "prediction_id": r["prediction_id"],
                "text_key": text_key(r["text"]),
                "flagged_at": r.get("flagged_at") or "",
            }
        )
    columns = ["text", "label", "kind", "prediction_id", "text_key", "flagged_at"]
    return pd.DataFrame(rows, columns=columns), unusable


def within_window(frame: pd.DataFrame, now: datetime, max_age_days: float | None) -> np.ndarray:
    """True for records flagged within `max_age_days` of `now` (all when there is no window;
    a record without a time is kept: it came from a source that does not say)."""
    if max_age_days is None or frame.empty:
        return np.ones(len(frame), dtype=bool)
    oldest = to_utc(now) - timedelta(days=max_age_days)
    return np.array([not t or to_utc(t) >= oldest for t in frame["flagged_at"]], dtype=bool)


def collapse_texts(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One row per text key (its first record, with every id behind it in `ids`); a key
    labelled both ways is dropped whole. Returns (rows, ids of the conflicting records)."""
    if frame.empty:
        return frame.assign(ids=[]), []
    labels = frame.groupby("text_key", sort=False)["label"].transform("nunique")
    conflicting = frame[labels.to_numpy() > 1]
    agreed = frame[labels.to_numpy() == 1]
    ids = agreed.groupby("text_key", sort=False)["prediction_id"].agg(list)
    first = agreed.drop_duplicates("text_key").set_index("text_key", drop=False)
    first = first.assign(ids=ids.loc[first.index]).reset_index(drop=True)
    return first, conflicting["prediction_id"].tolist()


def select_feedback(
    records: list[dict[str, Any]],
    frozen_keys: set[str],
    holdout_share: float,
    now: datetime,
    max_age_days: float | None = None,
) -> FeedbackSelection:
    """Apply the module's five steps; `frozen_keys` are `text_key`s of every frozen tweet."""
    frame, unusable = feedback_frame(records)
    fresh = within_window(frame, now, max_age_days)
    frozen = frame["text_key"].isin(frozen_keys).to_numpy() & fresh
    kept, conflicting = collapse_texts(frame[fresh & ~frozen])
    held = np.array([is_holdout(key, holdout_share) for key in kept["text_key"]], dtype=bool)
    extra = {"user": "", "source": "feedback", "airline": False}
    return FeedbackSelection(
        train=kept[~held].assign(**extra).reset_index(drop=True),
        holdout=kept[held].assign(**extra).reset_index(drop=True),
        dropped={
            "unusable": unusable,
            "too_old": frame.loc[~fresh, "prediction_id"].tolist(),
            "in_frozen_set": frame.loc[frozen, "prediction_id"].tolist(),
            "conflicting_labels": conflicting,
        },
    )


def frozen_text_keys(frames: Iterable[pd.DataFrame]) -> set[str]:
    """Keys of every frozen tweet as written AND as serving masks it: feedback stores the masked
    `model_text`, whose key loses the booking codes, digits and names that the raw key keeps."""
    from shared.privacy import mask_personal_data

    keys = set()
    for frame in frames:
        for text in frame["text"]:
            keys.add(text_key(text))
            keys.add(text_key(mask_personal_data(text)))
    return keys
