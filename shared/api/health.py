"""GET /api/health: which model answers, where it came from, and whether anything is wrong.

200 while a model is served (status "ok", or "degraded" when serving a fallback copy), 503 when
none is: load balancers and the deploy smoke test read the status code, people read the body.
Asking for health loads the model if nothing has tried yet, so a fresh instance does not report
itself unavailable just because no prediction came first.

Health needs no key, so without one it says only what a probe needs: the status, the app and
model versions and when the model was last checked. Where the model came from, the store's state
and the reason for a degraded status name storage accounts, containers and SDK errors: those go
only to a caller holding the API key (or to anyone when the API is open, AUTH_MODE=none).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from shared.api.deps import (
    HolderDep,
    SettingsDep,
    api_key_header,
    configured_key,
    key_matches,
)
from shared.api.schemas import HealthPublic
from shared.settings import Settings

PACKAGE_NAME = "bad-buzz"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
PUBLIC_FIELDS = frozenset({"status", "app_version", "model_version", "last_check"})

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
    response_model_exclude_none=True,
    responses={503: {"model": HealthPublic, "description": "No model can be served."}},
    summary="Model status",
)
def read_health(
    holder: HolderDep,
    settings: SettingsDep,
    response: Response,
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> HealthPublic:
    state = {**holder.health(), "app_version": get_app_version()}
    if not may_see_details(settings, api_key):
        state = {name: value for name, value in state.items() if name in PUBLIC_FIELDS}
    health = HealthPublic.model_validate(state)
    response.status_code = 503 if health.status == "unavailable" else 200
    return health


def may_see_details(settings: Settings, api_key: str | None) -> bool:
    """True when the API is open, or the caller holds the right key (constant-time check)."""
    if settings.AUTH_MODE == "none":
        return True
    expected = configured_key(settings)
    return expected is not None and key_matches(api_key, expected)
