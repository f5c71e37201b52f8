"""Personal data out of a tweet before anything reads or keeps it: `mask_personal_data`.

Serving masks every text BEFORE the model scores it, so the model, the feedback event, App
Insights and the retrained model all see the same masked text (docs/api.md, "Personal data").

What is masked, and by what (each placeholder survives `shared.normalise.normalise_text` as one
sensible token: `@user` → `<mention>`, `http://url` → `<url>`, the others → their word):

- e-mail address, whole (`local@domain.tld`) → `<emailaddress>`
- URL (the normaliser's own URL pattern) → `http://url`
- user name (`@handle`, also `＠handle` and `@@handle`, which Twitter reads as mentions) → `@user`
- payment card: 13–19 digits, spaces/dashes allowed, passing the Luhn check → `<cardnumber>`
- phone number: `phonenumbers.PhoneNumberMatcher`, regions US and GB, leniency POSSIBLE (so `+`
  numbers of any country too), 7+ digits → `<phonenumber>`
- other long numbers: 16+ digits (no phone is that long), and 8+ digits left after phones
  (account, order, ticket numbers) → `<idnumber>`
- booking reference: 6 letters/digits with at least one of each, anywhere when upper case (this
  also masks flight numbers such as UA1234, harmless for sentiment), or any case within 30
  characters after booking/reservation/confirmation/conf/ref/reference/pnr/locator/code
  → `<bookingref>`
- person name: 1–2 capitalised words right after "my name is", "name's", "name is", "name:",
  "I am", "I'm", "this is", "call me", "ask for", "signed", "regards", "sincerely", unless the
  word is a VADER sentiment word or a common word → `<personname>`

The placeholder words are unknown to the shipped model's vocabulary and to VADER, so masking
moves its score as little as possible. Limits: names anywhere else ("thanks Sarah!"), lower-case
names, street addresses and bare all-letter booking codes are kept; a capitalised ordinary word
after a trigger ("I'm Flying") is masked.

`mask_personal_data` is idempotent (masking masked text changes nothing: it repeats until the
text stops changing) and costs a few µs for a tweet with no digit, `@`, URL nor name trigger
(bench/bench_privacy.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from shared.fixed_point import apply_until_stable

EMAIL = "<emailaddress>"
URL = "http://url"
MENTION = "@user"
CARD = "<cardnumber>"
PHONE = "<phonenumber>"
NUMBER = "<idnumber>"
BOOKING = "<bookingref>"
NAME = "<personname>"
PLACEHOLDERS = (EMAIL, URL, MENTION, CARD, PHONE, NUMBER, BOOKING, NAME)

PHONE_REGIONS = ("US", "GB")
MAX_PASSES = 4
MIN_PHONE_DIGITS = 7
# Case by character classes, not (?i): the regex then scans ~3× faster, and "I'm" needs no flag.
NAME_TRIGGERS = (
    r"[Mm]y name is|[Mm]y name['’]s|[Nn]ame['’]s|[Nn]ame is|[Nn]ame:|[Ii] am|[Ii]['’]?m"
    r"|[Tt]his is|[Cc]all me|[Aa]sk for|[Ss]igned|[Rr]egards|[Ss]incerely"
)
# Capitalised words after a trigger that are not names (the VADER lexicon is excluded too).
COMMON_WORDS = frozenset(
    " ".join(
        [
            "a an the and or but so not no yes just still also really very too quite here",
            "there now then today tonight tomorrow yesterday always never sure glad going",
            "gonna trying flying waiting stuck sitting back home on in at with from for to",
            "of by about after before again all any every some what why how when where who",
            "it its this that these those my your our their his her he she we they you me",
            "us them i im one two ok okay well good bad new old first last",
        ]
    ).split()
)

# Unicode-aware: "josé@correo.es", "john@例え.jp" and the full-width "＠" are addresses too.
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+[@＠](?:[^\W_]|-)+(?:\.(?:[^\W_]|-)+)+")
# Twitter reads "＠name" and "@@name" as mentions: mask every run of at signs with its handle.
_MENTION_RE = re.compile(r"(?<!\w)[@＠]+\w+")
_DIGIT_RE = re.compile(r"\d")
_CARD_RE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
_VERY_LONG_NUMBER_RE = re.compile(r"(?<![\d])\d(?:[ -]?\d){15,}(?![\d])")
_LONG_NUMBER_RE = re.compile(r"(?<![\d])\d(?:[ .-]?\d){7,}(?![\d])")
_BOOKING_UPPER_RE = re.compile(r"\b(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]{6}\b")
_BOOKING_NEAR_RE = re.compile(
    r"(?i)\b(?:booking|reservation|confirmation|conf|ref|reference|pnr|locator|code)\b"
    r"(?P<gap>[^\n]{0,30}?)\b(?P<code>(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]{6})\b"
)
_NAME_RE = re.compile(
    rf"\b(?:{NAME_TRIGGERS})[,:]?\s+"
    r"(?P<first>[A-Z][a-z]+(?:['-][A-Za-z]+)?)(?:\s+(?P<second>[A-Z][a-z]+(?:['-][A-Za-z]+)?))?"
)


def mask_personal_data(text: str) -> str:
    """`text` with e-mails, URLs, @handles, cards, phones, long numbers, booking refs and names
    after an introduction replaced by placeholders (module docstring). Idempotent; never raises.
    """
    return apply_until_stable(mask_once, text, MAX_PASSES)


def mask_once(text: str) -> str:
    """One pass of every rule, in an order where no rule eats another's match."""
    if "@" in text or "＠" in text:
        text = _EMAIL_RE.sub(EMAIL, text)  # before URLs: the domain looks like one
    text = mask_urls(text)
    if "@" in text or "＠" in text:
        text = _MENTION_RE.sub(MENTION, text)
    if _DIGIT_RE.search(text):
        text = mask_numbers(text)
    return _NAME_RE.sub(replace_name, text)  # ~1 µs when no trigger is followed by a capital


