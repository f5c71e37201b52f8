"""The harvest index, partitioned by the UTC day a record was flagged: what makes a batch count.

Layout in the feedback container:

    feedback/<yyyy>/<mm>/<dd>/<batch>.jsonl   the records of one batch, all flagged that day;
                                              named by a hash of the content
    state/index/<yyyy>/<mm>/<dd>.json         that day's partition: {"version": 2,
                                              "batches": {batch id: {"path", "ids",
                                              "harvested_at"}}, "consumed": [ids]}

A partition is the commit point of its batches: `read_feedback` reads a record only from the
batch its partition names, so a data file left by a crash is ignored. Every partition write is
conditional (ETag from the read): a harvest and a retrain, or two harvests, cannot both win.

Why by day of flagging, not by a hash of the prediction id: a harvest reads flags in time order,
and the same prediction id can only come back within DUPLICATE_WINDOW of its first flag (the
feedback token that allows a flag expires well within it, and each query keeps a prediction's
first flag). So checking a record against the partitions of the days within that window is
enough, and a harvest loads only the partitions near the times it reads: its memory follows the
feedback of a few weeks, never all past feedback. Hash partitions would have every page touch
every partition, i.e. load all of them.

What still reads every partition, one at a time (memory of one day, I/O of all): counting the
records not yet consumed (the retrain threshold) and `iter_feedback` (the retrain's input).

Retention: a lifecycle rule may delete old data files (their partition, rewritten by late flags
or by `mark_consumed`, may outlive them). A batch whose data file is gone is skipped with a
warning: those records have expired. A crash cannot cause that (data is written before the
partition that names it).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared.feedback.records import (
    FLAGGED_AT,
    FeedbackRecord,
    HarvestError,
    batch_path,
    encode_batch,
    format_time,
    split_fresh,
)
from shared.storage import ObjectStore, PreconditionFailed

logger = logging.getLogger(__name__)

INDEX_PREFIX = "state/index/"
DUPLICATE_WINDOW = timedelta(days=7)  # >> feedback token lifetime (token.py, 24 h) + clock skew
WRITE_ATTEMPTS = 5


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


def partition_name(day: date) -> str:
    return f"{INDEX_PREFIX}{day:%Y/%m/%d}.json"


@dataclass
class Partition:
    """One day of the index as read, with the ETag its next write must match."""

    name: str
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)
    etag: str | None = None
    ids: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"version": 2, "batches": self.batches, "consumed": sorted(self.consumed)}


def load_partition(store: ObjectStore, name: str) -> Partition:
    data, etag = read_json(store, name)
    data = data or {}
    batches = data.get("batches", {})
    ids = {pid for batch in batches.values() for pid in batch["ids"]}
    return Partition(name, batches, set(data.get("consumed", ())), etag, ids)


def partition_names(store: ObjectStore) -> list[str]:
    """Every partition, oldest day first (the names sort by date)."""
    return sorted(n for n in store.list(INDEX_PREFIX) if n.endswith(".json"))


class IndexWindow:
    """The partitions one harvest has loaded, by day, and the union of their ids.

    Days far behind the reading are dropped (`forget_before`), so what it holds is bounded by
    the feedback of the days around the page being read, not by all past feedback.
    """

    def __init__(self, store: ObjectStore, window: timedelta = DUPLICATE_WINDOW) -> None:
        self.store = store
        self.window = window
        self.partitions: dict[date, Partition] = {}
        self.ids: set[str] = set()
        self.ready_day: date | None = None

    def partition(self, day: date, *, reload: bool = False) -> Partition:
        if reload or day not in self.partitions:
            self.partitions[day] = load_partition(self.store, partition_name(day))
            self.ids |= self.partitions[day].ids
        return self.partitions[day]

    def add(self, part: Partition, ids: Sequence[str]) -> None:
        part.ids.update(ids)
        self.ids.update(ids)

    def is_harvested(self, record: FeedbackRecord) -> bool:
        """Whether the record's id is in a loaded partition (all within DUPLICATE_WINDOW are)."""
        day = record.flagged_at.date()
        if day != self.ready_day:
            span = self.window.days + 1
            for offset in range(-span, span + 1):
                self.partition(day + timedelta(days=offset))
            self.ready_day = day
        return record.prediction_id in self.ids

    def forget_before(self, moment: datetime) -> None:
        """Drop partitions no record at or after `moment` can duplicate: memory stays bounded."""
        oldest = (moment - self.window).date() - timedelta(days=1)
        for day in [d for d in self.partitions if d < oldest]:
            self.ids -= self.partitions.pop(day).ids
        if self.ready_day is not None and self.ready_day < moment.date():
            self.ready_day = None


