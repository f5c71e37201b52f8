"""Where "this prediction was wrong" goes: a local SQLite log, or App Insights in Azure.

Both sinks count a prediction once, however often it is flagged. SQLite knows for sure (the
prediction id is the primary key). App Insights is write-only from here, so its sink only
remembers the ids it saw lately; the weekly harvest does the final de-duplication.

In Azure the event is a Python log record on the `bad_buzz.feedback` logger. The OpenTelemetry
logging handler that the Functions worker (or `configure_azure_monitor`) puts on the root logger
turns it into an OTel log record, and the Azure Monitor exporter sends that as a MessageData
envelope: a row in AppTraces whose Message is the event name and whose Properties hold the
record's `extra=` attributes. It must not carry `microsoft.custom_event.name`, which would make
it an AppEvents row that the KQL query does not read.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.feedback.event import EVENT_NAME, check_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.settings import Settings

FEEDBACK_LOGGER = "bad_buzz.feedback"
SEEN_IDS_CAPACITY = 10_000
BUSY_TIMEOUT_SECONDS = 5.0
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    prediction_id TEXT PRIMARY KEY,
    properties TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_created_at ON feedback (created_at, prediction_id);
"""


class FeedbackSink(Protocol):
    def record(self, event: dict[str, str]) -> bool:
        """Store one `incorrect_prediction` event; False when this prediction was flagged before."""
        ...


@dataclass(frozen=True)
class StoredFeedback:
    """One row of the local log: when it was flagged, and the event's properties."""

    flagged_at: datetime
    properties: dict[str, str]


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteFeedbackSink:
    """The embedded default: one SQLite file in WAL mode, one connection behind a lock."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
        )
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints
        self._connection.executescript(SCHEMA)

    def record(self, event: dict[str, str]) -> bool:
        check_event(event)
        properties = json.dumps(event, sort_keys=True)
        with self._lock:  # stamp and insert together: in-process, rows land in time order
            row = (event["prediction_id"], properties, format_time(self.clock()))
            cursor = self._connection.execute(
                "INSERT OR IGNORE INTO feedback (prediction_id, properties, created_at)"
                " VALUES (?, ?, ?)",
                row,
            )
        return cursor.rowcount == 1

    def read_since(
        self,
        since: datetime,
        until: datetime,
        seen_at_since: Collection[str] = (),
        limit: int = 50_000,
    ) -> list[StoredFeedback]:
        """Rows flagged in [since, until), minus the ids already read at exactly `since`.

        Ordered by (time, id), at most `limit`: the harvest pages through with its watermark.
        """
        query = (
            "SELECT created_at, properties FROM feedback"
            " WHERE created_at >= ? AND created_at < ?"
            " AND NOT (created_at = ? AND prediction_id IN (SELECT value FROM json_each(?)))"
            " ORDER BY created_at, prediction_id LIMIT ?"
        )
        start = format_time(since)
        params = (start, format_time(until), start, json.dumps(sorted(seen_at_since)), limit)
        with self._lock:
            rows = self._connection.execute(query, params).fetchall()
        return [StoredFeedback(parse_time(created), json.loads(props)) for created, props in rows]

    def count(self) -> int:
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class AppInsightsFeedbackSink:
    """An OpenTelemetry log record per flag, exported to App Insights as an AppTraces row."""

    def __init__(self, capacity: int = SEEN_IDS_CAPACITY) -> None:
        self.logger = logging.getLogger(FEEDBACK_LOGGER)
        self.logger.setLevel(logging.INFO)  # the root logger's WARNING must not hide the event
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, event: dict[str, str]) -> bool:
        check_event(event)
        if not self._remember(event["prediction_id"]):
            return False
        self.logger.info(EVENT_NAME, extra=dict(event))
        return True

    def _remember(self, prediction_id: str) -> bool:
        """Best effort: an LRU of recent ids, so a double click in one instance counts once."""
        with self._lock:
            if prediction_id in self._seen:
                self._seen.move_to_end(prediction_id)
                return False
            self._seen[prediction_id] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
        return True


def make_feedback_sink(settings: Settings) -> FeedbackSink:
    """FEEDBACK_BACKEND picks the sink: `sqlite` (default) or `appinsights` (Azure)."""
    if settings.FEEDBACK_BACKEND == "appinsights":
        return AppInsightsFeedbackSink()
    return SqliteFeedbackSink(settings.FEEDBACK_DB_PATH)
