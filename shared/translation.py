"""Translation of non-English tweets to English, inside a hard time budget, never failing a request.

The model only reads English, so a French complaint is translated first (deep-translator's free
Google Translate client, which builds the request and parses Google's mobile page). That page can
hang, drip its answer a byte at a time, change its HTML or be rate-limited, so:

- every call runs on this module's own small pool (`POOL_WORKERS` threads), never on the web
  server's shared threadpool: a hanging translator cannot starve feedback or health;
- the HTTP exchange itself has a deadline for the WHOLE call, not per socket read: it runs as an
  httpx coroutine under `asyncio.timeout` on one background event loop, and expiry closes the
  connection, so a slow-dripping server frees the worker at the deadline;
- a caller waits at most its budget (one text: `timeout`; a batch: the budget it passes), and
  calls still queued when it gives up are cancelled, never started.

Any failure becomes a `TranslationResult` with a reason: the API then scores the original text.
So does a "translation" that is the text unchanged (case and spacing aside): not a translation.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from shared.settings import Settings

LOGGER = logging.getLogger(__name__)

TARGET = "en"
MAX_TIMEOUT_SECONDS = 1.5
POOL_WORKERS = 4
REASON_DISABLED = "disabled"
REASON_ENGLISH = "already English"
REASON_NOTHING = "nothing to translate"
REASON_TIMEOUT = "timeout"
REASON_UNCHANGED = "unchanged: the translator returned the text as it was"
NOTHING_TO_TRANSLATE = frozenset({"und", "zxx"})

_POOL = ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="translate")
_worker_state = threading.local()  # .deadline: time.monotonic() by which this call must end


@dataclass(frozen=True)
class TranslationResult:
    """The text to score, and why it is (not) a translation; `reason` is None when translated."""

    text: str
    translated: bool
    reason: str | None


class EmptyTranslation(Exception):
    """The page parsed but held no text (deep-translator then returns None or "")."""


@dataclass(frozen=True)
class FetchedPage:
    """The part of a `requests.Response` deep-translator reads."""

    status_code: int
    text: str

    def close(self) -> None:
        """The body is already read and the connection back in the pool."""


class _DeadlineFetcher:
    """GETs with a whole-call deadline: httpx coroutines on one background event loop.

    `asyncio.timeout` cancels the exchange wherever it is (connecting, waiting for headers,
    reading a dripping body) and httpx closes the connection on cancellation.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None

    def fetch(self, url: str, params: dict[str, str] | None, deadline: float) -> FetchedPage:
        """The page, or TimeoutError at `deadline` (monotonic seconds) whatever the server does."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        future = asyncio.run_coroutine_threadsafe(
            self._get(url, params, remaining), self._running_loop()
        )
        try:
            return future.result(timeout=remaining + 0.25)  # the loop's own timeout fires first
        except FutureTimeout:
            future.cancel()
            raise TimeoutError from None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="translate-io", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    async def _get(self, url: str, params: dict[str, str] | None, seconds: float) -> FetchedPage:
        import httpx

        if self._client is None:  # created on the loop that uses it
            limits = httpx.Limits(max_connections=POOL_WORKERS * 2)
            self._client = httpx.AsyncClient(
                timeout=MAX_TIMEOUT_SECONDS, limits=limits, follow_redirects=True
            )
        async with asyncio.timeout(seconds):
            response = await self._client.get(url, params=params)
        return FetchedPage(response.status_code, response.text)


_FETCHER = _DeadlineFetcher()


class _RequestsWithDeadline:
    """Stands in for the `requests` module inside `deep_translator.google`.

    On the pool's threads (a deadline is set) `get` goes through `_FETCHER`, bounded as a whole;
    everywhere else it behaves exactly like `requests`.
    """

    def __init__(self, requests_module: Any) -> None:
        self._requests = requests_module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)

    def get(self, url: str, params: dict[str, str] | None = None, **kwargs: Any) -> Any:
        deadline = getattr(_worker_state, "deadline", None)
        if deadline is None:
            return self._requests.get(url, params=params, **kwargs)
        return _FETCHER.fetch(url, params, deadline)


@cache
def load_google_translator() -> type:
    """deep-translator's GoogleTranslator, imported on first need (0.2 s: bs4 and requests).

    Its request building and page parsing are kept; the subclass only lets `base_url` replace
    Google's address (tests point it at a loopback stand-in).
    """
    import requests
    from deep_translator import google

    if not isinstance(google.requests, _RequestsWithDeadline):
        google.requests = _RequestsWithDeadline(requests)

    class LocatableGoogleTranslator(google.GoogleTranslator):
        def __init__(self, base_url: str | None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if base_url:
                self._base_url = base_url

    return LocatableGoogleTranslator


def describe_error(error: BaseException) -> str:
    """A reason safe to return and log: the class name only (messages can hold URLs and text)."""
    if is_timeout(error):
        return REASON_TIMEOUT
    return f"error: {type(error).__name__}"


def is_timeout(error: BaseException) -> bool:
    """Deadline expiry, or a client library's timeout (requests' Timeout, httpx's
    TimeoutException), matched by class name so this module imports neither library eagerly."""
    if isinstance(error, TimeoutError):
        return True
    return any(cls.__name__ in ("Timeout", "TimeoutException") for cls in type(error).__mro__)


def same_text(original: str, translated: str) -> bool:
    """True when the 'translation' is the original up to case and whitespace."""
    return " ".join(original.casefold().split()) == " ".join(translated.casefold().split())


class _LruCache:
    """A small thread-safe LRU of successful translations, keyed by (source, text)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: str) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


