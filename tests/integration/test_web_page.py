"""The web page in real headless Chromium, served by the real app (`create_app`) with a real model.

The app runs under uvicorn on a free loopback port, with the production security headers, so the
Content-Security-Policy is enforced exactly as in Azure: any inline script or style would show up
as a violation here. The feedback buttons send what predict returned (its token included), and
the page retries a 503.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shared.settings import Settings
from tests.utils.translator_stub import run_translator_stub

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NEGATIVE_TWEET = "my flight is delayed again, worst airline ever"
HOSTILE_TWEET = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
SCREENSHOT = Path("/tmp/page.png")
# Listens before any page script runs; Playwright's init scripts are not subject to the CSP.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread on a free loopback port; yield its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def build_settings(bundle: Path, tmp: Path, **overrides: Any) -> Settings:
    return Settings(
        DEFAULT_BUNDLE_PATH=bundle,
        MODEL_STORE_PATH=tmp / "models",
        MODEL_CACHE_DIR=tmp / "cache",
        MODEL_REFRESH_SECONDS=0,
        FEEDBACK_DB_PATH=tmp / "feedback.sqlite3",
        FEEDBACK_TOKEN_KEY_PATH=tmp / "feedback-token.key",
        TRANSLATION_ENABLED=False,
        **overrides,
    )


@contextmanager
def serve_real_app(settings: Settings, feedback_sink: Any = None) -> Iterator[str]:
    from shared.api.app import create_app

    with serve_app(create_app(settings, feedback_sink=feedback_sink)) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def web_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web")


@pytest.fixture(scope="module")
def base_url(tiny_bundle: Path, web_dir: Path) -> Iterator[str]:
    settings = build_settings(tiny_bundle, web_dir)
    with serve_real_app(settings) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


class PageProbe:
    """A fresh page plus everything it logged: console errors, page errors, CSP violations."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 900, "height": 1000})
        self.page = self.context.new_page()
        self.console_errors: list[tuple[str, str]] = []
        self.page_errors: list[str] = []
        self.page.add_init_script(RECORD_CSP_VIOLATIONS)
        self.page.on("console", self.record_console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def record_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append((message.text, message.location.get("url", "")))

    def problems(self, expected_failures: tuple[str, ...] = ()) -> list[str]:
        """Everything that went wrong, minus failed loads of URLs the test expected to fail."""
        unexpected = [
            f"console: {text} ({url})"
            for text, url in self.console_errors
            if not (text.startswith("Failed to load resource") and url.endswith(expected_failures))
        ]
        csp = self.page.evaluate("window.__cspViolations")
        return (
            unexpected + [f"pageerror: {e}" for e in self.page_errors] + [f"csp: {v}" for v in csp]
        )


@pytest.fixture
def probe(browser: Any) -> Iterator[PageProbe]:
    opened = PageProbe(browser)
    yield opened
    opened.context.close()


def predict(page: Any, text: str) -> None:
    page.fill("#tweet", text)
    page.click("#predict")
    page.wait_for_selector("#result:not([hidden])", timeout=10_000)


def test_negative_tweet_gets_a_full_result(probe: PageProbe, base_url: str) -> None:
    page = probe.page
    page.goto(base_url + "/")
    assert page.text_content("#counter") == "0 / 500"
    assert page.is_disabled("#predict")
    page.fill("#tweet", NEGATIVE_TWEET)
    assert page.text_content("#counter") == f"{len(NEGATIVE_TWEET)} / 500"
    predict(page, NEGATIVE_TWEET)
    assert page.text_content("#label") == "negative"
    assert page.is_visible("#bar-fill")
    assert page.get_attribute("#bar", "aria-valuenow") is not None
    assert page.eval_on_selector("#bar-fill", "el => el.getBoundingClientRect().width") > 0
    assert page.text_content("#model-version") == "tiny-1"
    assert page.text_content("#language") == "en"
    assert page.text_content("#highlighted") == NEGATIVE_TWEET
    assert page.locator("#highlighted mark").count() >= 1
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert probe.problems() == []


def test_markup_in_a_tweet_is_shown_as_text(probe: PageProbe, base_url: str) -> None:
    page = probe.page
    page.goto(base_url + "/")
    predict(page, HOSTILE_TWEET)
    assert page.text_content("#highlighted") == HOSTILE_TWEET
    assert page.locator("#highlighted script, #highlighted img").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert probe.problems() == []


def test_over_500_characters_disables_predict(probe: PageProbe, base_url: str) -> None:
    page = probe.page
    page.goto(base_url + "/")
    page.fill("#tweet", "a" * 501)
    assert page.text_content("#counter") == "501 / 500"
    assert page.is_disabled("#predict")
    page.fill("#tweet", "a" * 500)
    assert page.is_enabled("#predict")
    page.fill("#tweet", "😡" * 500)  # code points, as the API counts them, not UTF-16 units
    assert page.text_content("#counter") == "500 / 500"
    assert page.is_enabled("#predict")
    assert probe.problems() == []


def stored_feedback(web_dir: Path) -> dict[str, dict[str, str]]:
    from shared.feedback.sinks import SqliteFeedbackSink
    from tests.utils.feedback_builders import T0

    sink = SqliteFeedbackSink(web_dir / "feedback.sqlite3")
    rows = sink.read_since(T0.replace(year=2000), T0.replace(year=2100))
    sink.close()
    return {row.properties["prediction_id"]: row.properties for row in rows}


@pytest.mark.parametrize(("button", "kind"), [("#wrong", "correction"), ("#right", "confirmation")])
def test_feedback_buttons_record_what_the_model_read(
    probe: PageProbe, base_url: str, web_dir: Path, button: str, kind: str
) -> None:
    page = probe.page
    page.goto(base_url + "/")
    before = set(stored_feedback(web_dir))
    tweet = f"{NEGATIVE_TWEET} @united call me on 212-555-0100 ({kind})"
    predict(page, tweet)
    assert page.text_content("#right") == "This prediction is right"
    page.click(button)
    sync_api.expect(page.locator("#feedback-message")).to_have_text(
        "thanks, recorded", timeout=5_000
    )
    assert page.is_disabled("#wrong")
    assert page.is_disabled("#right")
    [event] = [e for pid, e in stored_feedback(web_dir).items() if pid not in before]
    assert event["kind"] == kind
    assert event["predicted_label"] == "negative"
    assert event["correct_label"] == ("positive" if kind == "correction" else "negative")
    assert "@user" in event["text"]
    assert "<phonenumber>" in event["text"]
    assert "555" not in event["text"]
    assert "united" not in event["text"]
    assert probe.problems() == []


def test_an_unknown_answer_is_corrected_with_the_label_the_user_picks(
    probe: PageProbe, base_url: str, web_dir: Path
) -> None:
    page = probe.page
    page.goto(base_url + "/")
    before = set(stored_feedback(web_dir))
    predict(page, "zzqx wvvkq")
    assert page.text_content("#wrong") == "It is negative"
    assert page.text_content("#right") == "It is positive"
    page.click("#right")
    sync_api.expect(page.locator("#feedback-message")).to_have_text(
        "thanks, recorded", timeout=5_000
    )
    [event] = [e for pid, e in stored_feedback(web_dir).items() if pid not in before]
    assert (event["kind"], event["predicted_label"]) == ("correction", "unknown")
    assert event["correct_label"] == "positive"
    assert probe.problems() == []


class FlakySink:
    """A store that cannot keep the flag in time twice (503), then takes it."""

    def __init__(self) -> None:
        self.calls = 0
        self.events: list[dict[str, str]] = []

    def record(self, event: dict[str, str]) -> bool:
        from shared.feedback.sinks import FeedbackUnavailable

        self.calls += 1
        if self.calls <= 2:
            raise FeedbackUnavailable("ingestion did not answer in time")
        self.events.append(event)
        return True


def test_the_page_retries_feedback_the_server_could_not_store_yet(
    probe: PageProbe, tiny_bundle: Path, tmp_path: Path
) -> None:
    sink = FlakySink()
    with serve_real_app(build_settings(tiny_bundle, tmp_path), feedback_sink=sink) as url:
        probe.page.goto(url + "/")
        predict(probe.page, NEGATIVE_TWEET)
        probe.page.click("#wrong")
        sync_api.expect(probe.page.locator("#feedback-message")).to_have_text(
            "thanks, recorded", timeout=15_000
        )
    assert sink.calls == 3
    assert len(sink.events) == 1
    assert probe.problems(expected_failures=("/api/feedback",)) == []


def test_api_key_is_asked_only_after_a_401(
    probe: PageProbe, tiny_bundle: Path, tmp_path: Path
) -> None:
    settings = build_settings(tiny_bundle, tmp_path, AUTH_MODE="api_key", API_KEY=SecretStr("k3y"))
    page = probe.page
    with serve_real_app(settings) as url:
        page.goto(url + "/")
        assert page.is_hidden("#api-key-row")
        page.fill("#tweet", NEGATIVE_TWEET)
        page.click("#predict")
        page.wait_for_selector("#api-key-row:not([hidden])")
        assert "x-api-key" in page.text_content("#message")
        page.fill("#api-key", "k3y")
        predict(page, NEGATIVE_TWEET)
        assert page.text_content("#label") == "negative"
        assert page.is_hidden("#message")
        assert page.evaluate("Object.values(sessionStorage)") == ["k3y"]
        assert page.evaluate("localStorage.length") == 0
    assert probe.problems(expected_failures=("/api/predict",)) == []


def test_translated_tweet_says_so(probe: PageProbe, tiny_bundle: Path, tmp_path: Path) -> None:
    with run_translator_stub() as stub:
        settings = build_settings(tiny_bundle, tmp_path).model_copy(
            update={"TRANSLATION_ENABLED": True, "TRANSLATOR_URL": stub.url}
        )
        with serve_real_app(settings) as url:
            probe.page.goto(url + "/")
            predict(probe.page, "Je suis très en colère contre vous, mon vol est encore annulé")
            language = probe.page.text_content("#language")
        assert stub.request_count == 1
    assert language == "fr, translated to English for the model"
    assert probe.problems() == []
