"""The tweet normaliser that training and serving share, so both see the same words.

`normalise_text` turns a raw tweet into lowercase ASCII tokens separated by single spaces, plus
the special tokens `<url>`, `<mention>`, `<emo_pos>`, `<emo_neg>` and `<emoji>`;
`prepare_for_vader` is the lighter reading VADER scores. One module per concern:

- `options`   NormaliserOptions (stored in each bundle's manifest), limits, the language rule
- `repair`    HTML entities and layered mojibake (ftfy), invisible characters, `is_blank`
- `entities`  URLs, mentions, hashtags
- `symbols`   emoticons and emoji → sentiment tokens, with each emoji's polarity
- `words`     the ASCII fold, tokens, and the English-only steps (contractions, slang, ...)
- `pipeline`  the two readings, in order (its docstring lists the steps)

Punctuation, "!" and "?" included, is dropped: the vectoriser's token pattern ignores it anyway,
and VADER, which does use it, reads `prepare_for_vader` instead. With the default options the
output is idempotent: normalising it again changes nothing. Never raises for a `str`; output is
at most `MAX_OUTPUT_CHARS`. Stateless apart from read-only caches, so it is thread-safe.
"""

from shared.normalise.options import (
    DEFAULT_OPTIONS,
    ENGLISH_ONLY_STEPS,
    ENTITY_TOKENS,
    MAX_INPUT_CHARS,
    MAX_OUTPUT_CHARS,
    NORMALISER_VERSION,
    SENTIMENT_TOKENS,
    SPECIAL_TOKENS,
    STEPS,
    NormaliserOptions,
    is_english,
)
from shared.normalise.pipeline import (
    bound_output,
    normalise_text,
    normalise_texts,
    prepare_for_vader,
    rewrite_text,
)
from shared.normalise.repair import MAX_REPAIR_ROUNDS, cap_repeats, is_blank, repair_text
from shared.normalise.symbols import emoji_sign, mark_for_vader, replace_emoticons
from shared.normalise.words import fold_accents

__all__ = [
    "DEFAULT_OPTIONS",
    "ENGLISH_ONLY_STEPS",
    "ENTITY_TOKENS",
    "MAX_INPUT_CHARS",
    "MAX_OUTPUT_CHARS",
    "MAX_REPAIR_ROUNDS",
    "NORMALISER_VERSION",
    "SENTIMENT_TOKENS",
    "SPECIAL_TOKENS",
    "STEPS",
    "NormaliserOptions",
    "bound_output",
    "cap_repeats",
    "emoji_sign",
    "fold_accents",
    "is_blank",
    "is_english",
    "mark_for_vader",
    "normalise_text",
    "normalise_texts",
    "prepare_for_vader",
    "repair_text",
    "replace_emoticons",
    "rewrite_text",
]
