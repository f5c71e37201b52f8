"""The translator: real deep-translator against a loopback stand-in of Google (no internet)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from shared.settings import Settings
from shared.translation import (
    MAX_TIMEOUT_SECONDS,
    POOL_WORKERS,
    REASON_DISABLED,
    REASON_ENGLISH,
    REASON_NOTHING,
    REASON_TIMEOUT,
    REASON_UNCHANGED,
    TranslationResult,
    Translator,
    describe_error,
    make_translator,
    same_text,
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


def test_a_dripping_server_is_cut_at_the_deadline(stub: TranslatorStub) -> None:
    """A byte every 0.1 s never trips a per-read timeout: only a whole-call deadline stops it."""
    stub.mode = "drip"
    stub.drip_seconds = 0.1
    translator = Translator(base_url=stub.url, timeout=0.8)
    started = time.perf_counter()
    result = translator.translate(FRENCH, "fr")
    elapsed = time.perf_counter() - started
    assert result == TranslationResult(FRENCH, translated=False, reason=REASON_TIMEOUT)
    assert elapsed < 0.8 + 0.3, elapsed


def test_dripping_calls_free_every_worker_at_the_deadline(stub: TranslatorStub) -> None:
    """Once the server answers again, the next call translates: no worker is still held."""
    stub.mode = "drip"
    translator = Translator(base_url=stub.url, timeout=0.6)
    texts = [(f"mot numéro {i}", "fr") for i in range(POOL_WORKERS * 2)]
    results = translator.translate_many(texts, budget=0.6)
    assert {r.reason for r in results} == {REASON_TIMEOUT}
    stub.mode = "translate"
    time.sleep(0.1)  # the calls' own deadlines have passed by now (0.6 s after they started)
    started = time.perf_counter()
    assert translator.translate("vol annulé", "fr").text == "flight cancelled"
    assert time.perf_counter() - started < 0.5
    assert stub.request_count <= POOL_WORKERS + 1  # queued calls were cancelled, never sent


def test_a_batch_waits_at_most_its_budget(stub: TranslatorStub) -> None:
    stub.mode = "hang"
    translator = Translator(base_url=stub.url)
    started = time.perf_counter()
    results = translator.translate_many([(f"texte {i}", "fr") for i in range(20)], budget=0.7)
    elapsed = time.perf_counter() - started
    assert [r.reason for r in results] == [REASON_TIMEOUT] * 20
    assert elapsed < 0.7 + 0.3, elapsed


def test_async_translation_leaves_the_event_loop_free(stub: TranslatorStub) -> None:
    """Awaited on the loop: other coroutines keep running while the translator hangs."""
    stub.mode = "hang"
    translator = Translator(base_url=stub.url, timeout=0.6)

    async def scenario() -> tuple[list[TranslationResult], int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        results = await translator.translate_many_async([(FRENCH, "fr"), ("en retard", "fr")])
        ticker.cancel()
        return results, ticks

    results, ticks = asyncio.run(scenario())
    assert [r.reason for r in results] == [REASON_TIMEOUT, REASON_TIMEOUT]
    assert ticks > 20  # the loop ran throughout the 0.6 s wait


def test_text_returned_unchanged_is_not_a_translation(
    translator: Translator, stub: TranslatorStub
) -> None:
    """The stub answers the text upper-cased with doubled spaces: still no translation."""
    stub.mode = "unchanged"
    result = translator.translate("Aéroport  CDG terminal 2", "fr")
    assert result == TranslationResult("Aéroport  CDG terminal 2", False, REASON_UNCHANGED)
    assert stub.request_count == 1


@pytest.mark.parametrize(
    ("original", "answer", "same"),
    [
        ("vol annulé", "vol annulé", True),
        ("Vol  annulé ", "VOL ANNULÉ", True),
        ("vol annulé", "flight cancelled", False),
        ("vol annulé", "vol annulée", False),
    ],
)
def test_same_text_ignores_only_case_and_spacing(original: str, answer: str, same: bool) -> None:
    assert same_text(original, answer) is same


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
    import httpx
    import requests

    assert describe_error(httpx.ReadTimeout("secret url")) == REASON_TIMEOUT
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


def test_a_failed_async_translation_logs_no_unretrieved_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer says "error: …"; asyncio must not also log a 40-line traceback."""
    import asyncio
    import gc

    from shared.translation import Translator
    from tests.utils.processes import free_port

    # Nothing listens there: every call fails at once with a connection error.
    translator = Translator(enabled=True, base_url=f"http://127.0.0.1:{free_port()}/m")
    with caplog.at_level("ERROR", logger="asyncio"):
        (result,) = asyncio.run(translator.translate_many_async([("bonjour le monde", "fr")], 1.0))
        gc.collect()
    assert not result.translated
    assert "never retrieved" not in caplog.text
