"""Where harvested feedback is read from: the local SQLite log, or Log Analytics (KQL).

Each source says how late a flag may land behind rows already visible:
- `ingestion_lag`: rows younger than this are left for the next run (ingestion in progress);
- `late_window`: each run re-reads this far behind the watermark, so a flag that became visible
  after the watermark passed its time is still harvested (the index drops what was read
  before). For Log Analytics that is 49 h: the Azure Monitor exporter keeps telemetry it could
  not send on disk and retries it for up to 48 h (its `storage_retention_period`), plus an hour
  of ingestion. For SQLite, a day: rows are stamped by the sink's clock, which may step back.

Every Log Analytics query has a total deadline (QUERY_DEADLINE_SECONDS, retries included): an
endpoint that accepts the connection and never answers fails the harvest with a HarvestError
after that long, and nothing moves.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from shared.feedback.records import (
    FeedbackRecord,
    HarvestError,
    Watermark,
    format_time,
    make_record,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from shared.settings import Settings

logger = logging.getLogger(__name__)

QUERIES = Path(__file__).parent.parent / "queries"
HARVEST_QUERY_PATH = QUERIES / "feedback_events.kql"  # both kinds, with a `kind` column
ALERT_QUERY_PATH = QUERIES / "incorrect_predictions.kql"  # corrections only (the Bicep alert)
QUERY_PATH = ALERT_QUERY_PATH  # the file infra/app/monitoring.bicep loads
TIME_COLUMN = "TimeGenerated"
SQLITE_INGESTION_LAG = timedelta(seconds=10)  # > the sink's busy timeout: a commit in flight
SQLITE_LATE_WINDOW = timedelta(days=1)
LOGS_INGESTION_LAG = timedelta(minutes=30)  # Azure Monitor: typically 20 s to 3 min
LOGS_LATE_WINDOW = timedelta(hours=49)  # exporter retries from disk for 48 h, + ingestion
QUERY_DEADLINE_SECONDS = 180.0  # one query, retries included
CONNECT_TIMEOUT_SECONDS = 10
TIMESPAN_SLACK = timedelta(seconds=1)  # the timespan is a coarse pre-filter; KQL is exact
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    records: list[FeedbackRecord]
    partial: bool = False


class FeedbackSource(Protocol):
    """Where flags are read from; `ingestion_lag` and `late_window`: see the module docstring."""

    ingestion_lag: timedelta
    late_window: timedelta

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page: ...


class SqliteSource:
    """The local SQLite log that `SqliteFeedbackSink` writes (the embedded default)."""

    def __init__(
        self,
        sink_path: Path,
        ingestion_lag: timedelta = SQLITE_INGESTION_LAG,
        late_window: timedelta = SQLITE_LATE_WINDOW,
    ) -> None:
        from shared.feedback.sinks import SqliteFeedbackSink

        self.sink = SqliteFeedbackSink(sink_path)
        self.ingestion_lag = ingestion_lag
        self.late_window = late_window

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
        rows = self.sink.read_since(since.time, until, since.ids, limit)
        records = (make_record(row.flagged_at, row.properties) for row in rows)
        return Page([record for record in records if record is not None])


def load_query(path: Path = HARVEST_QUERY_PATH) -> str:
    """The harvest's query (both kinds) by default; pass ALERT_QUERY_PATH for the alert's."""
    return path.read_text(encoding="utf-8")


def kql_datetime(moment: datetime) -> str:
    return f"datetime({format_time(moment)})"


def build_harvest_query(base: str, since: Watermark, until: datetime, limit: int) -> str:
    """The shared query, bounded to one page after the watermark (what the harvest sends)."""
    seen = json.dumps(sorted(since.ids))  # canonical UUIDs only, JSON-escaped
    return (
        f"let harvest_since = {kql_datetime(since.time)};\n"
        f"let harvest_until = {kql_datetime(until)};\n"
        f"let harvest_seen = dynamic({seen});\n"
        f"{base.strip()}\n"
        f"| where {TIME_COLUMN} >= harvest_since and {TIME_COLUMN} < harvest_until\n"
        f"| where {TIME_COLUMN} > harvest_since or prediction_id !in (harvest_seen)\n"
        f"| sort by {TIME_COLUMN} asc, prediction_id asc\n"
        f"| take {int(limit)}\n"
    )


def is_loopback_http(endpoint: str | None) -> bool:
    parts = urlsplit(endpoint or "")
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


class LogsQuerySource:
    """Log Analytics through `LogsQueryClient`: the App Insights backend in Azure.

    Throttling (429 + Retry-After) and 5xx are retried by the SDK's retry policy, POST included
    (a query is read-only); what still fails, or is not answered within `deadline_seconds` in
    all, becomes a HarvestError and nothing moves. Plain http is accepted for loopback test
    servers only: a bearer token never leaves in clear text.
    """

    def __init__(
        self,
        workspace_id: str,
        credential: TokenCredential,
        endpoint: str | None = None,
        *,
        ingestion_lag: timedelta = LOGS_INGESTION_LAG,
        late_window: timedelta = LOGS_LATE_WINDOW,
        retry_total: int = 4,
        retry_backoff_factor: float = 1.0,
        server_timeout: int = 60,
        deadline_seconds: float = QUERY_DEADLINE_SECONDS,
    ) -> None:
        from azure.monitor.query import LogsQueryClient

        if endpoint and urlsplit(endpoint).scheme == "http" and not is_loopback_http(endpoint):
            raise ValueError("LOGS_QUERY_ENDPOINT must be https (http only for 127.0.0.1)")
        options: dict[str, Any] = {"endpoint": endpoint} if endpoint else {}
        self.client = LogsQueryClient(
            credential,
            retry_total=retry_total,
            retry_backoff_factor=retry_backoff_factor,
            retry_backoff_max=60,
            connection_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=server_timeout + 30,  # the service gives up first, then us
            **options,
        )
        self.workspace_id = workspace_id
        self.ingestion_lag = ingestion_lag
        self.late_window = late_window
        self.server_timeout = server_timeout
        self.deadline_seconds = deadline_seconds
        self.call_options = {"enforce_https": False} if is_loopback_http(endpoint) else {}

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
        from azure.monitor.query import LogsQueryPartialResult

        query = build_harvest_query(load_query(), since, until, limit)
        timespan = (since.time - TIMESPAN_SLACK, until + TIMESPAN_SLACK)
        response = call_with_deadline(
            lambda: self._query(query, timespan), self.deadline_seconds, "Log Analytics query"
        )
        if isinstance(response, LogsQueryPartialResult):
            error = response.partial_error
            logger.warning(
                "Log Analytics answered in part (%s: %s); the watermark stays where it is",
                getattr(error, "code", "?"),
                getattr(error, "message", ""),
            )
            return Page(list(rows_to_records(response.partial_data)), partial=True)
        return Page(list(rows_to_records(response.tables)))

    def _query(self, query: str, timespan: tuple[datetime, datetime]) -> Any:
        from azure.core.exceptions import AzureError, HttpResponseError

        try:
            return self.client.query_workspace(
                self.workspace_id,
                query,
                timespan=timespan,
                server_timeout=self.server_timeout,
                retry_on_methods=frozenset({"GET", "POST"}),
                **self.call_options,
            )
        except HttpResponseError as exc:
            code = getattr(exc.error, "code", None) or exc.reason or "error"
            raise HarvestError(
                f"Log Analytics query failed: HTTP {exc.status_code} {code}"
            ) from exc
        except AzureError as exc:
            raise HarvestError(f"Log Analytics unreachable ({type(exc).__name__})") from exc


def call_with_deadline(function: Callable[[], T], deadline_seconds: float, what: str) -> T:
    """`function()` in a daemon thread, given up on after `deadline_seconds` (a HarvestError).

    The SDK's own timeouts bound each socket read, not a whole call: a server that trickles,
    or retries that add up, would otherwise hold the harvest. The abandoned thread ends with
    its read timeout; being a daemon it never holds the process.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="harvest-query", daemon=True).start()
    if not done.wait(deadline_seconds):
        raise HarvestError(f"{what}: no answer within {deadline_seconds:g} s; nothing moved")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def rows_to_records(tables: Iterable[Any]) -> Iterator[FeedbackRecord]:
    """LogsTable rows → records; rows that cannot be training data are dropped (and counted)."""
    dropped = 0
    for table in tables or ():
        columns = list(table.columns)
        for row in table.rows:
            values = dict(zip(columns, row, strict=False))
            moment = values.get(TIME_COLUMN)
            record = make_record(moment, values) if moment else None
            if record is None:
                dropped += 1
                continue
            yield record
    if dropped:
        logger.warning("dropped %d feedback rows without a time, a valid id or a label", dropped)


def make_source(settings: Settings) -> FeedbackSource:
    """The source matching FEEDBACK_BACKEND: the local SQLite log, or Log Analytics."""
    if settings.FEEDBACK_BACKEND != "appinsights":
        return SqliteSource(settings.FEEDBACK_DB_PATH)
    if not settings.LOG_ANALYTICS_WORKSPACE_ID:
        raise HarvestError("FEEDBACK_BACKEND=appinsights needs LOG_ANALYTICS_WORKSPACE_ID")
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    return LogsQuerySource(
        settings.LOG_ANALYTICS_WORKSPACE_ID, credential, settings.LOGS_QUERY_ENDPOINT
    )