def commit_records(
    store: ObjectStore, window: IndexWindow, records: Sequence[FeedbackRecord], now: datetime
) -> list[str]:
    """Commit fresh records (sorted), one batch per day flagged; returns the batch ids."""
    batches = []
    for day, group in itertools.groupby(records, key=lambda r: r.flagged_at.date()):
        batch_id = commit_day(store, window, day, list(group), now)
        if batch_id is not None:
            batches.append(batch_id)
    return batches


def commit_day(
    store: ObjectStore, window: IndexWindow, day: date, records: list[FeedbackRecord], now: datetime
) -> str | None:
    """Data file first, then the partition that makes it count (ETag from the read).

    When the partition changed since it was read (a retrain marking consumption, a racing
    harvest), read it again, drop what is now there, and try again. None: nothing left to add.
    """
    for attempt in range(WRITE_ATTEMPTS):
        part = window.partition(day, reload=attempt > 0)
        records, _ = split_fresh(records, lambda r, part=part: r.prediction_id in part.ids)
        if not records:
            return None
        batch_id, data = encode_batch(records)
        path = batch_path(batch_id, day)
        store.put(path, data)
        entry = {"path": path, "ids": [r.prediction_id for r in records]}
        batches = {**part.batches, batch_id: {**entry, "harvested_at": format_time(now)}}
        try:
            content = {**part.to_json(), "batches": batches}
            part.etag = write_json(store, part.name, content, part.etag)
        except HarvestError:
            continue
        part.batches = batches
        window.add(part, entry["ids"])
        return batch_id
    raise HarvestError(f"{partition_name(day)} kept changing (another run?); rerun")


def read_batch(store: ObjectStore, path: str) -> list[dict[str, str]]:
    """The records of one data file; none (and a warning) when retention has deleted it."""
    stored = store.get(path)
    if stored is None:
        logger.warning("%s: %s is gone (retention?); skipped", store.describe(), path)
        return []
    return [json.loads(line) for line in stored.data.decode("utf-8").splitlines() if line]


def partition_records(
    store: ObjectStore, part: Partition, *, unconsumed_only: bool = False
) -> list[dict[str, str]]:
    """One day's records, each read from the batch its partition names, oldest first."""
    records: dict[str, dict[str, str]] = {}
    for batch in part.batches.values():
        wanted = set(batch["ids"]) - (part.consumed if unconsumed_only else set())
        for record in read_batch(store, batch["path"]) if wanted else ():
            if record["prediction_id"] in wanted:
                records.setdefault(record["prediction_id"], record)
    return sorted(records.values(), key=lambda r: (r[FLAGGED_AT], r["prediction_id"]))


def iter_feedback(store: ObjectStore, *, unconsumed_only: bool = False) -> Iterator[dict[str, str]]:
    """Every harvested record, day by day, oldest first; one partition in memory at a time.

    A prediction id appears once within DUPLICATE_WINDOW; `read_feedback` also removes the
    (theoretical) repeat of an id flagged again after that window.
    """
    for name in partition_names(store):
        yield from partition_records(
            store, load_partition(store, name), unconsumed_only=unconsumed_only
        )


def count_unconsumed(store: ObjectStore) -> int:
    """Harvested ids no retrain consumed yet, reading one partition at a time."""
    total = 0
    for name in partition_names(store):
        part = load_partition(store, name)
        total += len(part.ids - part.consumed)
    return total


def consume_partition(store: ObjectStore, name: str, wanted: set[str]) -> int:
    """Add the wanted ids this partition holds to its consumed set (ETag from the read)."""
    for _ in range(WRITE_ATTEMPTS):
        part = load_partition(store, name)
        added = (wanted & part.ids) - part.consumed
        if not added:
            return 0
        part.consumed |= added
        try:
            write_json(store, name, part.to_json(), part.etag)
        except HarvestError:
            continue  # a harvest committed a batch in between: read again
        return len(added)
    raise HarvestError(f"{name} kept changing; try again")
