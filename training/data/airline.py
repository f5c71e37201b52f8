"""The airline slice: which tweets talk about flying, for the report and the optional weight."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from training.data.common import AIRLINE_TERMS


def trie_pattern(words: Iterable[str]) -> str:
    """A regex alternation factored by common prefixes ("del(?:ay|ta)"): Python's `re` tries the
    alternatives of a flat list one by one, which made the airline scan ~7x slower."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_branch(trie)


def _trie_branch(node: dict[str, Any]) -> str:
    optional = "" in node
    pieces = [
        (r"\s+" if char == " " else re.escape(char)) + _trie_branch(child)
        for char, child in sorted(node.items())
        if char
    ]
    if not pieces:
        return ""
    body = pieces[0] if len(pieces) == 1 else f"(?:{'|'.join(pieces)})"
    return f"(?:{body})?" if optional else body


@cache
def airline_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """One regex over lowercased text; multi-word terms match any run of whitespace."""
    words = {" ".join(term.lower().split()) for term in terms if term.strip()}
    return re.compile(rf"(?<!\w){trie_pattern(words)}(?!\w)")


def is_airline(texts: Sequence[str], terms: Sequence[str] = AIRLINE_TERMS) -> np.ndarray:
    """Whole-word, case-insensitive match of any term ("#delta" and "@united" count)."""
    if not any(term.strip() for term in terms):
        return np.zeros(len(texts), dtype=bool)
    search = airline_pattern(tuple(terms)).search
    matches = (search(text.lower()) is not None for text in texts)
    return np.fromiter(matches, dtype=bool, count=len(texts))


def count_airline(df: pd.DataFrame, terms: Sequence[str] = AIRLINE_TERMS) -> int:
    return int(is_airline(df["text"].tolist(), terms).sum())
