"""Every error leaves as `{"error": {"code", "message", "field", "rule"}}`, and none echoes input.

Clients (the page, curl users, the feedback tooling) branch on `code` and show `message`; `field`
and `rule` say which part of the body broke which rule, so a batch caller can find `texts[3]`.
Messages are built from our own strings only: pydantic's messages and the raw body never reach the
response, so nothing a client sends can be reflected back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.api.schemas import ErrorDetail, ErrorPublic, FieldRule

logger = logging.getLogger(__name__)

SAFE_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
MAX_DETAILS = 20
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """An error the API means to return: raised by routes and dependencies, rendered as JSON."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status_code: int, detail: ErrorDetail, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorPublic(error=detail).model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status_code, headers=dict(headers or {}))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


RULES: dict[str, Callable[[dict[str, Any]], str]] = {
    "string_too_long": lambda ctx: f"at most {plural(ctx['max_length'], 'character')}",
    "string_too_short": lambda ctx: (
        f"at least {plural(ctx['min_length'], 'character')} after trimming"
    ),
    "too_long": lambda ctx: f"at most {plural(ctx['max_length'], 'item')}",
    "too_short": lambda ctx: f"at least {plural(ctx['min_length'], 'item')}",
    "extra_forbidden": lambda ctx: "unknown field",
    "missing": lambda ctx: "required",
    "string_type": lambda ctx: "must be a string",
    "list_type": lambda ctx: "must be a list of strings",
    "model_attributes_type": lambda ctx: "must be a JSON object",
    "dict_type": lambda ctx: "must be a JSON object",
    "model_type": lambda ctx: "must be a JSON object",
    "json_invalid": lambda ctx: "must be valid JSON",
    "value_error": lambda ctx: str(ctx.get("error", "invalid value")),
}


def describe_location(loc: tuple[Any, ...]) -> str:
    """("body", "texts", 3) -> "texts[3]"; client-chosen keys that look odd are not repeated."""
    path = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            path += f"[{part}]" if path else ""
        elif isinstance(part, str) and SAFE_FIELD.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += ".(field)" if path else "(field)"
    return path or "body"


def describe_error(error: Mapping[str, Any]) -> tuple[str, str]:
    """(field, rule) for one pydantic error, from our own wording only."""
    rule_for = RULES.get(str(error.get("type")))
    try:
        rule = rule_for(dict(error.get("ctx") or {})) if rule_for else "invalid value"
    except (KeyError, TypeError):
        rule = "invalid value"
    return describe_location(tuple(error.get("loc") or ())), rule


JSON_CONTENT_RULE = "must be JSON sent with Content-Type: application/json"


def is_json_content(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 naming the first broken rule; a body not sent as JSON gets that said plainly."""
    assert isinstance(exc, RequestValidationError)
    described = [describe_error(error) for error in exc.errors()] or [("body", "invalid value")]
    if request.method in ("POST", "PUT", "PATCH") and not is_json_content(request):
        described = [("body", JSON_CONTENT_RULE)]
    field, rule = described[0]
    details = [FieldRule(field=f, rule=r) for f, r in described[:MAX_DETAILS]]
    detail = ErrorDetail(
        code="invalid_request", message=f"{field}: {rule}", field=field, rule=rule, details=details
    )
    return error_response(422, detail)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's 404/405/400: same JSON shape, our own messages (the path is not echoed)."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = STATUS_CODES.get(status, f"http_{status}")
    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = "HTTP error"
    if status == 400:
        message = "the request body could not be parsed"
    return error_response(status, ErrorDetail(code=code, message=message), exc.headers)


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    detail = ErrorDetail(code=exc.code, message=exc.message)
    return error_response(exc.status_code, detail, exc.headers)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(ApiError, handle_api_error)
