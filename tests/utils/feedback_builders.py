"""Builders for feedback-loop tests: events, a steerable clock, and a store that crashes on cue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.feedback.event import KIND_CORRECTION, build_event
from shared.feedback.sinks import SqliteFeedbackSink
from shared.storage import ObjectStore, StoredObject

T0 = datetime(2024, 3, 4, 3, 0, tzinfo=UTC)  # a Monday, 03:00 UTC


def make_event(
    index: int = 0, prediction_id: str | None = None, kind: str = KIND_CORRECTION
) -> dict[str, str]:
    """A valid event; texts differ so batches differ; labels alternate."""
    predicted = "positive" if index % 2 else "negative"
    return build_event(
        prediction_id=prediction_id or str(uuid.uuid4()),
        predicted_label=predicted,
        correct_label=None,
        model_version="v1",
        language="en",
        text=f"flight {index} delayed again @united https://t.co/x{index}",
        kind=kind,
    )


def feedback_body(prediction: dict[str, Any], **overrides: object) -> dict[str, object]:
    """The feedback request the page sends for one predict answer (a correction by default)."""
    body = {
        "prediction_id": prediction["prediction_id"],
        "text": prediction["model_text"],
        "predicted_label": prediction["label"],
        "feedback_token": prediction["feedback_token"],
        "model_version": prediction["model_version"],
        "language": prediction["language"],
    }
    return {**body, **overrides}


class Clock:
    """A clock tests move by hand; `SqliteFeedbackSink(path, clock=clock)` stamps rows with it."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def flag_many(
    sink: SqliteFeedbackSink, clock: Clock, count: int, step: timedelta = timedelta(minutes=1)
) -> list[str]:
    """Record `count` events, `step` apart (zero: all at the same instant); returns their ids."""
    ids = []
    for index in range(count):
        event = make_event(index)
        assert sink.record(event)
        ids.append(event["prediction_id"])
        clock.now += step
    return ids


class Crash(Exception):
    """The process died: raised by CrashingStore, caught by the test, never by the harvest."""


class CrashingStore:
    """Wraps a store; the `crash_at`-th put raises Crash, before or after the write landed."""

    def __init__(self, inner: ObjectStore, crash_at: int, after_write: bool = False) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.after_write = after_write
        self.puts = 0

    def put(self, name: str, data: bytes, **conditions: Any) -> str:
        self.puts += 1
        if self.puts == self.crash_at and not self.after_write:
            raise Crash(f"crash before put #{self.puts} ({name})")
        etag = self.inner.put(name, data, **conditions)
        if self.puts == self.crash_at:
            raise Crash(f"crash after put #{self.puts} ({name})")
        return etag

    def get(self, name: str) -> StoredObject | None:
        return self.inner.get(name)

    def etag(self, name: str) -> str | None:
        return self.inner.etag(name)

    def list(self, prefix: str = "") -> list[str]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def describe(self) -> str:
        return f"crashing({self.inner.describe()})"


class CountingStore(CrashingStore):
    """Never crashes; counts puts, to know how many crash points a scenario has."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner, crash_at=0)


def crash_points(total_puts: int) -> Iterator[tuple[int, bool]]:
    """Every (k, after_write) for a run of `total_puts` puts."""
    for k in range(1, total_puts + 1):
        yield k, False
        yield k, True


# A tweet full of personal data, and each piece of it that must never be stored.
PERSONAL_PIECES = {
    "name": "Maria Gonzalez",
    "phone": "+1 (415) 555-0142",
    "card": "4539 1488 0343 6467",
    "booking": "QX7R2B",
    "email": "maria.gonzalez77@example.org",
    "handle": "@mgonzalez_sf",
    "url": "https://t.co/AbC123xyz",
}
PERSONAL_TWEET = (
    "@united my name is {name}, lost my bag AGAIN!! Booking {booking}, call {phone} or "
    "mail {email}, refund to card {card} {handle} {url}"
).format(**PERSONAL_PIECES)


def personal_forms(piece: str) -> set[bytes]:
    """Byte forms a piece could take once stored: as is, lower case, without separators, its
    digits alone (6+), and each word of 4+ letters (name parts, the e-mail's local part)."""
    import re

    forms = {piece, piece.lower(), re.sub(r"[\s().-]", "", piece)}
    digits = re.sub(r"\D", "", piece)
    if len(digits) >= 6:
        forms.add(digits)
    words = re.findall(r"[A-Za-z]{4,}", piece.split("@")[0] if "@" in piece[1:] else piece)
    forms |= {word for word in words if word.lower() not in {"https"}}
    forms |= {word.lower() for word in words if word.lower() not in {"https"}}
    return {form.encode("utf-8") for form in forms if form}


def find_personal_data(blobs: dict[str, bytes]) -> list[str]:
    """Which piece (by name) was found in which blob, as which form: empty when none."""
    found = []
    for name, piece in PERSONAL_PIECES.items():
        for form in personal_forms(piece):
            found.extend(
                f"{name} as {form!r} in {where}" for where, blob in blobs.items() if form in blob
            )
    return found
