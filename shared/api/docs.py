"""Interactive API docs at /api/docs that work offline and under the strict CSP.

FastAPI's default page loads Swagger UI from a CDN and starts it with an inline script; both are
refused here (no internet on some hosts, `script-src 'self'`). So the assets come from the
`fastapi-offline` package (Swagger UI 5, which reads the OpenAPI 3.1 FastAPI writes; the
`swagger-ui-bundle` package ships Swagger UI 4, which cannot) and the start-up code is a small JS
file served by this router. Only the package's files are used, not its FastAPI subclass.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from shared.api.errors import ApiError

OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
DOCS_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Bad buzz API – docs</title>
<link rel="stylesheet" href="{DOCS_URL}/swagger-ui.css">
<link rel="icon" type="image/png" href="{DOCS_URL}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_URL}/swagger-ui-bundle.js"></script>
<script src="{DOCS_URL}/swagger-init.js"></script>
</body>
</html>
"""
INIT_JS = f"""window.addEventListener("load", function () {{
  window.ui = SwaggerUIBundle({{
    url: "{OPENAPI_URL}",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  }});
}});
"""
ASSET_CACHE_CONTROL = "public, max-age=86400"

router = APIRouter(prefix=DOCS_URL, include_in_schema=False)


@cache
def find_swagger_assets() -> Path | None:
    """The vendored Swagger UI folder, or None when the package is not installed."""
    try:
        spec = importlib.util.find_spec("fastapi_offline")
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@router.get("")
def read_docs() -> HTMLResponse:
    return HTMLResponse(DOCS_HTML)


@router.get("/swagger-init.js")
def read_docs_init() -> Response:
    return Response(INIT_JS, media_type="text/javascript; charset=utf-8")


@router.get("/{name}")
def read_docs_asset(name: str) -> FileResponse:
    folder = find_swagger_assets()
    if name not in ASSETS:
        raise ApiError(404, "not_found", "no such file")
    if folder is None:
        raise ApiError(404, "not_found", "fastapi-offline is not installed on the server")
    return FileResponse(
        folder / name, media_type=ASSETS[name], headers={"Cache-Control": ASSET_CACHE_CONTROL}
    )
