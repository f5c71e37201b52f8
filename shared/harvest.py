"""The weekly harvest: flagged predictions → JSON Lines in the feedback container, exactly once.

A source (the local SQLite log, or Log Analytics through the KQL file the alert also uses) is
read from the watermark up to `now` minus the source's ingestion lag, in pages ordered by
(time, prediction id). Each page is committed in three writes, in this order:

1. the data file `feedback/<yyyy>/<mm>/<dd>/<batch>.jsonl`, named by a hash of its content, so a
   rerun that finds the same new records rewrites the same name;
2. the index `state/index.json`, which lists every committed batch and its prediction ids. It is
   the commit point: `read_feedback` reads a record only from the batch the index gives it, so a
   data file left behind by a crash is ignored and its records are harvested again by the rerun;
3. the watermark `state/watermark.json`, LAST: the last time read plus the ids read at exactly
   that time, so rows sharing a timestamp are neither skipped nor read twice.

A crash between any two writes leaves a state from which a rerun loses nothing (the watermark
never passes an uncommitted record) and duplicates nothing (the index filters what was committed).
A partial Log Analytics answer is committed too (the index makes that safe) but does not move the
watermark, so the next run reads the whole window again. Writes to the index and the watermark are
conditional (ETag), so two harvests racing cannot both win: the loser fails and can be rerun.

When the records not yet consumed by a retrain reach RETRAIN_THRESHOLD, one retrain request is
written to `requests/<timestamp>.json` (one per "consumption generation": `mark_consumed` starts
a new one) and, when GITHUB_REPOSITORY and GITHUB_TOKEN are set, a `repository_dispatch` is sent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from shared.feedback_event import LABELS, PROPERTIES
from shared.storage import ObjectStore, PreconditionFailed, StorageError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from shared.settings import Settings

logger = logging.getLogger(__name__)

QUERY_PATH = Path(__file__).parent / "queries" / "incorrect_predictions.kql"
WATERMARK_NAME = "state/watermark.json"
INDEX_NAME = "state/index.json"
CONSUMED_NAME = "state/consumed.json"
DATA_PREFIX = "feedback/"
REQUESTS_PREFIX = "requests/"
TIME_COLUMN = "TimeGenerated"
FLAGGED_AT = "flagged_at"
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)  # no watermark yet: everything still retained
PAGE_SIZE = 50_000  # well under Log Analytics' 500,000-row / 64 MB answer limit
MAX_PAGES = 200
SQLITE_INGESTION_LAG = timedelta(seconds=10)  # > the sink's busy timeout: a commit in flight
LOGS_INGESTION_LAG = timedelta(minutes=30)  # Azure Monitor: typically 20 s to 3 min
TIMESPAN_SLACK = timedelta(seconds=1)  # the timespan is a coarse pre-filter; KQL is exact
GITHUB_API_URL = "https://api.github.com"
GITHUB_TIMEOUT_SECONDS = 10.0
REPOSITORY_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CONSUMED_WRITE_ATTEMPTS = 5


class HarvestError(RuntimeError):
    """The harvest could not finish; what it committed is safe and a rerun continues from there."""


# --- records and watermark (pure) -----------------------------------------------------------


def to_utc(moment: datetime | str) -> datetime:
    """Log Analytics gives datetimes (or ISO strings with 7 decimals); we keep aware UTC."""
    if isinstance(moment, str):
        text = moment.strip().replace("Z", "+00:00")
        head, dot, tail = text.partition(".")
        if dot:  # Python parses at most 6 decimals: truncate, as the SDK does
            digits = re.match(r"\d*", tail).group()  # type: ignore[union-attr]
            text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return to_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class FeedbackRecord:
    """One flagged prediction as harvested: when it was flagged, and the event's properties."""

    flagged_at: datetime
    properties: dict[str, str]

    @property
    def prediction_id(self) -> str:
        return self.properties["prediction_id"]

    def sort_key(self) -> tuple[datetime, str]:
        return (self.flagged_at, self.prediction_id)

    def to_dict(self) -> dict[str, str]:
        return {FLAGGED_AT: format_time(self.flagged_at), **self.properties}


def make_record(flagged_at: datetime | str, values: dict[str, Any]) -> FeedbackRecord | None:
    """A record from a source row, or None when the row cannot be training data."""
    properties = {name: str(values.get(name) or "") for name in PROPERTIES}
    try:
        properties["prediction_id"] = str(uuid.UUID(properties["prediction_id"]))
    except ValueError:
        return None
    if properties["correct_label"] not in LABELS:
        return None
    return FeedbackRecord(to_utc(flagged_at), properties)


