"""The feedback token of each prediction, signed by predict and checked by feedback.

One `FeedbackSigner` per app, built on first use from the settings (`resolve_token_key`) and kept
on `app.state.feedback_signer`. Without a usable key predict still answers, with
`feedback_token: null`, and feedback answers 503 `feedback_not_configured`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from shared.api.deps import SettingsDep
from shared.feedback.event import text_sha256
from shared.feedback.token import (
    TokenClaims,
    issue_token,
    make_claims,
    read_token,
    resolve_token_key,
)

logger = logging.getLogger(__name__)


class FeedbackSignerLike(Protocol):
    def issue(self, prediction: Any) -> str: ...


class FeedbackSigner:
    """Issues and reads tokens with one key (bytes, never logged)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, prediction: Any) -> str:
        """The token of one PredictionPublic: binds id, label, version, language, model_text."""
        claims = make_claims(
            prediction.prediction_id,
            prediction.label,
            prediction.model_version,
            prediction.language,
            text_sha256(prediction.model_text),
        )
        return issue_token(self._key, claims)

    def read(self, token: str, now: float | None = None) -> TokenClaims:
        """The claims of a genuine, unexpired token; TokenError otherwise."""
        return read_token(self._key, token, now)


def build_signer(settings: Any) -> FeedbackSigner | None:
    try:
        key = resolve_token_key(settings)
    except OSError:
        logger.exception("the local feedback token key file could not be read or created")
        return None
    return FeedbackSigner(key) if key else None


async def get_feedback_signer(request: Request, settings: SettingsDep) -> FeedbackSigner | None:
    """The app's signer; built once (a file read at most), None when no key is usable."""
    state = request.app.state
    if not hasattr(state, "feedback_signer"):
        state.feedback_signer = build_signer(settings)
    return state.feedback_signer


FeedbackSignerDep = Annotated[FeedbackSigner | None, Depends(get_feedback_signer)]
