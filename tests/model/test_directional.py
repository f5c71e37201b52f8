"""Directional expectations of the shipped model, through POST /api/predict (issue 9 §3).

Adding a complaint makes a tweet more negative; adding praise makes it less so. A negative
emoji or emoticon appended to a complaint never makes it read less negative (the issue's
"complaint + 🤬" case, for the whole table), and a positive one appended to praise never makes
it read more negative.
"""

from __future__ import annotations

import pytest

from tests.model.served import ServedModel, describe
from tests.model.tables import COMPLAINTS, NEGATIVE_SYMBOLS, POSITIVE_SYMBOLS, PRAISE, symbol_id

pytestmark = pytest.mark.model

# float32 inference: a change smaller than this is rounding, not a direction.
ROUNDING = 1e-6

MORE_NEGATIVE = [
    pytest.param("the flight was ok", "the flight was ok but they lost my bag", id="lost-bag"),
    pytest.param(
        "waiting at the airport",
        "waiting at the airport, delayed again, awful",
        id="delayed-again-awful",
    ),
    pytest.param(
        "landed in boston",
        "landed in boston and my luggage is missing",
        id="luggage-missing",
    ),
    pytest.param(
        "checked in for my flight",
        "checked in for my flight, the staff were rude",
        id="staff-rude",
    ),
    pytest.param(
        "the crew was friendly",
        "the crew was friendly but then the flight was cancelled",
        id="but-cancelled",
    ),
    pytest.param(
        "on my way to denver",
        "on my way to denver, stuck on the tarmac for two hours",
        id="stuck-on-tarmac",
    ),
    pytest.param("the food was good", "the food was not good", id="negated-good"),
    pytest.param("back home now :)", "back home now :(", id="smile-to-frown"),
]
LESS_NEGATIVE = [
    pytest.param(
        "flying to chicago today",
        "flying to chicago today, the crew was wonderful",
        id="crew-wonderful",
    ),
    pytest.param("my bag arrived", "my bag arrived, thank you so much", id="thank-you"),
]


@pytest.mark.parametrize(("base", "changed"), MORE_NEGATIVE)
def test_complaint_phrase_raises_p_negative(served: ServedModel, base: str, changed: str) -> None:
    before, after = served.predict_many([base, changed])
    assert after["negative_probability"] > before["negative_probability"], (
        f"{describe(before)}\n{describe(after)}"
    )


@pytest.mark.parametrize(("base", "changed"), LESS_NEGATIVE)
def test_praise_phrase_lowers_p_negative(served: ServedModel, base: str, changed: str) -> None:
    before, after = served.predict_many([base, changed])
    assert after["negative_probability"] < before["negative_probability"], (
        f"{describe(before)}\n{describe(after)}"
    )


def score_with_symbol(
    served: ServedModel, bases: list[str], symbol: str
) -> list[tuple[dict, dict]]:
    """(result of the base, result of the base + " " + symbol) for each base, in one request."""
    results = served.predict_many(bases + [f"{base} {symbol}" for base in bases])
    return list(zip(results[: len(bases)], results[len(bases) :], strict=True))


def moved(pairs: list[tuple[dict, dict]], up: bool) -> list[str]:
    """One line per (before, after) pair whose P(negative) rose (`up`) or fell by more than
    ROUNDING: the pairs that break a directional expectation."""
    lines = []
    for before, after in pairs:
        p_before, p_after = before["negative_probability"], after["negative_probability"]
        if (p_after > p_before + ROUNDING) if up else (p_after < p_before - ROUNDING):
            lines.append(f"{p_before:.4f} -> {describe(after)}")
    return lines


@pytest.mark.parametrize("symbol", NEGATIVE_SYMBOLS, ids=symbol_id)
def test_negative_symbol_does_not_lower_p_negative_of_a_complaint(
    served: ServedModel, symbol: str
) -> None:
    fallen = moved(score_with_symbol(served, COMPLAINTS, symbol), up=False)
    assert not fallen, "\n".join(fallen)


@pytest.mark.parametrize("symbol", POSITIVE_SYMBOLS, ids=symbol_id)
def test_positive_symbol_does_not_raise_p_negative_of_praise(
    served: ServedModel, symbol: str
) -> None:
    risen = moved(score_with_symbol(served, PRAISE, symbol), up=True)
    assert not risen, "\n".join(risen)
