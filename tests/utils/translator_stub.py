"""A loopback stand-in for Google Translate's mobile page, as deep-translator reads it.

deep-translator 1.11 sends `GET https://translate.google.com/m?tl=<target>&sl=<source>&q=<text>`
and takes the text of `<div class="t0">` or, failing that, `<div class="result-container">`.
This server answers the same request on 127.0.0.1 (free port), so tests run the real library
without the internet. Point `Settings.TRANSLATOR_URL` (or `Translator(base_url=...)`) at
`stub.url`. Modes, switchable while it runs through `stub.mode`:

- "translate": a tiny dictionary, else "[en] <text>";
- "hang": answers after `hang_seconds` (longer than any translation timeout);
- "drip": answers a byte at a time, one every `drip_seconds` (status line, headers and page),
  so no single socket read ever waits long: only a deadline on the whole call stops it;
- "unchanged": a valid page whose "translation" is the text as sent, upper-cased and with its
  spaces doubled (Google does this for text it cannot translate, case and spacing aside);
- "error": HTTP 500; "rate_limited": HTTP 429;
- "garbage": a 200 page without the element deep-translator looks for.

Every request is recorded (`stub.requests`: the query parameters) so tests can prove the cache
works and that English is never sent.

    with run_translator_stub() as stub:
        Translator(base_url=stub.url).translate("vol annulé", "fr")
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit

Mode = Literal["translate", "hang", "drip", "unchanged", "error", "rate_limited", "garbage"]

DICTIONARY = {
    "je suis très en colère": "i am very angry",
    "vol annulé": "flight cancelled",
}
PATH = "/m"


def translate_text(text: str) -> str:
    """The stub's 'translation': a dictionary look-up, else the text marked as translated."""
    return DICTIONARY.get(text.strip().lower(), f"[en] {text}")


def render_page(translation: str) -> str:
    """The part of Google's mobile page deep-translator parses."""
    return (
        "<!DOCTYPE html><html><head><title>Google Translate</title></head><body>"
        f'<div class="result-container">{html.escape(translation)}</div></body></html>'
    )


class TranslatorStub:
    """The server, its mode and what it was asked; use `run_translator_stub()` to start it."""

    def __init__(
        self, mode: Mode = "translate", hang_seconds: float = 5.0, drip_seconds: float = 0.5
    ) -> None:
        self.mode: Mode = mode
        self.hang_seconds = hang_seconds
        self.drip_seconds = drip_seconds
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._server.daemon_threads = True

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> None:
        serve = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        serve.start()

    def stop(self) -> None:
        """Stop serving and release hanging handlers."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def record(self, params: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(params)

    def answer(self, params: dict[str, str]) -> tuple[int, str]:
        """Status and body for one request, by mode."""
        if self.mode == "hang":
            self._stopping.wait(self.hang_seconds)
        if self.mode == "error":
            return 500, "<html><body>Server Error</body></html>"
        if self.mode == "rate_limited":
            return 429, "<html><body>Too Many Requests</body></html>"
        if self.mode == "garbage":
            return 200, "<html><body><p>unexpected layout</p></body></html>"
        if self.mode == "unchanged":
            return 200, render_page("  ".join(params.get("q", "").upper().split()))
        return 200, render_page(translate_text(params.get("q", "")))

    def drip(self, handler: BaseHTTPRequestHandler, page: str) -> None:
        """The whole answer, one byte every `drip_seconds`, until done, stopped or abandoned."""
        body = page.encode("utf-8")
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("ascii")
        handler.close_connection = True
        for index in range(len(head) + len(body)):
            data = (head + body)[index : index + 1]
            try:
                handler.wfile.write(data)
                handler.wfile.flush()
            except OSError:  # the client gave up (deadline): stop dripping
                return
            if self._stopping.wait(self.drip_seconds):
                return

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                params = {key: values[0] for key, values in query.items()}
                stub.record(params)
                if stub.mode == "drip":
                    stub.drip(self, render_page(translate_text(params.get("q", ""))))
                    return
                status, body = stub.answer(params)
                payload = body.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout): nothing to answer
                    pass

            def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
                pass

        return Handler


@contextmanager
def run_translator_stub(
    mode: Mode = "translate", hang_seconds: float = 5.0, drip_seconds: float = 0.5
) -> Iterator[TranslatorStub]:
    """A running stub for the `with` block; stopped (hangers released) on exit."""
    stub = TranslatorStub(mode, hang_seconds, drip_seconds)
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
