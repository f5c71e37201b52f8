"""The weekly harvest: flagged predictions → JSON Lines in the feedback container, exactly once.

A source (the local SQLite log, or Log Analytics through the KQL file the alert also uses) is
read from the watermark up to `now` minus the source's ingestion lag, in pages ordered by
(time, prediction id). Each page is committed in three writes, in this order:

1. the data file `feedback/<yyyy>/<mm>/<dd>/<batch>.jsonl`, named by a hash of its content, so a
   rerun that finds the same new records rewrites the same name;
2. the index `state/index.json`, which lists every committed batch and its prediction ids. It is
   the commit point: `read_feedback` reads a record only from the batch the index gives it, so a
   data file left behind by a crash is ignored and its records are harvested again by the rerun;
3. the watermark `state/watermark.json`, LAST: the last time read plus the ids read at exactly
   that time, so rows sharing a timestamp are neither skipped nor read twice.

A crash between any two writes leaves a state from which a rerun loses nothing (the watermark
never passes an uncommitted record) and duplicates nothing (the index filters what was committed).
A partial Log Analytics answer is committed too (the index makes that safe) but does not move the
watermark, so the next run reads the whole window again. Writes to the index and the watermark are
conditional (ETag), so two harvests racing cannot both win: the loser fails and can be rerun.

When the records not yet consumed by a retrain reach RETRAIN_THRESHOLD, one retrain request is
written to `requests/<timestamp>.json` (one per "consumption generation": `mark_consumed` starts
a new one) and, when GITHUB_REPOSITORY and GITHUB_TOKEN are set, a dispatch is sent
(shared/feedback/dispatch.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.feedback.dispatch import GITHUB_API_URL, check_threshold
from shared.feedback.records import (
    HarvestError,
    Watermark,
    format_time,
    select_page,
    split_fresh,
    to_utc,
)
from shared.feedback.sources import FeedbackSource, make_source
from shared.feedback.state import (
    WATERMARK_NAME,
    Index,
    commit_batch,
    load_index,
    load_watermark,
    write_json,
)
from shared.storage import ObjectStore, StorageError

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

PAGE_SIZE = 50_000  # well under Log Analytics' 500,000-row / 64 MB answer limit
MAX_PAGES = 200


@dataclass(frozen=True)
class HarvestResult:
    """What one run did; `watermark` is None until a run has completed a full page."""

    new_records: int
    duplicates: int
    watermark: datetime | None
    retrain_requested: bool
    unconsumed: int = 0
    partial: bool = False
    batches: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["watermark"] = format_time(self.watermark) if self.watermark else None
        return data


@dataclass
class HarvestRun:
    """The mutable state of one harvest while it pages through the source."""

    index: Index
    watermark: Watermark
    watermark_etag: str | None
    harvested: set[str]
    new_records: int = 0
    duplicates: int = 0
    partial: bool = False
    batches: list[str] = field(default_factory=list)


def harvest(
    source: FeedbackSource,
    store: ObjectStore,
    now: datetime,
    settings: Settings,
    *,
    page_size: int = PAGE_SIZE,
    github_api_url: str = GITHUB_API_URL,
) -> HarvestResult:
    """Read new flags into the store; ask for a retrain when enough are waiting."""
    now = to_utc(now)
    until = now - source.ingestion_lag
    try:
        run = start_run(store)
        for _ in range(MAX_PAGES):
            if not harvest_page(source, store, run, until, now, page_size):
                break
        unconsumed, requested = check_threshold(store, run.harvested, now, settings, github_api_url)
    except StorageError as exc:
        raise HarvestError(f"feedback store failed: {exc}") from exc
    return HarvestResult(
        run.new_records,
        run.duplicates,
        run.watermark.time if run.watermark_etag else None,
        requested,
        unconsumed,
        run.partial,
        tuple(run.batches),
    )


def start_run(store: ObjectStore) -> HarvestRun:
    index = load_index(store)
    watermark, etag = load_watermark(store)
    return HarvestRun(index, watermark, etag, index.harvested_ids())


def harvest_page(
    source: FeedbackSource,
    store: ObjectStore,
    run: HarvestRun,
    until: datetime,
    now: datetime,
    page_size: int,
) -> bool:
    """Commit one page; True when the source may hold more after it."""
    page = source.fetch(run.watermark, until, page_size)
    records = select_page(page.records, run.watermark, until, page_size)
    fresh, duplicates = split_fresh(records, run.harvested)
    if fresh:
        run.batches.append(commit_batch(store, run.index, fresh, now))
        run.harvested.update(r.prediction_id for r in fresh)
    run.new_records += len(fresh)
    run.duplicates += duplicates
    if page.partial:
        run.partial = True
        return False
    if records:
        watermark = run.watermark.advance(records)
        run.watermark_etag = write_json(
            store, WATERMARK_NAME, watermark.to_json(now), run.watermark_etag
        )
        run.watermark = watermark
    return len(records) >= page_size


def run_harvest(settings: Settings, now: datetime | None = None) -> HarvestResult:
    """One harvest with the configured source and feedback container (timer, CLI)."""
    from shared.storage import open_object_store

    store = open_object_store(settings, settings.FEEDBACK_CONTAINER)
    return harvest(make_source(settings), store, now or datetime.now(UTC), settings)


def harvest_timer(timer: Any) -> None:
    """Body of the weekly timer trigger; a failure fails the invocation, where alerts see it."""
    from shared.settings import get_settings

    if getattr(timer, "past_due", False):
        logger.info("harvest timer is past due; harvesting now")
    result = run_harvest(get_settings())
    logger.info("feedback harvest done: %s", json.dumps(result.summary(), sort_keys=True))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m shared.feedback.harvest`: one harvest by hand, with the environment's settings."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.feedback.harvest", description=main.__doc__
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from shared.settings import get_settings

    try:
        result = run_harvest(get_settings())
    except HarvestError as exc:
        print(f"harvest failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.summary(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