@dataclass(frozen=True)
class Watermark:
    """Everything up to `time` is harvested, and at exactly `time`, the ids in `ids`."""

    time: datetime = BEGINNING
    ids: frozenset[str] = frozenset()

    def admits(self, record: FeedbackRecord) -> bool:
        if record.flagged_at != self.time:
            return record.flagged_at > self.time
        return record.prediction_id not in self.ids

    def advance(self, records: Sequence[FeedbackRecord]) -> Watermark:
        """Past `records` (sorted): the last time read, and every id read at that time."""
        if not records:
            return self
        last = records[-1].flagged_at
        ids = {r.prediction_id for r in records if r.flagged_at == last}
        return Watermark(last, frozenset(ids | (self.ids if last == self.time else set())))

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "time": format_time(self.time),
            "ids_at_time": sorted(self.ids),
            "updated_at": format_time(now),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Watermark:
        return cls(to_utc(data["time"]), frozenset(data.get("ids_at_time", ())))


def select_page(
    records: Iterable[FeedbackRecord], since: Watermark, until: datetime, limit: int
) -> list[FeedbackRecord]:
    """What the KQL wrapper asks for, enforced again here: after `since`, before `until`, sorted."""
    kept = [r for r in records if since.admits(r) and r.flagged_at < until]
    return sorted(kept, key=FeedbackRecord.sort_key)[:limit]


def split_fresh(
    records: Iterable[FeedbackRecord], harvested: set[str]
) -> tuple[list[FeedbackRecord], int]:
    """(records never harvested, in order; how many were duplicates, also within the page)."""
    fresh, seen, duplicates = [], set(harvested), 0
    for record in records:
        if record.prediction_id in seen:
            duplicates += 1
            continue
        seen.add(record.prediction_id)
        fresh.append(record)
    return fresh, duplicates


def encode_batch(records: Sequence[FeedbackRecord]) -> tuple[str, bytes]:
    """(batch id, JSON Lines): the id is a hash of the content, so equal batches share a name."""
    lines = [json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False) for r in records]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:24], data


def batch_path(batch_id: str, now: datetime) -> str:
    return f"{DATA_PREFIX}{to_utc(now):%Y/%m/%d}/{batch_id}.jsonl"


# --- sources ---------------------------------------------------------------------------------


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
        from shared.feedback import SqliteFeedbackSink

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


# --- state in the store ------------------------------------------------------------------------


def read_json(store: ObjectStore, name: str) -> tuple[Any, str | None]:
    """(parsed JSON or None, ETag); a corrupt state file stops the harvest rather than reset it."""
    stored = store.get(name)
    if stored is None:
        return None, None
    try:
        return json.loads(stored.data), stored.etag
    except ValueError as exc:
        raise HarvestError(f"{store.describe()}: {name} is not valid JSON") from exc


def write_json(store: ObjectStore, name: str, data: Any, etag: str | None) -> str:
    """Conditional write: replace what we read (If-Match), or create (If-None-Match: *)."""
    body = json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")
    try:
        return store.put(name, body, if_match=etag, if_none_match=etag is None)
    except PreconditionFailed as exc:
        raise HarvestError(f"{name} changed during the harvest (another run?); rerun") from exc


@dataclass
class Index:
    """Committed batches: id → {"path", "ids", "harvested_at"}; the set of harvested ids."""

    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    etag: str | None = None

    def harvested_ids(self) -> set[str]:
        return {pid for batch in self.batches.values() for pid in batch["ids"]}


def load_index(store: ObjectStore) -> Index:
    data, etag = read_json(store, INDEX_NAME)
    return Index((data or {}).get("batches", {}), etag)


def load_watermark(store: ObjectStore) -> tuple[Watermark, str | None]:
    data, etag = read_json(store, WATERMARK_NAME)
    return (Watermark.from_json(data) if data else Watermark()), etag


def load_consumed(store: ObjectStore) -> tuple[set[str], int, str | None]:
    """(consumed ids, generation, ETag): the generation grows with every retrain's consumption."""
    data, etag = read_json(store, CONSUMED_NAME)
    data = data or {}
    return set(data.get("ids", ())), int(data.get("generation", 0)), etag


def commit_batch(
    store: ObjectStore, index: Index, records: Sequence[FeedbackRecord], now: datetime
) -> str:
    """Data file first, then the index that makes it count; returns the batch id."""
    batch_id, data = encode_batch(records)
    path = batch_path(batch_id, now)
    store.put(path, data)
    entry = {
        "path": path,
        "ids": [r.prediction_id for r in records],
        "harvested_at": format_time(now),
    }
    batches = {**index.batches, batch_id: entry}
    index.etag = write_json(store, INDEX_NAME, {"version": 1, "batches": batches}, index.etag)
    index.batches = batches
    return batch_id


