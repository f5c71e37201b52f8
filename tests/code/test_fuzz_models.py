"""Property tests on the request models: any JSON value is a valid model or a ValidationError.

FastAPI parses the body with `json.loads` and validates the result in Python mode, so that path is
the one fuzzed hardest; `model_validate_json` (pydantic's own parser) is checked too. Texts that
obey the rules must come back as sent, trimmed of Unicode whitespace (pydantic-core trims the
Unicode White_Space set, which differs from `str.strip` on U+001C..U+001F), with lone surrogates
replaced by U+FFFD; texts that show nothing (only zero-width, format or control characters) are
refused like empty ones.
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.api.feedback import FeedbackRequest
from shared.api.schemas import MAX_BATCH_ITEMS, MAX_TEXT_CHARS, PredictRequest
from shared.normalise import is_blank

pytestmark = pytest.mark.code

# Unicode White_Space: what pydantic-core's strip_whitespace removes.
UNICODE_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
REQUEST_FIELDS = [
    "text",
    "texts",
    "prediction_id",
    "predicted_label",
    "correct_label",
    "model_version",
    "language",
]
PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_char = (
    st.characters(exclude_categories=())
    | lone_surrogates
    | st.sampled_from(UNICODE_WHITESPACE + "\x1c\x1f\u200b\ufeff\x00\u200d\u2060\u202e\ufe0f\u2800")
)
any_text = st.text(any_char, max_size=MAX_TEXT_CHARS + 20)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | any_text
    | st.uuids().map(str)
    | st.sampled_from(["negative", "positive", "en", ""])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(REQUEST_FIELDS) | st.text(max_size=8), children, max_size=6
        )
    ),
    max_leaves=20,
)
# Objects with the right keys and any values: the shapes most likely to get past the first checks.
near_valid = st.dictionaries(st.sampled_from(REQUEST_FIELDS), json_values, max_size=6)
candidates = json_values | near_valid


def unicode_strip(text: str) -> str:
    return text.strip(UNICODE_WHITESPACE)


def without_surrogates(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def is_valid_text(text: str) -> bool:
    """1-500 characters after trimming, and something visible among them (not only U+200B...)."""
    trimmed = without_surrogates(unicode_strip(text))
    return 1 <= len(trimmed) <= MAX_TEXT_CHARS and not is_blank(trimmed)


def as_received(text: str) -> str:
    """What the server reads after JSON: an escaped surrogate *pair* is one astral character."""
    return json.loads(json.dumps(text))


# Texts as the app receives them (after json.loads) that obey the rules.
valid_texts = any_text.map(as_received).filter(is_valid_text)


def validate_or_refuse(model: type[BaseModel], value: object) -> BaseModel | None:
    """The model, or None for a ValidationError; any other exception fails the test."""
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def validate_json_or_refuse(model: type[BaseModel], raw: str) -> BaseModel | None:
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        return None


@pytest.mark.parametrize("model", [PredictRequest, FeedbackRequest])
@PROPERTIES
@given(value=candidates)
def test_any_json_value_is_a_model_or_a_validation_error(
    model: type[BaseModel], value: object
) -> None:
    validate_or_refuse(model, value)
    raw = json.dumps(value)  # ensure_ascii: surrogates travel as escapes, as from a client
    via_app = validate_or_refuse(model, json.loads(raw))
    validate_json_or_refuse(model, raw)
    if via_app is not None:  # a valid model always serialises and reads back the same
        assert model.model_validate_json(via_app.model_dump_json()) == via_app


@PROPERTIES
@given(text=valid_texts)
def test_a_valid_text_round_trips_trimmed(text: str) -> None:
    request = PredictRequest.model_validate(json.loads(json.dumps({"text": text})))
    assert request.text == without_surrogates(unicode_strip(text))
    assert request.texts is None
    assert request.all_texts() == [request.text]
    assert PredictRequest.model_validate_json(request.model_dump_json()) == request


@settings(PROPERTIES, max_examples=60)
@given(texts=st.lists(valid_texts, min_size=1, max_size=MAX_BATCH_ITEMS))
def test_a_valid_batch_round_trips_in_order(texts: list[str]) -> None:
    request = PredictRequest.model_validate({"texts": texts})
    assert request.all_texts() == [without_surrogates(unicode_strip(t)) for t in texts]
    assert PredictRequest.model_validate_json(request.model_dump_json()) == request


@PROPERTIES
@given(text=any_text)
def test_a_text_is_accepted_exactly_when_the_rules_say(text: str) -> None:
    accepted = validate_or_refuse(PredictRequest, {"text": text}) is not None
    assert accepted == is_valid_text(text)


@PROPERTIES
@given(
    texts=st.lists(st.just("fine"), max_size=MAX_BATCH_ITEMS + 5),
    text=st.none() | st.just("fine"),
)
def test_exactly_one_of_text_and_texts_within_the_batch_limit(
    texts: list[str], text: str | None
) -> None:
    body: dict[str, object] = {"texts": texts}
    if text is not None:
        body["text"] = text
    accepted = validate_or_refuse(PredictRequest, body) is not None
    assert accepted == (text is None and 1 <= len(texts) <= MAX_BATCH_ITEMS)


@PROPERTIES
@given(
    value=st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)
)
def test_non_strings_are_never_coerced_into_text(value: object) -> None:
    assert validate_or_refuse(PredictRequest, {"text": value}) is None
    assert validate_or_refuse(PredictRequest, {"texts": [value]}) is None


@PROPERTIES
@given(
    prediction_id=st.uuids(),
    text=valid_texts,
    predicted=st.sampled_from(["negative", "positive"]),
    version=st.none() | st.text(max_size=64),
    language=st.none() | st.text(max_size=3),
)
def test_a_valid_flag_round_trips_with_the_other_label(
    prediction_id: uuid.UUID, text: str, predicted: str, version: str | None, language: str | None
) -> None:
    body = {
        "prediction_id": str(prediction_id),
        "text": text,
        "predicted_label": predicted,
        "feedback_token": "(a token)",  # checked by the route, not the schema
    }
    body.update(
        {k: v for k, v in {"model_version": version, "language": language}.items() if v is not None}
    )
    flag = FeedbackRequest.model_validate(json.loads(json.dumps(body)))
    assert flag.prediction_id == prediction_id
    assert flag.text == without_surrogates(unicode_strip(text))
    assert {flag.predicted_label, flag.correct_label} == {"negative", "positive"}
    assert FeedbackRequest.model_validate_json(flag.model_dump_json()) == flag
    body["correct_label"] = predicted  # "wrong, it was what you said" is not a correction
    assert validate_or_refuse(FeedbackRequest, body) is None
