"""Builders for feedback-loop tests: events, a steerable clock, and a store that crashes on cue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.feedback.event import build_event
from shared.feedback.sinks import SqliteFeedbackSink
from shared.storage import ObjectStore, StoredObject

T0 = datetime(2024, 3, 4, 3, 0, tzinfo=UTC)  # a Monday, 03:00 UTC


def make_event(index: int = 0, prediction_id: str | None = None) -> dict[str, str]:
    """A valid event; texts differ so batches differ; labels alternate."""
    predicted = "positive" if index % 2 else "negative"
    return build_event(
        prediction_id=prediction_id or str(uuid.uuid4()),
        predicted_label=predicted,
        correct_label=None,
        model_version="v1",
        language="en",
        text=f"flight {index} delayed again @united https://t.co/x{index}",
    )


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