# --- the harvest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HarvestResult:
    """What one run did; `watermark` is None until a run has completed a full page."""

    new_records: int
    duplicates: int
    watermark: datetime | None
    retrain_requested: bool
    unconsumed: int = 0
    partial: bool = False
    batches: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data["watermark"] = format_time(self.watermark) if self.watermark else None
        return data


@dataclass
class HarvestRun:
    """The mutable state of one harvest while it pages through the source."""

    index: Index
    watermark: Watermark
    watermark_etag: str | None
    harvested: set[str]
    new_records: int = 0
    duplicates: int = 0
    partial: bool = False
    batches: list[str] = field(default_factory=list)


def harvest(
    source: FeedbackSource,
    store: ObjectStore,
    now: datetime,
    settings: Settings,
    *,
    page_size: int = PAGE_SIZE,
    github_api_url: str = GITHUB_API_URL,
) -> HarvestResult:
    """Read new flags into the store; ask for a retrain when enough are waiting."""
    now = to_utc(now)
    until = now - source.ingestion_lag
    try:
        run = start_run(store)
        for _ in range(MAX_PAGES):
            if not harvest_page(source, store, run, until, now, page_size):
                break
        unconsumed, requested = check_threshold(store, run.harvested, now, settings, github_api_url)
    except StorageError as exc:
        raise HarvestError(f"feedback store failed: {exc}") from exc
    return HarvestResult(
        run.new_records,
        run.duplicates,
        run.watermark.time if run.watermark_etag else None,
        requested,
        unconsumed,
        run.partial,
        tuple(run.batches),
    )


def start_run(store: ObjectStore) -> HarvestRun:
    index = load_index(store)
    watermark, etag = load_watermark(store)
    return HarvestRun(index, watermark, etag, index.harvested_ids())


def harvest_page(
    source: FeedbackSource,
    store: ObjectStore,
    run: HarvestRun,
    until: datetime,
    now: datetime,
    page_size: int,
) -> bool:
    """Commit one page; True when the source may hold more after it."""
    page = source.fetch(run.watermark, until, page_size)
    records = select_page(page.records, run.watermark, until, page_size)
    fresh, duplicates = split_fresh(records, run.harvested)
    if fresh:
        run.batches.append(commit_batch(store, run.index, fresh, now))
        run.harvested.update(r.prediction_id for r in fresh)
    run.new_records += len(fresh)
    run.duplicates += duplicates
    if page.partial:
        run.partial = True
        return False
    if records:
        watermark = run.watermark.advance(records)
        run.watermark_etag = write_json(
            store, WATERMARK_NAME, watermark.to_json(now), run.watermark_etag
        )
        run.watermark = watermark
    return len(records) >= page_size


# --- retrain requests ------------------------------------------------------------------------


def check_threshold(
    store: ObjectStore, harvested: set[str], now: datetime, settings: Settings, api_url: str
) -> tuple[int, bool]:
    """(unconsumed count, whether this run made a new retrain request).

    One request per generation of `state/consumed.json`: a rerun, or the next weekly run before
    the retrain consumed anything, finds the request already made (and retries its dispatch if
    that failed) instead of asking again.
    """
    consumed, generation, _ = load_consumed(store)
    unconsumed = len(harvested - consumed)
    if unconsumed < settings.RETRAIN_THRESHOLD:
        return unconsumed, False
    latest = latest_request(store)
    if latest is not None and latest[1].get("generation") == generation:
        retry_dispatch(store, latest, settings, api_url)
        return unconsumed, False
    request = make_request(now, generation, unconsumed, settings)
    write_json(store, request[0], request[1], None)
    logger.info("%d feedback records unconsumed: retrain requested", unconsumed)
    retry_dispatch(store, request, settings, api_url)
    return unconsumed, True


def make_request(
    now: datetime, generation: int, unconsumed: int, settings: Settings
) -> tuple[str, dict[str, Any]]:
    """(object name, content) of a retrain request record."""
    name = f"{REQUESTS_PREFIX}{to_utc(now):%Y%m%dT%H%M%S%fZ}.json"
    return name, {
        "requested_at": format_time(now),
        "generation": generation,
        "unconsumed": unconsumed,
        "threshold": settings.RETRAIN_THRESHOLD,
        "dispatch": "pending" if github_configured(settings) else "not_configured",
    }


def latest_request(store: ObjectStore) -> tuple[str, dict[str, Any]] | None:
    names = sorted(n for n in store.list(REQUESTS_PREFIX) if n.endswith(".json"))
    if not names:
        return None
    data, _ = read_json(store, names[-1])
    return (names[-1], data) if isinstance(data, dict) else None


