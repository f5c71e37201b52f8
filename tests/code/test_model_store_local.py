"""The object-store and model-store contracts, on the local folder backend.

The contract classes (`ObjectStoreContract`, `ModelStoreContract`) only ask for an `objects`
fixture, so tests/integration/test_model_store_blob.py runs the very same tests on Azurite.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from shared.bundle import (
    MODEL_FILE,
    BundleError,
    read_manifest,
    sha256_file,
    verify_bundle,
    write_manifest,
)
from shared.model_store import CHAMPION_NAME, ChampionChanged, ModelStore, open_model_store
from shared.settings import Settings
from shared.storage import (
    LocalObjectStore,
    ObjectStore,
    PreconditionFailed,
    StorageError,
    StoredObject,
    open_object_store,
)
from tests.utils.bundles import build_tiny_bundle

pytestmark = pytest.mark.code

VERSIONS = ("v1", "v2", "v3")


@pytest.fixture(scope="session")
def real_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real bundles v1..v3, built once; copy one before changing it."""
    root = tmp_path_factory.mktemp("store-bundles")
    return {version: build_tiny_bundle(root / version, version=version) for version in VERSIONS}


class CrashingObjects:
    """Wraps a store and fails writes of chosen names: a publisher dying mid-way."""

    def __init__(self, inner: ObjectStore, crash_on: str) -> None:
        self.inner = inner
        self.crash_on = crash_on

    def __getattr__(self, attribute: str):
        return getattr(self.inner, attribute)

    def put(self, name: str, data: bytes, **conditions) -> str:
        if name == self.crash_on:
            raise StorageError(f"simulated crash writing {name}")
        return self.inner.put(name, data, **conditions)


