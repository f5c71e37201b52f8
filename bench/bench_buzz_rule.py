"""False alarms and detection of the bad-buzz rule on the replay's synthetic traffic.

    python bench/bench_buzz_rule.py

Days of predictions as tests/code/test_buzz.py builds them (about 40 a bin by day, 8 at night,
a quarter negative, seeded), judged by shared.monitoring.buzz for a few rule constants: false
bins over the judged days (day 1 of each history has no baseline and gets no verdict), and the
share of bursts (N extra tweets in one daytime bin, 90 % negative) found at their bin.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.monitoring.buzz import RULE, BuzzRule, evaluate_bins
from tests.code.test_buzz import BURST_AT, burst, history

HISTORIES = 100  # x 2 judged days
BURSTS = 30


def false_bins(rule: BuzzRule) -> int:
    return sum(
        sum(b.is_buzz for b in evaluate_bins(history(seed), rule))
        for seed in range(1, HISTORIES + 1)
    )


def found(rule: BuzzRule, size: int) -> int:
    hits = 0
    for seed in range(1, BURSTS + 1):
        events = history(seed) + burst(random.Random(seed + 100), BURST_AT, size)
        start = BURST_AT.timestamp()
        hits += any(b.is_buzz and b.start == start for b in evaluate_bins(events, rule))
    return hits


def main() -> None:
    print(
        f"| min_negatives | z | share_margin | false bins in {2 * HISTORIES} days "
        f"| bursts found (+30 / +40 / +60 tweets) of {BURSTS} |"
    )
    print("|---|---|---|---|---|")
    candidates = [
        RULE,
        BuzzRule(min_negatives=20),
        BuzzRule(z=4.0, min_negatives=20),
        BuzzRule(share_margin=0.2),
        BuzzRule(min_negatives=30),
    ]
    for rule in candidates:
        sizes = " / ".join(str(found(rule, size)) for size in (30, 40, 60))
        mark = " (shipped)" if rule == RULE else ""
        print(
            f"| {rule.min_negatives}{mark} | {rule.z} | {rule.share_margin} "
            f"| {false_bins(rule)} | {sizes} |"
        )


if __name__ == "__main__":
    main()
