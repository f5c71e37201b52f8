"""The page's bad-buzz chart in real headless Chromium, under the production CSP.

The real app under uvicorn (helpers of test_web_page.py), a prediction typed in the page, then
the chart (shared/web/buzz.js) must show it as an SVG bar from GET /api/buzz, with no console
error, no page error and no CSP violation (no inline script, no CDN).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.settings import get_settings
from tests.integration.test_web_page import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NEGATIVE_TWEET,
    PageProbe,
    build_settings,
    predict,
    serve_real_app,
    sync_api,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def chart_url(tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PREDICTION_EVENTS_PATH", str(tmp_path / "events.sqlite3"))
    monkeypatch.setenv("PREDICTION_EVENTS_MAX", "1000")
    get_settings.cache_clear()
    with serve_real_app(build_settings(tiny_bundle, tmp_path)) as url:
        yield url
    get_settings.cache_clear()


@pytest.fixture
def chart_probe() -> Iterator[PageProbe]:
    with sync_api.sync_playwright() as playwright:
        browser: Any = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        probe = PageProbe(browser)
        yield probe
        probe.context.close()
        browser.close()


def test_the_chart_shows_the_predictions_made_in_the_page(
    chart_probe: PageProbe, chart_url: str
) -> None:
    page = chart_probe.page
    page.goto(chart_url + "/")
    sync_api.expect(page.locator("#buzz-note")).to_have_text(
        "No prediction in the last 6 hours yet.", timeout=10_000
    )
    predict(page, NEGATIVE_TWEET)
    bars = page.locator("#buzz-chart svg rect.buzz-bar")
    sync_api.expect(bars).to_have_count(1, timeout=10_000)
    assert page.locator("#buzz-chart svg rect.buzz-flagged").count() == 0
    assert "1 of 1 predictions negative (100%)" in page.text_content("#buzz-note")
    assert "negative" in bars.first.locator("title").text_content()
    assert chart_probe.problems() == []
