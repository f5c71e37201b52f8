"""Versioned model bundles in an object store, and the champion pointer that serving follows.

Layout inside the model container (locally: the MODEL_STORE_PATH folder):

    <version>/model.onnx, <version>/explain.json, <version>/manifest.json   (manifest last)
    champion.json   {"version": ..., "previous": [...newest first], "updated_at": ...}

The pointer is written last and only by conditional writes, so a reader never follows it to a
half-published version and two publishers cannot silently overwrite each other's choice.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from shared.bundle import (
    BUNDLE_FILES,
    EXPLAIN_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    Manifest,
    verify_bundle,
)
from shared.settings import Settings
from shared.storage import ObjectStore, PreconditionFailed, StorageError, open_object_store

CHAMPION_NAME = "champion.json"
HISTORY_LIMIT = 10
POINTER_WRITE_ATTEMPTS = 5
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ChampionPointer(BaseModel):
    """Which version serving should use, the ones before it (for rollback), and the pointer ETag."""

    version: str
    previous: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    etag: str | None = Field(None, exclude=True)


def validate_version(version: str) -> str:
    """A version is one safe path segment: it becomes a blob prefix and a cache folder name."""
    if not VERSION_PATTERN.fullmatch(version):
        raise ValueError(f"invalid model version {version!r}")
    return version


def object_name(version: str, file_name: str) -> str:
    return f"{validate_version(version)}/{file_name}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelStore:
    """Publish, list, download and promote model bundles held in an `ObjectStore`."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def describe(self) -> str:
        return self.objects.describe()

    def publish(self, bundle_dir: Path, *, make_champion: bool = True) -> Manifest:
        """Upload a verified bundle (manifest last), check what landed, then promote it."""
        manifest = verify_bundle(bundle_dir)
        version = validate_version(manifest.version)
        manifest_bytes = (bundle_dir / MANIFEST_FILE).read_bytes()
        if not self._matches_published(version, manifest_bytes):
            for file_name in (MODEL_FILE, EXPLAIN_FILE):
                data = (bundle_dir / file_name).read_bytes()
                self.objects.put(object_name(version, file_name), data)
            self._put_manifest(version, manifest_bytes)
        self._check_landed(manifest)
        if make_champion:
            self.set_champion(version)
        return manifest

    def set_champion(self, version: str) -> ChampionPointer:
        """Point serving at `version`, keeping the old champion in the rollback history."""
        if self.objects.etag(object_name(version, MANIFEST_FILE)) is None:
            raise StorageError(f"{self.describe()}: no published version {version}")

        def promote(current: ChampionPointer | None) -> ChampionPointer:
            history = [current.version, *current.previous] if current else []
            previous = [item for item in dict.fromkeys(history) if item != version]
            return ChampionPointer(version=version, previous=previous[:HISTORY_LIMIT])

        return self._update_champion(promote)

    def rollback(self) -> ChampionPointer:
        """Restore the newest previous champion that is still in the store."""

        def demote(current: ChampionPointer | None) -> ChampionPointer:
            previous = current.previous if current else []
            for index, version in enumerate(previous):
                if self.objects.etag(object_name(version, MANIFEST_FILE)) is not None:
                    return ChampionPointer(version=version, previous=previous[index + 1 :])
            raise StorageError(f"{self.describe()}: no previous champion to roll back to")

        return self._update_champion(demote)

    def read_champion(self) -> ChampionPointer | None:
        stored = self.objects.get(CHAMPION_NAME)
        if stored is None:
            return None
        try:
            pointer = ChampionPointer.model_validate_json(stored.data)
        except ValidationError as exc:
            raise StorageError(f"{self.describe()}: {CHAMPION_NAME} is not valid") from exc
        return pointer.model_copy(update={"etag": stored.etag})

    def champion_etag(self) -> str | None:
        """Cheap change detection for serving: a HEAD request, no body."""
        return self.objects.etag(CHAMPION_NAME)

    def list_versions(self) -> list[str]:
        """Completely published versions (those with a manifest), sorted by name."""
        suffix = f"/{MANIFEST_FILE}"
        names = self.objects.list()
        return sorted(n[: -len(suffix)] for n in names if n.endswith(suffix) and n.count("/") == 1)

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

    def _update_champion(
        self, build: Callable[[ChampionPointer | None], ChampionPointer]
    ) -> ChampionPointer:
        """Read-modify-write the pointer with If-Match, retrying when another writer got there."""
        for _ in range(POINTER_WRITE_ATTEMPTS):
            current = self.read_champion()
            pointer = build(current)
            data = pointer.model_dump_json(indent=2).encode()
            try:
                if current is None:
                    etag = self.objects.put(CHAMPION_NAME, data, if_none_match=True)
                else:
                    etag = self.objects.put(CHAMPION_NAME, data, if_match=current.etag)
            except PreconditionFailed:
                continue
            return pointer.model_copy(update={"etag": etag})
        raise StorageError(f"{self.describe()}: {CHAMPION_NAME} kept changing; gave up")


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
