"""Dependencies of the routes, as `Annotated` aliases, and the API-key check.

The app keeps its collaborators on `app.state` (settings, model holder, translator) so tests build
an app with fakes and the Functions entry point builds one with the real things; routes only ever
see these aliases. The holder and translator are typed as protocols: the routes need their shape,
not their modules, which keeps importing the app cheap.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from shared.api.errors import ApiError
from shared.settings import Settings

logger = logging.getLogger(__name__)

API_KEY_HEADER = "x-api-key"
# An app setting whose Key Vault reference did not resolve holds the reference text itself,
# which is no secret (it names the vault): such a value must never be accepted as the key.
UNRESOLVED_REFERENCE_PREFIX = "@Microsoft.KeyVault("


class PredictorLike(Protocol):
    def predict(self, texts: list[str]) -> list[Any]: ...


class LoadedModelLike(Protocol):
    predictor: PredictorLike
    version: str
    loaded_at: datetime
    source: str


class ModelHolderLike(Protocol):
    """shared.model_loader.ModelHolder: lazy, self-refreshing, never raises."""

    def get(self) -> LoadedModelLike | None: ...

    def health(self) -> dict[str, Any]: ...


class TranslationResultLike(Protocol):
    text: str
    translated: bool
    reason: str | None


class TranslatorLike(Protocol):
    """shared.translation.Translator: bounded by a timeout, never raises."""

    def translate(self, text: str, source: str) -> TranslationResultLike: ...


# The dependencies below are `async def` although they never await: FastAPI runs a plain `def`
# dependency on the threadpool, one thread hop each per request, for a few attribute reads.


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolderLike:
    return request.app.state.holder


async def get_translator(request: Request) -> TranslatorLike:
    return request.app.state.translator


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
HolderDep = Annotated[ModelHolderLike, Depends(get_holder)]
TranslatorDep = Annotated[TranslatorLike, Depends(get_translator)]

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required when the app runs with AUTH_MODE=api_key (the Azure default).",
)


async def require_api_key(
    settings: SettingsDep, api_key: Annotated[str | None, Depends(api_key_header)]
) -> None:
    """Constant-time check of x-api-key; the key itself is never logged nor echoed."""
    if settings.AUTH_MODE == "none":
        return
    expected = configured_key(settings)
    if expected is None:
        logger.error("AUTH_MODE=api_key but API_KEY is empty or an unresolved Key Vault reference")
        raise ApiError(503, "auth_not_configured", "the API key is not configured on the server")
    if not key_matches(api_key, expected):
        raise ApiError(
            401,
            "unauthorized",
            f"missing or wrong {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": "ApiKey"},
        )


ApiKeyDep = Annotated[None, Depends(require_api_key)]


def configured_key(settings: Settings) -> str | None:
    """The API key the server expects, or None when it has no usable one."""
    expected = settings.API_KEY.get_secret_value() if settings.API_KEY else ""
    if not expected or expected.startswith(UNRESOLVED_REFERENCE_PREFIX):
        return None
    return expected


def key_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the key cannot be guessed byte by byte from timings."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def model_if_ready(holder: ModelHolderLike) -> LoadedModelLike | None:
    """The model when the holder can hand it over without blocking, else None: ask `get` then.

    Holders that cannot tell (no `peek`, e.g. test fakes) always get None, so routes running on
    the event loop never wait there for a load or a refresh.
    """
    peek = getattr(holder, "peek", None)
    return peek() if peek is not None else None


def require_model(holder: ModelHolderLike) -> LoadedModelLike:
    """The current model, or a 503 that tells the caller to look at /api/health."""
    model = holder.get()
    if model is None:
        raise ApiError(
            503,
            "model_unavailable",
            "no model is loaded yet (no champion in the store and no default bundle); "
            "see GET /api/health",
            headers={"Retry-After": "30"},
        )
    return model
