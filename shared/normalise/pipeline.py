"""The two readings of a tweet: `normalise_text` for the vectoriser, `prepare_for_vader` for VADER.

Steps of `normalise_text`, in this order, because each one needs what the one before it leaves:

1. repair     HTML entities and mojibake, in turns until stable (`repair.repair_text`); then, for
              text that is not ASCII, curly apostrophes made straight, invisible characters
              dropped and runs capped ("😭😭😭" → "😭😭").
2. urls, mentions, hashtags  on the raw case and punctuation ("#NeverAgain" → "never again").
3. emoticons  emoticons and emoji → `<emo_pos>` / `<emo_neg>` / `<emoji>`, on the raw case.
4. accents    the ASCII fold (NFKD, accents dropped, then anything not ASCII), lowercase, and
              then repeats, last because the two before can make new runs ("NOoo", "áaa").
5. contractions and slang (English only), looked up per token; apostrophes are dropped last.
6. spelling and lemmatise (English only): off by default, slow, not shown to help.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from shared.fixed_point import apply_until_stable
from shared.normalise.entities import replace_entities, replace_mentions, replace_urls
from shared.normalise.options import (
    DEFAULT_OPTIONS,
    MAX_INPUT_CHARS,
    MAX_OUTPUT_CHARS,
    NormaliserOptions,
    is_english,
    options_for,
)
from shared.normalise.repair import CONTROL_RE, UNICODE_TABLE, cap_repeats, is_blank, repair_text
from shared.normalise.symbols import mark_for_vader, replace_emoticons
from shared.normalise.words import expand_slashed, fold_accents, map_words, refine_words


def normalise_text(
    text: str, options: NormaliserOptions = DEFAULT_OPTIONS, language: str | None = "en"
) -> str:
    """A raw tweet → space-separated tokens (see the module docstring for the steps).

    `language`: the text's language code; for anything but English (`options.is_english`) the
    English-only steps are skipped. Never raises for a `str`; output ≤ MAX_OUTPUT_CHARS.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalise_text expects str, got {type(text).__name__}")
    options = options_for(options, is_english(language))
    words = map_words(rewrite_text(text[:MAX_INPUT_CHARS], options), options)
    if options.spelling or options.lemmatise:
        words = refine_words(words, options)
    return bound_output(" ".join(filter(None, words)))


def rewrite_text(text: str, options: NormaliserOptions) -> str:
    """Steps 1-4: everything that needs the text whole, before it is cut into tokens."""
    text = repair_text(text, entities=options.html, mojibake=options.accents)
    if not text.isascii():
        text = text if options.accents else unicodedata.normalize("NFC", text)
        text = text.translate(UNICODE_TABLE)
        text = cap_repeats(text) if options.repeats else text  # "😭😭😭" before it is 3 tokens
    text = replace_entities(text, options)
    if options.emoticons:
        text = replace_emoticons(text)
    if options.accents and not text.isascii():
        text = fold_accents(text)
    if options.lowercase:  # after the fold, which turns "𝑨" into "A"
        text = text.lower()
    if options.repeats:  # after both, which can make new runs ("NOoo", "áaa")
        text = cap_repeats(text)
    return expand_slashed(text) if options.slang else text


def normalise_texts(
    texts: Iterable[str], options: NormaliserOptions = DEFAULT_OPTIONS, language: str | None = "en"
) -> list[str]:
    return [normalise_text(text, options, language) for text in texts]


def bound_output(text: str) -> str:
    """Cut at a space so that no token (above all `<emo_pos>`) is cut in half."""
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    head = text[: MAX_OUTPUT_CHARS + 1]
    cut = head.rfind(" ")
    return head[:cut] if cut > 0 else head[:MAX_OUTPUT_CHARS]


def prepare_for_vader(text: str) -> str:
    """What VADER reads: like the tweet as written, since VADER scores caps, "!!" and ":(".

    So only what misleads it goes: entities, URLs and mentions (a handle such as @happyflyer
    would score), mojibake, control characters and lone surrogates, and runs past two; and
    emoticons and emoji are spelled so that VADER scores them (`symbols.mark_for_vader`).
    Stable: preparing a prepared text changes nothing. Text that is not ASCII gets a second
    pass, because ftfy judges mojibake by its context, which the first pass changes.
    """
    if not isinstance(text, str):
        raise TypeError(f"prepare_for_vader expects str, got {type(text).__name__}")
    prepared = _prepare_once(text[:MAX_INPUT_CHARS])
    return apply_until_stable(_prepare_once, prepared, 2, done=str.isascii)


def _prepare_once(text: str) -> str:
    # Controls go before the repair (they would split a mojibake sequence) and after it ("&#31;").
    cleaned = CONTROL_RE.sub(" ", text)
    text = repair_text(cleaned)
    if text != cleaned:
        text = CONTROL_RE.sub(" ", text)
    if not text.isascii():
        text = text.translate(UNICODE_TABLE)
    text = replace_mentions(replace_urls(text, " "), " ")
    text = mark_for_vader(cap_repeats(text))  # after mentions: "@bob:/" is no emoticon
    text = " ".join(replace_mentions(text, " ").split())  # "<3@bob" → ":) @bob" → ":)"
    return "" if not text.isascii() and is_blank(text) else bound_output(text)
