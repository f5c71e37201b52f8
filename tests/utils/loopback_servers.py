"""Stand-ins for Azure and GitHub endpoints on 127.0.0.1, speaking their documented wire formats.

The real client libraries (azure-monitor-query, azure-monitor-opentelemetry-exporter, urllib)
talk to these servers, so the tests exercise serialisation, retries and auth headers for real:

- `LogAnalyticsServer`: `POST /v1/workspaces/{id}/query` with `{"query", "timespan"}` →
  `{"tables": [{"name": "PrimaryResult", "columns": [...], "rows": [...]}]}`. It cannot run KQL,
  but it does filter its rows by the ISO 8601 `timespan` it receives, so watermarks are tested
  for real. Scripted answers: "ok", "partial" (half the rows plus an `error`), "throttle"
  (429 + Retry-After), "throttle_no_header" (429 alone), "error500", "hang" (reads the request,
  never answers until the server stops). A row may carry `visible_at`: before that instant
  (the server's `clock`) it is not returned, as a flag still in the ingestion pipeline.
- `AppInsightsServer`: `POST /v2.1/track` (and `/v2/track`) with the exporter's JSON envelopes,
  gzip or not; answers `{"itemsReceived", "itemsAccepted", "errors": []}`.
- `GitHubServer`: `POST /repos/{owner}/{name}/dispatches` (repository_dispatch) and
  `POST /repos/{owner}/{name}/actions/workflows/{workflow}/dispatches` (workflow_dispatch);
  answers 204 (or a scripted status), after `delay` seconds when set.
- `SilentSwitch`: raw TCP, forwards to a real service (Azurite) until told to go silent, then
  accepts connections and never answers (a store that hangs rather than refuses).

Each is a context manager: `with LogAnalyticsServer() as server: server.url`.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

QUERY_PATH_RE = re.compile(r"^/v1/workspaces/(?P<workspace>[^/]+)/query$")
TRACK_PATHS = ("/v2.1/track", "/v2/track")
DISPATCH_PATH_RE = re.compile(r"^/repos/[^/]+/[^/]+/dispatches$")
WORKFLOW_DISPATCH_PATH_RE = re.compile(r"^/repos/[^/]+/[^/]+/actions/workflows/[^/]+/dispatches$")
LOG_COLUMNS = (
    ("TimeGenerated", "datetime"),
    ("prediction_id", "string"),
    ("predicted_label", "string"),
    ("correct_label", "string"),
    ("model_version", "string"),
    ("language", "string"),
    ("text", "string"),
    ("kind", "string"),
    ("text_sha256", "string"),
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
        self.stopping = threading.Event()  # set on exit: releases handlers told to hang
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
        self.stopping.set()
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
                try:
                    self.send_response(status)
                    for name, value in {"Content-Type": "application/json", **headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout, killed process): the request is recorded

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
    visible_at: datetime | None = None  # None: visible at once

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

    def __init__(
        self, default_answer: str = "ok", clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__()
        self.rows: list[LogRow] = []
        self.script: deque[str] = deque()
        self.default_answer = default_answer
        self.clock = clock or (lambda: datetime.now(UTC))

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
            now = self.clock()
            rows = sorted(
                (
                    r
                    for r in self.rows
                    if start <= r.time <= end and (r.visible_at is None or r.visible_at <= now)
                ),
                key=lambda r: r.time,
            )
        if answer == "hang":
            self.stopping.wait()
            return json_answer(503, {"error": {"code": "Stopped", "message": "server stopped"}})
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
    """The dispatch endpoints: 204 No Content, or `status` when a test sets one."""

    def __init__(self, status: int = 204, delay: float = 0.0) -> None:
        super().__init__()
        self.status = status
        self.delay = delay

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        if not (
            DISPATCH_PATH_RE.match(request.path) or WORKFLOW_DISPATCH_PATH_RE.match(request.path)
        ):
            return json_answer(404, {"message": "Not Found"})
        time.sleep(self.delay)
        if self.status == 204:
            return 204, {}, b""
        return json_answer(self.status, {"message": "Bad credentials"})


# --- a TCP endpoint that forwards, then goes silent ---------------------------------------------


class SilentSwitch:
    """A raw TCP server on 127.0.0.1: forwards to `target_port` (e.g. Azurite) until `go_silent()`,
    then accepts connections, reads what it is sent and never answers (a store that hangs).

    Going silent also cuts the connections being forwarded, so clients holding keep-alive
    connections meet the silence on their next request. Without a target it is silent from the
    start. Use as a context manager; `port` is free and on loopback.
    """

    def __init__(self, target_port: int | None = None) -> None:
        import socket

        self.target_port = target_port
        self.silent = threading.Event()
        if target_port is None:
            self.silent.set()
        self.stopping = threading.Event()
        self.accepted = 0
        self._open: list[Any] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def __enter__(self) -> SilentSwitch:
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._close_all()
        self._listener.close()

    def go_silent(self) -> None:
        self.silent.set()
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            sock.close()

    def _track(self, *sockets: Any) -> None:
        with self._lock:
            self._open.extend(sockets)

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            handler = self._swallow if self.silent.is_set() else self._forward
            threading.Thread(target=handler, args=(client,), daemon=True).start()

    def _swallow(self, client: Any) -> None:
        """Read and drop everything; answer nothing; close only when stopped."""
        client.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                if client.recv(65536) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        client.close()

    def _forward(self, client: Any) -> None:
        import selectors
        import socket

        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        self._track(client, upstream)
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self.silent.is_set() and not self.stopping.is_set():
                for key, _ in selector.select(timeout=0.1):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            client.close()
            upstream.close()
