"""The web page: `/` is shared/web/index.html, `/static/<path>` the files beside it.

Served by the same app as the API so the page and the API share one origin, which is what lets
the Content-Security-Policy stay at 'self' for scripts, styles and fetches. Only plain files with
a known type are served from that one folder: no listing, no dot-files, no way out of it.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shared.api.errors import ApiError

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".woff2": "font/woff2",
}
# Revalidate every time (ETag): the page changes with each deploy and is a few kilobytes.
STATIC_CACHE_CONTROL = "no-cache"

router = APIRouter(include_in_schema=False)


def resolve_static(relative: str, root: Path) -> Path:
    """The file `relative` names under `root`, or a 404 for anything odd or absent."""
    segments = relative.split("/")
    if not all(SEGMENT.fullmatch(segment) for segment in segments):
        raise ApiError(404, "not_found", "no such file")
    path = root.joinpath(*segments)
    if path.suffix not in MEDIA_TYPES or not path.is_file():
        raise ApiError(404, "not_found", "no such file")
    if not path.resolve().is_relative_to(root.resolve()):
        raise ApiError(404, "not_found", "no such file")
    return path


def serve_file(path: Path) -> FileResponse:
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": STATIC_CACHE_CONTROL},
    )


@router.api_route("/", methods=["GET", "HEAD"])
def read_page() -> FileResponse:
    return serve_file(resolve_static("index.html", WEB_DIR))


@router.api_route("/static/{relative:path}", methods=["GET", "HEAD"])
def read_static(relative: str) -> FileResponse:
    return serve_file(resolve_static(relative, WEB_DIR))
