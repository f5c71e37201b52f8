"""GET /api/health: which model answers, where it came from, and whether anything is wrong.

200 while a model is served (status "ok", or "degraded" when serving a fallback copy), 503 when
none is: load balancers and the deploy smoke test read the status code, people read the body.
Asking for health loads the model if nothing has tried yet, so a fresh instance does not report
itself unavailable just because no prediction came first.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

from fastapi import APIRouter, Response

from shared.api.deps import HolderDep
from shared.api.schemas import HealthPublic

PACKAGE_NAME = "bad-buzz"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

router = APIRouter(prefix="/api", tags=["health"])


@cache
def get_app_version() -> str:
    """The package version; a Function App deploys files, not the package, so read pyproject too."""
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        pass
    try:
        return str(tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "unknown"


@router.get(
    "/health",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "No model can be served."}},
    summary="Model status",
)
def read_health(holder: HolderDep, response: Response) -> HealthPublic:
    health = HealthPublic.model_validate({**holder.health(), "app_version": get_app_version()})
    response.status_code = 503 if health.status == "unavailable" else 200
    return health
