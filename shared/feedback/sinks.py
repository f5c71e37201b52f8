"""Where feedback goes: a local SQLite log, or App Insights in Azure. Both are durable when
`record` returns: that is what the API's 202 promises.

Both sinks count a prediction once, however often it is flagged. SQLite knows for sure (the
prediction id is the primary key; a committed WAL transaction survives a process kill). App
Insights is write-only from here, so its sink only remembers the ids it exported lately; the
KQL query and the weekly harvest do the final de-duplication.

In Azure the event is an OpenTelemetry log record sent by this module's own Azure Monitor
exporter, synchronously, before the API answers: a MessageData envelope, i.e. a row in AppTraces
whose Message is the event name and whose Properties hold the event (plus `logger_name`). It
must not carry `microsoft.custom_event.name`, which would make it an AppEvents row that the KQL
query does not read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shared.feedback.event import EVENT_NAME, check_event

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.settings import Settings

FEEDBACK_LOGGER = "bad_buzz.feedback"
SEEN_IDS_CAPACITY = 10_000
# 202 only once ingestion accepted the flag; past this many seconds in all: 503, retry later.
EXPORT_DEADLINE_SECONDS = 2.0
MAX_EXPORTS_IN_FLIGHT = 8
AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
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


class FeedbackUnavailable(RuntimeError):
    """The event could not be stored durably within the deadline: 503, the client retries."""


class AppInsightsFeedbackSink:
    """An App Insights AppTraces row per flag, sent synchronously: `record` returns once
    ingestion accepted it, so 202 survives a kill right after the answer.

    The event goes through its own `AzureMonitorLogExporter` (not the root logger's batching
    handler, whose in-memory queue a kill or slow ingestion empties): one export call per flag
    on a small pool, at most `max_in_flight` at once, waited for at most `deadline` seconds in
    all (slot, network, retries). A failure or timeout raises FeedbackUnavailable and the id is
    not remembered, so the client's retry goes through; an export that lands after the deadline
    only makes a duplicate, which the KQL and the harvest count once.
    """

    def __init__(
        self,
        exporter: Any,
        deadline: float = EXPORT_DEADLINE_SECONDS,
        max_in_flight: int = MAX_EXPORTS_IN_FLIGHT,
        capacity: int = SEEN_IDS_CAPACITY,
    ) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.exporter = exporter
        self.deadline = deadline
        self.capacity = capacity
        self.resource = Resource.create()
        self.scope = InstrumentationScope(FEEDBACK_LOGGER)
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="feedback-export")
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, event: dict[str, str]) -> bool:
        check_event(event)
        prediction_id = event["prediction_id"]
        if self._seen_before(prediction_id):
            return False
        started = time.monotonic()
        if not self._slots.acquire(timeout=self.deadline):
            raise FeedbackUnavailable("too many feedback exports in flight")
        future = self._pool.submit(self._export, self.to_log_record(event))
        try:
            succeeded = future.result(
                timeout=max(0.0, self.deadline - (time.monotonic() - started))
            )
        except FutureTimeout as exc:
            raise FeedbackUnavailable("App Insights ingestion did not answer in time") from exc
        if not succeeded:
            raise FeedbackUnavailable("App Insights ingestion did not accept the event")
        self._remember(prediction_id)
        return True

    def _export(self, log_record: Any) -> bool:
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        try:
            return self.exporter.export([log_record]) == LogRecordExportResult.SUCCESS
        finally:
            self._slots.release()

    def to_log_record(self, event: dict[str, str]) -> Any:
        """The OTel log record the exporter turns into a MessageData envelope (an AppTraces row
        with Message = EVENT_NAME, the event in Properties, logger_name = FEEDBACK_LOGGER)."""
        from opentelemetry._logs import LogRecord, SeverityNumber
        from opentelemetry.sdk._logs import ReadableLogRecord

        now = time.time_ns()
        record = LogRecord(
            timestamp=now,
            observed_timestamp=now,
            severity_text="INFO",
            severity_number=SeverityNumber.INFO,
            body=EVENT_NAME,
            attributes=dict(event),
        )
        return ReadableLogRecord(record, self.resource, self.scope)

    def _seen_before(self, prediction_id: str) -> bool:
        """Best effort: an LRU of ids exported lately (a double click counts once)."""
        with self._lock:
            if prediction_id in self._seen:
                self._seen.move_to_end(prediction_id)
                return True
        return False

    def _remember(self, prediction_id: str) -> None:
        with self._lock:
            self._seen[prediction_id] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.exporter.shutdown()


def build_log_exporter(connection_string: str, timeout: float = EXPORT_DEADLINE_SECONDS) -> Any:
    """The Azure Monitor exporter feedback sends through, with Entra ID auth when the platform
    asks for it (APPLICATIONINSIGHTS_AUTHENTICATION_STRING "ClientId=...;Authorization=AAD", the
    app setting the Functions host reads too: App Insights has local auth disabled)."""
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter

    options: dict[str, Any] = {"connection_string": connection_string, "timeout": timeout}
    auth = dict(
        part.split("=", 1)
        for part in os.environ.get(AUTHENTICATION_STRING, "").split(";")
        if "=" in part
    )
    if auth.get("Authorization", "").upper() == "AAD":
        from azure.identity import ManagedIdentityCredential

        options["credential"] = ManagedIdentityCredential(client_id=auth.get("ClientId"))
    return AzureMonitorLogExporter(**options)


def make_feedback_sink(settings: Settings) -> FeedbackSink:
    """FEEDBACK_BACKEND picks the sink: `sqlite` (default) or `appinsights` (Azure).

    Raises FeedbackUnavailable for `appinsights` without APPLICATIONINSIGHTS_CONNECTION_STRING.
    """
    if settings.FEEDBACK_BACKEND == "appinsights":
        connection = settings.APPLICATIONINSIGHTS_CONNECTION_STRING
        if connection is None or not connection.get_secret_value():
            raise FeedbackUnavailable("FEEDBACK_BACKEND=appinsights needs a connection string")
        return AppInsightsFeedbackSink(build_log_exporter(connection.get_secret_value()))
    return SqliteFeedbackSink(settings.FEEDBACK_DB_PATH)
