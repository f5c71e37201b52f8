"""GET /api/health needs no key: without one it says only what a probe needs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.api.app import create_app
from shared.settings import Settings

pytestmark = pytest.mark.code

API_KEY = "health-test-key-93b1"  # a test value, not a secret
ACCOUNT = "stbadbuzzprod01"
SECRET_STATE = {
    "status": "degraded",
    "model_version": "20261129-abc",
    "loaded_at": datetime(2026, 11, 29, tzinfo=UTC).isoformat(),
    "source": "cache",
    "store": f"https://{ACCOUNT}.blob.core.windows.net/models",
    "detail": "store unreachable: ServiceRequestError",
    "last_check": datetime(2026, 11, 29, 1, tzinfo=UTC).isoformat(),
}


class DegradedHolder:
    def get(self) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return dict(SECRET_STATE)


def make_client(tmp_path: Path, auth_mode: str) -> TestClient:
    settings = Settings(
        MODEL_STORE_PATH=tmp_path / "store",
        FEEDBACK_DB_PATH=tmp_path / "feedback.sqlite3",
        AUTH_MODE=auth_mode,
        API_KEY=API_KEY,
        TRANSLATION_ENABLED=False,
    )
    return TestClient(create_app(settings, holder=DegradedHolder(), translator=object()))


def test_without_a_key_health_names_no_account_container_or_error(tmp_path: Path) -> None:
    with make_client(tmp_path, "api_key") as client:
        response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "app_version", "model_version", "last_check"}
    assert body["status"] == "degraded"
    for leak in (ACCOUNT, "models", "ServiceRequestError", "cache"):
        assert leak not in response.text


def test_a_wrong_key_sees_what_no_key_sees(tmp_path: Path) -> None:
    with make_client(tmp_path, "api_key") as client:
        response = client.get("/api/health", headers={"x-api-key": API_KEY + "x"})
    assert "store" not in response.json()


def test_the_key_holder_sees_the_details(tmp_path: Path) -> None:
    with make_client(tmp_path, "api_key") as client:
        body = client.get("/api/health", headers={"x-api-key": API_KEY}).json()
    assert body["store"] == SECRET_STATE["store"]
    assert body["detail"] == SECRET_STATE["detail"]


def test_an_open_local_api_shows_the_details(tmp_path: Path) -> None:
    with make_client(tmp_path, "none") as client:
        body = client.get("/api/health").json()
    assert body["source"] == "cache"


def test_head_health_answers_like_get(tmp_path: Path) -> None:
    with make_client(tmp_path, "api_key") as client:
        head = client.head("/api/health")
    assert head.status_code == 200
    assert head.content == b""
