"""The API over real HTTP: `python -m shared.api.serve` (uvicorn) in a subprocess on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.api.middleware import MAX_BODY_BYTES
from tests.conftest import REPO_ROOT
from tests.utils.processes import free_port, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_KEY = "integration-key"  # a test value, not a secret
NEGATIVE = "my flight is delayed again, worst airline ever"
START_TIMEOUT_SECONDS = 60.0


class Server:
    def __init__(self, base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log

    def wait_for_health(self, expected_status: int) -> None:
        """Poll /api/health until it answers `expected_status` (503 for a server without model)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                response = httpx.get(f"{self.base_url}/api/health", timeout=2)
                if response.status_code == expected_status:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"server did not become healthy:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        stop_process(self.process)


def start_server(tmp_path: Path, bundle: Path, expected_status: int = 200, **env: str) -> Server:
    """`python -m shared.api.serve` on a free loopback port, serving `bundle` as the default."""
    port = free_port()
    (tmp_path / "store").mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "DEFAULT_BUNDLE_PATH": str(bundle),
        "MODEL_STORE_PATH": str(tmp_path / "store"),
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "TRANSLATION_ENABLED": "false",
        "TELEMETRY_EXPORTER": "none",
        **env,
    }
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.api.serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    server.wait_for_health(expected_status)
    return server


@pytest.fixture(scope="module")
def server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("http-server"), tiny_bundle, AUTH_MODE="api_key", API_KEY=API_KEY
    )
    yield running
    running.stop()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_predict_over_http(http: httpx.Client) -> None:
    response = http.post("/api/predict", json={"text": NEGATIVE}, headers={"x-api-key": API_KEY})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["label"], body["model_version"]) == ("negative", "tiny-1")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "server" not in response.headers


def test_batch_over_http_keeps_order(http: httpx.Client) -> None:
    texts = [NEGATIVE, "great flight, friendly crew, thank you!"] * 50
    response = http.post("/api/predict", json={"texts": texts}, headers={"x-api-key": API_KEY})
    assert [r["label"] for r in response.json()["results"]] == ["negative", "positive"] * 50


def test_key_is_required_over_http(http: httpx.Client) -> None:
    response = http.post("/api/predict", json={"text": NEGATIVE})
    assert response.status_code == 401
    assert http.get("/api/health").status_code == 200


def test_chunked_body_over_http_is_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // 4096 + 1):
            yield b"x" * 4096
        yield b'"}'

    response = http.post(
        "/api/predict",
        content=chunks(),
        headers={"content-type": "application/json", "x-api-key": API_KEY},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_invalid_json_over_http_is_422(http: httpx.Client) -> None:
    response = http.post(
        "/api/predict",
        content=b'{"text": "\xff',
        headers={"content-type": "application/json", "x-api-key": API_KEY},
    )
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] in ("invalid_request", "bad_request")


def test_docs_over_http(http: httpx.Client) -> None:
    assert http.get("/api/docs").status_code == 200
    assert http.get("/api/openapi.json").json()["info"]["title"] == "Bad buzz API"


def test_no_model_server_answers_503(tmp_path: Path) -> None:
    server = start_server(tmp_path, tmp_path / "absent", expected_status=503, AUTH_MODE="none")
    try:
        response = httpx.post(f"{server.base_url}/api/predict", json={"text": NEGATIVE}, timeout=30)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "model_unavailable"
    finally:
        server.stop()


CHROMIUM = Path("/usr/bin/chromium")
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.mark.browser
def test_docs_render_offline_under_the_csp(server: Server) -> None:
    """Swagger UI from local files only, under the production CSP, and "Try it out" works."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("fastapi_offline", reason="Swagger UI assets: pip install fastapi-offline")
    sync_api = pytest.importorskip("playwright.sync_api")
    outside: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        page.add_init_script(RECORD_CSP_VIOLATIONS)
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(server.base_url)
                else (outside.append(route.request.url), route.abort())
            ),
        )
        page.goto(f"{server.base_url}/api/docs")
        page.wait_for_selector("#operations-predict-predict_api_predict_post", timeout=20_000)
        title = page.inner_text(".info .title")
        violations = page.evaluate("window.__cspViolations")
        browser.close()
    assert "Bad buzz API" in title
    assert violations == []
    assert outside == []
