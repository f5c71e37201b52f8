"""Redaction of spans and log records: nothing a user wrote leaves the process as telemetry.

Instrumentation we do not write records what requests look like: an HTTP client span holds the
full URL (the translator's query string is the whole tweet), a server span the request target
with its query, a database span its statement, an exception event the exception's message (which
often repeats its input, e.g. "Max retries exceeded with url: /m?...&q=<tweet>"). The rules here
apply to every span and log record, whatever produced it:

- URLs keep scheme, host, port and path; user info, query and fragment go (`url.query` goes);
- database statements keep their SQL with string literals replaced by `?`;
- exception messages become the exception's type; tracebacks keep their frames, not the message;
- a span's status description keeps the exception type only.

Spans are redacted in the SDK's "ending" hook (`_on_ending`), which the SDK calls on every
processor with the live span BEFORE any processor's `on_end`, i.e. before any exporter sees it,
whatever order the processors were added in. Log records are redacted when they are created (a
log record factory), before any handler (the OpenTelemetry one included) formats them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status

URL_KEYS = frozenset({"url.full", "http.url", "http.target", "url.original", "http.request.url"})
DROP_KEYS = frozenset({"url.query"})
STATEMENT_KEYS = frozenset({"db.statement", "db.query.text"})
MESSAGE_KEYS = frozenset({"exception.message"})
STACK_KEYS = frozenset({"exception.stacktrace"})
# A URL or path followed by "?": the rest of the line goes (a logged query may be unencoded).
URL_IN_TEXT = re.compile(r"(?P<base>(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#'\"]+)?/[^\s?#'\"]*)\?.*")
SQL_STRING = re.compile(r"'(?:[^']|'')*'")
TRACEBACK_KEEP = ("Traceback ", "  File ", "During handling", "The above exception")


def redact_url(value: str) -> str:
    """`https://host:port/path` (or `/path` for a bare target): no user info, query, fragment."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "<redacted>"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact_text(value: str) -> str:
    """Free text (log messages, span names): a URL or path loses its query and the rest of its
    line ("GET /m?q=<text> failed" → "GET /m")."""
    return URL_IN_TEXT.sub(lambda match: match.group("base"), value)


def redact_statement(value: str) -> str:
    return SQL_STRING.sub("?", value)


def redact_traceback(value: str) -> str:
    """Frames and chaining lines only; a line giving an exception's message keeps its type."""
    kept: list[str] = []
    for line in value.splitlines():
        frame_code = bool(kept) and kept[-1].startswith("  File ")
        if line.startswith(TRACEBACK_KEEP) or frame_code or not line.strip():
            kept.append(line)
        elif not line.startswith(" "):
            kept.append(line.split(":", 1)[0])
    return "\n".join(kept)


def redact_attribute(key: str, value: Any, exception_type: str | None = None) -> Any:
    """The value to keep for one attribute; None means drop it."""
    if key in DROP_KEYS:
        return None
    if not isinstance(value, str):
        return value
    if key in URL_KEYS:
        return redact_url(value)
    if key in STATEMENT_KEYS:
        return redact_statement(value)
    if key in MESSAGE_KEYS:
        return exception_type or "exception"
    if key in STACK_KEYS:
        return redact_traceback(value)
    return redact_text(value)


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    attributes = attributes or {}
    exception_type = attributes.get("exception.type")
    redacted = {
        key: redact_attribute(key, value, exception_type) for key, value in attributes.items()
    }
    return {key: value for key, value in redacted.items() if value is not None}


def redact_status(status: Status) -> Status:
    """ "ConnectionError: <message>" → "ConnectionError"."""
    if not status.description:
        return status
    return Status(status.status_code, status.description.split(":", 1)[0])


class RedactingSpanProcessor(SpanProcessor):
    """Applies the module's rules to every span of its provider before any exporter sees it."""

    def on_start(self, span: Span, parent_context: object = None) -> None:
        """Name and start attributes (the public API, in case `_on_ending` ever goes away)."""
        if "?" in span.name:
            span.update_name(redact_text(span.name))
        for key, value in (span.attributes or {}).items():
            clean = redact_attribute(key, value)
            if clean is not None and clean != value:
                span.set_attribute(key, clean)

    def _on_ending(self, span: Span) -> None:  # the SDK's hook: span ended, not yet exported
        try:
            redact_ending_span(span)
        except Exception:  # never break the request; drop the span's content instead
            logging.getLogger(__name__).warning("could not redact span %s", type(span).__name__)
            span._attributes = {}
            span._events = []

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def redact_ending_span(span: Span) -> None:
    """Rewrite the ended span's attributes, events and status in place (SDK internals)."""
    from opentelemetry.attributes import BoundedAttributes

    attributes = span._attributes
    clean = redact_attributes(attributes)
    span._attributes = BoundedAttributes(
        maxlen=getattr(attributes, "maxlen", None), attributes=clean, immutable=True
    )
    events = span._events
    for index, event in enumerate(list(events)):
        events._dq[index] = Event(event.name, redact_attributes(event.attributes), event.timestamp)
    span._status = redact_status(span._status)


# --- log records -----------------------------------------------------------------------------

_log_state: dict[str, Any] = {}


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """URLs in the message and its arguments lose their queries; an exception loses its message.

    Arguments are redacted one by one, keeping their shape: formatters such as uvicorn's access
    log unpack `record.args`. Numbers are left alone (a "%d" must still get one).
    """
    if isinstance(record.msg, str):
        record.msg = redact_text(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(redact_argument(argument) for argument in record.args)
    elif isinstance(record.args, Mapping):
        record.args = {key: redact_argument(value) for key, value in record.args.items()}
    if record.exc_info and record.exc_info[1] is not None:
        kind, error, trace = record.exc_info
        record.exc_info = (kind, message_free(error), trace)
        record.exc_text = None
    return record


def redact_argument(argument: Any) -> Any:
    if argument is None or isinstance(argument, (bool, int, float)):
        return argument
    text = str(argument)
    clean = redact_text(text)
    if isinstance(argument, str) or clean != text:
        return clean
    return argument


def message_free(error: BaseException) -> BaseException:
    """An exception of the same type without arguments (its message), or a bare Exception."""
    try:
        bare = type(error).__new__(type(error))
        bare.args = ()
        str(bare)  # some types cannot print without their arguments
        return bare
    except Exception:
        return Exception(type(error).__name__)


def install_log_redaction() -> None:
    """Wrap the process's log record factory, once."""
    if "factory" in _log_state:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    _log_state["factory"] = previous
    logging.setLogRecordFactory(factory)


def uninstall_log_redaction() -> None:
    previous = _log_state.pop("factory", None)
    if previous is not None:
        logging.setLogRecordFactory(previous)