Pending = TranslationResult | Future  # decided at once, or a call on the pool (Future[str])


class Translator:
    """Translates to English within its budget; `translate*` never raise."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        timeout: float = MAX_TIMEOUT_SECONDS,
        base_url: str | None = None,
        cache_size: int = 512,
    ) -> None:
        if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT_SECONDS}] seconds")
        self.enabled = enabled
        self.timeout = timeout
        self.base_url = base_url
        self._cache = _LruCache(cache_size)
        if enabled:  # import deep-translator in the background: off cold start, before first use
            _POOL.submit(load_google_translator)

    def translate(self, text: str, source: str) -> TranslationResult:
        """`text` in English, or the original text and the reason it was left as is."""
        return self.translate_many([(text, source)])[0]

    def translate_many(
        self, pairs: Sequence[tuple[str, str]], budget: float | None = None
    ) -> list[TranslationResult]:
        """(text, language) pairs side by side on the pool; the caller waits at most `budget`
        seconds (default: `timeout`) for all of them, blocking its thread."""
        budget = self.timeout if budget is None else budget
        pending = self._start(pairs, budget)
        wait([item for item in pending if isinstance(item, Future)], timeout=budget)
        return self._finish(pairs, pending)

    async def translate_many_async(
        self, pairs: Sequence[tuple[str, str]], budget: float | None = None
    ) -> list[TranslationResult]:
        """As `translate_many`, awaited on the caller's event loop: no thread of the caller's
        is held while the translator answers (or does not)."""
        budget = self.timeout if budget is None else budget
        pending = self._start(pairs, budget)
        waiting = [asyncio.wrap_future(item) for item in pending if isinstance(item, Future)]
        for future in waiting:
            # `_finish` reads each outcome from the concurrent future, never from this wrapper:
            # without this, asyncio logs every failed translation as "never retrieved".
            future.add_done_callback(ignore_outcome)
        if waiting:
            await asyncio.wait(waiting, timeout=budget)
        return self._finish(pairs, pending)

    def _start(self, pairs: Sequence[tuple[str, str]], budget: float) -> list[Pending]:
        """Answer what needs no call (skipped, cached); submit the rest with one deadline."""
        deadline = time.monotonic() + budget
        pending: list[Pending] = []
        for text, source in pairs:
            skipped = self._skip_reason(text, source)
            cached = None if skipped else self._cache.get((source, text))
            if skipped:
                pending.append(TranslationResult(text, False, skipped))
            elif cached is not None:
                pending.append(judge(text, cached))
            else:
                pending.append(self._submit(text, deadline))
        return pending

    def _submit(self, text: str, deadline: float) -> Pending:
        try:
            return _POOL.submit(call_google, text, self.base_url, self.timeout, deadline)
        except RuntimeError as error:  # interpreter shutting down
            return TranslationResult(text, False, describe_error(error))

    def _finish(
        self, pairs: Sequence[tuple[str, str]], pending: list[Pending]
    ) -> list[TranslationResult]:
        """Collect the answers in order; calls not done are cancelled and count as timeouts."""
        results = []
        for (text, source), item in zip(pairs, pending, strict=True):
            if isinstance(item, TranslationResult):
                results.append(item)
                continue
            error = outcome_error(item)
            if error is not None:
                LOGGER.warning("translation failed: %s", describe_error(error))
                results.append(TranslationResult(text, False, describe_error(error)))
                continue
            self._cache.put((source, text), item.result())
            results.append(judge(text, item.result()))
        return results

    def _skip_reason(self, text: str, source: str) -> str | None:
        """Why no call is needed, or None: the cheap checks that keep English off the network."""
        if not self.enabled:
            return REASON_DISABLED
        if source.lower() == TARGET:
            return REASON_ENGLISH
        if source.lower() in NOTHING_TO_TRANSLATE or not text.strip():
            return REASON_NOTHING
        return None


def outcome_error(future: Future) -> BaseException | None:
    """Why a call gave no text: TimeoutError when not done (it is cancelled if still queued)."""
    if not future.done():
        future.cancel()
        return TimeoutError()
    if future.cancelled():
        return TimeoutError()
    return future.exception()


def ignore_outcome(future: asyncio.Future) -> None:
    """Retrieve a wrapper's outcome so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


