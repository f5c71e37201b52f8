"""POST /api/feedback: "this prediction was wrong", the start of the feedback loop.

The page sends back what predict returned (prediction id, label, model version, language) plus
the text the user typed. The route turns it into the one `incorrect_prediction` event
(shared/feedback/event.py: normalised text, no user, no IP, no key) and hands it to the sink on
`app.state.feedback_sink`. 202 Accepted: the event is recorded now and used at the next harvest.
Flagging the same prediction twice answers "duplicate" and counts once.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.api.deps import ApiKeyDep, SettingsDep
from shared.api.errors import ApiError
from shared.api.schemas import ErrorPublic, PublicModel, TweetText
from shared.feedback.event import UNKNOWN, build_event, other_label
from shared.feedback.sinks import FeedbackSink, make_feedback_sink

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["feedback"])

Label = Literal["negative", "positive"]


class FeedbackRequest(BaseModel):
    """One flagged prediction: its id and label from predict, and the text that was scored."""

    model_config = ConfigDict(
        extra="forbid",
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "prediction_id": "3f2b8c1e-7a4d-4b7e-9c7a-1d2e3f4a5b6c",
                    "text": "my flight is delayed again",
                    "predicted_label": "positive",
                }
            ]
        },
    )

    prediction_id: uuid.UUID = Field(description="The id predict returned for this text.")
    text: TweetText = Field(description="The tweet that was scored, 1–500 characters.")
    predicted_label: Label = Field(description="The label predict returned.")
    correct_label: Label | None = Field(
        None, description="The right label; defaults to the other one, must differ."
    )
    model_version: str | None = Field(
        None, max_length=64, description="Version predict returned; else the current model's."
    )
    language: str | None = Field(
        None, max_length=3, description="Language predict returned; else detected again."
    )

    @model_validator(mode="after")
    def check_labels_differ(self) -> FeedbackRequest:
        if self.correct_label is None:
            self.correct_label = other_label(self.predicted_label)  # type: ignore[assignment]
        if self.correct_label == self.predicted_label:
            raise ValueError("correct_label must differ from predicted_label")
        return self


class FeedbackPublic(PublicModel):
    status: Literal["recorded", "duplicate"] = Field(
        description="recorded: counted now; duplicate: this prediction was already flagged."
    )
    prediction_id: str


def get_feedback_sink(request: Request, settings: SettingsDep) -> FeedbackSink:
    """The sink create_app put on app.state; built from the settings on first use otherwise."""
    state = request.app.state
    sink = getattr(state, "feedback_sink", None)
    if sink is None:
        sink = make_feedback_sink(settings)
        state.feedback_sink = sink
    return sink


FeedbackSinkDep = Annotated[FeedbackSink, Depends(get_feedback_sink)]


def current_model_version(request: Request) -> str:
    """The served model's version, when the client did not say which model it asked."""
    holder = getattr(request.app.state, "holder", None)
    try:
        model = holder.get() if holder is not None else None
    except Exception:  # the holder never raises by contract; feedback must not depend on it
        logger.warning("model holder failed while recording feedback", exc_info=True)
        model = None
    return model.version if model is not None else UNKNOWN


def resolve_language(body: FeedbackRequest) -> str:
    if body.language:
        return body.language
    from shared.language import detect_language  # py3langid loads on first use

    return detect_language(body.text)


@router.post(
    "/feedback",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FeedbackPublic,
    responses={
        400: {"model": ErrorPublic, "description": "Undecodable body or malformed Content-Length."},
        401: {"model": ErrorPublic, "description": "Missing or wrong x-api-key."},
        413: {"model": ErrorPublic, "description": "Body larger than 64 KB."},
        422: {"model": ErrorPublic, "description": "The body breaks a rule."},
        503: {"model": ErrorPublic, "description": "The feedback store is unavailable."},
    },
    summary="Flag a prediction as wrong",
)
def post_feedback(
    body: FeedbackRequest, request: Request, sink: FeedbackSinkDep, _: ApiKeyDep
) -> FeedbackPublic:
    """Record that a prediction was wrong; the weekly harvest turns it into training data."""
    event = build_event(
        prediction_id=str(body.prediction_id),
        predicted_label=body.predicted_label,
        correct_label=body.correct_label,
        model_version=body.model_version or current_model_version(request),
        language=resolve_language(body),
        text=body.text,
    )
    try:
        is_new = sink.record(event)
    except Exception as exc:
        logger.error("feedback sink failed: %s", type(exc).__name__)
        raise ApiError(503, "feedback_unavailable", "feedback could not be recorded") from exc
    return FeedbackPublic(
        status="recorded" if is_new else "duplicate", prediction_id=event["prediction_id"]
    )
