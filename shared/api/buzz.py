"""GET /api/buzz: the recent negative share of this server's predictions, per 15 minutes.

Read from the local store of prediction events (shared.monitoring.events: no text) and judged by
the same function the replay test checks against the bad-buzz alert's KQL
(shared.monitoring.buzz), so the page's chart flags exactly the bins the Azure alert would.
Open like /api/health: counts per bin, no text and no ids, and the page draws it before anyone
typed a key (a 401 there would be an error in every browser console). When the store is off
(PREDICTION_EVENTS_MAX=0, as in Azure, where the workbook charts the spans) the answer says so,
with no bins, so nothing about the airline's traffic is public there.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.api.schemas import ErrorPublic
from shared.monitoring.buzz import RULE, BinStats, BuzzRule, alerting_bin, evaluate_bins
from shared.monitoring.events import PredictionEventsDep, PredictionEventStore

router = APIRouter(prefix="/api", tags=["buzz"])

MAX_HOURS = 48


class BuzzBinPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="Start of the 15-minute bin (UTC).")
    predictions: int
    negatives: int
    share: float = Field(description="negatives / predictions")
    count_threshold: float = Field(description="max(min_negatives, baseline mean + z * sd)")
    share_threshold: float = Field(description="baseline share + share_margin")
    is_buzz: bool


class BuzzRulePublic(BaseModel):
    bin_minutes: int
    baseline_days: int
    slack_bins: int
    min_negatives: int
    z: float
    share_margin: float


class BuzzPublic(BaseModel):
    recording: bool = Field(description="False when this server keeps no prediction events.")
    rule: BuzzRulePublic
    alert: bool = Field(description="The last complete bin is a bad buzz (what the alert sees).")
    bins: list[BuzzBinPublic] = Field(description="Bins holding predictions, oldest first.")


def rule_public(rule: BuzzRule) -> BuzzRulePublic:
    return BuzzRulePublic(
        bin_minutes=rule.bin_seconds // 60,
        baseline_days=rule.baseline_days,
        slack_bins=rule.slack_bins,
        min_negatives=rule.min_negatives,
        z=rule.z,
        share_margin=rule.share_margin,
    )


def bin_public(stats: BinStats) -> BuzzBinPublic:
    return BuzzBinPublic(
        start=datetime.fromtimestamp(stats.start, UTC),
        predictions=stats.predictions,
        negatives=stats.negatives,
        share=stats.share,
        count_threshold=stats.count_threshold,
        share_threshold=stats.share_threshold,
        is_buzz=stats.is_buzz,
    )


def recent_bins(
    store: PredictionEventStore | None, now: float, hours: int, rule: BuzzRule = RULE
) -> tuple[bool, list[BinStats]]:
    """(recording, the judged bins of the last `hours`), baselines loaded from further back."""
    if store is None:
        return False, []
    start = now - hours * 3600
    events = store.since(start - rule.lookback_seconds)
    bins = evaluate_bins(((e.at, e.label) for e in events), rule)
    return True, [b for b in bins if b.start >= start - rule.bin_seconds]


@router.get(
    "/buzz",
    response_model=BuzzPublic,
    responses={422: {"model": ErrorPublic, "description": "hours outside 1..48."}},
    summary="Recent negative share per 15 minutes, with bad-buzz flags",
)
def read_buzz(
    events: PredictionEventsDep,
    hours: Annotated[int, Query(ge=1, le=MAX_HOURS, description="How far back to chart.")] = 6,
) -> BuzzPublic:
    now = time.time()
    recording, bins = recent_bins(events, now, hours)
    return BuzzPublic(
        recording=recording,
        rule=rule_public(RULE),
        alert=alerting_bin(bins, now) is not None,
        bins=[bin_public(b) for b in bins],
    )
