"""The one definition of the `incorrect_prediction` event: what a "this was wrong" click records.

Three parties read these names and must agree: the sinks that write the event (SQLite locally,
an OpenTelemetry log record in Azure that lands in AppTraces with these keys in `Properties`),
the KQL query the harvest and the alert share (shared/queries/incorrect_predictions.kql) and the
harvest that turns rows back into training records. Tests compare all three against this module.

The event holds what retraining needs and nothing more: no IP, no user, no API key, and not the
raw tweet but the normalised text, in which URLs and @mentions are already masked as `<url>` and
`<mention>` by the same normaliser the model reads through.
"""

from __future__ import annotations

import re
import uuid

EVENT_NAME = "incorrect_prediction"
PROPERTIES = (
    "prediction_id",
    "predicted_label",
    "correct_label",
    "model_version",
    "language",
    "text",
)
LABELS = ("negative", "positive")
UNKNOWN = "unknown"
MODEL_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}")


def other_label(label: str) -> str:
    """The binary model has two labels: flagging one as wrong means the other was right."""
    check_label(label)
    return LABELS[1] if label == LABELS[0] else LABELS[0]


def check_label(label: str) -> str:
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    return label


def clean_token(value: str | None, pattern: re.Pattern[str]) -> str:
    """Free-form strings from a client become `unknown` unless they look like what they claim."""
    return value if value is not None and pattern.fullmatch(value) else UNKNOWN


def build_event(
    prediction_id: str,
    predicted_label: str,
    correct_label: str | None,
    model_version: str | None,
    language: str | None,
    text: str,
) -> dict[str, str]:
    """The event's properties, exactly `PROPERTIES`, all strings (telemetry attributes are flat).

    Raises ValueError for a malformed id or labels, so no sink ever stores an unusable record.
    """
    from shared.normalise import normalise_text  # the harvest reads the names without lexicons

    correct = check_label(correct_label) if correct_label is not None else None
    predicted = check_label(predicted_label)
    correct = correct or other_label(predicted)
    if correct == predicted:
        raise ValueError("correct_label must differ from predicted_label")
    return {
        "prediction_id": str(uuid.UUID(str(prediction_id))),
        "predicted_label": predicted,
        "correct_label": correct,
        "model_version": clean_token(model_version, MODEL_VERSION_RE),
        "language": clean_token(language, LANGUAGE_RE),
        "text": normalise_text(text),
    }


def check_event(event: dict[str, str]) -> dict[str, str]:
    """Sinks accept only well-formed events: exactly the PROPERTIES, all strings."""
    if set(event) != set(PROPERTIES) or not all(isinstance(v, str) for v in event.values()):
        raise ValueError(f"a feedback event has exactly the string properties {PROPERTIES}")
    return event