def copy_bundle(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


def damage_stored_model(objects: ObjectStore, version: str, how: str) -> None:
    """Bit rot in the store: `truncated` halves model.onnx, `tampered` flips one byte."""
    name = f"{version}/{MODEL_FILE}"
    data = objects.get(name).data
    if how == "truncated":
        data = data[: len(data) // 2]
    else:
        middle = len(data) // 2
        data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    objects.put(name, data)


def vouched_garbage_bundle(source: Path, dest: Path) -> Path:
    """A bundle whose manifest vouches for a model.onnx that is not a model: sha256 passes."""
    bundle = copy_bundle(source, dest)
    (bundle / MODEL_FILE).write_bytes(b"\x08\x07 not an onnx graph")
    manifest = read_manifest(bundle)
    write_manifest(
        bundle, manifest.model_copy(update={"model_sha256": sha256_file(bundle / MODEL_FILE)})
    )
    return bundle


TRUNCATED_POINTERS = [b'{"version": "v2", "prev', b"", b'{"previous": []}', b"\xff\xfe"]


class ObjectStoreContract:
    """What the model store and the feedback harvest rely on, whatever the backend."""

    def test_get_missing_is_none(self, objects: ObjectStore) -> None:
        assert objects.get("nope/missing.json") is None
        assert objects.etag("nope/missing.json") is None

    def test_put_get_round_trip(self, objects: ObjectStore) -> None:
        etag = objects.put("a/b.json", b'{"x": 1}')
        assert objects.get("a/b.json") == StoredObject(b'{"x": 1}', etag)
        assert objects.etag("a/b.json") == etag

    def test_etag_changes_with_content(self, objects: ObjectStore) -> None:
        first = objects.put("pointer.json", b"one")
        second = objects.put("pointer.json", b"two")
        assert first != second
        assert objects.etag("pointer.json") == second

    def test_if_none_match_refuses_existing(self, objects: ObjectStore) -> None:
        objects.put("once.txt", b"first", if_none_match=True)
        with pytest.raises(PreconditionFailed):
            objects.put("once.txt", b"second", if_none_match=True)
        assert objects.get("once.txt").data == b"first"

    def test_if_match_refuses_stale_etag(self, objects: ObjectStore) -> None:
        stale = objects.put("p.json", b"1")
        current = objects.put("p.json", b"2")
        with pytest.raises(PreconditionFailed):
            objects.put("p.json", b"3", if_match=stale)
        objects.put("p.json", b"4", if_match=current)
        assert objects.get("p.json").data == b"4"

    def test_if_match_on_missing_object_fails(self, objects: ObjectStore) -> None:
        with pytest.raises(PreconditionFailed):
            objects.put("ghost.json", b"x", if_match='"0x123"')

    def test_list_by_prefix_sorted(self, objects: ObjectStore) -> None:
        for name in ("b/2.jsonl", "a/1.jsonl", "b/1.jsonl", "c.json"):
            objects.put(name, b"{}")
        assert objects.list() == ["a/1.jsonl", "b/1.jsonl", "b/2.jsonl", "c.json"]
        assert objects.list("b/") == ["b/1.jsonl", "b/2.jsonl"]
        assert objects.list("zzz") == []

    def test_delete_is_idempotent(self, objects: ObjectStore) -> None:
        objects.put("d/x.bin", b"\x00\x01")
        objects.delete("d/x.bin")
        objects.delete("d/x.bin")
        assert objects.get("d/x.bin") is None
        assert objects.list() == []

    @pytest.mark.parametrize(
        "name",
        ["", "/etc/passwd", "../up.txt", "a/../../b", "a//b", "a/./b", "a\\b", ".lock", "C:x"],
    )
    def test_rejects_unsafe_names(self, objects: ObjectStore, name: str) -> None:
        with pytest.raises(ValueError, match="invalid object name"):
            objects.put(name, b"x")

    def test_describe_names_the_store_without_secrets(self, objects: ObjectStore) -> None:
        description = objects.describe()
        assert description.split(":")[0] in ("local", "blob")
        assert "AccountKey" not in description


class ModelStoreContract:
    """Publishing, promotion, download and rollback of real bundles, whatever the backend."""

    @pytest.fixture
    def store(self, objects: ObjectStore) -> ModelStore:
        return ModelStore(objects)

    def test_publish_promotes_and_records_history(self, store, real_bundles) -> None:
        assert store.read_champion() is None
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        pointer = store.read_champion()
        assert (pointer.version, pointer.previous) == ("v2", ["v1"])
        assert pointer.etag == store.champion_etag()
        assert store.list_versions() == ["v1", "v2"]

    def test_publish_is_idempotent_for_identical_bundle(self, store, real_bundles) -> None:
        first = store.publish(real_bundles["v1"])
        again = store.publish(real_bundles["v1"])
        assert first == again
        assert store.read_champion().previous == []

    def test_publish_refuses_other_content_under_same_version(
        self, store, real_bundles, tmp_path
    ) -> None:
        store.publish(real_bundles["v1"])
        impostor = copy_bundle(real_bundles["v1"], tmp_path / "impostor")
        manifest = read_manifest(impostor)
        write_manifest(impostor, manifest.model_copy(update={"threshold": 0.9}))
        with pytest.raises(StorageError, match="other content"):
            store.publish(impostor)

    def test_publish_refuses_unverified_bundle(self, store, real_bundles, tmp_path) -> None:
        broken = copy_bundle(real_bundles["v1"], tmp_path / "broken")
        (broken / MODEL_FILE).write_bytes(b"not the model")
        with pytest.raises(BundleError):
            store.publish(broken)
        assert store.list_versions() == []

    def test_publish_without_promotion(self, store, real_bundles) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"], make_champion=False)
        assert store.read_champion().version == "v1"
        assert store.set_champion("v2").previous == ["v1"]

    def test_set_champion_needs_a_published_version(self, store) -> None:
        with pytest.raises(StorageError, match="no published version"):
            store.set_champion("v9")

    def test_pointer_is_written_last(self, objects, real_bundles) -> None:
        """A publisher dying before the pointer write leaves readers on the old champion."""
        ModelStore(objects).publish(real_bundles["v1"])
        crashing = ModelStore(CrashingObjects(objects, crash_on=CHAMPION_NAME))
        with pytest.raises(StorageError, match="simulated crash"):
            crashing.publish(real_bundles["v2"])
        assert ModelStore(objects).read_champion().version == "v1"

    def test_crash_before_manifest_leaves_no_version(self, objects, real_bundles) -> None:
        crashing = ModelStore(CrashingObjects(objects, crash_on="v1/manifest.json"))
        with pytest.raises(StorageError):
            crashing.publish(real_bundles["v1"])
        store = ModelStore(objects)
        assert (store.list_versions(), store.read_champion()) == ([], None)
        store.publish(real_bundles["v1"])  # a retry completes the half-published version
        assert store.read_champion().version == "v1"

    def test_concurrent_promotions_all_land_in_history(self, store, real_bundles) -> None:
        for version in VERSIONS:
            store.publish(real_bundles[version], make_champion=False)
        errors: list[BaseException] = []

        def promote(version: str) -> None:
            try:
                store.set_champion(version)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=promote, args=(v,)) for v in VERSIONS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pointer = store.read_champion()
        assert errors == []
        assert sorted([pointer.version, *pointer.previous]) == list(VERSIONS)

    def test_download_verifies_and_replaces(self, store, real_bundles, tmp_path) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        dest = tmp_path / "cache" / "current"
        assert store.download("v1", dest).version == "v1"
        assert store.download("v2", dest).version == "v2"
        assert verify_bundle(dest).version == "v2"
        assert sorted(p.name for p in dest.parent.iterdir()) == ["current"]

    @pytest.mark.parametrize("damage", [b"tampered", b""], ids=["tampered", "truncated-to-nothing"])
    def test_download_rejects_damaged_model(
        self, objects, store, real_bundles, tmp_path, damage
    ) -> None:
        store.publish(real_bundles["v1"])
        original = objects.get("v1/model.onnx").data
        objects.put("v1/model.onnx", damage or original[: len(original) // 2])
        dest = tmp_path / "cache" / "v1"
        with pytest.raises(BundleError, match="sha256"):
            store.download("v1", dest)
        assert not dest.parent.exists() or list(dest.parent.iterdir()) == []

    def test_download_of_missing_version(self, store, real_bundles, tmp_path) -> None:
        store.publish(real_bundles["v1"])
        with pytest.raises(BundleError, match="missing"):
            store.download("v7", tmp_path / "v7")
        assert not (tmp_path / "v7").exists()

    def test_pointer_naming_a_missing_version(self, objects, store, tmp_path) -> None:
        objects.put(CHAMPION_NAME, b'{"version": "ghost", "previous": []}')
        pointer = store.read_champion()
        with pytest.raises(BundleError, match="missing"):
            store.download(pointer.version, tmp_path / "ghost")

    def test_corrupt_pointer_is_a_storage_error(self, objects, store) -> None:
        objects.put(CHAMPION_NAME, b"{not json")
        with pytest.raises(StorageError, match="not valid"):
            store.read_champion()

    def test_rollback_restores_previous_champion(self, store, real_bundles) -> None:
        for version in VERSIONS:
            store.publish(real_bundles[version])
        assert store.rollback().version == "v2"
        assert store.rollback().version == "v1"
        with pytest.raises(StorageError, match="no previous champion"):
            store.rollback()
        assert store.read_champion().version == "v1"

    def test_rollback_without_champion(self, store) -> None:
        with pytest.raises(StorageError, match="no previous champion"):
            store.rollback()

    def test_invalid_version_names_are_refused(self, store, tmp_path) -> None:
        with pytest.raises(ValueError, match="invalid model version"):
            store.download("../etc", tmp_path / "x")

    # --- every pointer move verifies its target (sha256 + onnxruntime) ------------------------

    def test_publish_refuses_a_vouched_model_that_does_not_load(
        self, store, real_bundles, tmp_path
    ) -> None:
        store.publish(real_bundles["v1"])
        garbage = vouched_garbage_bundle(real_bundles["v2"], tmp_path / "garbage")
        verify_bundle(garbage)  # the sums alone would let it through
        with pytest.raises(BundleError, match="does not load and score in onnxruntime"):
            store.publish(garbage)
        assert (store.read_champion().version, store.list_versions()) == ("v1", ["v1"])

    @pytest.mark.parametrize("damage", ["truncated", "tampered"])
    def test_rollback_refuses_a_damaged_previous_champion(
        self, objects, store, real_bundles, damage
    ) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        damage_stored_model(objects, "v1", damage)
        before = store.read_champion()
        with pytest.raises(BundleError, match=r"previous champion version v1: .*sha256.*--to"):
            store.rollback()
        after = store.read_champion()
        assert (after.version, after.etag, after.history) == ("v2", before.etag, before.history)

    def test_rollback_to_a_damaged_version_is_refused(self, objects, store, real_bundles) -> None:
        for version in VERSIONS:
            store.publish(real_bundles[version])
        damage_stored_model(objects, "v1", "truncated")
        with pytest.raises(BundleError, match=r"v1: .*sha256"):
            store.rollback(to="v1")
        with pytest.raises(BundleError, match=r"v1: .*sha256"):
            store.set_champion("v1")
        assert store.read_champion().version == "v3"
        assert store.rollback(to="v2").version == "v2"  # a good target still works

    def test_rollback_to_an_unknown_version_lists_the_stored_ones(
        self, store, real_bundles
    ) -> None:
        store.publish(real_bundles["v1"])
        with pytest.raises(StorageError, match=r"no published version v9 \(stored: v1\)"):
            store.rollback(to="v9")

    # --- history is never lost ------------------------------------------------------------------

    def test_rollback_keeps_the_version_rolled_back_from(self, store, real_bundles) -> None:
        for version in VERSIONS:
            store.publish(real_bundles[version])
        pointer = store.rollback()
        assert (pointer.version, pointer.previous) == ("v2", ["v1"])
        latest = pointer.history[0]
        assert (latest.action, latest.version, latest.replaced) == ("rollback", "v2", "v3")
        assert store.list_versions() == list(VERSIONS)
        back = store.rollback(to="v3")  # the version rolled back from can come back
        assert (back.version, back.previous) == ("v3", ["v2", "v1"])

    def test_history_records_every_move_newest_first(self, store, real_bundles) -> None:
        for version in VERSIONS:
            store.publish(real_bundles[version])
        store.rollback()
        store.rollback()
        store.set_champion("v3")
        moves = [(e.action, e.version, e.replaced) for e in store.read_champion().history]
        assert moves == [
            ("promote", "v3", "v1"),
            ("rollback", "v1", "v2"),
            ("rollback", "v2", "v3"),
            ("publish", "v3", "v2"),
            ("publish", "v2", "v1"),
            ("publish", "v1", None),
        ]

    def test_a_pointer_without_history_still_reads_and_gains_one(
        self, objects, store, real_bundles
    ) -> None:
        store.publish(real_bundles["v1"], make_champion=False)
        objects.put(CHAMPION_NAME, b'{"version": "v1", "previous": []}')  # written by older code
        store.publish(real_bundles["v2"])
        pointer = store.read_champion()
        assert (pointer.version, pointer.previous, len(pointer.history)) == ("v2", ["v1"], 1)

    # --- a corrupt pointer can always be recovered ------------------------------------------

    @pytest.mark.parametrize(
        "content", TRUNCATED_POINTERS, ids=["cut", "empty", "no-version", "binary"]
    )
    def test_publish_over_a_corrupt_pointer(self, objects, store, real_bundles, content) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        objects.put(CHAMPION_NAME, content)
        with pytest.raises(StorageError, match=r"not valid.*bad-buzz repair"):
            store.read_champion()
        store.publish(real_bundles["v3"])
        pointer = store.read_champion()
        assert (pointer.version, pointer.previous) == ("v3", ["v2", "v1"])
        assert "replaced an invalid champion.json" in pointer.history[0].note

    def test_rollback_over_a_corrupt_pointer_needs_a_target(
        self, objects, store, real_bundles
    ) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        objects.put(CHAMPION_NAME, TRUNCATED_POINTERS[0])
        with pytest.raises(StorageError, match=r"previous champion is unknown.*stored: v1, v2"):
            store.rollback()
        assert objects.get(CHAMPION_NAME).data == TRUNCATED_POINTERS[0]  # nothing written
        assert store.rollback(to="v1").version == "v1"
        assert store.read_champion().previous == ["v2"]

    def test_repair_rebuilds_a_corrupt_pointer_from_verified_bundles(
        self, objects, store, real_bundles
    ) -> None:
        for version in VERSIONS:
            store.publish(real_bundles[version])
        damage_stored_model(objects, "v3", "tampered")
        objects.put(CHAMPION_NAME, TRUNCATED_POINTERS[0])
        result = store.repair()
        assert result.changed
        assert list(result.skipped) == ["v3"]  # newest, but it cannot serve
        assert (result.pointer.version, store.read_champion().version) == ("v2", "v2")
        assert "not valid" in result.pointer.history[0].note
        assert "skipped v3" in result.pointer.history[0].note

    def test_repair_moves_off_a_champion_that_cannot_serve(
        self, objects, store, real_bundles
    ) -> None:
        for version in VERSIONS:
            store.publish(real_bundles[version])
        damage_stored_model(objects, "v3", "truncated")
        result = store.repair()
        assert (result.pointer.version, list(result.skipped)) == ("v2", ["v3"])
        event = store.read_champion().history[0]
        assert (event.action, event.replaced) == ("repair", "v3")

    def test_repair_leaves_a_good_pointer_alone(self, store, real_bundles) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        before = store.read_champion()
        result = store.repair()
        assert not result.changed
        assert store.read_champion() == before
        assert store.champion_etag() == before.etag

    def test_repair_recreates_a_lost_pointer(self, objects, store, real_bundles) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        objects.delete(CHAMPION_NAME)
        result = store.repair()
        assert (result.pointer.version, result.pointer.previous) == ("v2", ["v1"])

    def test_repair_of_an_empty_store_says_so(self, store) -> None:
        with pytest.raises(StorageError, match="no stored version can serve"):
            store.repair()
        assert store.read_champion() is None

    def test_repair_when_nothing_can_serve_names_each_reason(
        self, objects, store, real_bundles
    ) -> None:
        store.publish(real_bundles["v1"])
        damage_stored_model(objects, "v1", "truncated")
        objects.put(CHAMPION_NAME, b"{")
        with pytest.raises(StorageError, match=r"no stored version can serve.*v1: .*sha256"):
            store.repair()
        assert objects.get(CHAMPION_NAME).data == b"{"

    # --- a promotion is conditional on the pointer the gate compared with ---------------------

    def test_read_pointer_gives_the_etag(self, store, real_bundles) -> None:
        assert store.read_pointer() == (None, None)
        store.publish(real_bundles["v1"])
        pointer, etag = store.read_pointer()
        assert (pointer.version, etag) == ("v1", store.champion_etag())

    def test_promote_with_an_unchanged_pointer(self, store, real_bundles) -> None:
        store.publish(real_bundles["v1"])
        _, etag = store.read_pointer()
        store.publish(real_bundles["v2"], make_champion=False)
        pointer = store.promote("v2", expected_etag=etag)
        assert (pointer.version, pointer.previous) == ("v2", ["v1"])
        assert store.champion_etag() == pointer.etag != etag

    def test_promote_refuses_when_an_operator_rolled_back_meanwhile(
        self, store, real_bundles
    ) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"])
        _, etag = store.read_pointer()  # the gate compares v3 against v2 ...
        store.publish(real_bundles["v3"], make_champion=False)
        store.rollback()  # ... while an operator rolls back to v1
        with pytest.raises(ChampionChanged, match=r"changed since it was read \(now v1\)"):
            store.promote("v3", expected_etag=etag)
        with pytest.raises(ChampionChanged):
            store.publish(real_bundles["v3"], expected_etag=etag)
        assert store.read_champion().version == "v1"

    def test_only_one_of_two_gates_with_the_same_etag_wins(self, store, real_bundles) -> None:
        store.publish(real_bundles["v1"])
        store.publish(real_bundles["v2"], make_champion=False)
        store.publish(real_bundles["v3"], make_champion=False)
        _, etag = store.read_pointer()
        outcomes: dict[str, str] = {}

        def gate(version: str) -> None:
            try:
                store.promote(version, expected_etag=etag)
                outcomes[version] = "promoted"
            except ChampionChanged:
                outcomes[version] = "refused"

        threads = [threading.Thread(target=gate, args=(v,)) for v in ("v2", "v3")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == ["promoted", "refused"]
        winner = next(v for v, outcome in outcomes.items() if outcome == "promoted")
        assert store.read_champion().version == winner


class TestLocalObjectStore(ObjectStoreContract):
    @pytest.fixture
    def objects(self, tmp_path: Path) -> LocalObjectStore:
        return LocalObjectStore(tmp_path / "store")

    def test_failed_write_leaves_old_content_and_no_temp_file(
        self, objects: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        objects.put("champion.json", b"old")

        def fail_replace(*_args: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", fail_replace)
        with pytest.raises(StorageError, match="cannot write"):
            objects.put("champion.json", b"new")
        monkeypatch.undo()
        assert objects.get("champion.json").data == b"old"
        assert sorted(p.name for p in objects.root.iterdir()) == [".lock", "champion.json"]

    def test_only_one_conditional_writer_wins(self, objects: LocalObjectStore) -> None:
        etag = objects.put("p.json", b"start")
        outcomes: list[str] = []

        def write(index: int) -> None:
            try:
                objects.put("p.json", f"writer {index}".encode(), if_match=etag)
                outcomes.append("won")
            except PreconditionFailed:
                outcomes.append("lost")

        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["lost"] * 7 + ["won"]

    def test_missing_root_reads_as_empty(self, tmp_path: Path) -> None:
        objects = LocalObjectStore(tmp_path / "absent")
        assert (objects.list(), objects.get("x"), objects.etag("x")) == ([], None, None)
        assert not (tmp_path / "absent").exists()


class TestLocalModelStore(ModelStoreContract):
    @pytest.fixture
    def objects(self, tmp_path: Path) -> LocalObjectStore:
        return LocalObjectStore(tmp_path / "models")


def test_open_object_store_lays_containers_side_by_side(tmp_path: Path) -> None:
    settings = Settings(
        MODEL_STORE_PATH=tmp_path / "models",
        MODEL_STORE_CONNECTION_STRING=None,
        MODEL_STORE_ACCOUNT_URL=None,
    )
    models = open_object_store(settings, "models")
    feedback = open_object_store(settings, "feedback")
    assert models.describe() == f"local:{tmp_path / 'models'}"
    assert feedback.describe() == f"local:{tmp_path / 'feedback'}"
    assert open_model_store(settings).describe() == models.describe()
