"""Retrain requests: one per threshold crossing, and its dispatch to GitHub Actions."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shared.feedback.records import format_time, to_utc
from shared.feedback.state import load_consumed, read_json, write_json
from shared.storage import ObjectStore

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

REQUESTS_PREFIX = "requests/"
GITHUB_API_URL = "https://api.github.com"
GITHUB_TIMEOUT_SECONDS = 10.0
REPOSITORY_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def check_threshold(
    store: ObjectStore, harvested: set[str], now: datetime, settings: Settings, api_url: str
) -> tuple[int, bool]:
    """(unconsumed count, whether this run made a new retrain request).

    One request per generation of `state/consumed.json`: a rerun, or the next weekly run before
    the retrain consumed anything, finds the request already made (and retries its dispatch if
    that failed) instead of asking again.
    """
    consumed, generation, _ = load_consumed(store)
    unconsumed = len(harvested - consumed)
    if unconsumed < settings.RETRAIN_THRESHOLD:
        return unconsumed, False
    latest = latest_request(store)
    if latest is not None and latest[1].get("generation") == generation:
        retry_dispatch(store, latest, settings, api_url)
        return unconsumed, False
    request = make_request(now, generation, unconsumed, settings)
    write_json(store, request[0], request[1], None)
    logger.info("%d feedback records unconsumed: retrain requested", unconsumed)
    retry_dispatch(store, request, settings, api_url)
    return unconsumed, True


def make_request(
    now: datetime, generation: int, unconsumed: int, settings: Settings
) -> tuple[str, dict[str, Any]]:
    """(object name, content) of a retrain request record."""
    name = f"{REQUESTS_PREFIX}{to_utc(now):%Y%m%dT%H%M%S%fZ}.json"
    return name, {
        "requested_at": format_time(now),
        "generation": generation,
        "unconsumed": unconsumed,
        "threshold": settings.RETRAIN_THRESHOLD,
        "dispatch": "pending" if github_configured(settings) else "not_configured",
    }


def latest_request(store: ObjectStore) -> tuple[str, dict[str, Any]] | None:
    names = sorted(n for n in store.list(REQUESTS_PREFIX) if n.endswith(".json"))
    if not names:
        return None
    data, _ = read_json(store, names[-1])
    return (names[-1], data) if isinstance(data, dict) else None


def github_configured(settings: Settings) -> bool:
    return bool(settings.GITHUB_REPOSITORY and settings.GITHUB_TOKEN)


def retry_dispatch(
    store: ObjectStore, request: tuple[str, dict[str, Any]], settings: Settings, api_url: str
) -> None:
    """Send the dispatch a request still owes (new, or failed last time) and record the outcome."""
    name, data = request
    if data.get("dispatch") not in ("pending", "failed") or not github_configured(settings):
        return
    payload = {"request": name, "unconsumed": data.get("unconsumed")}
    sent = dispatch_retrain(settings, api_url, payload)
    etag = store.etag(name)
    write_json(store, name, {**data, "dispatch": "sent" if sent else "failed"}, etag)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect must not carry the token to another host: treat it as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def dispatch_retrain(settings: Settings, api_url: str, payload: dict[str, Any]) -> bool:
    """POST a `retrain` repository_dispatch; False (logged, without the token) on any failure."""
    repo = settings.GITHUB_REPOSITORY or ""
    if not REPOSITORY_RE.fullmatch(repo) or urlsplit(api_url).scheme not in ("http", "https"):
        logger.error("repository_dispatch skipped: GITHUB_REPOSITORY or API URL malformed")
        return False
    token = settings.GITHUB_TOKEN.get_secret_value() if settings.GITHUB_TOKEN else ""
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        f"{api_url.rstrip('/')}/repos/{repo}/dispatches",
        data=json.dumps({"event_type": "retrain", "client_payload": payload}).encode(),
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=GITHUB_TIMEOUT_SECONDS):
            logger.info("repository_dispatch 'retrain' sent to %s", repo)
            return True
    except urllib.error.HTTPError as exc:
        logger.warning("repository_dispatch to %s failed: HTTP %s", repo, exc.code)
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("repository_dispatch to %s failed: %s", repo, type(exc).__name__)
    return False
