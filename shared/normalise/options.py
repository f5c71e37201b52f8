"""What the normaliser may do: its options, limits, special tokens and the language rule.

The options are stored in each bundle's manifest, so a field added here needs a default that
reproduces the older behaviour, or old manifests stop loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import cache

from shared.language import ENGLISH_LIKE, UNDETERMINED

# 2.0.0: layered mojibake and entities repaired until stable (ftfy), every emoji recognised and
# given a polarity (shared/lexicons/emoji_polarity.py), English-only steps skipped for other
# languages, emoticons and emoji spelled out for VADER.
NORMALISER_VERSION = "2.0.0"
MAX_INPUT_CHARS = 2000  # ~4× the longest real tweet: the rest is noise or an attack
MAX_OUTPUT_CHARS = 2000
SPECIAL_TOKENS = ("<url>", "<mention>", "<emo_pos>", "<emo_neg>", "<emoji>")
ENTITY_TOKENS = ("<url>", "<mention>")  # say who and where, never how the writer feels
SENTIMENT_TOKENS = ("<emo_pos>", "<emo_neg>")
# Language codes whose text goes through the English-only steps: English, English-like codes
# (shared.language.ENGLISH_LIKE, e.g. Nigerian Pidgin), and "und" (no language recognised: there
# are no foreign words to spoil). None means "not said", which is the training data: English.
ENGLISH_STEP_LANGUAGES = frozenset(ENGLISH_LIKE | {UNDETERMINED})


@dataclass(frozen=True)
class NormaliserOptions:
    """Which steps run; every combination works. Stored in each bundle's manifest."""

    html: bool = True  # entities unescaped until nothing changes (at most MAX_REPAIR_ROUNDS)
    urls: bool = True
    mentions: bool = True
    hashtags: bool = True  # "#NeverAgain" → "never again"; off: "neveragain"
    repeats: bool = True  # a non-digit repeated 3+ times → 2 ("1000" is left alone)
    emoticons: bool = True  # emoticons and emoji → <emo_pos>, <emo_neg>, <emoji>
    slang: bool = True  # English only
    contractions: bool = True  # English only
    lowercase: bool = True
    accents: bool = True  # also repairs mojibake (ftfy) and drops anything not ASCII
    spelling: bool = False  # English only; needs symspellpy
    lemmatise: bool = False  # English only; needs simplemma

    def to_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in STEPS}

    @classmethod
    def from_dict(cls, data: Mapping[str, bool]) -> NormaliserOptions:
        """Missing steps take their default; unknown ones are an error (a newer normaliser?)."""
        unknown = sorted(set(data) - set(STEPS))
        if unknown:
            raise ValueError(f"unknown normaliser steps {unknown}; known: {list(STEPS)}")
        not_bool = sorted(name for name, value in data.items() if not isinstance(value, bool))
        if not_bool:
            raise ValueError(f"normaliser steps must be true or false: {not_bool}")
        return cls(**data)

    def without(self, step: str) -> NormaliserOptions:
        """A copy with one step switched off, for the ablation study."""
        if step not in STEPS:
            raise ValueError(f"unknown normaliser step {step!r}; known: {list(STEPS)}")
        return replace(self, **{step: False})


STEPS: tuple[str, ...] = tuple(field.name for field in fields(NormaliserOptions))
DEFAULT_OPTIONS = NormaliserOptions()
ENGLISH_ONLY_STEPS = ("slang", "contractions", "spelling", "lemmatise")


def is_english(language: str | None) -> bool:
    """Whether the English-only steps may run on text in `language` (a BCP 47 code or None).

    "en", "en-GB", "EN", "pcm", "und" and None are English enough; "es", "ar", "fr-CA" are not.
    """
    if language is None:
        return True
    return language.split("-")[0].strip().lower() in ENGLISH_STEP_LANGUAGES


@cache
def options_for(options: NormaliserOptions, english: bool) -> NormaliserOptions:
    """The options with the English-only steps switched off for text in another language."""
    if english:
        return options
    return replace(options, **dict.fromkeys(ENGLISH_ONLY_STEPS, False))
