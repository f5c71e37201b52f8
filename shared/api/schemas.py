"""Request and response bodies of the HTTP API: the public contract, documented by OpenAPI.

Families in the style of full-stack-fastapi-template: `*Request` is what a client sends,
`*Public` is what it gets back. Every request model forbids unknown fields, so a typo such as
`{"txt": ...}` is a 422 naming the field instead of a silent default.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.normalise.repair import is_blank

MAX_TEXT_CHARS = 500
MAX_BATCH_ITEMS = 100
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def replace_lone_surrogates(value: object) -> object:
    """JSON may carry "\\ud800": it is data, but pydantic, UTF-8 and onnxruntime all refuse it."""
    return LONE_SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def reject_blank(value: str) -> str:
    """Zero-width, format and control characters show nothing: refused like an empty text."""
    if is_blank(value):
        raise PydanticCustomError(
            "string_too_short",
            "String should have at least {min_length} character",
            {"min_length": 1},
        )
    return value


TweetText = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    AfterValidator(reject_blank),  # the model's idea of empty (shared.normalise.is_blank)
    BeforeValidator(replace_lone_surrogates),  # listed last, runs first
]


class PredictRequest(BaseModel):
    """One tweet in `text`, or up to 100 in `texts`: exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "my flight is delayed again"}]},
    )

    text: TweetText | None = Field(None, description="One tweet, 1–500 characters after trimming.")
    texts: list[TweetText] | None = Field(
        None,
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="1–100 tweets, answered in order.",
    )

    @model_validator(mode="after")
    def check_exactly_one(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError("exactly one of text, texts")
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class PublicModel(BaseModel):
    """Response base: `model_version` is a field name here, not pydantic's namespace."""

    model_config = ConfigDict(protected_namespaces=())


class TermPublic(PublicModel):
    term: str = Field(description="A word or n-gram as the model reads it (lowercase, normalised).")
    weight: float = Field(description="> 0 pushes towards negative, < 0 towards positive.")
    source: str | None = Field(
        None,
        description="The tweet's own words the term came from, when the term is not written as "
        'such in the tweet (an emoji read as `<emo_neg>`, "can\'t" read as "can not").',
    )


class EvidencePublic(PublicModel):
    """What the model had to go on; with none of it, the label is `unknown`."""

    known_terms: int = Field(ge=0, description="N-grams of the tweet in the model's vocabulary.")
    vader_words: int = Field(ge=0, description="Words, emoji and emoticons VADER scores.")
    sentiment_tokens: int = Field(ge=0, description="Emoji and emoticons with a polarity.")

    @classmethod
    def of(cls, evidence: Any) -> EvidencePublic:
        return cls(
            known_terms=len(evidence.known_terms),
            vader_words=len(evidence.vader_words),
            sentiment_tokens=evidence.sentiment_tokens,
        )


class PredictionPublic(PublicModel):
    """The verdict on one tweet, with what the model saw and why."""

    prediction_id: str = Field(description="uuid4; quote it when sending feedback.")
    label: Literal["negative", "positive", "unknown"] = Field(
        description="`unknown` when the model found nothing it knows in the text (empty once "
        "normalised, only mentions or links, an untranslated script it cannot read): no verdict. "
        "`negative_probability` is then the model's prior, not a judgement; filter these out."
    )
    negative_probability: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(ge=0.0, le=1.0)
    model_version: str
    language: str = Field(description="ISO 639-1 code of the input, 'und' when unsure.")
    translated: bool = Field(description="True when the model saw an English translation.")
    translation_reason: str | None = Field(
        None, description="Why the text was not translated ('already English', 'disabled', …)."
    )
    explanation: list[TermPublic]
    evidence: EvidencePublic
    model_text: str = Field(
        "",
        description="What the model read: the translation when there was one, else the text, "
        "with personal data, URLs and @mentions masked. Send it back as feedback's `text`.",
    )
    feedback_token: str | None = Field(
        None,
        description="Signed proof of this prediction (24 h); feedback needs it. "
        "null when the server has no token key.",
    )


class BatchPredictionPublic(PublicModel):
    model_version: str
    results: list[PredictionPublic] = Field(description="One result per input text, in order.")


class HealthPublic(PublicModel):
    """The model holder's view of the model, plus the version of the app serving it."""

    model_config = ConfigDict(protected_namespaces=(), extra="allow")

    status: Literal["ok", "degraded", "unavailable"]
    app_version: str
    model_version: str | None = None
    loaded_at: datetime | None = None
    source: str | None = None
    store: str | None = None
    detail: str | None = None
    last_check: datetime | None = None


class FieldRule(PublicModel):
    field: str
    rule: str


class ErrorDetail(PublicModel):
    code: str = Field(description="Stable machine-readable code, e.g. 'invalid_request'.")
    message: str = Field(description="Human-readable; never echoes the request body.")
    field: str | None = Field(None, description="The offending field, e.g. 'texts[3]'.")
    rule: str | None = Field(None, description="The rule it broke, e.g. 'at most 500 characters'.")
    details: list[FieldRule] | None = Field(
        None, description="Every broken rule (validation errors only), the first 20."
    )


class ErrorPublic(PublicModel):
    error: ErrorDetail
