"""What every data module shares: the column contract, label codes, the error type, configs.

Labels follow the project contract (shared/bundle.py): 1 = NEGATIVE, 0 = positive (or "not
negative"). Every loader returns the same columns (`text`, `label`, `user`, `source`), so selection
never cares where a tweet came from. The corpus built from several sources adds `weight` (the
source's sample weight in training).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from shared.fixed_point import apply_until_stable

COLUMNS = ("text", "label", "user", "source")
NEGATIVE, POSITIVE = 1, 0
NEUTRAL_ATTR = "neutral_dropped"
NEUTRAL_KEPT_ATTR = "neutral_as_positive"
NeutralPolicy = Literal["drop", "positive"]
NEUTRAL_POLICIES: tuple[NeutralPolicy, ...] = ("drop", "positive")

# Language filter, tuned by reading verdicts on the real 175k tweets (py3langid 0.4, normalised
# probabilities): short casual English is often labelled "pcm" (Nigerian Pidgin) or "zxx" (no
# language), and below 0.7 confidence the "foreign" verdicts are mostly English; texts of fewer
# than three words are too short to judge. This drops 308 of 174,750 tweets (0.18 %; Tagalog,
# Portuguese, Vietnamese, German, ...) in ~18 s of CPU (~0.1 ms a tweet).
ENGLISH_LIKE = frozenset({"en", "pcm", "zxx"})
ENGLISH_MIN_CONFIDENCE = 0.7
ENGLISH_MIN_WORDS = 3
_LOOSE_NOISE_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|&\w+;|[^\w\s]")
MAX_UNESCAPES = 4  # "&amp;amp;amp;lt;" needs three passes; a bound stops a pathological loop

AIRLINE_TERMS: tuple[str, ...] = (
    "flight", "flights", "flying", "delayed", "delay", "delays", "cancelled", "canceled",
    "airline", "airlines", "airways", "airport", "airports", "airplane", "aeroplane", "luggage",
    "baggage", "boarding", "boarding pass", "gate", "pilot", "plane", "planes", "jet", "jetlag",
    "jet lag", "seat", "layover", "runway", "takeoff", "take off", "flight attendant",
    "stewardess", "carry-on", "check-in", "tsa", "united", "delta", "jetblue", "southwest",
    "american airlines", "americanair", "us airways", "usairways", "alaska airlines", "virgin",
    "virgin america", "virgin atlantic", "air canada", "westjet", "airtran", "continental",
    "spirit airlines", "frontier airlines", "ryanair", "easyjet", "lufthansa", "british airways",
    "air france", "klm", "iberia", "aer lingus", "emirates", "qantas", "jetstar", "airasia",
    "singapore airlines", "cathay pacific", "heathrow", "gatwick", "jfk", "lax", "o'hare",
)  # fmt: skip


class DataError(ValueError):
    """One-line, user-facing message; the CLI prints it and exits non-zero."""


@dataclass(frozen=True)
class SelectionConfig:
    """Which selection steps run and how; `airline_terms` feeds the report's airline slice."""

    english_only: bool = True
    english_min_confidence: float = ENGLISH_MIN_CONFIDENCE
    dedupe: bool = True
    drop_conflicts: bool = True
    dedupe_author: bool = True
    balance: bool = True
    seed: int = 42
    airline_terms: tuple[str, ...] = AIRLINE_TERMS


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        return [("train", self.train), ("val", self.val), ("test", self.test)]


def label_mapping(
    negative: str, positive: str, neutral: str, policy: NeutralPolicy
) -> dict[str, int]:
    """{source class: label} for a three-class source: `negative` → NEGATIVE, `positive` →
    POSITIVE, `neutral` → POSITIVE with policy "positive" (else absent: mapped to NA, dropped).
    Raises DataError for a policy not in NEUTRAL_POLICIES."""
    if policy not in NEUTRAL_POLICIES:
        raise DataError(f"neutral must be one of {', '.join(NEUTRAL_POLICIES)}, not {policy!r}")
    mapping = {negative: NEGATIVE, positive: POSITIVE}
    if policy == "positive":
        mapping[neutral] = POSITIVE
    return mapping


def neutral_counts(neutral_rows: int, policy: NeutralPolicy) -> dict[str, int]:
    """The frame attrs saying what `policy` did with a source's `neutral_rows` neutral tweets."""
    return {
        NEUTRAL_ATTR: neutral_rows if policy == "drop" else 0,
        NEUTRAL_KEPT_ATTR: neutral_rows if policy == "positive" else 0,
    }


def unescape_html(text: str) -> str:
    """HTML entities decoded until nothing changes (at most MAX_UNESCAPES passes)."""
    return apply_until_stable(html.unescape, text, MAX_UNESCAPES)


def text_key(text: str) -> str:
    """The identity of a tweet across sources: entities decoded, case folded, spaces collapsed.

    "Flight &amp; crew" in one file and "flight & crew" in another are the same tweet; a URL or
    punctuation difference is not (that is `loose_key`, used against the frozen sets).
    """
    return " ".join(unescape_html(text).casefold().split())


def text_keys(texts: Iterable[str]) -> list[str]:
    return [text_key(text) for text in texts]


def loose_key(texts: Iterable[str]) -> list[str]:
    """Text as a reader would compare it: lowercase, no URLs, mentions, entities or punctuation."""
    return [" ".join(_LOOSE_NOISE_RE.sub(" ", text.lower()).split()) for text in texts]
