"""POST /api/feedback: "this prediction is wrong" or "this prediction is right".

The page sends back what predict returned: the prediction id, the label, the `model_text` (what
the model read) and the `feedback_token`, plus the kind of feedback. Only predictions this API
made can be flagged: the token (shared/feedback/token.py) must be genuine, unexpired, and bind
the same id, label, version, language and text. The route then builds the one feedback event
(shared/feedback/event.py: masked text, no user, no IP, no key) and hands it to the sink on
`app.state.feedback_sink`.

202 Accepted means stored durably: the sink returned only once the event was committed (SQLite)
or accepted by App Insights ingestion; when that cannot be done within ~2 s the answer is 503
with Retry-After and nothing is promised. Feedback on the same prediction twice answers
"duplicate" and counts once. Each caller may send FEEDBACK_MAX_PER_HOUR requests an hour (429).
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from shared.api.deps import ApiKeyDep, SettingsDep
from shared.api.errors import ApiError
from shared.api.rate_limit import HourlyLimiter, caller_of, retry_after_header
from shared.api.schemas import ErrorPublic, PublicModel, reject_blank, replace_lone_surrogates
from shared.api.signing import FeedbackSigner, FeedbackSignerDep
from shared.feedback.event import (
    KIND_CORRECTION,
    build_event,
    resolve_correct_label,
    text_sha256,
)
from shared.feedback.sinks import FeedbackSink, make_feedback_sink
from shared.feedback.token import MAX_TOKEN_CHARS, TokenClaims, TokenError
from shared.privacy import mask_personal_data

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["feedback"])

Label = Literal["negative", "positive"]
PredictedLabel = Literal["negative", "positive", "unknown"]
MAX_MODEL_TEXT_CHARS = 2000  # a translation may be longer than the 500-character tweet
RETRY_AFTER_UNAVAILABLE = "2"

ModelText = Annotated[  # TweetText's rules, with room for a translation
    str,
    StringConstraints(
        strict=True, strip_whitespace=True, min_length=1, max_length=MAX_MODEL_TEXT_CHARS
    ),
    AfterValidator(reject_blank),
    BeforeValidator(replace_lone_surrogates),  # listed last, runs first
]


class FeedbackRequest(BaseModel):
    """Feedback on one prediction: what predict returned for it, and whether it was right."""

    model_config = ConfigDict(
        extra="forbid",
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "prediction_id": "3f2b8c1e-7a4d-4b7e-9c7a-1d2e3f4a5b6c",
                    "kind": "correction",
                    "text": "@user my flight is delayed again",
                    "predicted_label": "positive",
                    "feedback_token": "(the feedback_token predict returned)",
                }
            ]
        },
    )

    prediction_id: uuid.UUID = Field(description="The id predict returned.")
    kind: Literal["correction", "confirmation"] = Field(
        KIND_CORRECTION, description="correction: the label was wrong; confirmation: it was right."
    )
    text: ModelText = Field(
        description="The `model_text` predict returned (for an English tweet the original text "
        "works too: it is masked the same way), 1–2000 characters."
    )
    predicted_label: PredictedLabel = Field(description="The label predict returned.")
    correct_label: Label | None = Field(
        None,
        description="correction: the right label (default: the other one; required when the "
        "prediction was 'unknown'). confirmation: omitted, or the predicted label.",
    )
    feedback_token: str = Field(
        min_length=1, max_length=MAX_TOKEN_CHARS, description="The token predict returned."
    )
    model_version: str | None = Field(
        None, max_length=64, description="Optional; must be the version predict returned."
    )
    language: str | None = Field(
        None, max_length=3, description="Optional; must be the language predict returned."
    )

    @model_validator(mode="after")
    def check_labels(self) -> FeedbackRequest:
        self.correct_label = resolve_correct_label(  # type: ignore[assignment]
            self.kind, self.predicted_label, self.correct_label
        )
        return self


class FeedbackPublic(PublicModel):
    status: Literal["recorded", "duplicate"] = Field(
        description="recorded: stored now; duplicate: feedback on this prediction was stored "
        "before."
    )
    prediction_id: str
    kind: Literal["correction", "confirmation"]


def get_feedback_sink(request: Request, settings: SettingsDep) -> FeedbackSink:
    """The sink create_app put on app.state; built from the settings on first use otherwise."""
    state = request.app.state
    sink = getattr(state, "feedback_sink", None)
    if sink is None:
        try:
            sink = make_feedback_sink(settings)
        except Exception as exc:
            logger.error("feedback sink could not be built: %s", type(exc).__name__)
            raise unavailable() from exc
        state.feedback_sink = sink
    return sink


async def limit_feedback(request: Request, settings: SettingsDep, _: ApiKeyDep) -> None:
    """429 with Retry-After past FEEDBACK_MAX_PER_HOUR for this caller (in this instance)."""
    state = request.app.state
    limiter = getattr(state, "feedback_limiter", None)
    if limiter is None:
        limiter = state.feedback_limiter = HourlyLimiter(settings.FEEDBACK_MAX_PER_HOUR)
    wait = limiter.acquire(caller_of(request, keyed=settings.AUTH_MODE == "api_key"))
    if wait > 0:
        raise ApiError(
            429,
            "too_many_feedback_requests",
            f"at most {settings.FEEDBACK_MAX_PER_HOUR} feedback requests an hour",
            headers={"Retry-After": retry_after_header(wait)},
        )


FeedbackSinkDep = Annotated[FeedbackSink, Depends(get_feedback_sink)]
LimitDep = Annotated[None, Depends(limit_feedback)]


def unavailable() -> ApiError:
    return ApiError(
        503,
        "feedback_unavailable",
        "feedback could not be recorded now; try again shortly",
        headers={"Retry-After": RETRY_AFTER_UNAVAILABLE},
    )


def verify_feedback(
    body: FeedbackRequest, signer: FeedbackSigner | None, masked_sha256: str
) -> TokenClaims:
    """The token's claims when they bind this very feedback; 403 (or 503: no key) otherwise.

    `masked_sha256`: the sha256 of `body.text` once masked, as the event stores it.
    """
    if signer is None:
        raise ApiError(503, "feedback_not_configured", "feedback tokens are not configured")
    try:
        claims = signer.read(body.feedback_token)
    except TokenError as exc:
        code = "feedback_token_expired" if exc.reason == "expired" else "invalid_feedback_token"
        raise ApiError(403, code, str(exc)) from exc
    for name, sent, bound in (
        ("prediction_id", str(body.prediction_id), claims.prediction_id),
        ("predicted_label", body.predicted_label, claims.label),
        ("model_version", body.model_version or claims.model_version, claims.model_version),
        ("language", body.language or claims.language, claims.language),
        ("text", masked_sha256, claims.text_sha256),
    ):
        if sent != bound:
            message = f"{name} is not what predict returned with this feedback_token"
            raise ApiError(403, "feedback_token_mismatch", message)
    return claims


@router.post(
    "/feedback",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FeedbackPublic,
    responses={
        400: {"model": ErrorPublic, "description": "Undecodable body or malformed Content-Length."},
        401: {"model": ErrorPublic, "description": "Missing or wrong x-api-key."},
        403: {
            "model": ErrorPublic,
            "description": "Token forged, expired, or not this feedback's.",
        },
        413: {
            "model": ErrorPublic,
            "description": "Body larger than the largest valid request (about 587 KB).",
        },
        422: {"model": ErrorPublic, "description": "The body breaks a rule."},
        429: {"model": ErrorPublic, "description": "Over FEEDBACK_MAX_PER_HOUR; see Retry-After."},
        503: {"model": ErrorPublic, "description": "Not stored in time; retry after Retry-After."},
    },
    summary="Say a prediction was wrong (correction) or right (confirmation)",
)
def post_feedback(
    body: FeedbackRequest, _: LimitDep, signer: FeedbackSignerDep, sink: FeedbackSinkDep
) -> FeedbackPublic:
    """Record feedback on a prediction this API made; the weekly harvest makes it training data."""
    masked = mask_personal_data(body.text)  # once: the token binds it, the event stores it
    claims = verify_feedback(body, signer, text_sha256(masked))
    event = build_event(
        prediction_id=claims.prediction_id,
        predicted_label=claims.label,
        correct_label=body.correct_label,
        model_version=claims.model_version,
        language=claims.language,
        text=masked,
        kind=body.kind,
    )
    try:
        is_new = sink.record(event)
    except Exception as exc:
        logger.error("feedback sink failed: %s", type(exc).__name__)
        raise unavailable() from exc
    return FeedbackPublic(
        status="recorded" if is_new else "duplicate",
        prediction_id=event["prediction_id"],
        kind=body.kind,  # type: ignore[arg-type]
    )
