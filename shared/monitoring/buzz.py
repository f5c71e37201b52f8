"""The bad-buzz rule, computed locally exactly as shared/queries/bad_buzz.kql computes it in Azure.

A bad buzz is a burst: within 15 minutes, many more negative predictions than usual AND a larger
share of them. Per 15-minute bin t (only bins holding predictions, like the KQL `summarize`):

    n = negatives in t, p = predictions in t, share = n / p
    baseline = the bins at t - d days + s bins, d in 1..baseline_days, s in -slack_bins..slack_bins
               (the same time of day +-1 h on the previous day); `slots` of them, empty ones = 0
    mean, sd = mean and population standard deviation of n over the slots
    base_share = sum(n) / sum(p) over the baseline (0 when the baseline saw nothing)
    buzz  <=>  the baseline saw predictions  and  n >= max(min_negatives, mean + z * sd)
               and  share >= base_share + share_margin

Why both: the count alone fires on a busy hour with the usual mood (a campaign, a timetable
change); the share alone fires on three negatives out of four predictions at night. min_negatives
keeps small numbers quiet, z = 3 standard deviations keeps a stationary day quiet (few false
alarms), the 15-point share margin asks for a real change of mood. The baseline is one day
because a log search alert sees at most two days of data. Without any prediction in the baseline
there is no usual level: no verdict (on a first day the floor alone fired on ordinary noise).

Mirror, not approximation: the constants are the KQL's `let` values (tests/code/test_buzz.py
reads them from the file and compares) and each step below is the KQL's step, in the same order
and with the same arithmetic (sums over the expanded baseline, population variance floored at 0).
Times are Unix seconds (UTC); bins start at multiples of `bin_seconds`, as KQL's bin() does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

NEGATIVE = "negative"
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class BuzzRule:
    """The constants of bad_buzz.kql (`let` lines), same names."""

    bin_seconds: int = 15 * 60
    baseline_days: int = 1
    slack_bins: int = 4
    min_negatives: int = 25
    z: float = 3.0
    share_margin: float = 0.15

    @property
    def slots(self) -> int:
        return self.baseline_days * (2 * self.slack_bins + 1)

    @property
    def lookback_seconds(self) -> int:
        """How far before a bin its baseline reaches (what a caller must load)."""
        return self.baseline_days * DAY_SECONDS + (self.slack_bins + 1) * self.bin_seconds


RULE = BuzzRule()


@dataclass(frozen=True)
class BinStats:
    """One evaluated bin: the KQL's projected columns, plus the verdict."""

    start: int
    predictions: int
    negatives: int
    share: float
    mean: float
    sd: float
    base_share: float
    count_threshold: float
    share_threshold: float
    is_buzz: bool


def bin_start(at: float, bin_seconds: int) -> int:
    """KQL bin(TimeGenerated, bin_size): floor to a multiple of the bin (Unix seconds)."""
    return int(math.floor(at / bin_seconds) * bin_seconds)


def count_bins(events: Iterable[tuple[float, str]], bin_seconds: int) -> dict[int, tuple[int, int]]:
    """`per_bin`: {bin start: (predictions, negatives)} from (time, label) pairs."""
    counts: dict[int, tuple[int, int]] = {}
    for at, label in events:
        start = bin_start(at, bin_seconds)
        predictions, negatives = counts.get(start, (0, 0))
        counts[start] = (predictions + 1, negatives + (label == NEGATIVE))
    return counts


def baseline_sums(
    per_bin: dict[int, tuple[int, int]], rule: BuzzRule
) -> dict[int, tuple[int, int, int]]:
    """`baseline`: {target bin: (sum n, sum n^2, sum p)}, each bin pushed to the bins it serves."""
    sums: dict[int, tuple[int, int, int]] = {}
    for start, (predictions, negatives) in per_bin.items():
        for day in range(1, rule.baseline_days + 1):
            for step in range(-rule.slack_bins, rule.slack_bins + 1):
                target = start + day * DAY_SECONDS + step * rule.bin_seconds
                n, sq, p = sums.get(target, (0, 0, 0))
                sums[target] = (n + negatives, sq + negatives * negatives, p + predictions)
    return sums


def judge_bin(
    start: int, counts: tuple[int, int], base: tuple[int, int, int], rule: BuzzRule
) -> BinStats:
    """The KQL's `extend` chain for one bin, step by step."""
    predictions, negatives = counts
    base_negatives, base_negatives_sq, base_predictions = base
    mean = float(base_negatives) / rule.slots
    sd = math.sqrt(max(float(base_negatives_sq) / rule.slots - mean * mean, 0.0))
    share = float(negatives) / predictions
    base_share = float(base_negatives) / base_predictions if base_predictions > 0 else 0.0
    count_threshold = max(float(rule.min_negatives), mean + rule.z * sd)
    share_threshold = base_share + rule.share_margin
    is_buzz = (
        base_predictions > 0 and float(negatives) >= count_threshold and share >= share_threshold
    )
    return BinStats(
        start, predictions, negatives, share, mean, sd, base_share,
        count_threshold, share_threshold, is_buzz,
    )  # fmt: skip


def evaluate_bins(events: Iterable[tuple[float, str]], rule: BuzzRule = RULE) -> list[BinStats]:
    """Every bin that holds predictions, judged against its baseline, oldest first."""
    per_bin = count_bins(events, rule.bin_seconds)
    baseline = baseline_sums(per_bin, rule)
    return [
        judge_bin(start, per_bin[start], baseline.get(start, (0, 0, 0)), rule)
        for start in sorted(per_bin)
    ]


def alerting_bin(bins: list[BinStats], now: float, rule: BuzzRule = RULE) -> BinStats | None:
    """The KQL's last line: the last complete bin when it is a bad buzz (the alert fires on it)."""
    last_complete = bin_start(now, rule.bin_seconds) - rule.bin_seconds
    return next((b for b in bins if b.start == last_complete and b.is_buzz), None)
