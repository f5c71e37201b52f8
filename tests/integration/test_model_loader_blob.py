"""ModelHolder against a real blob service: ETag-driven refresh and Azurite outages."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.model_loader import ModelHolder
from shared.model_store import ModelStore, open_model_store
from shared.settings import Settings
from tests.code.test_model_store_local import real_bundles  # noqa: F401 - session fixture

pytestmark = pytest.mark.integration

TWEETS = ["lost my luggage, so angry", "lovely crew, thanks"]


@pytest.fixture
def blob_settings(azurite, blob_container: str, tmp_path: Path, tiny_bundle: Path) -> Settings:
    return Settings(
        MODEL_STORE_CONNECTION_STRING=azurite.connection_string,
        MODEL_STORE_ACCOUNT_URL=None,
        MODEL_STORE_CONTAINER=blob_container,
        MODEL_STORE_PATH=tmp_path / "unused-local-store",
        MODEL_CACHE_DIR=tmp_path / "cache",
        DEFAULT_BUNDLE_PATH=tiny_bundle,
        MODEL_REFRESH_SECONDS=60,
    )


@pytest.fixture
def store(blob_settings: Settings) -> ModelStore:
    return open_model_store(blob_settings)


def test_champion_served_from_blob_and_followed_by_etag(
    blob_settings,
    store,
    real_bundles,  # noqa: F811
) -> None:
    store.publish(real_bundles["v1"])
    holder = ModelHolder(blob_settings)  # opens the blob store from the settings
    assert (holder.get().version, holder.health()["store"]) == ("v1", "reachable")
    holder.refresh()
    assert holder.get().version == "v1"
    store.publish(real_bundles["v2"])
    holder.refresh()
    model = holder.get()
    assert (model.version, model.source, holder.health()["status"]) == ("v2", "store", "ok")
    assert model.predictor.predict(TWEETS)


def test_fresh_container_serves_default_and_ok(blob_settings) -> None:
    health = ModelHolder(blob_settings).health()
    assert (health["source"], health["status"], health["store"]) == ("default", "ok", "reachable")


def test_azurite_down_at_cold_start_uses_cache(
    azurite,
    blob_settings,
    store,
    real_bundles,  # noqa: F811
) -> None:
    store.publish(real_bundles["v1"])
    ModelHolder(blob_settings).get()  # an earlier instance left v1 in the cache
    azurite.stop()
    try:
        health = ModelHolder(blob_settings).health()
    finally:
        azurite.start()
    assert (health["model_version"], health["source"]) == ("v1", "cache")
    assert (health["status"], health["store"]) == ("degraded", "unreachable")


def test_azurite_down_at_cold_start_without_cache_uses_default(azurite, blob_settings) -> None:
    azurite.stop()
    try:
        holder = ModelHolder(blob_settings)
        health = holder.health()
        assert holder.get().predictor.predict(TWEETS)
    finally:
        azurite.start()
    assert (health["source"], health["status"], health["store"]) == (
        "default",
        "degraded",
        "unreachable",
    )


def test_azurite_down_during_refresh_keeps_serving_then_recovers(
    azurite,
    blob_settings,
    store,
    real_bundles,  # noqa: F811
) -> None:
    store.publish(real_bundles["v1"])
    holder = ModelHolder(blob_settings)
    assert holder.get().version == "v1"
    azurite.stop()
    try:
        holder.refresh()
        health = holder.health()
        assert (health["model_version"], health["status"]) == ("v1", "degraded")
        assert health["store"] == "unreachable"
        assert holder.get().predictor.predict(TWEETS)
    finally:
        azurite.start()
    store.publish(real_bundles["v2"])  # in-memory Azurite restarted empty: publish again
    holder.refresh()
    health = holder.health()
    assert (health["model_version"], health["status"], health["store"]) == (
        "v2",
        "ok",
        "reachable",
    )
