"""Harvest state in the feedback container: the index (commit point), watermark, consumed ids.

Every write of the index, the watermark and the consumed set is conditional (ETag), so two
harvests (or a harvest and a retrain) racing cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.feedback.records import (
    FLAGGED_AT,
    FeedbackRecord,
    HarvestError,
    Watermark,
    batch_path,
    encode_batch,
    format_time,
)
from shared.storage import ObjectStore, PreconditionFailed

WATERMARK_NAME = "state/watermark.json"
INDEX_NAME = "state/index.json"
CONSUMED_NAME = "state/consumed.json"
CONSUMED_WRITE_ATTEMPTS = 5


def read_json(store: ObjectStore, name: str) -> tuple[Any, str | None]:
    """(parsed JSON or None, ETag); a corrupt state file stops the harvest rather than reset it."""
    stored = store.get(name)
    if stored is None:
        return None, None
    try:
        return json.loads(stored.data), stored.etag
    except ValueError as exc:
        raise HarvestError(f"{store.describe()}: {name} is not valid JSON") from exc


def write_json(store: ObjectStore, name: str, data: Any, etag: str | None) -> str:
    """Conditional write: replace what we read (If-Match), or create (If-None-Match: *)."""
    body = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
    try:
        return store.put(name, body, if_match=etag, if_none_match=etag is None)
    except PreconditionFailed as exc:
        raise HarvestError(f"{name} changed during the harvest (another run?); rerun") from exc


@dataclass
class Index:
    """Committed batches: id → {"path", "ids", "harvested_at"}; the set of harvested ids."""

    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    etag: str | None = None

    def harvested_ids(self) -> set[str]:
        return {pid for batch in self.batches.values() for pid in batch["ids"]}


def load_index(store: ObjectStore) -> Index:
    data, etag = read_json(store, INDEX_NAME)
    return Index((data or {}).get("batches", {}), etag)


def load_watermark(store: ObjectStore) -> tuple[Watermark, str | None]:
    data, etag = read_json(store, WATERMARK_NAME)
    return (Watermark.from_json(data) if data else Watermark()), etag


def load_consumed(store: ObjectStore) -> tuple[set[str], int, str | None]:
    """(consumed ids, generation, ETag): the generation grows with every retrain's consumption."""
    data, etag = read_json(store, CONSUMED_NAME)
    data = data or {}
    return set(data.get("ids", ())), int(data.get("generation", 0)), etag


def commit_batch(
    store: ObjectStore, index: Index, records: Sequence[FeedbackRecord], now: datetime
) -> str:
    """Data file first, then the index that makes it count; returns the batch id."""
    batch_id, data = encode_batch(records)
    path = batch_path(batch_id, now)
    store.put(path, data)
    entry = {
        "path": path,
        "ids": [r.prediction_id for r in records],
        "harvested_at": format_time(now),
    }
    batches = {**index.batches, batch_id: entry}
    index.etag = write_json(store, INDEX_NAME, {"version": 1, "batches": batches}, index.etag)
    index.batches = batches
    return batch_id


def read_feedback(store: ObjectStore, *, unconsumed_only: bool = False) -> list[dict[str, str]]:
    """Every harvested record once, oldest first; each read from the batch the index names."""
    index = load_index(store)
    consumed = load_consumed(store)[0] if unconsumed_only else set()
    records: dict[str, dict[str, str]] = {}
    for batch in index.batches.values():
        wanted = set(batch["ids"]) - consumed
        for record in read_batch(store, batch["path"]):
            if record["prediction_id"] in wanted:
                records.setdefault(record["prediction_id"], record)
    return sorted(records.values(), key=lambda r: (r[FLAGGED_AT], r["prediction_id"]))


def read_batch(store: ObjectStore, path: str) -> list[dict[str, str]]:
    stored = store.get(path)
    if stored is None:
        raise HarvestError(f"{store.describe()}: the index names {path}, which is missing")
    return [json.loads(line) for line in stored.data.decode("utf-8").splitlines() if line]


def mark_consumed(store: ObjectStore, prediction_ids: Iterable[str]) -> int:
    """Record that a retrain used these records; returns how many were newly consumed.

    A change starts a new generation, so the next crossing of the threshold asks again.
    """
    wanted = set(prediction_ids)
    for _ in range(CONSUMED_WRITE_ATTEMPTS):
        consumed, generation, etag = load_consumed(store)
        added = wanted - consumed
        if not added:
            return 0
        data = {"generation": generation + 1, "ids": sorted(consumed | added)}
        try:
            write_json(store, CONSUMED_NAME, data, etag)
        except HarvestError:
            continue  # someone else wrote it in between: read again
        return len(added)
    raise HarvestError("state/consumed.json kept changing; try again")
