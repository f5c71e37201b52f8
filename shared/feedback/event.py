"""The one definition of a feedback event: what a "this is wrong" or "this is right" click records.

Three parties read these names and must agree: the sinks that write the event (SQLite locally,
an OpenTelemetry log record in Azure that lands in AppTraces with these keys in `Properties`),
the KQL queries (shared/queries/feedback_events.kql, which the harvest reads: both kinds, with a
`kind` column; shared/queries/incorrect_predictions.kql, which the alert reads: the same query
keeping corrections only) and the harvest that turns rows back into training records. Tests
compare all three against this module.

Two kinds share the one event name (the KQL and the alert filter on it; `kind` tells them
apart): a correction ("this prediction is wrong", `correct_label` is the other label, or the one
the user gave) and a confirmation ("this prediction is right", `correct_label == predicted_label`).

The event holds what retraining needs and nothing more: no IP, no user, no API key. `text` is
exactly the text the model scored (the English translation when there was one), with personal
data, URLs and @mentions masked by `shared.privacy.mask_personal_data` (serving masks BEFORE
scoring, and masking is idempotent, so masking again here changes nothing the model read).
Retraining featurises `text` with the normal feature path and gets the served P(negative) back.
"""

from __future__ import annotations

import hashlib
import re
import uuid

EVENT_NAME = "incorrect_prediction"
KIND_CORRECTION = "correction"
KIND_CONFIRMATION = "confirmation"
KINDS = (KIND_CORRECTION, KIND_CONFIRMATION)
PROPERTIES = (
    "prediction_id",
    "kind",
    "predicted_label",
    "correct_label",
    "model_version",
    "language",
    "text",
    "text_sha256",
)
LABELS = ("negative", "positive")
UNKNOWN = "unknown"
# What predict may answer: the two labels, or "unknown" when the model saw nothing it knows.
PREDICTED_LABELS = (*LABELS, UNKNOWN)
MODEL_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}")


def other_label(label: str) -> str:
    """The binary model has two labels: flagging one as wrong means the other was right."""
    check_label(label)
    return LABELS[1] if label == LABELS[0] else LABELS[0]


def check_label(label: str, allowed: tuple[str, ...] = LABELS) -> str:
    if label not in allowed:
        raise ValueError(f"label must be one of {allowed}, got {label!r}")
    return label


def clean_token(value: str | None, pattern: re.Pattern[str]) -> str:
    """Free-form strings from a client become `unknown` unless they look like what they claim."""
    return value if value is not None and pattern.fullmatch(value) else UNKNOWN


def text_sha256(text: str) -> str:
    """Hex SHA-256 of the UTF-8 text: binds a feedback token, and lets retraining find texts."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_correct_label(kind: str, predicted: str, correct: str | None) -> str:
    """The label the event teaches. Raises ValueError when the kind and labels disagree.

    correction: `correct` (a label, not the predicted one), or the other label of a binary
    prediction; "unknown" needs an explicit one. confirmation: the predicted label, which must
    be a real label ("unknown" cannot be right or wrong by itself).
    """
    check_label(predicted, PREDICTED_LABELS)
    if kind == KIND_CONFIRMATION:
        check_label(predicted)
        if correct is not None and correct != predicted:
            raise ValueError("a confirmation's correct_label is the predicted label")
        return predicted
    if kind != KIND_CORRECTION:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if correct is None:
        if predicted == UNKNOWN:
            raise ValueError("a correction of an 'unknown' prediction needs correct_label")
        return other_label(predicted)
    if check_label(correct) == predicted:
        raise ValueError("correct_label must differ from predicted_label")
    return correct


def build_event(
    prediction_id: str,
    predicted_label: str,
    correct_label: str | None,
    model_version: str | None,
    language: str | None,
    text: str,
    kind: str = KIND_CORRECTION,
) -> dict[str, str]:
    """The event's properties, exactly `PROPERTIES`, all strings (telemetry attributes are flat).

    `text`: what the model scored; it is masked again (idempotent) so no caller can store
    personal data by mistake. Raises ValueError for a malformed id, kind or labels, so no sink
    ever stores an unusable record.
    """
    from shared.privacy import mask_personal_data  # the harvest reads the names without it

    correct = resolve_correct_label(kind, predicted_label, correct_label)
    stored = mask_personal_data(text)
    return {
        "prediction_id": str(uuid.UUID(str(prediction_id))),
        "kind": kind,
        "predicted_label": predicted_label,
        "correct_label": correct,
        "model_version": clean_token(model_version, MODEL_VERSION_RE),
        "language": clean_token(language, LANGUAGE_RE),
        "text": stored,
        "text_sha256": text_sha256(stored),
    }


def check_event(event: dict[str, str]) -> dict[str, str]:
    """Sinks accept only well-formed events: exactly the PROPERTIES, all strings."""
    if set(event) != set(PROPERTIES) or not all(isinstance(v, str) for v in event.values()):
        raise ValueError(f"a feedback event has exactly the string properties {PROPERTIES}")
    if event["text_sha256"] != text_sha256(event["text"]):
        raise ValueError("text_sha256 is not the SHA-256 of text")
    return event
