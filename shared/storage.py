"""One small object-store interface with two backends: a local folder and Azure Blob Storage.

The model store and the feedback harvest only need named byte blobs with ETags and HTTP-style
conditional writes, so they are written against `ObjectStore` and run unchanged on a laptop
(`LocalObjectStore`), on Azurite and in Azure (`BlobObjectStore`). Azure SDK imports stay inside
functions: the Function App indexes this module at start-up and must not pay for them there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

    from shared.settings import Settings

T = TypeVar("T")

# A dead store must fail within seconds, not the SDK's default minute of back-off. These bound
# one SDK call (each try: connect, then every socket read; 3 tries): against a store that accepts
# connections and never answers, 3 x 10 s + 2 x 0.5 s = 31 s. Serving does not wait that long:
# the model holder abandons a call after its own total budget (shared/model_loader.py).
CONNECTION_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10
RETRY_TOTAL = 2
RETRY_BACKOFF_SECONDS = 0.5
RESERVED_PREFIX = "."  # local temp and lock files; never a valid name segment


class StorageError(RuntimeError):
    """The store is unreachable, refuses us, or holds something we cannot accept (one line)."""


class PreconditionFailed(StorageError):
    """A conditional write lost a race: someone else wrote (or created) the object first."""


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    etag: str


class ObjectStore(Protocol):
    """Named byte objects with ETags; `put` is atomic and supports HTTP-style preconditions."""

    def get(self, name: str) -> StoredObject | None: ...

    def etag(self, name: str) -> str | None: ...

    def put(
        self, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def delete(self, name: str) -> None: ...

    def describe(self) -> str: ...


# --- local folder ---------------------------------------------------------------------------

_LOCAL_LOCKS: dict[Path, threading.Lock] = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


def compute_etag(data: bytes) -> str:
    """Content hash: unlike mtime+size it changes on every different write, however quick."""
    return hashlib.sha256(data).hexdigest()


def validate_name(name: str) -> str:
    """Reject names that could escape the store root or collide with its temp files.

    ':' and '\\' are refused too, although Blob Storage accepts them, so that a name works on
    every backend and on Windows (use e.g. 20240101T030000Z in names, not ISO times).
    """
    if not name or name.startswith("/") or "\\" in name or ":" in name:
        raise ValueError(f"invalid object name {name!r}")
    for segment in name.split("/"):
        if not segment or segment in (".", "..") or segment.startswith(RESERVED_PREFIX):
            raise ValueError(f"invalid object name {name!r}")
    return name


class LocalObjectStore:
    """A folder as an object store: the embedded default when no blob store is configured."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return f"local:{self.root}"

    def get(self, name: str) -> StoredObject | None:
        path = self._path(name)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"{self.describe()}: cannot read {name}: {exc.strerror}") from exc
        return StoredObject(data, compute_etag(data))

    def etag(self, name: str) -> str | None:
        """Reads the file to hash it: fine for the small pointers and indexes it is asked about."""
        stored = self.get(name)
        return stored.etag if stored else None

    def put(
        self, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        path = self._path(name)
        with self._locked():
            current = self.etag(name)
            if if_none_match and current is not None:
                raise PreconditionFailed(f"{self.describe()}: {name} already exists")
            if if_match is not None and current != if_match:
                raise PreconditionFailed(f"{self.describe()}: {name} changed since read")
            self._write_atomic(path, data)
        return compute_etag(data)

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        names = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*"))
        return sorted(
            name
            for name in names
            if name.startswith(prefix)
            and not any(part.startswith(RESERVED_PREFIX) for part in name.split("/"))
            and (self.root / name).is_file()
        )

    def delete(self, name: str) -> None:
        path = self._path(name)
        with self._locked():
            path.unlink(missing_ok=True)
            prune_empty_parents(path.parent, self.root)

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*validate_name(name).split("/"))

    def _write_atomic(self, path: Path, data: bytes) -> None:
        """Temp file beside the target, fsync, os.replace: readers see old or new, never half."""
        temp = path.with_name(f"{RESERVED_PREFIX}{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with temp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            raise StorageError(f"{self.describe()}: cannot write {path.name}: {exc}") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise check-then-write across threads and, where flock exists, processes."""
        with _LOCAL_LOCKS_GUARD:
            lock = _LOCAL_LOCKS.setdefault(self.root.resolve(), threading.Lock())
        with lock, lock_folder(self.root):
            yield


@contextlib.contextmanager
def lock_folder(root: Path) -> Iterator[None]:
    """An advisory inter-process lock on `root/.lock` (POSIX only; a no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # Windows: the in-process lock is all we get
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{RESERVED_PREFIX}lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def prune_empty_parents(folder: Path, root: Path) -> None:
    """Remove folders left empty by a delete, up to (not including) the root."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# --- Azure Blob Storage ---------------------------------------------------------------------


class BlobObjectStore:
    """A blob container as an object store; every Azure error becomes a one-line StorageError."""

    def __init__(self, container_client: ContainerClient) -> None:
        self.client = container_client

    def describe(self) -> str:
        return f"blob:{self.client.account_name}/{self.client.container_name}"

    def get(self, name: str) -> StoredObject | None:
        def read() -> StoredObject:
            downloader = self.client.get_blob_client(validate_name(name)).download_blob()
            return StoredObject(downloader.readall(), downloader.properties.etag)

        return self._call(f"get {name}", read, missing_ok=True)

    def etag(self, name: str) -> str | None:
        def head() -> str:
            return self.client.get_blob_client(validate_name(name)).get_blob_properties().etag

        return self._call(f"stat {name}", head, missing_ok=True)

    def put(
        self, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceNotFoundError

        conditions: dict[str, object] = {"overwrite": True}
        if if_match is not None:
            conditions.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        elif if_none_match:
            conditions.update(match_condition=MatchConditions.IfMissing)  # If-None-Match: *

        def upload() -> str:
            blob = self.client.get_blob_client(validate_name(name))
            try:
                return blob.upload_blob(data, **conditions)["etag"]
            except ResourceNotFoundError:  # no container (yet, or any more): create, retry once
                self._create_container()
                return blob.upload_blob(data, **conditions)["etag"]

        return self._call(f"put {name}", upload)

    def list(self, prefix: str = "") -> list[str]:
        def names() -> list[str]:
            return sorted(self.client.list_blob_names(name_starts_with=prefix or None))

        return self._call(f"list {prefix or '/'}", names, missing_ok=True) or []

    def delete(self, name: str) -> None:
        validate_name(name)
        self._call(f"delete {name}", lambda: self.client.delete_blob(name), missing_ok=True)

    def _create_container(self) -> None:
        """Created on first write; someone else may have done it, or we may lack the right."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        try:
            self.client.create_container()
        except ResourceExistsError:
            pass  # created by infra or a concurrent writer
        except HttpResponseError as exc:
            if exc.status_code != 403:  # a data-only role may write blobs but not containers
                raise

    def _call(self, what: str, operation: Callable[[], T], *, missing_ok: bool = False) -> T | None:
        """Run one SDK call; map Azure's exceptions to None, PreconditionFailed or StorageError."""
        from azure.core.exceptions import (
            AzureError,
            HttpResponseError,
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )

        try:
            return operation()
        except ResourceNotFoundError as exc:
            if missing_ok:
                return None
            raise StorageError(f"{self.describe()}: {what}: not found") from exc
        except (ResourceModifiedError, ResourceExistsError) as exc:
            raise PreconditionFailed(f"{self.describe()}: {what}: precondition failed") from exc
        except HttpResponseError as exc:
            code = getattr(exc.error_code, "value", exc.error_code) or exc.reason or "error"
            raise StorageError(f"{self.describe()}: {what}: HTTP {exc.status_code} {code}") from exc
        except AzureError as exc:
            reason = f"unreachable ({type(exc).__name__})"
            raise StorageError(f"{self.describe()}: {what}: {reason}") from exc


# --- factory --------------------------------------------------------------------------------


def open_container_client(settings: Settings, container: str) -> ContainerClient:
    """Connection string (Azurite, tests) first, else account URL + managed identity."""
    from azure.storage.blob import ContainerClient, LinearRetry

    options = {
        "retry_policy": LinearRetry(
            backoff=RETRY_BACKOFF_SECONDS,  # type: ignore[arg-type]
            retry_total=RETRY_TOTAL,
            random_jitter_range=0,
        ),
        "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
        "read_timeout": READ_TIMEOUT_SECONDS,
    }
    if settings.MODEL_STORE_CONNECTION_STRING is not None:
        secret = settings.MODEL_STORE_CONNECTION_STRING.get_secret_value()
        return ContainerClient.from_connection_string(secret, container, **options)
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    url = settings.MODEL_STORE_ACCOUNT_URL
    return ContainerClient(url, container, credential=credential, **options)


def local_store_root(settings: Settings, container: str) -> Path:
    """MODEL_STORE_PATH holds the model container; other containers are sibling folders."""
    if container == settings.MODEL_STORE_CONTAINER:
        return settings.MODEL_STORE_PATH
    return settings.MODEL_STORE_PATH.parent / validate_name(container)


def open_object_store(settings: Settings, container: str) -> ObjectStore:
    """The configured store for one container: blob when the settings name one, else a folder."""
    if settings.uses_blob_store:
        return BlobObjectStore(open_container_client(settings, container))
    return LocalObjectStore(local_store_root(settings, container))
