"""Request and response bodies of the HTTP API: the public contract, documented by OpenAPI.

Families in the style of full-stack-fastapi-template: `*Request` is what a client sends,
`*Public` is what it gets back. Every request model forbids unknown fields, so a typo such as
`{"txt": ...}` is a 422 naming the field instead of a silent default.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

MAX_TEXT_CHARS = 500
MAX_BATCH_ITEMS = 100
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def replace_lone_surrogates(value: object) -> object:
    """JSON may carry "\\ud800": it is data, but pydantic, UTF-8 and onnxruntime all refuse it."""
    return LONE_SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


TweetText = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
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
    term: str
    weight: float = Field(description="> 0 pushes towards negative, < 0 towards positive.")


class PredictionPublic(PublicModel):
    """The verdict on one tweet, with what the model saw and why."""

    prediction_id: str = Field(description="uuid4; quote it when sending feedback.")
    label: Literal["negative", "positive"]
    negative_probability: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(ge=0.0, le=1.0)
    model_version: str
    language: str = Field(description="ISO 639-1 code of the input, 'und' when unsure.")
    translated: bool = Field(description="True when the model saw an English translation.")
    translation_reason: str | None = Field(
        None, description="Why the text was not translated ('already English', 'disabled', …)."
    )
    explanation: list[TermPublic]


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