def judge(original: str, translated: str) -> TranslationResult:
    """A translation, or the original with a reason when the translator changed nothing."""
    if same_text(original, translated):
        return TranslationResult(original, False, REASON_UNCHANGED)
    return TranslationResult(translated, True, None)


def call_google(text: str, base_url: str | None, timeout: float, deadline: float) -> str:
    """One request through deep-translator; runs on a pool thread.

    Ends by the earlier of `timeout` after it starts and the caller's `deadline` (monotonic),
    so a call that waited in the queue only gets what is left of its caller's budget. The source
    is "auto": py3langid only decides *whether* to translate; Google's own detector is better at
    telling close languages apart (ru/bg, es/gl, id/ms) on short texts.
    """
    _worker_state.deadline = min(time.monotonic() + timeout, deadline)
    try:
        google_translator = load_google_translator()(base_url, source="auto", target=TARGET)
        translated = google_translator.translate(text)
    finally:
        _worker_state.deadline = None
    if not isinstance(translated, str) or not translated.strip():
        raise EmptyTranslation
    return translated


async def translate_each_async(
    translator: Any, pairs: Sequence[tuple[str, str]], budget: float | None = None
) -> list[Any]:
    """For translators without `translate_many_async` (test doubles): each `translate` call on
    this module's pool, awaited under one budget; late ones count as timeouts."""
    loop = asyncio.get_running_loop()
    translate: Callable[[str, str], Any] = translator.translate
    futures = [loop.run_in_executor(_POOL, translate, text, source) for text, source in pairs]
    _, late = await asyncio.wait(futures, timeout=budget or MAX_TIMEOUT_SECONDS)
    for future in late:
        future.add_done_callback(ignore_outcome)
    results = []
    for future, (text, _) in zip(futures, pairs, strict=True):
        if future.done() and not future.cancelled() and future.exception() is None:
            results.append(future.result())
        else:
            future.cancel()
            results.append(TranslationResult(text, False, REASON_TIMEOUT))
    return results


def make_translator(settings: Settings) -> Translator:
    """The translator the settings describe (TRANSLATION_* and TRANSLATOR_URL)."""
    return Translator(
        enabled=settings.TRANSLATION_ENABLED,
        timeout=settings.TRANSLATION_TIMEOUT_SECONDS,
        base_url=settings.TRANSLATOR_URL,
    )
