"""The object-store and model-store contracts on a real blob service (Azurite), plus faults."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.model_store import CHAMPION_NAME, ModelStore, open_model_store
from shared.settings import Settings
from shared.storage import BlobObjectStore, StorageError, open_object_store
from tests.code.test_model_store_local import (  # the same contract, another backend
    ModelStoreContract,
    ObjectStoreContract,
    damage_stored_model,
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


# --- the CLI recovers every store state on a real blob service ---------------------------------


@pytest.fixture
def cli_on_blob(azurite, blob_container: str, tmp_path: Path, monkeypatch, capsys):
    """`bad-buzz ARGS` in process against the Azurite container: (exit code, stdout, stderr)."""
    import sys

    from shared.settings import get_settings
    from training import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_STORE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("MODEL_STORE_CONTAINER", blob_container)
    monkeypatch.delenv("MODEL_STORE_ACCOUNT_URL", raising=False)
    get_settings.cache_clear()

    def invoke(*args: object) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["bad-buzz", *map(str, args)])
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    yield invoke
    get_settings.cache_clear()


def test_cli_repairs_a_truncated_pointer_on_blob(cli_on_blob, objects, real_bundles) -> None:  # noqa: F811
    for version in ("v1", "v2"):
        assert cli_on_blob("publish", real_bundles[version])[0] == 0
    objects.put(CHAMPION_NAME, objects.get(CHAMPION_NAME).data[:30])
    code, _, err = cli_on_blob("rollback")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error: ")
    assert "bad-buzz repair" in err
    assert "Traceback" not in err
    code, out, _ = cli_on_blob("repair")
    assert (code, out.strip()) == (0, "champion.json repaired: champion is now v2")
    assert ModelStore(objects).read_champion().version == "v2"


def test_cli_refuses_a_rollback_onto_a_damaged_blob(cli_on_blob, objects, real_bundles) -> None:  # noqa: F811
    for version in ("v1", "v2"):
        assert cli_on_blob("publish", real_bundles[version])[0] == 0
    damage_stored_model(objects, "v1", "truncated")
    before = objects.etag(CHAMPION_NAME)
    code, _, err = cli_on_blob("rollback")
    assert code == 2
    assert "previous champion version v1" in err
    assert "sha256" in err
    assert objects.etag(CHAMPION_NAME) == before
    assert cli_on_blob("rollback", "--to", "v1")[0] == 2
    assert cli_on_blob("repair")[1].strip() == "champion.json is fine: champion v2 serves"
