"""Pure ASGI middleware: body limit, last-resort error handler, security headers.

Pure ASGI rather than `BaseHTTPMiddleware` so the same stack behaves identically under uvicorn,
under `TestClient` and under the Azure Functions `AsgiMiddleware`, and so the body limit can count
a chunked body as it streams in instead of trusting Content-Length.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.api.errors import error_response
from shared.api.schemas import MAX_BATCH_ITEMS, MAX_TEXT_CHARS, ErrorDetail

logger = logging.getLogger(__name__)

# The largest body the schema accepts, so no valid batch is refused for its bytes: every text at
# its limit in code points, each code point written the longest way JSON allows (an astral
# character as a "\ud83d\ude00" surrogate pair: 12 bytes), plus quotes and commas, plus 1 KB
# for the envelope and a little whitespace. About 587 KB; anything larger cannot be valid.
JSON_ESCAPED_CHAR_BYTES = 12
MAX_BODY_BYTES = MAX_BATCH_ITEMS * (MAX_TEXT_CHARS * JSON_ESCAPED_CHAR_BYTES + 3) + 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",  # a default: the page and static files set their own
}


class BodyLimitError(Exception):
    """The body is larger than the limit; raised while it streams in."""


async def read_limited_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or raise BodyLimitError past `max_bytes`; None when the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyLimitError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def declared_length(scope: Scope) -> int | None:
    """Content-Length as an int, -1 when it is not a valid one, None when absent."""
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    return int(value) if value.isascii() and value.isdigit() else -1


class BodyLimitMiddleware:
    """413 for any body over `max_bytes`, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length == -1:
            await self.reject(scope, receive, send, 400, "invalid Content-Length header")
            return
        if length is not None and length > self.max_bytes:
            await self.reject(scope, receive, send, 413, self.too_large_message())
            return
        try:
            body = await read_limited_body(receive, self.max_bytes)
        except BodyLimitError:
            await self.reject(scope, receive, send, 413, self.too_large_message())
            return
        if body is not None:
            await self.app(scope, replay_body(body, receive), send)

    def too_large_message(self) -> str:
        return (
            f"the request body is larger than {self.max_bytes // 1024} KB, more than "
            f"{MAX_BATCH_ITEMS} texts of {MAX_TEXT_CHARS} characters can take"
        )

    async def reject(
        self, scope: Scope, receive: Receive, send: Send, status: int, msg: str
    ) -> None:
        code = "payload_too_large" if status == 413 else "bad_request"
        response = error_response(status, ErrorDetail(code=code, message=msg))
        response.headers["connection"] = "close"
        await response(scope, receive, send)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the app, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class CatchAllMiddleware:
    """Turn any unexpected exception into a generic JSON 500: no stack trace, no input echoed.

    Starlette's own handler re-raises after answering, which the Functions worker would report as
    a failed invocation; this one answers and stops there, after logging for the operators.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            logger.exception("unhandled %s on %s", type(exc).__name__, scope.get("method"))
            if not started:
                detail = ErrorDetail(code="internal_error", message="unexpected server error")
                await error_response(500, detail)(scope, receive, send)


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response, unless a route set its own value.

    Works on the raw (bytes) header list, encoded once here: going through `MutableHeaders`
    decoded every header for every check, ~20 µs a response.
    """

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in self.raw_headers if pair[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadMiddleware:
    """HEAD wherever GET is: answered as the GET would be, headers only.

    Load balancers and uptime probes send HEAD; FastAPI routes declared with GET answer it 405.
    Running the GET keeps Content-Length and status exactly the GET's, as RFC 9110 asks.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # swallow the chunks; the last one ends the response
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
