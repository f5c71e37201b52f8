"""Stand-ins for Azure and GitHub endpoints on 127.0.0.1, speaking their documented wire formats.

The real client libraries (azure-monitor-query, azure-monitor-opentelemetry-exporter, urllib)
talk to these servers, so the tests exercise serialisation, retries and auth headers for real:

- `LogAnalyticsServer`: `POST /v1/workspaces/{id}/query` with `{"query", "timespan"}` →
  `{"tables": [{"name": "PrimaryResult", "columns": [...], "rows": [...]}]}`. It cannot run KQL,
  but it does filter its rows by the ISO 8601 `timespan` it receives, so watermarks are tested
  for real. Scripted answers: "ok", "partial" (half the rows plus an `error`), "throttle"
  (429 + Retry-After), "throttle_no_header" (429 alone), "error500".
- `AppInsightsServer`: `POST /v2.1/track` (and `/v2/track`) with the exporter's JSON envelopes,
  gzip or not; answers `{"itemsReceived", "itemsAccepted", "errors": []}`.
- `GitHubServer`: `POST /repos/{owner}/{name}/dispatches`; answers 204 (or a scripted status).

Each is a context manager: `with LogAnalyticsServer() as server: server.url`.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

QUERY_PATH_RE = re.compile(r"^/v1/workspaces/(?P<workspace>[^/]+)/query$")
TRACK_PATHS = ("/v2.1/track", "/v2/track")
DISPATCH_PATH_RE = re.compile(r"^/repos/[^/]+/[^/]+/dispatches$")
LOG_COLUMNS = (
    ("TimeGenerated", "datetime"),
    ("prediction_id", "string"),
    ("predicted_label", "string"),
    ("correct_label", "string"),
    ("model_version", "string"),
    ("language", "string"),
    ("text", "string"),
)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackServer:
    """A ThreadingHTTPServer on a free loopback port, run in a daemon thread."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                request = RecordedRequest("POST", self.path, dict(self.headers.items()), body)
                with owner.lock:
                    owner.requests.append(request)
                status, headers, payload = owner.handle(request)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean

        return Handler


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None):
    return status, headers or {}, json.dumps(body).encode()


# --- Log Analytics ---------------------------------------------------------------------------


@dataclass
class LogRow:
    """One AppTraces row as the shared query projects it."""

    time: datetime
    values: dict[str, str]

    def cells(self) -> list[str]:
        stamp = self.time.astimezone(UTC)
        iso = f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond:06d}0Z"  # 7 decimals, as Kusto
        return [iso, *(self.values.get(name, "") for name, _ in LOG_COLUMNS[1:])]


def parse_timespan(timespan: str | None) -> tuple[datetime, datetime]:
    """The "start/end" ISO 8601 (what LogsQueryClient sends for a (start, end) tuple)."""
    if not timespan or "/" not in timespan:
        return datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    start, end = timespan.split("/", 1)
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


class LogAnalyticsServer(LoopbackServer):
    """The Log Analytics query API: rows in, timespan-filtered tables out, scripted failures."""

    def __init__(self, default_answer: str = "ok") -> None:
        super().__init__()
        self.rows: list[LogRow] = []
        self.script: deque[str] = deque()
        self.default_answer = default_answer

    def add_rows(self, rows: list[LogRow]) -> None:
        with self.lock:
            self.rows.extend(rows)

    def then(self, *answers: str) -> LogAnalyticsServer:
        """Answer the next requests with these, in order; then `default_answer`."""
        self.script.extend(answers)
        return self

    def query_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if QUERY_PATH_RE.match(r.path)]

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if not QUERY_PATH_RE.match(request.path):
            return json_answer(404, {"error": {"code": "PathNotFoundError", "message": "no"}})
        with self.lock:
            answer = self.script.popleft() if self.script else self.default_answer
            start, end = parse_timespan(request.json().get("timespan"))
            rows = sorted((r for r in self.rows if start <= r.time <= end), key=lambda r: r.time)
        return self.answer(answer, rows)

    def answer(self, answer: str, rows: list[LogRow]) -> tuple[int, dict[str, str], bytes]:
        if answer == "throttle":
            return json_answer(429, throttled(), {"Retry-After": "1"})
        if answer == "throttle_no_header":
            return json_answer(429, throttled())
        if answer == "error500":
            error = {"code": "InternalServerError", "message": "the engine fell over"}
            return json_answer(500, {"error": error})
        if answer == "partial":
            body = tables_body(rows[: len(rows) // 2])
            body["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [{"code": "EngineError", "message": "a shard did not answer"}],
            }
            return json_answer(200, body)
        return json_answer(200, tables_body(rows))


def throttled() -> dict[str, Any]:
    return {"error": {"code": "ThrottledError", "message": "too many requests"}}


def tables_body(rows: list[LogRow]) -> dict[str, Any]:
    columns = [{"name": name, "type": kind} for name, kind in LOG_COLUMNS]
    return {
        "tables": [{"name": "PrimaryResult", "columns": columns, "rows": [r.cells() for r in rows]}]
    }


# --- Application Insights ingestion ----------------------------------------------------------


class AppInsightsServer(LoopbackServer):
    """Breeze, the App Insights ingestion endpoint: accepts every envelope it is sent."""

    def envelopes(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for request in self.requests:
            if request.path in TRACK_PATHS:
                found.extend(decode_envelopes(request.body))
        return found

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if request.path not in TRACK_PATHS:
            return json_answer(404, {"error": "not found"})
        count = len(decode_envelopes(request.body))
        return json_answer(200, {"itemsReceived": count, "itemsAccepted": count, "errors": []})


def decode_envelopes(body: bytes) -> list[dict[str, Any]]:
    """A JSON array of envelopes, or one envelope per line (the older wire format)."""
    text = body.decode("utf-8").strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- GitHub ----------------------------------------------------------------------------------


class GitHubServer(LoopbackServer):
    """The repository_dispatch endpoint: 204 No Content, or `status` when a test sets one."""

    def __init__(self, status: int = 204) -> None:
        super().__init__()
        self.status = status

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if not DISPATCH_PATH_RE.match(request.path):
            return json_answer(404, {"message": "Not Found"})
        if self.status == 204:
            return 204, {}, b""
        return json_answer(self.status, {"message": "Bad credentials"})
