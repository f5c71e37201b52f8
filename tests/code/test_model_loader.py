"""ModelHolder: cold-start fallbacks, ETag-driven refresh, degraded states and hot swaps."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from shared import model_loader
from shared.bundle import LABEL_NAMES, MANIFEST_FILE, MODEL_FILE
from shared.model_loader import ModelHolder
from shared.model_store import ModelStore
from shared.settings import Settings
from shared.storage import LocalObjectStore, ObjectStore, StorageError
from tests.utils.bundles import build_tiny_bundle

pytestmark = pytest.mark.code

REFRESH_SECONDS = 60.0
TWEETS = ["my flight is delayed again, worst airline ever", "great crew, thank you!"]


@pytest.fixture(scope="module")
def real_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real bundles v1..v3, built once; copy one before changing it."""
    root = tmp_path_factory.mktemp("loader-bundles")
    return {v: build_tiny_bundle(root / v, version=v) for v in ("v1", "v2", "v3")}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = REFRESH_SECONDS + 1) -> None:
        self.now += seconds


class SwitchableObjects:
    """A store that can be made unreachable, and that counts downloads of model files."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.down = False
        self.fail_model_reads = False  # the pointer answers, the download breaks off
        self.model_reads = 0

    def __getattr__(self, attribute: str):
        if self.down:
            raise StorageError("blob:test/models: get: unreachable (ServiceRequestError)")
        return getattr(self.inner, attribute)

    def get(self, name: str):
        self.model_reads += name.endswith(MODEL_FILE)
        if self.fail_model_reads and name.endswith(MODEL_FILE):
            raise StorageError("blob:test/models: get: unreachable (ServiceResponseError)")
        return self.__getattr__("get")(name)


@pytest.fixture
def objects(tmp_path: Path) -> SwitchableObjects:
    return SwitchableObjects(LocalObjectStore(tmp_path / "models"))


@pytest.fixture
def store(objects: SwitchableObjects) -> ModelStore:
    return ModelStore(objects)


@pytest.fixture
def settings(tmp_path: Path, tiny_bundle: Path) -> Settings:
    return make_settings(tmp_path, default_bundle=tiny_bundle)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(tmp_path: Path, default_bundle: Path) -> Settings:
    return Settings(
        MODEL_STORE_PATH=tmp_path / "models",
        MODEL_STORE_CONNECTION_STRING=None,
        MODEL_STORE_ACCOUNT_URL=None,
        MODEL_CACHE_DIR=tmp_path / "cache",
        DEFAULT_BUNDLE_PATH=default_bundle,
        MODEL_REFRESH_SECONDS=REFRESH_SECONDS,
    )


def tamper_model(objects: ObjectStore, version: str) -> None:
    objects.put(f"{version}/{MODEL_FILE}", b"definitely not onnx")


def test_fresh_clone_serves_the_shipped_bundle(settings: Settings) -> None:
    holder = ModelHolder(settings)
    model = holder.get()
    health = holder.health()
    assert (model.version, model.source) == ("tiny-1", "default")
    assert (health["status"], health["store"], health["detail"]) == ("ok", "not configured", None)
    assert model.predictor.predict(TWEETS)[0].label in LABEL_NAMES


def test_local_store_opened_from_settings(settings: Settings, real_bundles) -> None:
    ModelStore(LocalObjectStore(settings.MODEL_STORE_PATH)).publish(real_bundles["v1"])
    holder = ModelHolder(settings)
    assert (holder.get().version, holder.health()["store"]) == ("v1", "reachable")


def test_champion_is_downloaded_into_the_cache(settings, store, real_bundles, clock) -> None:
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store, clock=clock)
    model = holder.get()
    health = holder.health()
    assert (model.version, model.source, health["status"]) == ("v1", "store", "ok")
    assert (settings.MODEL_CACHE_DIR / "v1" / MODEL_FILE).is_file()
    assert health["loaded_at"]
    assert health["last_check"]


def test_unreachable_store_falls_back_to_newest_cache(
    settings, store, objects, real_bundles, clock
) -> None:
    store.publish(real_bundles["v1"])
    ModelHolder(settings, store, clock=clock).get()  # warms the cache
    objects.down = True
    holder = ModelHolder(settings, store, clock=clock)
    health = holder.health()
    assert (health["model_version"], health["source"]) == ("v1", "cache")
    assert (health["status"], health["store"]) == ("degraded", "unreachable")
    assert "unreachable" in health["detail"]


def test_unreachable_store_and_empty_cache_serve_default(settings, objects, store) -> None:
    objects.down = True
    health = ModelHolder(settings, store).health()
    assert (health["source"], health["status"]) == ("default", "degraded")


def test_nothing_to_serve_is_unavailable_not_an_exception(tmp_path, objects, store) -> None:
    settings = make_settings(tmp_path, default_bundle=tmp_path / "no-such-bundle")
    objects.down = True
    holder = ModelHolder(settings, store)
    assert holder.get() is None
    health = holder.health()
    assert (health["status"], health["model_version"]) == ("unavailable", None)
    assert "default bundle unusable" in health["detail"]


def test_corrupt_champion_without_cache_is_unavailable(settings, store, objects, real_bundles):
    store.publish(real_bundles["v1"])
    tamper_model(objects, "v1")
    holder = ModelHolder(settings, store)
    assert holder.get() is None
    assert "champion v1" in holder.health()["detail"]


def test_corrupt_cached_copies_are_deleted_and_skipped(
    settings, store, objects, real_bundles, clock
) -> None:
    store.publish(real_bundles["v1"])
    ModelHolder(settings, store, clock=clock).get()
    corrupt = shutil.copytree(real_bundles["v2"], settings.MODEL_CACHE_DIR / "v2")
    (corrupt / MODEL_FILE).write_bytes(b"bit rot")
    os.utime(corrupt / MANIFEST_FILE, (time.time() + 60, time.time() + 60))  # the newest copy
    objects.down = True
    model = ModelHolder(settings, store, clock=clock).get()
    assert (model.version, model.source) == ("v1", "cache")
    assert not (settings.MODEL_CACHE_DIR / "v2").exists()


def test_refresh_waits_for_the_interval_then_swaps(
    settings, store, objects, real_bundles, clock
) -> None:
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store, clock=clock)
    old = holder.get()
    store.publish(real_bundles["v2"])
    assert holder.get() is old  # not due yet: no store traffic at all
    clock.advance()
    new = holder.get()
    assert (new.version, new.source, holder.health()["status"]) == ("v2", "store", "ok")
    assert old.predictor.predict(TWEETS)  # a request still holding v1 finishes on it


def test_peek_never_loads_nor_refreshes(settings, store, objects, real_bundles, clock) -> None:
    """What an event loop may call: the model only when `get` would not block."""
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store, clock=clock)
    assert holder.peek() is None  # cold: `get` would load
    model = holder.get()
    assert holder.peek() is model
    clock.advance()
    reads = objects.model_reads
    assert holder.peek() is None  # a refresh is due: `get` would ask the store
    assert objects.model_reads == reads


def test_unchanged_pointer_costs_no_download(settings, store, objects, real_bundles, clock):
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store, clock=clock)
    first = holder.get()
    reads = objects.model_reads
    clock.advance()
    assert holder.get() is first
    assert objects.model_reads == reads


def test_corrupt_new_bundle_keeps_old_model_until_a_good_one(
    settings, store, objects, real_bundles
) -> None:
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store)
    holder.get()
    store.publish(real_bundles["v2"])
    tamper_model(objects, "v2")
    holder.refresh()
    health = holder.health()
    assert (health["model_version"], health["status"]) == ("v1", "degraded")
    assert "champion v2" in health["detail"]
    assert "sha256" in health["detail"]
    reads = objects.model_reads
    holder.refresh()  # the known-bad pointer is not downloaded again
    assert objects.model_reads == reads
    store.publish(real_bundles["v3"])
    holder.refresh()
    assert (holder.health()["model_version"], holder.health()["status"]) == ("v3", "ok")


def test_store_outage_during_refresh_keeps_serving(settings, store, objects, real_bundles) -> None:
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store)
    holder.get()
    objects.down = True
    holder.refresh()
    health = holder.health()
    assert (health["model_version"], health["status"], health["store"]) == (
        "v1",
        "degraded",
        "unreachable",
    )
    objects.down = False
    holder.refresh()
    assert (holder.health()["status"], holder.health()["store"]) == ("ok", "reachable")


def test_download_cut_off_is_retried_at_next_refresh(settings, store, objects, real_bundles):
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store)
    holder.get()
    store.publish(real_bundles["v2"])
    objects.fail_model_reads = True
    holder.refresh()
    health = holder.health()
    assert (health["model_version"], health["status"], health["store"]) == (
        "v1",
        "degraded",
        "unreachable",
    )
    objects.fail_model_reads = False
    holder.refresh()  # a store hiccup does not mark v2 as bad
    assert (holder.health()["model_version"], holder.health()["status"]) == ("v2", "ok")


def test_cache_fallback_recovers_when_store_returns(
    settings, store, objects, real_bundles, clock
) -> None:
    store.publish(real_bundles["v1"])
    ModelHolder(settings, store, clock=clock).get()
    objects.down = True
    holder = ModelHolder(settings, store, clock=clock)
    assert holder.get().source == "cache"
    objects.down = False
    store.publish(real_bundles["v2"])
    clock.advance()
    assert (holder.get().version, holder.health()["status"]) == ("v2", "ok")


def test_default_is_replaced_once_a_champion_is_published(settings, real_bundles, clock):
    holder = ModelHolder(settings, clock=clock)
    assert holder.get().source == "default"
    ModelStore(LocalObjectStore(settings.MODEL_STORE_PATH)).publish(real_bundles["v1"])
    clock.advance()
    assert (holder.get().version, holder.get().source) == ("v1", "store")


def test_refresh_interval_zero_never_checks(tmp_path, tiny_bundle, store, real_bundles, clock):
    settings = make_settings(tmp_path, tiny_bundle).model_copy(
        update={"MODEL_REFRESH_SECONDS": 0.0}
    )
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store, clock=clock)
    holder.get()
    store.publish(real_bundles["v2"])
    clock.advance(10_000)
    assert holder.get().version == "v1"


def test_concurrent_requests_during_a_swap(settings, store, real_bundles) -> None:
    """8 request threads predict in a loop while the champion changes under them."""
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store)
    holder.get()
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[str] = set()

    def serve() -> None:
        while not stop.is_set():
            try:
                model = holder.get()
                predictions = model.predictor.predict(TWEETS)
                assert model.predictor.version == model.version
                assert all(0.0 <= p.negative_probability <= 1.0 for p in predictions)
                assert all(p.label in LABEL_NAMES for p in predictions)
                seen.add(model.version)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for previous, version in (("v1", "v2"), ("v2", "v3")):
        wait_until(lambda previous=previous: previous in seen)  # requests ran on it first
        store.publish(real_bundles[version])
        holder.refresh()
    wait_until(lambda: "v3" in seen)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen == {"v1", "v2", "v3"}


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_cold_start_loads_once_for_concurrent_first_requests(
    settings, store, objects, real_bundles
) -> None:
    store.publish(real_bundles["v1"])
    holder = ModelHolder(settings, store)
    reads_before = objects.model_reads
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(holder.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(result is results[0] for result in results)
    assert results[0].version == "v1"
    assert objects.model_reads - reads_before == 1  # one download, whoever came first


# --- a store that accepts the call and never answers: every wait has a total deadline


class HangingObjects(SwitchableObjects):
    """`get` blocks while `hang` is set (the SDK waiting on a silent socket), until released."""

    def __init__(self, inner: ObjectStore, hang_models_only: bool = False) -> None:
        super().__init__(inner)
        self.hang = threading.Event()
        self.release = threading.Event()
        self.hang_models_only = hang_models_only

    def get(self, name: str):
        if self.hang.is_set() and (name.endswith(MODEL_FILE) or not self.hang_models_only):
            self.release.wait(30)
        return super().get(name)

    def etag(self, name: str):
        if self.hang.is_set() and not self.hang_models_only:
            self.release.wait(30)
        return self.inner.etag(name)


BUDGET = 0.5


@pytest.fixture
def short_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_loader, "STORE_BUDGET_SECONDS", BUDGET)


def timed_get(holder: ModelHolder):
    started = time.monotonic()
    model = holder.get()
    return model, time.monotonic() - started


def hanging_store(
    tmp_path: Path, bundle: Path, hang_models_only: bool = False
) -> tuple[HangingObjects, ModelStore]:
    """A local store holding `bundle` as champion, behind objects that can be made to hang."""
    objects = HangingObjects(LocalObjectStore(tmp_path / "models"), hang_models_only)
    store = ModelStore(objects)
    store.publish(bundle)
    return objects, store


def test_a_silent_store_at_cold_start_serves_the_default_within_the_budget(
    settings, tmp_path, real_bundles, short_budget
) -> None:
    objects, store = hanging_store(tmp_path, real_bundles["v1"])
    objects.hang.set()
    try:
        holder = ModelHolder(settings, store)
        model, elapsed = timed_get(holder)
        health = holder.health()
        assert (model.version, model.source) == ("tiny-1", "default")
        assert elapsed < BUDGET + 1.0, elapsed  # the budget, then loading the shipped bundle
        assert (health["status"], health["store"]) == ("degraded", "unreachable")
        assert "did not answer" in health["detail"]
        holder.refresh()  # the first call still hangs in the background: no queueing behind it
        assert "busy" in holder.health()["detail"]
    finally:
        objects.hang.clear()
        objects.release.set()
    wait_until(lambda: "busy" not in str(refreshed_detail(holder)))
    assert holder.get().version == "v1"


def refreshed_detail(holder: ModelHolder) -> str | None:
    holder.refresh()
    return holder.health()["detail"]


def test_a_silent_download_at_cold_start_serves_the_default_then_the_cached_champion(
    settings, tmp_path, real_bundles, short_budget
) -> None:
    """The pointer answers, the model download does not: default now, champion once it lands."""
    objects, store = hanging_store(tmp_path, real_bundles["v1"], hang_models_only=True)
    objects.hang.set()
    holder = ModelHolder(settings, store)
    model, elapsed = timed_get(holder)
    assert (model.version, model.source) == ("tiny-1", "default")
    assert elapsed < BUDGET + 1.0, elapsed
    objects.hang.clear()
    objects.release.set()  # the abandoned download finishes in the background, into the cache
    wait_until(lambda: (settings.MODEL_CACHE_DIR / "v1" / MANIFEST_FILE).is_file())
    reads = objects.model_reads
    holder.refresh()
    assert (holder.get().version, holder.health()["status"]) == ("v1", "ok")
    assert objects.model_reads == reads  # served from the cache, not downloaded again


def test_a_silent_store_during_refresh_costs_one_request_the_budget(
    settings, tmp_path, real_bundles, short_budget
) -> None:
    objects, store = hanging_store(tmp_path, real_bundles["v1"])
    holder = ModelHolder(settings, store)
    assert holder.get().version == "v1"
    objects.hang.set()
    try:
        started = time.monotonic()
        holder.refresh()
        elapsed = time.monotonic() - started
        health = holder.health()
    finally:
        objects.hang.clear()
        objects.release.set()
    assert elapsed < BUDGET + 0.5, elapsed
    assert (health["model_version"], health["status"], health["store"]) == (
        "v1",
        "degraded",
        "unreachable",
    )
