"""Model delivery for serving: load the champion lazily, follow it cheaply, never crash the API.

Cold start: champion from the store (verified into MODEL_CACHE_DIR/<version>) → when the store is
unreachable or the bundle corrupt, the newest verified cached copy (degraded) → when nothing is
cached, the bundle shipped in the repo (DEFAULT_BUNDLE_PATH) if the store has no champion at all
(fresh clone: ok) or is unreachable (degraded) → else no model (the API answers 503).

Afterwards, every MODEL_REFRESH_SECONDS one request checks the pointer's ETag (a HEAD) and, when it
changed, downloads and verifies the new version before swapping one attribute under a lock.
Requests holding the old `LoadedModel` finish on it; a failed refresh keeps the last good model.

Every load or refresh gives the store STORE_BUDGET_SECONDS in all (pointer, ETag and download
together), whatever the SDK's own timeouts and retries would allow: the calls run on one
background thread and the request stops waiting at the deadline, treats the store as unreachable
and serves what it has (the current model, else a cached copy, else the shipped bundle). A call
that outlives its deadline keeps that thread until the SDK gives up (shared/storage.py bounds it);
meanwhile the store is "busy" and later refreshes do not queue behind it. A download that finishes
after its deadline lands verified in the cache, where the next refresh picks it up.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shared.bundle import MANIFEST_FILE, BundleError
from shared.settings import Settings
from shared.storage import StorageError
from shared.telemetry import record_model_state

if TYPE_CHECKING:
    from shared.inference import Predictor
    from shared.model_store import ChampionPointer, ModelStore

logger = logging.getLogger(__name__)

Source = Literal["store", "cache", "default"]
EMPTY_RETRY_SECONDS = 10.0  # with no model at all, try again this often even if refresh is off
CACHE_KEEP = 3  # cached versions kept for fallback; older ones are pruned after a swap
# What one load or refresh may wait for the store in all: with the model load (~0.5 s) after it,
# no request waits more than ~5 s for a store that accepts connections and never answers.
STORE_BUDGET_SECONDS = 3.0


@dataclass(frozen=True)
class LoadedModel:
    predictor: Predictor
    version: str
    loaded_at: datetime
    source: Source


class NoModelError(RuntimeError):
    """Nothing can be served: no champion loaded, nothing cached, no usable default bundle."""


def load_model(bundle_dir: Path, source: Source) -> LoadedModel:
    """Verify and open one bundle; heavy imports happen here, never at module import."""
    from shared.inference import Predictor

    predictor = Predictor(bundle_dir)
    return LoadedModel(predictor, predictor.version, datetime.now(UTC), source)


def list_cached(cache_dir: Path) -> list[Path]:
    """Cached bundle folders, most recently cached (or used) first; temp folders skipped."""
    if not cache_dir.is_dir():
        return []
    folders = [p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(folders, key=cached_at, reverse=True)


def cached_at(folder: Path) -> float:
    try:
        return (folder / MANIFEST_FILE).stat().st_mtime
    except OSError:
        return 0.0


def mark_used(folder: Path) -> None:
    """Touch the manifest so the cache fallback prefers the version served last."""
    try:
        os.utime(folder / MANIFEST_FILE)
    except OSError:
        logger.debug("cannot touch %s", folder)


def load_newest_cached(cache_dir: Path) -> LoadedModel:
    """The newest cached bundle that verifies; corrupt copies are deleted on the way."""
    for folder in list_cached(cache_dir):
        try:
            return load_model(folder, "cache")
        except BundleError as exc:
            logger.warning("deleting corrupt cached bundle %s: %s", folder.name, exc)
            shutil.rmtree(folder, ignore_errors=True)
        except Exception as exc:  # an unreadable model is skipped, not deleted: it verified
            logger.warning("skipping cached bundle %s: %s", folder.name, exc)
    raise NoModelError(f"no usable cached bundle in {cache_dir}")


def prune_cache(cache_dir: Path, keep: int, in_use: str) -> None:
    """Bound the cache; sessions already loaded do not need their files any more."""
    for folder in list_cached(cache_dir)[keep:]:
        if folder.name != in_use:
            shutil.rmtree(folder, ignore_errors=True)


def short_reason(exc: BaseException) -> str:
    """One line for health and logs: the first line of the message, capped."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class StoreCaller:
    """Runs store calls on one background thread, each waited for until a deadline at most.

    A blocking SDK call cannot be interrupted, only abandoned: the caller raises StorageError at
    its deadline and the call ends in the background. While it runs, new calls fail at once
    ("busy") instead of queueing behind a store that does not answer.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-store")
        self._running: Future[Any] | None = None

    def call(self, operation: Callable[[], Any], deadline: float) -> Any:
        """`operation()`, or StorageError once `deadline` (time.monotonic()) has passed."""
        if self._running is not None and not self._running.done():
            raise StorageError("store busy: an earlier call has not returned yet")
        future = self._executor.submit(operation)
        self._running = future
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.0))
        except FutureTimeout:
            raise StorageError(f"store did not answer within {STORE_BUDGET_SECONDS:g} s") from None


class ModelHolder:
    """The model one worker process serves; `get` is on the request path and never raises."""

    def __init__(
        self,
        settings: Settings,
        store: ModelStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._store = store
        self._current: LoadedModel | None = None
        self._champion_etag: str | None = None  # pointer ETag the current model answers to
        self._failed_etag: str | None = None  # pointer ETag whose bundle would not load
        self._reason: str | None = None  # why we are degraded; None when all is well
        self._store_state = "not configured"
        self._last_attempt: float | None = None
        self._last_check: datetime | None = None
        self._lock = threading.Lock()  # held by the one thread loading or refreshing
        self._caller = StoreCaller()
        self._deadline = 0.0  # time.monotonic() by which this load or refresh stops waiting

    def get(self) -> LoadedModel | None:
        """The current model; loads on first call, then follows the champion every so often."""
        try:
            if self._last_attempt is None:
                with self._lock:  # cold start: the first callers wait for the first load
                    if self._last_attempt is None:
                        self._refresh_locked(force=False)
            elif self._is_due() and self._lock.acquire(blocking=False):
                try:  # whoever gets the lock refreshes; the others serve the current model
                    self._refresh_locked(force=False)
                finally:
                    self._lock.release()
        except Exception:
            logger.exception("model refresh failed unexpectedly")
        return self._current

    def peek(self) -> LoadedModel | None:
        """The current model when `get` would return it at once, else None (load or refresh due).

        For callers on an event loop, which must not wait there for a download or a load.
        """
        if self._last_attempt is None or self._is_due():
            return None
        return self._current

    def refresh(self, force: bool = False) -> None:
        """Check the champion now (force: reload it even if the pointer did not change)."""
        with self._lock:
            self._refresh_locked(force)

    def health(self) -> dict[str, Any]:
        model = self.get()
        status = "unavailable" if model is None else ("degraded" if self._reason else "ok")
        return {
            "status": status,
            "model_version": model.version if model else None,
            "loaded_at": iso(model.loaded_at) if model else None,
            "source": model.source if model else None,
            "store": self._store_state,
            "detail": self._reason,
            "last_check": iso(self._last_check),
        }

    def _is_due(self) -> bool:
        elapsed = self.clock() - (self._last_attempt or 0.0)
        if self._current is None:
            return elapsed >= EMPTY_RETRY_SECONDS
        interval = self.settings.MODEL_REFRESH_SECONDS
        return interval > 0 and elapsed >= interval

    def _refresh_locked(self, force: bool) -> None:
        started = self.clock()
        self._last_check = datetime.now(UTC)
        self._deadline = time.monotonic() + STORE_BUDGET_SECONDS
        try:
            if self._current is None:
                self._load_cold()
            else:
                self._follow_champion(force)
        except Exception as exc:
            logger.exception("model refresh failed")
            self._reason = short_reason(exc)
        finally:  # set last: cold-start callers wait on the lock until the first attempt ends
            self._last_attempt = started
            record_model_state(self._current, self._reason)  # AppTraces: model_health.kql

    def _load_cold(self) -> None:
        """Champion → newest cache → shipped default, as the module docstring lays out."""
        try:
            pointer = self._ask_store(lambda store: store.read_champion())
        except StorageError as exc:
            self._fall_back(f"store unreachable: {short_reason(exc)}", allow_default=True)
            return
        if pointer is None:
            self._fall_back(None, allow_default=True, prefer_cache=False)
            return
        try:
            self._swap(self._load_champion(pointer.version), pointer.etag, None)
        except Exception as exc:  # a store outage is no reason to serve nothing; a bad bundle is
            outage = isinstance(exc, StorageError)
            self._fall_back(self._note_failure(pointer, exc), allow_default=outage)

    def _fall_back(
        self, reason: str | None, *, allow_default: bool, prefer_cache: bool = True
    ) -> None:
        """Serve a cached copy (or the shipped bundle); `reason` None means nothing is wrong."""
        if prefer_cache:
            try:
                self._swap(load_newest_cached(self.settings.MODEL_CACHE_DIR), None, reason)
                return
            except NoModelError:
                pass
        if not allow_default:
            self._reason = f"{reason}; nothing cached"
            return
        try:
            self._swap(load_model(self.settings.DEFAULT_BUNDLE_PATH, "default"), None, reason)
        except Exception as exc:
            prefix = f"{reason}; " if reason else ""
            self._reason = f"{prefix}default bundle unusable: {short_reason(exc)}"

    def _follow_champion(self, force: bool) -> None:
        """Cheap ETag check; download, verify and swap only when the pointer moved."""
        current = self._current
        assert current is not None
        try:
            etag = self._ask_store(lambda store: store.champion_etag())
            if not force and etag == self._failed_etag:
                return  # that bundle is known bad: keep the reason, do not download it again
            if not force and etag == self._champion_etag and current.source != "cache":
                self._reason = None
                return
            pointer = self._ask_store(lambda store: store.read_champion())
        except StorageError as exc:
            self._reason = f"store unreachable: {short_reason(exc)}"
            return
        self._follow_pointer(current, pointer, force)

    def _follow_pointer(
        self, current: LoadedModel, pointer: ChampionPointer | None, force: bool
    ) -> None:
        if pointer is None:
            self._champion_etag = None
            self._reason = "store has no champion" if current.source == "cache" else None
            return
        if pointer.version == current.version and current.source != "default" and not force:
            self._swap(replace(current, source="store"), pointer.etag, None)
            return
        try:
            loaded = self._load_champion(pointer.version)
        except Exception as exc:
            self._reason = self._note_failure(pointer, exc)
            logger.warning("keeping model %s: %s", current.version, self._reason)
            return
        self._swap(loaded, pointer.etag, None)

    def _note_failure(self, pointer: ChampionPointer, exc: Exception) -> str:
        """A bad bundle is not downloaded again until the pointer moves; a store hiccup is."""
        if isinstance(exc, StorageError):
            self._store_state = "unreachable"
        else:
            self._failed_etag = pointer.etag
        return f"champion {pointer.version}: {short_reason(exc)}"

    def _load_champion(self, version: str) -> LoadedModel:
        """Use the cached copy when it verifies, else download it (verified) into the cache."""
        from shared.model_store import validate_version

        folder = self.settings.MODEL_CACHE_DIR / validate_version(version)
        if folder.is_dir():
            try:
                loaded = load_model(folder, "store")
                mark_used(folder)
                return loaded
            except Exception as exc:
                logger.info("cached %s unusable, downloading again: %s", version, exc)
        store = self._store
        assert store is not None
        try:
            self._caller.call(lambda: store.download(version, folder), self._deadline)
        except StorageError:
            self._store_state = "unreachable"
            raise
        return load_model(folder, "store")

    def _ask_store(self, question: Callable[[ModelStore], Any]) -> Any:
        """Ask the store something, keeping track of whether it answered."""
        store = self._open_store()
        if store is None:
            self._store_state = "not configured"
            return None
        try:
            answer = self._caller.call(lambda: question(store), self._deadline)
        except Exception as exc:  # whatever the SDK throws, serving treats it as an outage
            self._store_state = "unreachable"
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"{store.describe()}: {short_reason(exc)}") from exc
        self._store_state = "reachable"
        return answer

    def _open_store(self) -> ModelStore | None:
        """The configured store, or None when there is no blob store and no local store folder."""
        settings = self.settings
        if self._store is None and (settings.uses_blob_store or settings.MODEL_STORE_PATH.is_dir()):
            from shared.model_store import open_model_store

            try:
                self._store = open_model_store(settings)
            except Exception as exc:  # e.g. a malformed connection string
                raise StorageError(f"cannot open model store: {short_reason(exc)}") from exc
        return self._store

    def _swap(self, loaded: LoadedModel, etag: str | None, reason: str | None) -> None:
        """One attribute assignment: requests already holding the old model finish on it."""
        self._current = loaded
        self._champion_etag = etag
        self._failed_etag = None if reason is None else self._failed_etag
        self._reason = reason
        logger.info("serving model %s from %s", loaded.version, loaded.source)
        if loaded.source == "store":
            prune_cache(self.settings.MODEL_CACHE_DIR, CACHE_KEEP, loaded.version)
