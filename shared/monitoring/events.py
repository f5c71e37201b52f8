"""A bounded local store of prediction events: what GET /api/buzz charts, never any text.

One row per prediction: time (Unix seconds, UTC), label, P(negative), model version, language;
the same fields the "predict" span carries to App Insights, minus the ids. SQLite at
PREDICTION_EVENTS_PATH, bounded by PREDICTION_EVENTS_MAX rows (the oldest go first, pruned back
to the bound once it is exceeded by 10 % or FLUSH_EVERY rows; 0 turns the store off, as in Azure,
where the spans and the workbook do this job).

Writes are buffered in memory and flushed in one transaction every FLUSH_EVERY events or
FLUSH_SECONDS, so a prediction pays a list append, not a disk commit; reads flush first. A failure
to record is logged and dropped: it must never fail a prediction.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Request

from shared.settings import Settings, get_settings

logger = logging.getLogger(__name__)

FLUSH_EVERY = 256
FLUSH_SECONDS = 1.0
SCHEMA = """CREATE TABLE IF NOT EXISTS prediction_events (
    at REAL NOT NULL, label TEXT NOT NULL, negative_probability REAL NOT NULL,
    model_version TEXT NOT NULL, language TEXT NOT NULL)"""


def prune_slack(max_events: int) -> int:
    """Rows allowed past the bound before pruning, so a delete runs once per many flushes."""
    return max(FLUSH_EVERY, max_events // 10)


class PredictionEvent(NamedTuple):
    """One prediction, without its text or ids (a tuple: stored as is, no conversion)."""

    at: float
    label: str
    negative_probability: float
    model_version: str
    language: str


class PredictionEventStore:
    """SQLite rows, bounded to `max_events`; thread-safe (event loop and threadpool both write)."""

    def __init__(
        self, path: Path, max_events: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.path = path
        self.max_events = max_events
        self.clock = clock
        self._buffer: list[PredictionEvent] = []
        self._last_flush = clock()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._rows = 0  # rows on disk, counted once on connect

    def add(self, events: Sequence[PredictionEvent]) -> None:
        """Buffer the events; flush when the buffer is full or old enough."""
        with self._lock:
            self._buffer.extend(events)
            due = self.clock() - self._last_flush >= FLUSH_SECONDS
            if len(self._buffer) >= FLUSH_EVERY or due:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def since(self, start: float) -> list[PredictionEvent]:
        """Every stored event at or after `start` (Unix seconds), oldest first."""
        with self._lock:
            self._flush_locked()
            rows = self._connect().execute(
                "SELECT at, label, negative_probability, model_version, language"
                " FROM prediction_events WHERE at >= ? ORDER BY at",
                (start,),
            )
            return [PredictionEvent(*row) for row in rows]

    def count(self) -> int:
        with self._lock:
            self._flush_locked()
            return self._connect().execute("SELECT count(*) FROM prediction_events").fetchone()[0]

    def _flush_locked(self) -> None:
        self._last_flush = self.clock()
        if not self._buffer:
            return
        pending, self._buffer = self._buffer, []
        db = self._connect()
        with db:
            db.executemany("INSERT INTO prediction_events VALUES (?, ?, ?, ?, ?)", pending)
            self._rows += len(pending)
            if self._rows > self.max_events + prune_slack(self.max_events):
                # rowids grow by one per insert and only the oldest are deleted: contiguous
                db.execute(
                    "DELETE FROM prediction_events"
                    " WHERE rowid <= (SELECT max(rowid) FROM prediction_events) - ?",
                    (self.max_events,),
                )
                self._rows = self.max_events

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "PRAGMA synchronous=NORMAL"
            )  # no fsync per commit: a dashboard, not a ledger
            db.execute(SCHEMA)
            self._rows = db.execute("SELECT count(*) FROM prediction_events").fetchone()[0]
            self._db = db
        return self._db


_stores: dict[tuple[Path, int], PredictionEventStore] = {}
_stores_lock = threading.Lock()


def current_store(settings: Settings | None = None) -> PredictionEventStore | None:
    """The process's store for these settings (default: the process settings); None when off."""
    settings = settings or get_settings()
    if settings.PREDICTION_EVENTS_MAX == 0:
        return None
    key = (settings.PREDICTION_EVENTS_PATH, settings.PREDICTION_EVENTS_MAX)
    with _stores_lock:
        if key not in _stores:
            _stores[key] = PredictionEventStore(*key)
        return _stores[key]


def events_of(results: Iterable[Any], at: float) -> list[PredictionEvent]:
    """Events from public prediction results (anything with the four attributes)."""
    return [
        PredictionEvent(at, r.label, r.negative_probability, r.model_version, r.language)
        for r in results
    ]


def record_predictions(results: Iterable[Any], store: PredictionEventStore | None) -> None:
    """Called by POST /api/predict for every batch with the app's store; never raises."""
    try:
        if store is not None:
            store.add(events_of(results, time.time()))
    except Exception as exc:  # a full disk or a locked file must not fail a prediction
        logger.warning("prediction events not recorded: %s", type(exc).__name__)


async def get_prediction_events(request: Request) -> PredictionEventStore | None:
    """The store of the app's own settings (tests and `bad-buzz serve` each have theirs)."""
    return current_store(request.app.state.settings)


PredictionEventsDep = Annotated[PredictionEventStore | None, Depends(get_prediction_events)]
