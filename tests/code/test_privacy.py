"""Personal data masked out of tweets before the model reads them (shared/privacy.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.normalise import normalise_text
from shared.privacy import (
    BOOKING,
    CARD,
    EMAIL,
    MENTION,
    NAME,
    NUMBER,
    PHONE,
    URL,
    luhn_valid,
    mask_personal_data,
)

pytestmark = pytest.mark.code

FULL = (
    "Hi, my name is John Smith, call me on +1 (212) 555-0100 or mail john.smith+air@gmail.com. "
    "Card 4111 1111 1111 1111, booking ref x7k2pq, PNR ABC12D, account 99887766554. "
    "@united https://t.co/xyz"
)
PIECES = (
    "John",
    "Smith",
    "555-0100",
    "212",
    "john.smith",
    "gmail",
    "4111",
    "x7k2pq",
    "ABC12D",
    "99887766554",
    "united",
    "t.co",
)


def test_every_piece_of_personal_data_is_masked() -> None:
    masked = mask_personal_data(FULL)
    for piece in PIECES:
        assert piece not in masked, piece
    for placeholder in (NAME, PHONE, EMAIL, CARD, BOOKING, NUMBER, MENTION, URL):
        assert placeholder in masked, placeholder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 1-800-864-8331 now", f"call {PHONE} now"),
        ("ring +44 20 7946 0958", f"ring {PHONE}"),
        ("or 020 7946 0958 please", f"or {PHONE} please"),
        ("pay with 5555-5555-5555-4444 ok", f"pay with {CARD} ok"),
        ("mail me: a.b@example.co.uk", f"mail me: {EMAIL}"),
        ("confirmation code is ab12cd", f"confirmation code is {BOOKING}"),
        ("my name's Ana", f"my name's {NAME}"),
        ("this is Sarah Connor from Boston", f"this is {NAME} from Boston"),
        ("@Delta_Assist hello", f"{MENTION} hello"),
        ("thanks @@JohnDoe", f"thanks {MENTION}"),  # Twitter reads these as mentions too
        ("and ＠JohnDoe", f"and {MENTION}"),  # the full-width at sign
        ("john.doe@例え.jp wrote", f"{EMAIL} wrote"),  # a domain that is not ASCII
        ("josé@correo.es", f"{EMAIL}"),
        ("see www.example.com/x?y=1", f"see {URL}"),
        ("card 4111 1111 1111 1112", f"card {NUMBER}"),  # fails Luhn: a number, kept whole
    ],
)
def test_each_kind_is_masked(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "my flight is delayed again, worst airline ever",
        "flight 1234 delayed 2 hours at 10:30 on 12/25/2009, $1,200 refund",
        "I'm Sorry but this is Ridiculous",  # sentiment words are never taken for names
        "I'm So happy",  # a common word after a trigger is not a name
        "thanks Sarah!",  # documented limit: names without an introduction are kept
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text


def test_placeholders_normalise_to_the_tokens_the_originals_did() -> None:
    assert normalise_text(mask_personal_data("@united see http://t.co/x")) == normalise_text(
        "@united see http://t.co/x"
    )
    assert normalise_text(MENTION) == "<mention>"
    assert normalise_text(URL) == "<url>"
    for placeholder in (EMAIL, PHONE, CARD, NUMBER, BOOKING, NAME):
        assert normalise_text(placeholder) == placeholder.strip("<>")


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


PIECES_STRATEGY = st.lists(
    st.sampled_from(
        [
            " ",
            "@",
            ".",
            "-",
            "+",
            "(",
            ")",
            ":",
            "1",
            "5",
            "0",
            "A",
            "b",
            "Z",
            "x",
            "@user",
            "http://",
            "www.",
            ".com",
            "4111 1111 1111 1111",
            "555-0100",
            "+44 ",
            "my name is ",
            "I'm ",
            " John",
            " Smith",
            "ref ",
            "ABC12D",
            PHONE,
            CARD,
            EMAIL,
            BOOKING,
            NAME,
            URL,
            "é",
            "😡",
            "\n",
        ]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(PIECES_STRATEGY, st.text(max_size=200)))
def test_masking_is_idempotent(text: str) -> None:
    once = mask_personal_data(text)
    assert mask_personal_data(once) == once
