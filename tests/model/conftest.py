"""Fixtures of the behaviour tests: the shipped bundle served by the real API, built once.

The app is the production one (`create_app`, a real ModelHolder loading `models/default`, real
language detection, validation, masking and inference); only its surroundings are local: no
model store, translation off (the translator declines with reason "disabled"), a feedback token
key in memory, and no prediction-event store, so the tests write nothing outside tmp.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shared.api.app import create_app
from shared.model_loader import ModelHolder
from shared.settings import Settings
from tests.model.served import ServedModel

SHIPPED_BUNDLE = Path(__file__).resolve().parents[2] / "models" / "default"


@pytest.fixture(scope="session")
def shipped_bundle() -> Path:
    if not (SHIPPED_BUNDLE / "manifest.json").is_file():
        pytest.skip(
            f"no shipped bundle at {SHIPPED_BUNDLE}; "
            "build it with the command in docs/model_card.md"
        )
    return SHIPPED_BUNDLE


@pytest.fixture(scope="session")
def served_settings(shipped_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shipped bundle as the only model, translation off, nothing written outside tmp."""
    root = tmp_path_factory.mktemp("served")
    return Settings(
        MODEL_STORE_PATH=root / "no-store",
        MODEL_CACHE_DIR=root / "cache",
        MODEL_REFRESH_SECONDS=0,
        DEFAULT_BUNDLE_PATH=shipped_bundle,
        TRANSLATION_ENABLED=False,
        AUTH_MODE="none",
        FEEDBACK_DB_PATH=root / "feedback.sqlite3",
        FEEDBACK_TOKEN_KEY=SecretStr("model-tests-feedback-key-not-a-secret-0123456789"),
        PREDICTION_EVENTS_PATH=root / "predictions.sqlite3",
        PREDICTION_EVENTS_MAX=0,
    )


@pytest.fixture(scope="module")
def served(served_settings: Settings) -> Iterator[ServedModel]:
    """POST /api/predict on the shipped bundle (its settings turn the prediction store off)."""
    app = create_app(served_settings, holder=ModelHolder(served_settings))
    with TestClient(app) as client:
        yield ServedModel(client)
