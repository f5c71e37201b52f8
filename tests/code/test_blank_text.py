"""A text that shows nothing is refused like an empty one: the API's "empty" is the model's."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.api.app import create_app
from shared.model_loader import ModelHolder
from shared.normalise import is_blank, normalise_text, prepare_for_vader
from shared.settings import Settings

pytestmark = pytest.mark.code

BLANK = [
    "\u200b",  # zero-width space
    " \u200b\u200c\u200d\ufeff ",
    "\u2060\u2061\u180e",
    "\u202e\u202d",  # bidi overrides
    "\x00\x07\x1b",
    "\ufe0f\ufe0f",  # variation selectors alone
    "\u3164\u115f\uffa0",  # Hangul fillers
    "\u2800",  # braille blank
    "\U000e0041\U000e007f",  # tag characters
    "\u00ad\u034f",
]
NOT_BLANK = ["a", ".", "😀", "\u200ba", "\ufffd", "ا", "\u0301"]


@pytest.mark.parametrize("text", BLANK)
def test_blank_texts(text: str) -> None:
    assert is_blank(text)
    assert normalise_text(text) == ""
    assert prepare_for_vader(text) == ""


@pytest.mark.parametrize("text", NOT_BLANK)
def test_visible_texts(text: str) -> None:
    assert not is_blank(text)


def test_every_control_format_and_space_character_is_blank() -> None:
    blank_categories = {"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"}
    missed = [
        hex(code)
        for code in range(0x110000)
        if unicodedata.category(chr(code)) in blank_categories and not is_blank(chr(code))
    ]
    assert missed == []


@pytest.fixture(scope="module")
def client(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("blank")
    settings = Settings(
        MODEL_STORE_PATH=tmp / "no-store",
        MODEL_CACHE_DIR=tmp / "cache",
        DEFAULT_BUNDLE_PATH=tiny_bundle,
        TRANSLATION_ENABLED=False,
        AUTH_MODE="none",
        FEEDBACK_DB_PATH=tmp / "feedback.sqlite3",
    )
    with TestClient(create_app(settings, holder=ModelHolder(settings))) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "\u200b"}, "text"),
        ({"text": " \u200b\u2060 "}, "text"),
        ({"texts": ["fine", "\ufeff\u200d"]}, "texts[1]"),
        ({"text": ""}, "text"),  # the rule it copies
    ],
)
def test_api_refuses_blank_text_like_empty_text(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/api/predict", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"], error["rule"]) == (
        "invalid_request",
        field,
        "at least 1 character after trimming",
    )


def test_api_accepts_text_with_a_visible_character(client: TestClient) -> None:
    response = client.post("/api/predict", json={"text": "\u200bok"})
    assert response.status_code == 200, response.text
