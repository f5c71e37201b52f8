"""What masking personal data costs per tweet, on real tweets (shared/privacy.py).

    python bench/bench_privacy.py                          # 2,000 Sentiment140 tweets
    python bench/bench_privacy.py --count 2000 --repeat 5

Prints µs per tweet (best of `--repeat` passes), beside the normaliser's own cost on the same
tweets as a yardstick that a busy machine slows down alike, for three groups: tweets with no digit, `@`,
URL hint nor name trigger (the fast path), the others, and all of them; and how many tweets
the masking changed, by kind of placeholder. Needs ../shared/data/sentiment140.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.normalise import normalise_text
from shared.privacy import PLACEHOLDERS, mask_once, mask_personal_data

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/sentiment140/training_sample_47k.csv"


def load_tweets(path: Path, count: int, seed: int) -> list[str]:
    with path.open(encoding="latin-1", newline="") as handle:
        texts = [row[5] for row in csv.reader(handle)]
    return random.Random(seed).sample(texts, count)


def best_us_per_tweet(
    texts: list[str], repeat: int, function: Callable[[str], str] = mask_personal_data
) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            function(text)
        best = min(best, time.perf_counter() - started)
    return best / max(1, len(texts)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    tweets = load_tweets(args.data, args.count, args.seed)
    mask_personal_data("warm up 212 555 0100 my name is Ana @x http://t.co")  # imports, caches
    plain = [t for t in tweets if mask_once(t) == t and not any(c.isdigit() or c == "@" for c in t)]
    other = [t for t in tweets if t not in set(plain)]
    normalise_text("warm up")
    for name, group in (("fast path", plain), ("others", other), ("all", tweets)):
        cost = best_us_per_tweet(group, args.repeat)
        yardstick = best_us_per_tweet(group, args.repeat, normalise_text)
        print(
            f"{name:10s} {len(group):5d} tweets  {cost:7.2f} µs/tweet"
            f"  (normalise_text on the same tweets: {yardstick:7.2f} µs)"
        )
    changed = [mask_personal_data(t) for t in tweets]
    kinds = Counter(p for text in changed for p in PLACEHOLDERS if p in text)
    altered = sum(a != b for a, b in zip(tweets, changed, strict=True))
    print(f"changed {altered} of {len(tweets)} tweets; placeholders: {dict(kinds)}")


if __name__ == "__main__":
    main()
