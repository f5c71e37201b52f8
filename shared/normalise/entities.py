"""URLs, @mentions and #hashtags: found on the raw case and punctuation, before anything else
changes the text.

URLs and mentions become `<url>` and `<mention>` (for the model) or go (for VADER: a handle such
as @happyflyer would score); hashtags keep their words ("#NeverAgain" → "never again").
"""

from __future__ import annotations

import re

from shared.normalise.options import NormaliserOptions

_URL_RE = re.compile(
    r"(?:https?://|www\.)\S*"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|edu|gov)\b(?:/\S*)?"
    r"|\b(?:[a-z0-9-]+\.)+(?:ly|co|me|io|gl|be|fm|tv|us|uk|it|to|cc|gd|im|in|de|fr)/\S*",
    re.IGNORECASE,
)
# Most tweets have no URL: a plain substring test and a regex with a literal first character
# rule them out 10× faster than the case-blind URL regex itself.
_URL_HINT_RE = re.compile(
    r"\.(?:com|net|org|edu|gov)\b|\.(?:ly|co|me|io|gl|be|fm|tv|us|uk|it|to|cc|gd|im|in|de|fr)/"
)
_MENTION_RE = re.compile(r"(?<![\w@])@\w+(?:@\w+)*")  # "@a@b" is one (mistyped) mention
_HASHTAG_RE = re.compile(r"(?<![\w&])#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|_+")


def replace_entities(text: str, options: NormaliserOptions) -> str:
    """URLs → " <url> ", mentions → " <mention> ", hashtags → their words, as `options` say."""
    if options.urls:
        text = replace_urls(text, " <url> ")
    if options.mentions:
        text = replace_mentions(text, " <mention> ")
    if options.hashtags and "#" in text:
        text = _HASHTAG_RE.sub(_split_hashtag, text)
    return text


def replace_urls(text: str, token: str) -> str:
    lowered = text.lower()
    if "http" in lowered or "www." in lowered or _URL_HINT_RE.search(lowered):
        return _URL_RE.sub(token, text)
    return text


def replace_mentions(text: str, token: str) -> str:
    return _MENTION_RE.sub(token, text) if "@" in text else text


def _split_hashtag(match: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", match.group(1)) + " "
