"""Harvested feedback records and the watermark: pure data, no I/O.

A record is one feedback event as a source returned it, with the time it was flagged. Two kinds
(CONTRACTS.md): a correction ("this prediction is wrong", correct_label != predicted_label) and a
confirmation ("this prediction is right", correct_label == predicted_label). Every record carries
`kind`; a row without one (written before confirmations existed) is a correction, and a row whose
kind contradicts its labels is dropped rather than trained on.

The watermark says how far the harvest has read: every record up to `time`, and at exactly `time`,
the ids in `ids`, so rows sharing a timestamp are neither skipped nor read twice. Each run starts
reading a little behind it (the source's late window), so a flag that lands late still counts.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.feedback.event import (
    KIND_CONFIRMATION,
    KIND_CORRECTION,
    KINDS,  # noqa: F401 (re-exported for the harvest and its tests)
    LABELS,
    PREDICTED_LABELS,
    PROPERTIES,
    text_sha256,
)

FLAGGED_AT = "flagged_at"
KIND = "kind"
CORRECTION, CONFIRMATION = KIND_CORRECTION, KIND_CONFIRMATION
TEXT_SHA256 = "text_sha256"
RECORD_PROPERTIES = tuple(dict.fromkeys((*PROPERTIES, KIND, TEXT_SHA256)))
DATA_PREFIX = "feedback/"
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)  # no watermark yet: everything still retained


class HarvestError(RuntimeError):
    """The harvest could not finish; what it committed is safe and a rerun continues from there."""


def to_utc(moment: datetime | str) -> datetime:
    """Log Analytics gives datetimes (or ISO strings with 7 decimals); we keep aware UTC."""
    if isinstance(moment, str):
        text = moment.strip().replace("Z", "+00:00")
        head, dot, tail = text.partition(".")
        if dot:  # Python parses at most 6 decimals: truncate, as the SDK does
            digits = re.match(r"\d*", tail).group()  # type: ignore[union-attr]
            text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return to_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class FeedbackRecord:
    """One flagged prediction as harvested: when it was flagged, and the event's properties."""

    flagged_at: datetime
    properties: dict[str, str]

    @property
    def prediction_id(self) -> str:
        return self.properties["prediction_id"]

    @property
    def kind(self) -> str:
        return self.properties[KIND]

    def sort_key(self) -> tuple[datetime, str]:
        return (self.flagged_at, self.prediction_id)

    def to_dict(self) -> dict[str, str]:
        return {FLAGGED_AT: format_time(self.flagged_at), **self.properties}


def make_record(flagged_at: datetime | str, values: dict[str, Any]) -> FeedbackRecord | None:
    """A record from a source row, or None when the row cannot be training data.

    A row written before `kind` and `text_sha256` existed gets them here (kind from the labels,
    the hash from the text); a row whose kind contradicts its labels, or whose hash is not its
    text's, is dropped.
    """
    properties = {name: str(values.get(name) or "") for name in RECORD_PROPERTIES}
    try:
        properties["prediction_id"] = str(uuid.UUID(properties["prediction_id"]))
    except ValueError:
        return None
    predicted, correct = properties["predicted_label"], properties["correct_label"]
    if correct not in LABELS or predicted not in PREDICTED_LABELS:
        return None
    implied = CONFIRMATION if correct == predicted else CORRECTION
    digest = text_sha256(properties["text"])
    if properties[KIND] not in ("", implied) or properties[TEXT_SHA256] not in ("", digest):
        return None
    properties[KIND], properties[TEXT_SHA256] = implied, digest
    return FeedbackRecord(to_utc(flagged_at), properties)


@dataclass(frozen=True)
class Watermark:
    """Everything up to `time` is harvested, and at exactly `time`, the ids in `ids`."""

    time: datetime = BEGINNING
    ids: frozenset[str] = frozenset()

    def admits(self, record: FeedbackRecord) -> bool:
        if record.flagged_at != self.time:
            return record.flagged_at > self.time
        return record.prediction_id not in self.ids

    def advance(self, records: Sequence[FeedbackRecord]) -> Watermark:
        """Past `records` (sorted): the last time read, and every id read at that time."""
        if not records:
            return self
        last = records[-1].flagged_at
        ids = {r.prediction_id for r in records if r.flagged_at == last}
        return Watermark(last, frozenset(ids | (self.ids if last == self.time else set())))

    def behind(self, window: timedelta) -> Watermark:
        """Where a run starts reading: `window` before the mark, every id there re-admitted."""
        return Watermark(max(self.time - window, BEGINNING)) if window else self

    def later(self, other: Watermark) -> Watermark:
        """The further of two marks (ids merged at an equal time): a mark never moves back."""
        if other.time != self.time:
            return other if other.time > self.time else self
        return Watermark(self.time, self.ids | other.ids)

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "time": format_time(self.time),
            "ids_at_time": sorted(self.ids),
            "updated_at": format_time(now),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Watermark:
        return cls(to_utc(data["time"]), frozenset(data.get("ids_at_time", ())))


def select_page(
    records: Iterable[FeedbackRecord], since: Watermark, until: datetime, limit: int
) -> list[FeedbackRecord]:
    """What the KQL wrapper asks for, enforced again here: after `since`, before `until`, sorted."""
    kept = [r for r in records if since.admits(r) and r.flagged_at < until]
    return sorted(kept, key=FeedbackRecord.sort_key)[:limit]


def split_fresh(
    records: Iterable[FeedbackRecord], is_harvested: Callable[[FeedbackRecord], bool]
) -> tuple[list[FeedbackRecord], int]:
    """(records never harvested, in order; how many were duplicates, also within the page)."""
    fresh, seen, duplicates = [], set(), 0
    for record in records:
        if record.prediction_id in seen or is_harvested(record):
            duplicates += 1
            continue
        seen.add(record.prediction_id)
        fresh.append(record)
    return fresh, duplicates


def encode_batch(records: Sequence[FeedbackRecord]) -> tuple[str, bytes]:
    """(batch id, JSON Lines): the id is a hash of the content, so equal batches share a name."""
    lines = [json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False) for r in records]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:24], data


def batch_path(batch_id: str, day: date) -> str:
    """Data files sit under the day their records were flagged (the index partition's day)."""
    return f"{DATA_PREFIX}{day:%Y/%m/%d}/{batch_id}.jsonl"
