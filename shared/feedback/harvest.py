"""The weekly harvest: feedback on predictions → JSON Lines in the feedback container, exactly once.

A source (the local SQLite log, or Log Analytics through shared/queries/feedback_events.kql) is
read in pages ordered by (time, prediction id), from a little behind the watermark (the source's
late window) up to `now` minus its ingestion lag. Both kinds are harvested: corrections and
confirmations, each record carrying `kind`. Each page is committed in this order:

1. per day flagged, the data file `feedback/<yyyy>/<mm>/<dd>/<batch>.jsonl` (named by a hash of
   its content) and then that day's index partition `state/index/<yyyy>/<mm>/<dd>.json`, the
   commit point (index.py: why by day, and why the harvest's memory stays flat);
2. the watermark `state/watermark.json`, LAST and only forward: the last time read plus the ids
   read at exactly that time.

Nothing is missed: a flag that becomes visible after the watermark passed its time (ingestion
lag, the exporter retrying from disk, an instance's clock stepping back) is re-read by the next
run's late window, and the index drops what was committed before (counted as `rereads`). A
harvest whose own clock steps back reads nothing new and leaves the watermark where it is.

A crash between any two writes leaves a state from which a rerun loses nothing (the watermark
never passes an uncommitted record) and doubles nothing (the partitions filter what was
committed). A partial Log Analytics answer is committed too but does not move the watermark.
Every write of a partition or the watermark is conditional on the ETag read before it.

When the records not yet consumed by a retrain reach RETRAIN_THRESHOLD, the crossing's retrain
request is claimed by a conditional create and only the winner dispatches the retrain workflow
(dispatch.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.feedback.dispatch import GITHUB_API_URL, check_threshold
from shared.feedback.index import IndexWindow, commit_records
from shared.feedback.records import (
    HarvestError,
    Watermark,
    format_time,
    select_page,
    split_fresh,
    to_utc,
)
from shared.feedback.sources import FeedbackSource, make_source
from shared.feedback.state import load_watermark, save_watermark
from shared.storage import ObjectStore, StorageError

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

PAGE_SIZE = 50_000  # well under Log Analytics' 500,000-row / 64 MB answer limit
MAX_PAGES = 200


@dataclass(frozen=True)
class HarvestResult:
    """What one run did; `watermark` is None until a run has completed a full page.

    `duplicates`: records past the watermark already harvested (a repeat flag, a rerun after a
    crash); `rereads`: records of the late window that were harvested before.
    """

    new_records: int
    duplicates: int
    watermark: datetime | None
    retrain_requested: bool
    unconsumed: int = 0
    partial: bool = False
    batches: tuple[str, ...] = ()
    rereads: int = 0

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["watermark"] = format_time(self.watermark) if self.watermark else None
        return data


@dataclass
class HarvestRun:
    """The mutable state of one harvest while it pages through the source."""

    window: IndexWindow
    stored: Watermark
    stored_etag: str | None
    cursor: Watermark
    new_records: int = 0
    duplicates: int = 0
    rereads: int = 0
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
    """Read new feedback into the store; ask for a retrain when enough is waiting."""
    now = to_utc(now)
    until = now - source.ingestion_lag
    try:
        run = start_run(store, getattr(source, "late_window", timedelta(0)))
        for _ in range(MAX_PAGES):
            if not harvest_page(source, store, run, until, now, page_size):
                break
        unconsumed, requested = check_threshold(store, now, settings, github_api_url)
    except StorageError as exc:
        raise HarvestError(f"feedback store failed: {exc}") from exc
    return HarvestResult(
        run.new_records,
        run.duplicates,
        run.stored.time if run.stored_etag else None,
        requested,
        unconsumed,
        run.partial,
        tuple(run.batches),
        run.rereads,
    )


def start_run(store: ObjectStore, late_window: timedelta) -> HarvestRun:
    watermark, etag = load_watermark(store)
    return HarvestRun(IndexWindow(store), watermark, etag, watermark.behind(late_window))


def harvest_page(
    source: FeedbackSource,
    store: ObjectStore,
    run: HarvestRun,
    until: datetime,
    now: datetime,
    page_size: int,
) -> bool:
    """Commit one page; True when the source may hold more after it."""
    page = source.fetch(run.cursor, until, page_size)
    records = select_page(page.records, run.cursor, until, page_size)
    if records:
        run.window.forget_before(records[0].flagged_at)
    fresh, duplicates = split_fresh(records, run.window.is_harvested)
    if fresh:
        run.batches.extend(commit_records(store, run.window, fresh, now))
    rereads = min(duplicates, sum(1 for r in records if not run.stored.admits(r)))
    run.new_records += len(fresh)
    run.duplicates += duplicates - rereads
    run.rereads += rereads
    if page.partial:
        run.partial = True
        return False
    if records:
        run.cursor = run.cursor.advance(records)
        run.stored, run.stored_etag = save_watermark(
            store, run.stored, run.stored_etag, run.cursor, now
        )
    return len(records) >= page_size


def run_harvest(settings: Settings, now: datetime | None = None) -> HarvestResult:
    """One harvest with the configured source and feedback container (timer, CLI)."""
    from shared.storage import open_object_store

    store = open_object_store(settings, settings.FEEDBACK_CONTAINER)
    return harvest(make_source(settings), store, now or datetime.now(UTC), settings)


def harvest_timer(timer: Any) -> None:
    """Body of the weekly timer trigger; a failure fails the invocation, where alerts see it.

    Each run also writes its `loop_run` record (job "harvest"), which the harvest alert counts
    (shared/monitoring/run_report.py, shared/queries/loop_harvest.kql).
    """
    from shared.monitoring.run_report import record_run
    from shared.settings import get_settings

    if getattr(timer, "past_due", False):
        logger.info("harvest timer is past due; harvesting now")
    try:
        result = run_harvest(get_settings())
    except Exception as exc:
        record_run("harvest", "failure", detail=f"{type(exc).__name__}: {exc}".splitlines()[0])
        raise
    summary = json.dumps(result.summary(), sort_keys=True)
    logger.info("feedback harvest done: %s", summary)
    record_run("harvest", "success", detail=summary)


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
