"""The object-store and model-store contracts on a real blob service (Azurite), plus faults."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.model_store import ModelStore, open_model_store
from shared.settings import Settings
from shared.storage import BlobObjectStore, StorageError, open_object_store
from tests.code.test_model_store_local import (  # the same contract, another backend
    ModelStoreContract,
    ObjectStoreContract,
    real_bundles,  # noqa: F401 - session fixture shared with the local contract
)

pytestmark = pytest.mark.integration


def make_blob_settings(connection_string: str, container: str, tmp_path: Path) -> Settings:
    return Settings(
        MODEL_STORE_CONNECTION_STRING=connection_string,
        MODEL_STORE_ACCOUNT_URL=None,
        MODEL_STORE_CONTAINER=container,
        MODEL_STORE_PATH=tmp_path / "unused-local-store",
        MODEL_CACHE_DIR=tmp_path / "cache",
    )


@pytest.fixture
def blob_settings(azurite, blob_container: str, tmp_path: Path) -> Settings:
    return make_blob_settings(azurite.connection_string, blob_container, tmp_path)


@pytest.fixture
def objects(blob_settings: Settings) -> BlobObjectStore:
    store = open_object_store(blob_settings, blob_settings.MODEL_STORE_CONTAINER)
    assert isinstance(store, BlobObjectStore)
    return store


class TestBlobObjectStore(ObjectStoreContract):
    def test_describe_is_account_and_container(self, objects, blob_container) -> None:
        assert objects.describe() == f"blob:devstoreaccount1/{blob_container}"

    def test_missing_container_reads_as_empty_until_first_write(self, objects) -> None:
        assert (objects.list(), objects.get("x"), objects.etag("x")) == ([], None, None)
        objects.put("x", b"1")
        assert objects.list() == ["x"]

    def test_existing_container_is_reused(self, blob_settings, blob_container) -> None:
        first = open_object_store(blob_settings, blob_container)
        first.put("a", b"1")
        second = open_object_store(blob_settings, blob_container)
        second.put("b", b"2")
        assert second.list() == ["a", "b"]

    def test_other_containers_come_from_the_same_account(self, blob_settings, azurite) -> None:
        feedback = open_object_store(blob_settings, "feedback")
        assert feedback.describe() == "blob:devstoreaccount1/feedback"


class TestBlobModelStore(ModelStoreContract):
    def test_pointer_etag_tracks_every_promotion(self, store, real_bundles) -> None:  # noqa: F811
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"], make_champion=False)
        before = store.champion_etag()
        assert before == store.read_champion().etag
        store.set_champion("v2")
        after = store.champion_etag()
        assert after not in (before, None)
        assert store.rollback().etag != after


def test_open_model_store_uses_the_connection_string(blob_settings, real_bundles) -> None:  # noqa: F811
    store = open_model_store(blob_settings)
    store.publish(real_bundles["v1"])
    assert store.describe().startswith("blob:devstoreaccount1/")
    assert (
        ModelStore(open_object_store(blob_settings, blob_settings.MODEL_STORE_CONTAINER))
        .read_champion()
        .version
        == "v1"
    )


def test_stopped_store_fails_fast_with_one_line(azurite, blob_settings) -> None:
    objects = open_object_store(blob_settings, blob_settings.MODEL_STORE_CONTAINER)
    objects.put("x", b"1")
    azurite.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StorageError) as caught:
            objects.get("x")
        assert time.monotonic() - started < 10
        message = str(caught.value)
        assert "unreachable" in message
        assert "\n" not in message
        assert "AccountKey" not in message
    finally:
        azurite.start()
    assert objects.get("x") is None  # in-memory Azurite comes back empty


def test_wrong_key_is_a_storage_error(azurite, blob_container, tmp_path) -> None:
    wrong = azurite.connection_string.replace("Eby8", "AAAA")
    objects = open_object_store(make_blob_settings(wrong, blob_container, tmp_path), blob_container)
    with pytest.raises(StorageError, match="HTTP 403"):
        objects.list()
