"""The FastAPI app factory: one app for Azure Functions, `bad-buzz serve` and the tests.

`create_app` only wires things together: no model load, no network, no onnxruntime import, so the
Functions host can index the app on an instance that has no model yet. The model loads on first
use through the ModelHolder; ASGI lifespan events are not used because the Functions worker only
runs them on the first request.
"""

from __future__ import annotations

from fastapi import FastAPI

from shared.api import buzz, docs, feedback, health, page, predict
from shared.api.deps import ModelHolderLike, TranslatorLike
from shared.api.errors import add_error_handlers
from shared.api.feedback import FeedbackSink
from shared.api.health import get_app_version
from shared.api.middleware import (
    BodyLimitMiddleware,
    CatchAllMiddleware,
    HeadMiddleware,
    SecurityHeadersMiddleware,
)
from shared.settings import Settings, get_settings

DESCRIPTION = """Flags negative tweets about the airline before they turn into a bad buzz.

`POST /api/predict` scores one tweet (`text`) or up to 100 (`texts`); `POST /api/feedback` flags a
prediction as wrong. When the server runs with `AUTH_MODE=api_key`, both need the key in the
`x-api-key` header (the *Authorize* button here).
"""


def build_holder(settings: Settings) -> ModelHolderLike:
    from shared.model_loader import ModelHolder

    return ModelHolder(settings)


def build_translator(settings: Settings) -> TranslatorLike:
    from shared.translation import make_translator

    return make_translator(settings)


def create_app(
    settings: Settings | None = None,
    *,
    holder: ModelHolderLike | None = None,
    translator: TranslatorLike | None = None,
    feedback_sink: FeedbackSink | None = None,
) -> FastAPI:
    """The app, with its collaborators on `app.state`; tests pass fakes or real ones.

    A feedback sink left as None is built from the settings on the first feedback, so building
    the app never creates a database file.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="Bad buzz API",
        version=get_app_version(),
        description=DESCRIPTION,
        openapi_url=docs.OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.holder = holder if holder is not None else build_holder(settings)
    app.state.translator = translator if translator is not None else build_translator(settings)
    app.state.feedback_sink = feedback_sink
    add_error_handlers(app)
    for router in (predict.router, feedback.router, health.router, docs.router, page.router):
        app.include_router(router)
    app.include_router(buzz.router)  # GET /api/buzz: recent negative share (shared/api/buzz.py)
    # Added innermost first: headers wrap everything, the 500 handler wraps the body limit.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