def github_configured(settings: Settings) -> bool:
    return bool(settings.GITHUB_REPOSITORY and settings.GITHUB_TOKEN)


def retry_dispatch(
    store: ObjectStore, request: tuple[str, dict[str, Any]], settings: Settings, api_url: str
) -> None:
    """Send the dispatch a request still owes (new, or failed last time) and record the outcome."""
    name, data = request
    if data.get("dispatch") not in ("pending", "failed") or not github_configured(settings):
        return
    payload = {"request": name, "unconsumed": data.get("unconsumed")}
    sent = dispatch_retrain(settings, api_url, payload)
    etag = store.etag(name)
    write_json(store, name, {**data, "dispatch": "sent" if sent else "failed"}, etag)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect must not carry the token to another host: treat it as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def dispatch_retrain(settings: Settings, api_url: str, payload: dict[str, Any]) -> bool:
    """POST a `retrain` repository_dispatch; False (logged, without the token) on any failure."""
    repo = settings.GITHUB_REPOSITORY or ""
    if not REPOSITORY_RE.fullmatch(repo) or urlsplit(api_url).scheme not in ("http", "https"):
        logger.error("repository_dispatch skipped: GITHUB_REPOSITORY or API URL malformed")
        return False
    token = settings.GITHUB_TOKEN.get_secret_value() if settings.GITHUB_TOKEN else ""
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        f"{api_url.rstrip('/')}/repos/{repo}/dispatches",
        data=json.dumps({"event_type": "retrain", "client_payload": payload}).encode(),
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=GITHUB_TIMEOUT_SECONDS):
            logger.info("repository_dispatch 'retrain' sent to %s", repo)
            return True
    except urllib.error.HTTPError as exc:
        logger.warning("repository_dispatch to %s failed: HTTP %s", repo, exc.code)
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("repository_dispatch to %s failed: %s", repo, type(exc).__name__)
    return False


# --- for the retrain command -------------------------------------------------------------------


def read_feedback(store: ObjectStore, *, unconsumed_only: bool = False) -> list[dict[str, str]]:
    """Every harvested record once, oldest first; each read from the batch the index names."""
    index = load_index(store)
    consumed = load_consumed(store)[0] if unconsumed_only else set()
    records: dict[str, dict[str, str]] = {}
    for batch in index.batches.values():
        wanted = set(batch["ids"]) - consumed
        for record in read_batch(store, batch["path"]):
            if record["prediction_id"] in wanted:
                records.setdefault(record["prediction_id"], record)
    return sorted(records.values(), key=lambda r: (r[FLAGGED_AT], r["prediction_id"]))


def read_batch(store: ObjectStore, path: str) -> list[dict[str, str]]:
    stored = store.get(path)
    if stored is None:
        raise HarvestError(f"{store.describe()}: the index names {path}, which is missing")
    return [json.loads(line) for line in stored.data.decode("utf-8").splitlines() if line]


def mark_consumed(store: ObjectStore, prediction_ids: Iterable[str]) -> int:
    """Record that a retrain used these records; returns how many were newly consumed.

    A change starts a new generation, so the next crossing of the threshold asks again.
    """
    wanted = set(prediction_ids)
    for _ in range(CONSUMED_WRITE_ATTEMPTS):
        consumed, generation, etag = load_consumed(store)
        added = wanted - consumed
        if not added:
            return 0
        data = {"generation": generation + 1, "ids": sorted(consumed | added)}
        try:
            write_json(store, CONSUMED_NAME, data, etag)
        except HarvestError:
            continue  # someone else wrote it in between: read again
        return len(added)
    raise HarvestError("state/consumed.json kept changing; try again")


# --- entry points ----------------------------------------------------------------------------


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


def run_harvest(settings: Settings, now: datetime | None = None) -> HarvestResult:
    """One harvest with the configured source and feedback container (timer, CLI)."""
    from shared.storage import open_object_store

    store = open_object_store(settings, settings.FEEDBACK_CONTAINER)
    return harvest(make_source(settings), store, now or datetime.now(UTC), settings)


def harvest_timer(timer: Any) -> None:
    """Body of the weekly timer trigger; a failure fails the invocation, where alerts see it."""
    from shared.settings import get_settings

    if getattr(timer, "past_due", False):
        logger.info("harvest timer is past due; harvesting now")
    result = run_harvest(get_settings())
    logger.info("feedback harvest done: %s", json.dumps(result.summary(), sort_keys=True))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m shared.harvest`: one harvest by hand, with the settings of the environment."""
    parser = argparse.ArgumentParser(prog="python -m shared.harvest", description=main.__doc__)
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from shared.settings import get_settings

    try:
        result = run_harvest(get_settings())
    except HarvestError as exc:
        print(f"harvest failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.summary(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
