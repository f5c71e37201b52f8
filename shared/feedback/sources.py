"""Where harvested feedback is read from: the local SQLite log, or Log Analytics (KQL)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
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

QUERY_PATH = Path(__file__).parent.parent / "queries" / "incorrect_predictions.kql"
TIME_COLUMN = "TimeGenerated"
SQLITE_INGESTION_LAG = timedelta(seconds=10)  # > the sink's busy timeout: a commit in flight
LOGS_INGESTION_LAG = timedelta(minutes=30)  # Azure Monitor: typically 20 s to 3 min
TIMESPAN_SLACK = timedelta(seconds=1)  # the timespan is a coarse pre-filter; KQL is exact
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Page:
    records: list[FeedbackRecord]
    partial: bool = False


class FeedbackSource(Protocol):
    """Where flags are read from; `ingestion_lag` is how late a row may still appear."""

    ingestion_lag: timedelta

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page: ...


class SqliteSource:
    """The local SQLite log that `SqliteFeedbackSink` writes (the embedded default)."""

    def __init__(self, sink_path: Path, ingestion_lag: timedelta = SQLITE_INGESTION_LAG) -> None:
        from shared.feedback.sinks import SqliteFeedbackSink

        self.sink = SqliteFeedbackSink(sink_path)
        self.ingestion_lag = ingestion_lag

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
        rows = self.sink.read_since(since.time, until, since.ids, limit)
        records = (make_record(row.flagged_at, row.properties) for row in rows)
        return Page([record for record in records if record is not None])


def load_query() -> str:
    return QUERY_PATH.read_text(encoding="utf-8")


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
    (a query is read-only); what still fails becomes a HarvestError and nothing moves. Plain
    http is accepted for loopback test servers only: a bearer token never leaves in clear text.
    """

    def __init__(
        self,
        workspace_id: str,
        credential: TokenCredential,
        endpoint: str | None = None,
        *,
        ingestion_lag: timedelta = LOGS_INGESTION_LAG,
        retry_total: int = 4,
        retry_backoff_factor: float = 1.0,
        server_timeout: int = 60,
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
            **options,
        )
        self.workspace_id = workspace_id
        self.ingestion_lag = ingestion_lag
        self.server_timeout = server_timeout
        self.call_options = {"enforce_https": False} if is_loopback_http(endpoint) else {}

    def fetch(self, since: Watermark, until: datetime, limit: int) -> Page:
        from azure.monitor.query import LogsQueryPartialResult

        query = build_harvest_query(load_query(), since, until, limit)
        response = self._query(query, (since.time - TIMESPAN_SLACK, until + TIMESPAN_SLACK))
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
