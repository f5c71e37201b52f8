"""VADER's own lexicons, read from the installed vaderSentiment package, duplicates resolved.

`vader_lexicon.txt` lists some keys twice with different valences, and VADER's loader keeps the
last: "D:" (horror, -2.9) is overwritten by "d:" (tongue out, +1.2), so "D:" scores positive.
VADER also looks every token up in lower case, so ":P" (1.4) and ":p" (1.0) are one key too.

The rule, applied at load: entries are grouped by their lowercase key; a group's valence is the
mean of its entries, rounded to 0.01; a group whose mean is 0 (its raters cancel out) is dropped.
So "d:" → (-2.9 + 1.2) / 2 = -0.85, negative, and no key is left with two readings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib.resources import files

VADER_PACKAGE = "vaderSentiment"
WORD_LEXICON = "vader_lexicon.txt"
EMOJI_LEXICON = "emoji_utf8_lexicon.txt"


def parse_lexicon_lines(lines: Iterable[str]) -> list[tuple[str, float]]:
    """(token, valence) per "token<TAB>valence<TAB>..." line, in file order; blanks skipped."""
    entries = []
    for line in lines:
        parts = line.strip("\n").split("\t")
        if len(parts) >= 2 and parts[0]:
            entries.append((parts[0], float(parts[1])))
    return entries


def resolve_duplicates(entries: Iterable[tuple[str, float]]) -> dict[str, float]:
    """One valence per lowercase key: the mean of its entries; keys whose mean is 0 dropped."""
    groups: dict[str, list[float]] = defaultdict(list)
    for token, valence in entries:
        groups[token.lower()].append(valence)
    resolved = {key: round(sum(values) / len(values), 2) for key, values in groups.items()}
    return {key: valence for key, valence in resolved.items() if valence != 0}


def duplicated_keys(entries: Iterable[tuple[str, float]]) -> dict[str, list[float]]:
    """Lowercase key → its valences, for keys listed more than once (what the rule resolves)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for token, valence in entries:
        groups[token.lower()].append(valence)
    return {key: values for key, values in groups.items() if len(values) > 1}


def read_lexicon_entries() -> list[tuple[str, float]]:
    text = files(VADER_PACKAGE).joinpath(WORD_LEXICON).read_text(encoding="utf-8")
    return parse_lexicon_lines(text.splitlines())


@cache
def read_word_lexicon() -> dict[str, float]:
    """VADER's word lexicon with duplicates resolved (~7,500 keys, valence in [-4, 4])."""
    return resolve_duplicates(read_lexicon_entries())


@cache
def read_emoji_descriptions() -> dict[str, str]:
    """VADER's emoji lexicon: emoji (one or more code points) → its CLDR-style description."""
    text = files(VADER_PACKAGE).joinpath(EMOJI_LEXICON).read_text(encoding="utf-8")
    pairs = (line.split("\t") for line in text.splitlines() if "\t" in line)
    return {parts[0]: parts[1] for parts in pairs}
