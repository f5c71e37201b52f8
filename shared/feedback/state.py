"""Harvest state beside the index: the watermark, the consumption generation, and the retrain API.

- `state/watermark.json`: how far the harvest has read (records.Watermark), written LAST after a
  page's partitions, and only ever forward.
- `state/consumed.json`: `{"generation": n}`, bumped by every retrain that consumes feedback, so
  the next crossing of RETRAIN_THRESHOLD asks for a new retrain (dispatch.py: one request per
  generation). Which ids were consumed lives in the index partitions (index.py).
- `read_feedback` / `mark_consumed`: what retraining calls (training/cli/loop_commands.py).

Every write is conditional on the ETag read just before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shared.feedback.index import (
    WRITE_ATTEMPTS,
    consume_partition,
    iter_feedback,
    load_partition,
    partition_names,
    read_json,
    write_json,
)
from shared.feedback.records import HarvestError, Watermark
from shared.storage import ObjectStore

__all__ = [
    "CONSUMED_NAME",
    "WATERMARK_NAME",
    "load_generation",
    "load_watermark",
    "mark_consumed",
    "read_feedback",
    "read_json",
    "save_watermark",
    "write_json",
]

WATERMARK_NAME = "state/watermark.json"
CONSUMED_NAME = "state/consumed.json"


def load_watermark(store: ObjectStore) -> tuple[Watermark, str | None]:
    data, etag = read_json(store, WATERMARK_NAME)
    return (Watermark.from_json(data) if data else Watermark()), etag


def save_watermark(
    store: ObjectStore, stored: Watermark, etag: str | None, cursor: Watermark, now: datetime
) -> tuple[Watermark, str | None]:
    """Move the stored mark to `cursor` if that is further; never back (a clock stepping back,
    or a run re-reading its late window, leaves it where it is)."""
    moved = stored.later(cursor)
    if moved == stored:
        return stored, etag
    return moved, write_json(store, WATERMARK_NAME, moved.to_json(now), etag)


def load_generation(store: ObjectStore) -> tuple[int, str | None]:
    """(generation, ETag): the generation grows with every retrain's consumption."""
    data, etag = read_json(store, CONSUMED_NAME)
    return int((data or {}).get("generation", 0)), etag


def bump_generation(store: ObjectStore) -> int:
    for _ in range(WRITE_ATTEMPTS):
        generation, etag = load_generation(store)
        try:
            write_json(store, CONSUMED_NAME, {"generation": generation + 1}, etag)
        except HarvestError:
            continue
        return generation + 1
    raise HarvestError(f"{CONSUMED_NAME} kept changing; try again")


def read_feedback(store: ObjectStore, *, unconsumed_only: bool = False) -> list[dict[str, str]]:
    """Every harvested record once (first flag of a prediction wins), oldest day first.

    Each record is a dict of `flagged_at`, `kind` and the event's properties. For a stream with
    one day in memory at a time, use `index.iter_feedback`.
    """
    seen: set[str] = set()
    records = []
    for record in iter_feedback(store, unconsumed_only=unconsumed_only):
        if record["prediction_id"] not in seen:
            seen.add(record["prediction_id"])
            records.append(record)
    return records


def mark_consumed(store: ObjectStore, prediction_ids: Iterable[str]) -> int:
    """Record that a retrain used these records; returns how many were newly consumed.

    The generation is bumped BEFORE the partitions are marked: a crash in between can at worst
    ask for one retrain too many, never leave the next crossing without a request.
    """
    wanted = set(prediction_ids)
    names = [
        name
        for name in partition_names(store)
        if (wanted & (part := load_partition(store, name)).ids) - part.consumed
    ]
    if not names:
        return 0
    bump_generation(store)
    return sum(consume_partition(store, name, wanted) for name in names)
