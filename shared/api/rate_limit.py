"""A cap on requests per caller per hour: a token bucket per caller, in memory.

Used by POST /api/feedback (FEEDBACK_MAX_PER_HOUR). The caller is the SHA-256 of its x-api-key
when it sends one, else its client address. The buckets live in this process only: with N
instances a caller may get up to N times the cap (docs/api.md says so); the token check, not
the cap, is what keeps forged feedback out. At most `max_callers` buckets are kept (least
recently seen dropped), so memory stays bounded whatever the number of addresses.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from shared.api.deps import API_KEY_HEADER

SECONDS_PER_HOUR = 3600.0
MAX_CALLERS = 10_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class HourlyLimiter:
    """`per_hour` requests per caller, refilled continuously (one every 3600/per_hour s)."""

    def __init__(
        self,
        per_hour: int,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = MAX_CALLERS,
    ) -> None:
        self.capacity = float(per_hour)
        self.rate = per_hour / SECONDS_PER_HOUR  # tokens a second
        self.clock = clock
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, caller: str) -> float:
        """0.0 when `caller` may go on (one request counted); else the seconds until it may."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(caller, None) or Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[caller] = bucket
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


def caller_of(request: Request, *, keyed: bool) -> str:
    """Who is asking: a hash of the API key (never the key itself) when keys are checked
    (`keyed`: a wrong key never gets this far), else the client address: with an open API, a
    made-up key per request would otherwise be a fresh allowance per request."""
    key = request.headers.get(API_KEY_HEADER) if keyed else None
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    client = request.client
    return "address:" + (client.host if client is not None else "unknown")


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