def mask_urls(text: str) -> str:
    return url_replacer()(text, URL)


@cache
def url_replacer() -> Callable[[str, str], str]:
    """The normaliser's URL replacement (one URL pattern, and its fast path), imported on first
    use: building the app must not load the normaliser."""
    from shared.normalise.entities import replace_urls

    return replace_urls


def mask_numbers(text: str) -> str:
    """Cards first (a card is also a long digit run), bookings, phones, then other long runs."""
    text = _CARD_RE.sub(replace_card, text)
    text = _VERY_LONG_NUMBER_RE.sub(NUMBER, text)  # no phone has 16+ digits: keep it whole
    text = _BOOKING_UPPER_RE.sub(BOOKING, text)
    text = _BOOKING_NEAR_RE.sub(replace_booking, text)
    text = mask_phones(text)
    return _LONG_NUMBER_RE.sub(NUMBER, text)


def luhn_valid(digits: str) -> bool:
    """The check digit of payment cards (ISO/IEC 7812): `digits` holds digits only."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def replace_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()


def mask_phones(text: str) -> str:
    """Every phone number of 7+ digits `phonenumbers` finds (its POSSIBLE leniency alone also
    takes short codes such as "1234")."""
    if sum(char.isdigit() for char in text) < MIN_PHONE_DIGITS:
        return text
    import phonenumbers

    for region in PHONE_REGIONS:
        spans = [
            (match.start, match.end)
            for match in phonenumbers.PhoneNumberMatcher(
                text, region, leniency=phonenumbers.Leniency.POSSIBLE
            )
            if sum(char.isdigit() for char in match.raw_string) >= MIN_PHONE_DIGITS
        ]
        for start, end in reversed(spans):
            text = text[:start] + PHONE + text[end:]
    return text


def replace_booking(match: re.Match[str]) -> str:
    return match.group()[: match.start("code") - match.start()] + BOOKING


@cache
def vader_words() -> frozenset[str]:
    """Words VADER scores: masking one of them would change what the model reads. The feature
    path's own lexicon (cached, lowercase keys): loading a second analyzer cost ~50 ms."""
    from shared.lexicons.vader import read_word_lexicon

    return frozenset(read_word_lexicon())


def is_name_like(word: str | None) -> bool:
    if not word:
        return False
    folded = word.lower()
    return folded not in COMMON_WORDS and folded not in vader_words()


def replace_name(match: re.Match[str]) -> str:
    """Mask the first word, and the second when both look like a name ("John Smith")."""
    whole = match.group()
    first, second = match.group("first"), match.group("second")
    if not is_name_like(first):
        return whole
    head = whole[: match.start("first") - match.start()]
    tail = "" if is_name_like(second) else whole[match.end("first") - match.start() :]
    return head + NAME + tail
