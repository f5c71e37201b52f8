"""Feedback tokens: only predictions this API made can be flagged or confirmed.

Predict returns, with each prediction, a token binding what it answered: the prediction id, the
label, the model version, the language and the SHA-256 of the text the model read, plus an
expiry. Feedback must bring the token back with matching fields. The token is an HMAC-SHA256
over those claims with a key only the servers hold (FEEDBACK_TOKEN_KEY: a Key Vault secret in
Azure; locally a random key generated once into a 0600 file), so it is stateless: any instance
that has the key checks any instance's tokens, and nothing is stored per prediction.

Format (URL-safe, no padding): `v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key,
"v1." + base64url(JSON claims)))>`. The claims are readable, not secret: they repeat what the
prediction already told its caller. The signature is compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

TOKEN_VERSION = "v1"  # noqa: S105 - the token format's version, not a secret
TOKEN_TTL_SECONDS = 24 * 3600  # a person clicks within minutes; scripts within the day
MAX_TOKEN_CHARS = 1024
KEY_BYTES = 32
MIN_KEY_CHARS = 32
# An app setting whose Key Vault reference did not resolve holds the reference text itself.
UNRESOLVED_REFERENCE_PREFIX = "@Microsoft.KeyVault("


class TokenError(ValueError):
    """The token is not one of ours: `reason` is malformed, bad_signature or expired."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class TokenClaims:
    """What a prediction answered; `expires_at` in Unix seconds (UTC)."""

    prediction_id: str
    label: str
    model_version: str
    language: str
    text_sha256: str
    expires_at: int


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, signed_part: str) -> bytes:
    return hmac.new(key, signed_part.encode("ascii"), hashlib.sha256).digest()


def issue_token(key: bytes, claims: TokenClaims) -> str:
    """The token for these claims (~300 characters)."""
    # vars(), not dataclasses.asdict: asdict deep-copies, a tenth of a batch's serving time.
    payload = json.dumps(vars(claims), separators=(",", ":"), sort_keys=True)
    signed_part = f"{TOKEN_VERSION}.{b64encode(payload.encode('utf-8'))}"
    return f"{signed_part}.{b64encode(sign(key, signed_part))}"


def read_token(key: bytes, token: str, now: float | None = None) -> TokenClaims:
    """The claims of a genuine, unexpired token; TokenError otherwise (never another error)."""
    parts = token.split(".") if len(token) <= MAX_TOKEN_CHARS else []
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise TokenError("malformed", "feedback_token is not a token this API issued")
    try:
        signature = b64decode(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed", "feedback_token is not a token this API issued") from exc
    if not hmac.compare_digest(signature, sign(key, f"{parts[0]}.{parts[1]}")):
        raise TokenError("bad_signature", "feedback_token is not a token this API issued")
    claims = parse_claims(parts[1])
    if claims.expires_at <= (time.time() if now is None else now):
        raise TokenError("expired", "feedback_token has expired: predict again, then send it")
    return claims


def parse_claims(encoded: str) -> TokenClaims:
    """Signed claims are ours, but a key shared with an older format must not crash us."""
    try:
        return TokenClaims(**json.loads(b64decode(encoded)))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise TokenError("malformed", "feedback_token is not a token this API issued") from exc


def make_claims(
    prediction_id: str,
    label: str,
    model_version: str,
    language: str,
    text_sha256: str,
    now: float | None = None,
) -> TokenClaims:
    issued = int(time.time() if now is None else now)
    return TokenClaims(
        prediction_id, label, model_version, language, text_sha256, issued + TOKEN_TTL_SECONDS
    )


# --- the key ------------------------------------------------------------------------------------


def resolve_token_key(settings: Settings) -> bytes | None:
    """FEEDBACK_TOKEN_KEY when set; else the local key file (created once). None: no usable key.

    An unresolved Key Vault reference or a short key is refused (logged): tokens signed with a
    public or guessable key would let anyone forge feedback.
    """
    configured = settings.FEEDBACK_TOKEN_KEY
    if configured is not None:
        value = configured.get_secret_value()
        if value.startswith(UNRESOLVED_REFERENCE_PREFIX) or len(value) < MIN_KEY_CHARS:
            logger.error("FEEDBACK_TOKEN_KEY is an unresolved Key Vault reference or too short")
            return None
        return value.encode("utf-8")
    return read_or_create_key_file(settings.FEEDBACK_TOKEN_KEY_PATH)


def read_or_create_key_file(path: Path) -> bytes:
    """A random key kept in `path` (mode 0600), so a restarted local server keeps its tokens.

    Created under a temporary name and linked into place: of two processes starting together,
    one wins the link and both then read the same complete key.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won: use its key
        finally:
            temporary.unlink()
    return path.read_text(encoding="ascii").strip().encode("ascii")
