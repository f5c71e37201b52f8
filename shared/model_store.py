"""Versioned model bundles in an object store, and the champion pointer that serving follows.

Layout inside the model container (locally: the MODEL_STORE_PATH folder):

    <version>/model.onnx, <version>/explain.json, <version>/manifest.json   (manifest last)
    champion.json   {"version": ..., "previous": [...newest first], "history": [...], ...}

Promises, each kept by one rule:
- a reader never follows the pointer to a half-published version: the pointer is written last;
- the pointer only ever names a bundle that serves: every move (publish, promote, rollback,
  repair) first checks the target's sha256 sums AND that onnxruntime loads and scores it;
- no move is lost: `history` records every move (what replaced what, and why), newest first,
  and is never truncated; bundles are never deleted, so any past champion can come back;
- two writers never silently overwrite each other: pointer writes are conditional (If-Match);
  `promote(version, expected_etag=...)` fails with `ChampionChanged` if the champion moved since
  the caller (the retrain gate) read it;
- a corrupt or lost pointer is recoverable: `repair()` rebuilds it from the stored bundles, and
  `publish` and `rollback(to=...)` write a good pointer over a corrupt one.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from shared.bundle import (
    BUNDLE_FILES,
    EXPLAIN_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    Manifest,
    verify_bundle,
    verify_bundle_serves,
)
from shared.champion_pointer import (
    CHAMPION_NAME,
    HISTORY_LIMIT,
    ChampionChanged,
    ChampionPointer,
    PointerEvent,
    PointerState,
    RepairResult,
    next_pointer,
    parse_pointer,
    repair_note,
)
from shared.settings import Settings
from shared.storage import ObjectStore, PreconditionFailed, StorageError, open_object_store

__all__ = [
    "CHAMPION_NAME",
    "HISTORY_LIMIT",
    "ChampionChanged",
    "ChampionPointer",
    "ModelStore",
    "PointerEvent",
    "RepairResult",
    "open_model_store",
    "validate_version",
]
POINTER_WRITE_ATTEMPTS = 5
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REPAIR_HINT = "repair it with `bad-buzz repair` or `bad-buzz rollback --to VERSION`"


def validate_version(version: str) -> str:
    """A version is one safe path segment: it becomes a blob prefix and a cache folder name."""
    if not VERSION_PATTERN.fullmatch(version):
        raise ValueError(f"invalid model version {version!r}")
    return version


def object_name(version: str, file_name: str) -> str:
    return f"{validate_version(version)}/{file_name}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class ModelStore:
    """Publish, list, download, verify and promote model bundles held in an `ObjectStore`."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def describe(self) -> str:
        return self.objects.describe()

    # --- publishing -----------------------------------------------------------------------------

    def publish(
        self, bundle_dir: Path, *, make_champion: bool = True, expected_etag: str | None = None
    ) -> Manifest:
        """Check the bundle serves, upload it (manifest last), check what landed, then promote.

        `expected_etag` (from `read_pointer`) makes the promotion conditional, as in `promote`.
        Works over a corrupt champion.json: the new pointer replaces it (see the history note).
        """
        manifest = verify_bundle_serves(bundle_dir)
        version = validate_version(manifest.version)
        manifest_bytes = (bundle_dir / MANIFEST_FILE).read_bytes()
        if not self._matches_published(version, manifest_bytes):
            for file_name in (MODEL_FILE, EXPLAIN_FILE):
                data = (bundle_dir / file_name).read_bytes()
                self.objects.put(object_name(version, file_name), data)
            self._put_manifest(version, manifest_bytes)
        self._check_landed(manifest)  # the stored bytes are the ones just verified
        if make_champion and expected_etag is not None:
            self._promote_if_unchanged(version, expected_etag, "publish")
        elif make_champion:
            self._move_pointer(lambda state: version, "publish")
        return manifest

    def set_champion(self, version: str) -> ChampionPointer:
        """Point serving at a published `version` once it verifies; the old one joins history."""
        self._require_published(version)
        self.verify_version(version)
        return self._move_pointer(lambda state: version, "promote")

    def promote(self, version: str, *, expected_etag: str) -> ChampionPointer:
        """Make `version` champion only if champion.json still has `expected_etag`.

        For a gate: `pointer, etag = store.read_pointer()`, compare against `pointer.version`,
        then `promote(challenger, expected_etag=etag)`. Raises ChampionChanged (nothing written)
        if anyone moved the pointer in between, e.g. an operator's rollback.
        """
        self._require_published(version)
        self.verify_version(version)
        return self._promote_if_unchanged(version, expected_etag, "promote")

    def rollback(self, to: str | None = None) -> ChampionPointer:
        """Back to the newest previous champion still stored (or to `to`), once it verifies.

        The version rolled back from stays in the store and in `history`, so `rollback(to=...)`
        can bring it back. `to` also works when champion.json is corrupt or missing.
        """
        if to is not None:
            self._require_published(to)
            self.verify_version(to)
            return self._move_pointer(lambda state: to, "rollback")
        checked: set[str] = set()

        def choose(state: PointerState) -> str:
            target = self._previous_champion(state)
            if target not in checked:
                self._verify_for_rollback(target)
                checked.add(target)
            return target

        return self._move_pointer(choose, "rollback")

    def repair(self, to: str | None = None) -> RepairResult:
        """Make champion.json name a version that serves, rebuilding it from the stored bundles.

        Keeps a valid pointer whose champion verifies. Otherwise tries the pointer's rollback
        candidates, then every stored version newest first (manifest `created_at`), and writes
        the first that verifies. Raises StorageError when no stored version can serve.
        """
        if to is not None:
            return RepairResult(self.rollback(to=to), changed=True)
        state = self._read_state()
        skipped: dict[str, str] = {}
        candidates = self._repair_candidates(state)
        for version in candidates:
            try:
                self.verify_version(version)
            except BundleError as exc:
                skipped[version] = first_line(exc)
                continue
            if state.pointer is not None and state.pointer.version == version:
                return RepairResult(state.pointer, changed=False, skipped=skipped)
            note = repair_note(state, skipped)
            pointer = self._move_pointer(
                lambda _, v=version: v, "repair", note=note, expected=state
            )
            return RepairResult(pointer, changed=True, skipped=skipped)
        reasons = "; ".join(f"{v}: {why}" for v, why in skipped.items()) or "the store is empty"
        raise StorageError(f"{self.describe()}: no stored version can serve ({reasons})")

    # --- reading --------------------------------------------------------------------------------

    def read_champion(self) -> ChampionPointer | None:
        state = self._read_state()
        if state.problem:
            raise StorageError(f"{self.describe()}: {state.problem}; {REPAIR_HINT}")
        return state.pointer

    def read_pointer(self) -> tuple[ChampionPointer | None, str | None]:
        """The pointer and its ETag, to pass to `promote(..., expected_etag=etag)` later."""
        pointer = self.read_champion()
        return pointer, (pointer.etag if pointer else None)

    def champion_etag(self) -> str | None:
        """Cheap change detection for serving: a HEAD request, no body."""
        return self.objects.etag(CHAMPION_NAME)

    def list_versions(self) -> list[str]:
        """Completely published versions (those with a manifest), sorted by name."""
        suffix = f"/{MANIFEST_FILE}"
        names = self.objects.list()
        return sorted(n[: -len(suffix)] for n in names if n.endswith(suffix) and n.count("/") == 1)

    def read_manifest(self, version: str) -> Manifest | None:
        """The stored manifest of `version`, None if not published; BundleError if unreadable."""
        stored = self.objects.get(object_name(version, MANIFEST_FILE))
        if stored is None:
            return None
        try:
            return Manifest.model_validate_json(stored.data)
        except ValidationError as exc:
            raise BundleError(f"version {version}: {MANIFEST_FILE} is not valid") from exc

    def verify_version(self, version: str) -> Manifest:
        """Download `version` to a temp folder: sha256 of every file, then load and score it."""
        with tempfile.TemporaryDirectory(prefix="bad-buzz-verify-") as tmp:
            folder = Path(tmp) / "bundle"
            try:
                self._fetch_bundle(version, folder)
                return verify_bundle_serves(folder)
            except BundleError as exc:
                reason = first_line(exc).removeprefix(f"bundle {version}: ")
                raise BundleError(f"version {version}: {reason}") from exc

    def download(self, version: str, dest: Path) -> Manifest:
        """Fetch into a temp folder, verify, then move into place: `dest` is never half-written."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
        try:
            manifest = self._fetch_bundle(version, partial)
            try:
                replace_folder(partial, dest)
            except OSError:  # another worker process moved its own copy in first: accept it
                if verify_bundle(dest).version != version:
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return manifest

    # --- internals ------------------------------------------------------------------------------

    def _read_state(self) -> PointerState:
        stored = self.objects.get(CHAMPION_NAME)
        return (
            PointerState(None, None) if stored is None else parse_pointer(stored.data, stored.etag)
        )

    def _require_published(self, version: str) -> None:
        if self.objects.etag(object_name(version, MANIFEST_FILE)) is None:
            stored = ", ".join(self.list_versions()) or "none"
            raise StorageError(
                f"{self.describe()}: no published version {version} (stored: {stored})"
            )

    def _previous_champion(self, state: PointerState) -> str:
        if state.problem:
            stored = ", ".join(self.list_versions()) or "none"
            raise StorageError(
                f"{self.describe()}: {state.problem}, so the previous champion is unknown; "
                f"{REPAIR_HINT} (stored: {stored})"
            )
        for version in state.pointer.previous if state.pointer else []:
            if self.objects.etag(object_name(version, MANIFEST_FILE)) is not None:
                return version
        raise StorageError(f"{self.describe()}: no previous champion to roll back to")

    def _verify_for_rollback(self, version: str) -> None:
        try:
            self.verify_version(version)
        except BundleError as exc:
            raise BundleError(
                f"previous champion {first_line(exc)}; pointer unchanged; "
                "choose another with `bad-buzz rollback --to VERSION`"
            ) from exc

    def _repair_candidates(self, state: PointerState) -> list[str]:
        """The pointer's champion and rollback list, then every stored version, newest first."""
        stored = self._stored_newest_first()
        known = [state.pointer.version, *state.pointer.previous] if state.pointer else []
        return list(dict.fromkeys([v for v in known if v in stored] + stored))

    def _stored_newest_first(self) -> list[str]:
        def created(version: str) -> tuple[datetime, str]:
            try:
                manifest = self.read_manifest(version)
            except BundleError:  # unreadable manifests sort last
                manifest = None
            if manifest is None:
                return (EPOCH, version)
            stamp = manifest.created_at
            return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC), version)

        return sorted(self.list_versions(), key=created, reverse=True)

    def _promote_if_unchanged(self, version: str, expected_etag: str, action: str):
        state = self._read_state()
        if state.etag != expected_etag:
            raise ChampionChanged(self._changed_message(version, state))
        try:
            return self._move_pointer(lambda _: version, action, expected=state)
        except PreconditionFailed as exc:
            raise ChampionChanged(self._changed_message(version, self._read_state())) from exc

    def _changed_message(self, version: str, state: PointerState) -> str:
        now = state.pointer.version if state.pointer else "unreadable" if state.problem else "none"
        return (
            f"{self.describe()}: the champion changed since it was read (now {now}); "
            f"{version} was not promoted: compare against the new champion and try again"
        )

    def _move_pointer(
        self,
        choose: Callable[[PointerState], str],
        action: str,
        *,
        note: str | None = None,
        expected: PointerState | None = None,
    ) -> ChampionPointer:
        """Read-modify-write the pointer with If-Match; retry on a lost race unless `expected`.

        With `expected`, the write is conditional on that exact state and a lost race raises
        PreconditionFailed instead of retrying: the caller's decision was based on it.
        """
        for _ in range(1 if expected else POINTER_WRITE_ATTEMPTS):
            state = expected or self._read_state()
            version = choose(state)
            if state.pointer is not None and state.pointer.version == version and not state.problem:
                return state.pointer  # already the champion: nothing to write
            pointer = next_pointer(state, version, action, note, self._stored_newest_first)
            data = pointer.model_dump_json(indent=2).encode()
            try:
                if state.etag is None:
                    etag = self.objects.put(CHAMPION_NAME, data, if_none_match=True)
                else:
                    etag = self.objects.put(CHAMPION_NAME, data, if_match=state.etag)
            except PreconditionFailed:
                if expected:
                    raise
                continue
            return pointer.model_copy(update={"etag": etag})
        raise StorageError(f"{self.describe()}: {CHAMPION_NAME} kept changing; gave up")

    def _fetch_bundle(self, version: str, folder: Path) -> Manifest:
        folder.mkdir(parents=True)
        for file_name in BUNDLE_FILES:
            stored = self.objects.get(object_name(version, file_name))
            if stored is None:
                raise BundleError(f"version {version} in {self.describe()}: {file_name} is missing")
            (folder / file_name).write_bytes(stored.data)
        manifest = verify_bundle(folder)
        if manifest.version != version:
            raise BundleError(f"version {version} holds a manifest for {manifest.version}")
        return manifest

    def _matches_published(self, version: str, manifest_bytes: bytes) -> bool:
        """True when this exact bundle is already published; refuse a different one."""
        stored = self.objects.get(object_name(version, MANIFEST_FILE))
        if stored is None:
            return False
        if stored.data != manifest_bytes:
            raise StorageError(f"{self.describe()}: version {version} exists with other content")
        return True

    def _put_manifest(self, version: str, manifest_bytes: bytes) -> None:
        """Create-only write: of two concurrent publishers of one version, one wins cleanly."""
        name = object_name(version, MANIFEST_FILE)
        try:
            self.objects.put(name, manifest_bytes, if_none_match=True)
        except PreconditionFailed:
            self._matches_published(version, manifest_bytes)

    def _check_landed(self, manifest: Manifest) -> None:
        """Re-read what the store holds: a bundle is published only if its bytes arrived intact."""
        expected = {MODEL_FILE: manifest.model_sha256, EXPLAIN_FILE: manifest.explain_sha256}
        for file_name, sha256 in expected.items():
            stored = self.objects.get(object_name(manifest.version, file_name))
            if stored is None or sha256_bytes(stored.data) != sha256:
                raise StorageError(
                    f"{self.describe()}: {manifest.version}/{file_name} did not land intact"
                )


def replace_folder(source: Path, dest: Path) -> None:
    """Rename `source` to `dest`, moving an existing `dest` aside first (renames are atomic)."""
    aside = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.old")
    with contextlib.suppress(FileNotFoundError):
        dest.rename(aside)
    try:
        source.rename(dest)
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def open_model_store(settings: Settings) -> ModelStore:
    return ModelStore(open_object_store(settings, settings.MODEL_STORE_CONTAINER))
