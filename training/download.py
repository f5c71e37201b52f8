"""The official Sentiment140 archive: resumable download, verification, extraction into a cache.

The archive (~81 MB) is fetched into `<cache>/trainingandtestdata.zip.part` with HTTP Range
requests, so an interrupted download resumes where it stopped. A finished download must open as a
zip, pass its CRC test and hold the expected members; its size and sha256 are then recorded in a
sidecar JSON. With `EXPECTED_SHA256 = None` that first record is trusted ("trust on first use")
and every later download or cached copy must match it. Offline, the error says at once how to
train on a local file instead. Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.data import DataError

OFFICIAL_URL = "https://cs.stanford.edu/people/alecmgo/trainingandtestdata.zip"
ARCHIVE_NAME = "trainingandtestdata.zip"
EXTRACT_DIR = "sentiment140"
TRAINING_MEMBER = "training.1600000.processed.noemoticon.csv"
MANUAL_TEST_MEMBER = "testdata.manual.2009.06.14.csv"
EXPECTED_MEMBERS = (TRAINING_MEMBER, MANUAL_TEST_MEMBER)
EXPECTED_SHA256: str | None = None  # None: trust on first use, recorded in the sidecar
CHUNK_BYTES = 1 << 16
LOCAL_HINT = (
    "pass a local copy with --data PATH (e.g. ../shared/data/sentiment140/training_sample_47k.csv)"
)


def sidecar_path(archive: Path) -> Path:
    return archive.with_name(archive.name + ".json")


def read_record(archive: Path) -> dict[str, Any]:
    """The sidecar's {size, sha256, url}, or {} when there is none (or it is unreadable)."""
    try:
        return json.loads(sidecar_path(archive).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_member(names: Sequence[str], member: str) -> str | None:
    """The zip entry for `member`, at the top level or inside one folder."""
    return next((name for name in names if name.rsplit("/", 1)[-1] == member), None)


def verify_archive(
    path: Path, members: Sequence[str], expected_sha256: str | None
) -> dict[str, Any]:
    """Raise DataError unless `path` is a sound zip with `members` (and the expected sha256)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"downloaded archive {path.name} is not a valid zip ({exc})") from exc
    if broken is not None:
        raise DataError(f"downloaded archive {path.name} is corrupt (bad CRC in {broken})")
    missing = [member for member in members if find_member(names, member) is None]
    if missing:
        raise DataError(f"downloaded archive {path.name} lacks {', '.join(missing)}")
    sha256 = sha256_of(path)
    if expected_sha256 and sha256 != expected_sha256:
        raise DataError(
            f"downloaded archive {path.name} has sha256 {sha256}, expected {expected_sha256}: "
            "the file differs from the one first recorded; not using it"
        )
    return {"size": path.stat().st_size, "sha256": sha256}


def is_cached(archive: Path, members: Sequence[str], expected_sha256: str | None) -> bool:
    """A cached archive is good when it matches its sidecar (size, then sha256); one without a
    sidecar (copied in by hand) is verified in full and recorded."""
    if not archive.is_file():
        return False
    record = read_record(archive)
    if not record:
        try:
            record_archive(archive, verify_archive(archive, members, expected_sha256), "")
        except DataError:
            return False
        return True
    wanted = expected_sha256 or record.get("sha256")
    return archive.stat().st_size == record.get("size") and sha256_of(archive) == wanted


def record_archive(archive: Path, verified: dict[str, Any], url: str) -> None:
    text = json.dumps({**verified, "url": url}, indent=2) + "\n"
    sidecar_path(archive).write_text(text, encoding="utf-8")


def content_range_start(response: Any) -> int | None:
    """First byte of a 206 answer ("bytes 100-999/1000" → 100), None when absent or garbled."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def expected_total(response: Any, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def open_url(url: str, offset: int, timeout: float) -> Any:
    """urlopen with a Range header when resuming; network failures become one-line DataErrors."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - https URL by default
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None  # nothing left to fetch: the .part is complete, verification decides
        raise DataError(
            f"cannot download Sentiment140 ({url} answered HTTP {exc.code}); {LOCAL_HINT}"
        ) from exc
    except ValueError as exc:
        raise DataError(f"cannot download Sentiment140 (bad URL {url!r}); {LOCAL_HINT}") from exc
    except OSError as exc:  # URLError, refused, DNS failure, timeout
        reason = getattr(exc, "reason", exc)
        first_line = (str(reason).splitlines() or [type(reason).__name__])[0]
        raise DataError(
            f"cannot download Sentiment140 (no network: {first_line}); {LOCAL_HINT}"
        ) from exc


def fetch_once(url: str, part: Path, timeout: float) -> bool:
    """One request, appending to `part` when the server honours the Range; True when complete."""
    offset = part.stat().st_size if part.exists() else 0
    response = open_url(url, offset, timeout)
    if response is None:
        return True
    with response:
        resumed = response.status == 206
        if resumed and content_range_start(response) != offset:
            part.unlink()  # a range we did not ask for: start again from zero
            return False
        total = expected_total(response, offset if resumed else 0)
        with part.open("ab" if resumed else "wb") as out:
            try:
                shutil.copyfileobj(response, out, CHUNK_BYTES)
            except (OSError, http.client.HTTPException):
                return False  # keep what arrived; the next attempt resumes from there
    return total is None or part.stat().st_size >= total


def fetch_resumable(url: str, part: Path, timeout: float, attempts: int) -> None:
    for _ in range(attempts):
        if fetch_once(url, part, timeout):
            return
    size = part.stat().st_size if part.exists() else 0
    raise DataError(
        f"download of {url} stopped {attempts} times (at {size} bytes); run again to resume, "
        f"or {LOCAL_HINT}"
    )


def extract_members(archive: Path, dest: Path, members: Sequence[str]) -> Path:
    """Copy each member out by its base name (never a path from the zip), via a temporary file."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as source:
        for member in members:
            info = source.getinfo(find_member(source.namelist(), member) or member)
            target = dest / member
            if target.is_file() and target.stat().st_size == info.file_size:
                continue
            partial = target.with_name(target.name + ".tmp")
            with source.open(info) as stream, partial.open("wb") as out:
                shutil.copyfileobj(stream, out, CHUNK_BYTES)
            partial.replace(target)
    return dest


def download_sentiment140(
    cache_dir: Path,
    url: str = OFFICIAL_URL,
    timeout: float = 10,
    expected_sha256: str | None = EXPECTED_SHA256,
    members: Sequence[str] = EXPECTED_MEMBERS,
    attempts: int = 3,
) -> Path:
    """The folder holding the extracted CSVs; downloads only what the cache lacks or got wrong."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / ARCHIVE_NAME
    if not is_cached(archive, members, expected_sha256):
        archive.unlink(missing_ok=True)
        part = archive.with_name(archive.name + ".part")
        fetch_resumable(url, part, timeout, attempts)
        expected = expected_sha256 or read_record(archive).get("sha256")
        try:
            verified = verify_archive(part, members, expected)
        except DataError:
            part.unlink(missing_ok=True)  # a bad file must not be resumed next time
            raise
        part.replace(archive)
        record_archive(archive, verified, url)
    return extract_members(archive, cache_dir / EXTRACT_DIR, members)
