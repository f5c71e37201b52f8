"""docs/api.md shows real answers of the shipped model: a new bundle must refresh them.

Regenerate with `python -m tests.utils.api_examples --write` after `models/default` changes.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.utils.api_examples import VARYING, make_examples, read_documented, shorten

pytestmark = pytest.mark.code

EXPECTED = {
    "predict-text-request",
    "predict-text-answer",
    "predict-texts-request",
    "predict-texts-answer",
    "feedback-request",
    "feedback-answer",
    "error-answer",
    "health-answer",
    "buzz-answer",
}


@pytest.fixture(scope="module")
def live() -> dict[str, Any]:
    return shorten(make_examples())


def differences(documented: Any, live: Any, path: str = "") -> list[str]:
    """Where the two JSON values differ, ignoring ids, tokens and times that vary per call."""
    if isinstance(documented, dict) and isinstance(live, dict):
        found = (
            [f"{path}: keys {sorted(set(documented) ^ set(live))}"]
            if set(documented) != set(live)
            else []
        )
        for key in set(documented) & set(live):
            if key not in VARYING:
                found += differences(documented[key], live[key], f"{path}.{key}")
        return found
    if isinstance(documented, list) and isinstance(live, list):
        if len(documented) != len(live):
            return [f"{path}: {len(documented)} items documented, {len(live)} answered"]
        return [
            d
            for i, pair in enumerate(zip(documented, live, strict=True))
            for d in differences(*pair, f"{path}[{i}]")
        ]
    if isinstance(documented, float) and isinstance(live, float):
        return (
            []
            if math.isclose(documented, live, abs_tol=1e-6)
            else [f"{path}: {documented} != {live}"]
        )
    return [] if documented == live else [f"{path}: {documented!r} != {live!r}"]


def test_every_example_is_on_the_page() -> None:
    assert set(read_documented()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_page_shows_what_the_model_answers(live: dict[str, Any], name: str) -> None:
    found = differences(read_documented()[name], live[name])
    assert not found, (
        f"docs/api.md example {name!r} is stale ({found[:5]}): "
        "python -m tests.utils.api_examples --write"
    )


def test_the_comparison_sees_a_changed_probability(live: dict[str, Any]) -> None:
    changed = {**live["predict-text-answer"], "negative_probability": 0.5}
    assert differences(changed, live["predict-text-answer"])
