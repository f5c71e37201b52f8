"""Translation of non-English tweets to English, inside a hard time budget, never failing a request.

The model only reads English, so a French complaint is translated first (deep-translator's free
Google Translate client). That client is a scraper of Google's mobile page: it can hang, change
its HTML or be rate-limited, and it sets no timeout of its own (`requests.get` without `timeout`
in deep-translator 1.11). So each call runs on a small shared thread pool and the caller waits at
most `timeout` seconds (wall clock); on the worker side, every `requests.get` deep-translator makes
from that pool gets the same timeout, so a hanging server frees the worker instead of holding it.
Any failure becomes a `TranslationResult` with a reason: the API then scores the original text.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.settings import Settings

LOGGER = logging.getLogger(__name__)

TARGET = "en"
MAX_TIMEOUT_SECONDS = 1.5
POOL_WORKERS = 4
REASON_DISABLED = "disabled"
REASON_ENGLISH = "already English"
REASON_NOTHING = "nothing to translate"
REASON_TIMEOUT = "timeout"
NOTHING_TO_TRANSLATE = frozenset({"und", "zxx"})

_POOL = ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="translate")
_worker_state = threading.local()


@dataclass(frozen=True)
class TranslationResult:
    """The text to score, and why it is (not) a translation; `reason` is None when translated."""

    text: str
    translated: bool
    reason: str | None


class EmptyTranslation(Exception):
    """The page parsed but held no text (deep-translator then returns None or "")."""


class _RequestsWithTimeout:
    """Stands in for the `requests` module inside `deep_translator.google`.

    Adds the timeout of the current translation to `get` on the pool's threads only; everywhere
    else (no timeout set on the thread) it behaves exactly like `requests`.
    """

    def __init__(self, requests_module: Any) -> None:
        self._requests = requests_module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)

    def get(self, url: str, **kwargs: Any) -> Any:
        seconds = getattr(_worker_state, "timeout", None)
        if seconds is not None:
            kwargs.setdefault("timeout", seconds)
        return self._requests.get(url, **kwargs)


@cache
def load_google_translator() -> type:
    """deep-translator's GoogleTranslator, imported on first need (0.2 s: bs4 and requests).

    The real request and parsing code is kept; the subclass only lets `base_url` replace
    Google's address (tests point it at a loopback stand-in).
    """
    import requests
    from deep_translator import google

    if not isinstance(google.requests, _RequestsWithTimeout):
        google.requests = _RequestsWithTimeout(requests)

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
    """Wall-clock expiry, or requests' Timeout (Read/ConnectTimeout) raised in the worker.

    Matched by class name so this module does not import requests unless it translates.
    """
    if isinstance(error, TimeoutError):
        return True
    return any(cls.__name__ == "Timeout" for cls in type(error).__mro__)


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


class Translator:
    """Translates to English within `timeout` seconds; `translate` never raises."""

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
        try:
            return self._translate(text, source)
        except Exception as error:  # the contract: a request never fails because of translation
            LOGGER.warning("translation failed: %s", describe_error(error))
            return TranslationResult(text, False, describe_error(error))

    def _translate(self, text: str, source: str) -> TranslationResult:
        skipped = self._skip_reason(text, source)
        if skipped:
            return TranslationResult(text, False, skipped)
        key = (source, text)
        cached = self._cache.get(key)
        if cached is not None:
            return TranslationResult(cached, True, None)
        translated = self._call_with_deadline(text)
        self._cache.put(key, translated)
        return TranslationResult(translated, True, None)

    def _skip_reason(self, text: str, source: str) -> str | None:
        """Why no call is needed, or None: the cheap checks that keep English off the network."""
        if not self.enabled:
            return REASON_DISABLED
        if source.lower() == TARGET:
            return REASON_ENGLISH
        if source.lower() in NOTHING_TO_TRANSLATE or not text.strip():
            return REASON_NOTHING
        return None

    def _call_with_deadline(self, text: str) -> str:
        """Run the call on the pool; give up after `timeout` seconds whatever the worker does."""
        future: Future[str] = _POOL.submit(call_google, text, self.base_url, self.timeout)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            future.cancel()  # still queued behind busy workers: never start it
            raise


def call_google(text: str, base_url: str | None, timeout: float) -> str:
    """One request through deep-translator; runs on a pool thread.

    The source is "auto": py3langid only decides *whether* to translate; Google's own detector is
    better at telling close languages apart (ru/bg, es/gl, id/ms) on short texts.
    """
    _worker_state.timeout = timeout
    try:
        google_translator = load_google_translator()(base_url, source="auto", target=TARGET)
        translated = google_translator.translate(text)
    finally:
        _worker_state.timeout = None
    if not isinstance(translated, str) or not translated.strip():
        raise EmptyTranslation
    return translated


def make_translator(settings: Settings) -> Translator:
    """The translator the settings describe (TRANSLATION_* and TRANSLATOR_URL)."""
    return Translator(
        enabled=settings.TRANSLATION_ENABLED,
        timeout=settings.TRANSLATION_TIMEOUT_SECONDS,
        base_url=settings.TRANSLATOR_URL,
    )
