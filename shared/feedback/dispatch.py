"""Retrain requests: exactly one per threshold crossing, claimed BEFORE its dispatch to GitHub.

A crossing is "RETRAIN_THRESHOLD or more harvested records not consumed by a retrain" within one
consumption generation (state.py: every retrain that consumes feedback starts a new one). Its
request is the object `requests/generation-<n>.json`, and the rule for every side effect is:

1. claim with a conditional write that uses the ETag from the read: create the request with
   If-None-Match: * (new crossing), or replace the very version read with If-Match (retrying a
   failed dispatch, or taking over a claim older than CLAIM_LEASE from a run that died);
2. only the writer that won sends the workflow_dispatch;
3. it records the outcome with If-Match on the ETag its claim returned.

Two harvests at the threshold (a timer re-fire, an overlapping retry) therefore send one
dispatch: the loser's claim fails with PreconditionFailed and it leaves. A run that dies between
claim and dispatch leaves a "claimed" request that the next run takes over after CLAIM_LEASE.

The dispatch is a workflow_dispatch (the token needs Actions: write only), sent with no redirect
following (a redirect must not carry the token elsewhere); the token is never logged or stored.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from shared.feedback.index import count_unconsumed
from shared.feedback.records import format_time, to_utc
from shared.feedback.state import load_generation, read_json
from shared.storage import ObjectStore, PreconditionFailed

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

REQUESTS_PREFIX = "requests/"
GITHUB_API_URL = "https://api.github.com"
GITHUB_TIMEOUT_SECONDS = 10.0
CLAIM_LEASE = timedelta(minutes=15)  # >> the dispatch's own timeout: a live claimant is done
REPOSITORY_RE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
WORKFLOW_RE = re.compile(r"[A-Za-z0-9_.-]+\.ya?ml|[0-9]+")
REF_RE = re.compile(r"[A-Za-z0-9._/-]{1,255}")
RETRYABLE = ("failed",)


def request_name(generation: int) -> str:
    return f"{REQUESTS_PREFIX}generation-{generation:06d}.json"


def check_threshold(
    store: ObjectStore, now: datetime, settings: Settings, api_url: str
) -> tuple[int, bool]:
    """(unconsumed count, whether this run claimed a new retrain request)."""
    unconsumed = count_unconsumed(store)
    if unconsumed < settings.RETRAIN_THRESHOLD:
        return unconsumed, False
    generation, _ = load_generation(store)
    name = request_name(generation)
    data = new_request(now, generation, unconsumed, settings)
    try:
        etag = store.put(name, encode(data), if_none_match=True)
    except PreconditionFailed:  # this crossing already has its request: retry it if owed
        retry_dispatch(store, name, now, settings, api_url)
        return unconsumed, False
    logger.info("%d feedback records unconsumed: retrain requested (%s)", unconsumed, name)
    if data["dispatch"] == "claimed":
        send_and_record(store, name, data, etag, settings, api_url)
    return unconsumed, True


def new_request(
    now: datetime, generation: int, unconsumed: int, settings: Settings
) -> dict[str, Any]:
    """The content of a new request; "claimed" means this run is the one to dispatch it."""
    return {
        "requested_at": format_time(now),
        "claimed_at": format_time(now),
        "generation": generation,
        "unconsumed": unconsumed,
        "threshold": settings.RETRAIN_THRESHOLD,
        "attempts": 1,
        "dispatch": "claimed" if github_configured(settings) else "not_configured",
    }


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True).encode("utf-8")


def retry_dispatch(
    store: ObjectStore, name: str, now: datetime, settings: Settings, api_url: str
) -> bool:
    """Re-send a dispatch the request still owes; True when this run won the claim and sent it."""
    data, etag = read_json(store, name)
    if not isinstance(data, dict) or etag is None or not owes_dispatch(data, now, settings):
        return False
    claim = {**data, "dispatch": "claimed", "claimed_at": format_time(now)}
    claim["attempts"] = int(data.get("attempts", 1)) + 1
    try:
        etag = store.put(name, encode(claim), if_match=etag)  # the ETag from the read
    except PreconditionFailed:
        logger.info("%s was claimed by another run; not dispatching", name)
        return False
    return send_and_record(store, name, claim, etag, settings, api_url)


def owes_dispatch(data: dict[str, Any], now: datetime, settings: Settings) -> bool:
    """A failed dispatch, a claim abandoned longer than CLAIM_LEASE, or one never configured."""
    state = data.get("dispatch")
    if not github_configured(settings):
        return False
    if state in (*RETRYABLE, "not_configured"):
        return True
    if state != "claimed":
        return False
    claimed_at = to_utc(data.get("claimed_at") or data["requested_at"])
    return claimed_at + CLAIM_LEASE <= to_utc(now)  # a clock stepping back waits longer


def send_and_record(
    store: ObjectStore,
    name: str,
    claim: dict[str, Any],
    etag: str,
    settings: Settings,
    api_url: str,
) -> bool:
    """Dispatch a claimed request, then record the outcome over our own claim (If-Match)."""
    sent = dispatch_retrain(settings, api_url, name, int(claim.get("unconsumed") or 0))
    outcome = {**claim, "dispatch": "sent" if sent else "failed"}
    try:
        store.put(name, encode(outcome), if_match=etag)
    except PreconditionFailed:
        logger.warning("%s changed after our claim; its outcome (%s) is not recorded", name, sent)
    return sent


def github_configured(settings: Settings) -> bool:
    return bool(settings.GITHUB_REPOSITORY and settings.GITHUB_TOKEN)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect must not carry the token to another host: treat it as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def dispatch_url(settings: Settings, api_url: str) -> str | None:
    """POST target of the workflow_dispatch, or None when a setting is malformed."""
    repo = settings.GITHUB_REPOSITORY or ""
    workflow = settings.GITHUB_RETRAIN_WORKFLOW
    if not (REPOSITORY_RE.fullmatch(repo) and WORKFLOW_RE.fullmatch(workflow)):
        return None
    if not REF_RE.fullmatch(settings.GITHUB_REF) or urlsplit(api_url).scheme not in (
        "http",
        "https",
    ):
        return None
    return f"{api_url.rstrip('/')}/repos/{repo}/actions/workflows/{quote(workflow)}/dispatches"


def dispatch_retrain(settings: Settings, api_url: str, request_id: str, count: int) -> bool:
    """POST a workflow_dispatch of GITHUB_RETRAIN_WORKFLOW; False (logged, no token) on failure."""
    url = dispatch_url(settings, api_url)
    if url is None:
        logger.error("workflow_dispatch skipped: GitHub settings or API URL malformed")
        return False
    token = settings.GITHUB_TOKEN.get_secret_value() if settings.GITHUB_TOKEN else ""
    inputs = {"request_id": request_id, "feedback_count": str(count)}
    body = {"ref": settings.GITHUB_REF, "inputs": inputs}
    request = urllib.request.Request(  # noqa: S310 (scheme checked in dispatch_url)
        url,
        data=json.dumps(body).encode(),
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    repo = settings.GITHUB_REPOSITORY
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=GITHUB_TIMEOUT_SECONDS):
            logger.info("workflow_dispatch of %s sent to %s", url.rsplit("/", 2)[-2], repo)
            return True
    except urllib.error.HTTPError as exc:
        logger.warning("workflow_dispatch to %s failed: HTTP %s", repo, exc.code)
    except (urllib.error.URLError, OSError) as exc:
        logger.warning("workflow_dispatch to %s failed: %s", repo, type(exc).__name__)
    return False
