"""The translator: real deep-translator against a loopback stand-in of Google (no internet)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.settings import Settings
from shared.translation import (
    MAX_TIMEOUT_SECONDS,
    REASON_DISABLED,
    REASON_ENGLISH,
    REASON_NOTHING,
    REASON_TIMEOUT,
    TranslationResult,
    Translator,
    describe_error,
    make_translator,
)
from tests.utils.translator_stub import TranslatorStub, run_translator_stub

pytestmark = pytest.mark.code

FRENCH = "je suis très en colère"


@pytest.fixture
def stub() -> Iterator[TranslatorStub]:
    with run_translator_stub() as running:
        yield running


@pytest.fixture
def translator(stub: TranslatorStub) -> Translator:
    return Translator(base_url=stub.url)


def test_translates_through_the_real_library(translator: Translator, stub: TranslatorStub) -> None:
    result = translator.translate(FRENCH, "fr")
    assert result == TranslationResult("i am very angry", translated=True, reason=None)
    assert stub.requests == [{"tl": "en", "sl": "auto", "q": FRENCH}]


def test_second_call_is_served_from_the_cache(translator: Translator, stub: TranslatorStub) -> None:
    first = translator.translate("vol annulé", "fr")
    second = translator.translate("vol annulé", "fr")
    assert first == second == TranslationResult("flight cancelled", True, None)
    assert stub.request_count == 1


def test_cache_forgets_the_least_recently_used(stub: TranslatorStub) -> None:
    translator = Translator(base_url=stub.url, cache_size=1)
    translator.translate("uno", "es")
    translator.translate("dos", "es")
    translator.translate("uno", "es")
    assert stub.request_count == 3


def test_failures_are_not_cached(translator: Translator, stub: TranslatorStub) -> None:
    stub.mode = "error"
    assert translator.translate(FRENCH, "fr").reason == "error: RequestError"
    stub.mode = "translate"
    assert translator.translate(FRENCH, "fr").translated
    assert stub.request_count == 2


def test_disabled_translator_makes_no_call(stub: TranslatorStub) -> None:
    result = Translator(enabled=False, base_url=stub.url).translate(FRENCH, "fr")
    assert result == TranslationResult(FRENCH, translated=False, reason=REASON_DISABLED)
    assert stub.request_count == 0


@pytest.mark.parametrize("source", ["en", "EN"])
def test_english_is_never_sent(translator: Translator, stub: TranslatorStub, source: str) -> None:
    result = translator.translate("my flight is delayed, worst airline ever", source)
    assert result.reason == REASON_ENGLISH
    assert not result.translated
    assert stub.request_count == 0


@pytest.mark.parametrize(("text", "source"), [("", "fr"), ("   ", "fr"), ("123 😀", "und")])
def test_nothing_to_translate_makes_no_call(
    translator: Translator, stub: TranslatorStub, text: str, source: str
) -> None:
    assert translator.translate(text, source) == TranslationResult(text, False, REASON_NOTHING)
    assert stub.request_count == 0


def test_hanging_server_times_out_within_the_budget(stub: TranslatorStub) -> None:
    stub.mode = "hang"
    translator = Translator(base_url=stub.url, timeout=MAX_TIMEOUT_SECONDS)
    started = time.perf_counter()
    result = translator.translate(FRENCH, "fr")
    elapsed = time.perf_counter() - started
    assert result == TranslationResult(FRENCH, translated=False, reason=REASON_TIMEOUT)
    assert elapsed < 1.6


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("error", "error: RequestError"),
        ("rate_limited", "error: TooManyRequests"),
        ("garbage", "error: TranslationNotFound"),
    ],
)
def test_server_failures_become_reasons(
    translator: Translator, stub: TranslatorStub, mode: str, reason: str
) -> None:
    stub.mode = mode  # type: ignore[assignment]
    assert translator.translate(FRENCH, "fr") == TranslationResult(FRENCH, False, reason)


def test_unreachable_server_is_an_error_without_the_url() -> None:
    with run_translator_stub() as stopped:
        url = stopped.url
    result = Translator(base_url=url).translate(FRENCH, "fr")
    assert result.reason is not None
    assert result.reason.startswith("error: ")
    assert "127.0.0.1" not in result.reason
    assert FRENCH not in result.reason


@pytest.mark.parametrize(
    "text", ["", "😀🔥✈️", "\x00\u200b\ufeff", "é" * 5000, "<script>alert(1)</script>"]
)
def test_never_raises_on_odd_input(translator: Translator, text: str) -> None:
    result = translator.translate(text, "fr")
    assert isinstance(result, TranslationResult)
    assert isinstance(result.text, str)
    assert result.translated == (result.reason is None)


def test_library_requests_carry_the_timeout(
    translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deep-translator sets no timeout: ours must reach requests, or hung workers pile up."""
    import requests

    seen: dict[str, Any] = {}
    real_get = requests.get

    def spy_get(url: str, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real_get(url, **kwargs)

    monkeypatch.setattr(requests, "get", spy_get)
    assert translator.translate(FRENCH, "fr").translated
    assert seen["timeout"] == translator.timeout


def test_concurrent_calls_all_succeed(translator: Translator, stub: TranslatorStub) -> None:
    results: list[TranslationResult] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(translator.translate(f"mot {i}", "fr")))
        for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result.text for result in results) == sorted(f"[en] mot {i}" for i in range(12))


def test_worker_side_timeouts_are_timeouts_too() -> None:
    import requests

    assert describe_error(requests.ReadTimeout("secret url")) == REASON_TIMEOUT
    assert describe_error(requests.ConnectTimeout("secret url")) == REASON_TIMEOUT
    assert describe_error(requests.ConnectionError("secret url")) == "error: ConnectionError"


@pytest.mark.parametrize("timeout", [0, -1, 1.6])
def test_rejects_a_timeout_outside_the_budget(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        Translator(timeout=timeout)


def test_make_translator_follows_the_settings(stub: TranslatorStub) -> None:
    settings = Settings(
        TRANSLATION_ENABLED=True, TRANSLATION_TIMEOUT_SECONDS=0.5, TRANSLATOR_URL=stub.url
    )
    translator = make_translator(settings)
    assert (translator.enabled, translator.timeout, translator.base_url) == (True, 0.5, stub.url)
    assert translator.translate("vol annulé", "fr").text == "flight cancelled"
    assert not make_translator(Settings(TRANSLATION_ENABLED=False)).enabled
