"""The bad-buzz rule (shared.monitoring.buzz), its replay, the local event store and GET /api/buzz.

The replay is the issue's acceptance test: days of synthetic prediction events with a burst at
a known time go through the function that GET /api/buzz uses, which mirrors
shared/queries/bad_buzz.kql step by step (the KQL itself is parsed against the schema in
test_kql_ops.py; the constants are compared here). The burst is found at its bin, and only
there; a quiet day, a busy day with the usual mood and a sour night raise nothing.
"""

from __future__ import annotations

import random
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.monitoring.buzz import (
    DAY_SECONDS,
    RULE,
    alerting_bin,
    baseline_sums,
    count_bins,
    evaluate_bins,
    judge_bin,
)
from shared.monitoring.events import (
    PredictionEvent,
    PredictionEventStore,
    current_store,
    prune_slack,
)
from shared.settings import Settings

pytestmark = pytest.mark.code

KQL = Path(__file__).resolve().parents[2] / "shared" / "queries" / "bad_buzz.kql"
DAY = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday; "today" in the replay
BURST_AT = DAY + timedelta(hours=14, minutes=30)


# --- the KQL and the Python share their constants ---------------------------------------------
def kql_lets() -> dict[str, str]:
    return dict(re.findall(r"^let (\w+) = ([^;]+);$", KQL.read_text(), re.MULTILINE))


def test_the_python_rule_has_the_kql_constants() -> None:
    lets = kql_lets()
    assert lets["bin_size"] == f"{RULE.bin_seconds // 60}m"
    assert int(lets["baseline_days"]) == RULE.baseline_days
    assert int(lets["slack_bins"]) == RULE.slack_bins
    assert int(lets["min_negatives"]) == RULE.min_negatives
    assert float(lets["z"]) == RULE.z
    assert float(lets["share_margin"]) == RULE.share_margin
    assert lets["slots"] == "baseline_days * (2 * slack_bins + 1)"
    assert RULE.slots == 9


def test_the_kql_alert_window_covers_the_baseline() -> None:
    """The rule's query sees 2 days (monitoring.bicep); the baseline must fit in it."""
    assert RULE.lookback_seconds + RULE.bin_seconds <= 2 * DAY_SECONDS


# --- the arithmetic, by hand ------------------------------------------------------------------
def test_a_bin_is_judged_against_mean_sd_and_share_of_its_baseline() -> None:
    # baseline slots: 9; negatives 10 in three of them, 0 elsewhere; 100 predictions in total
    stats = judge_bin(0, (50, 40), (30, 300, 100), RULE)
    assert stats.mean == pytest.approx(30 / 9)
    assert stats.sd == pytest.approx((300 / 9 - (30 / 9) ** 2) ** 0.5)
    assert stats.count_threshold == pytest.approx(max(25, 30 / 9 + 3 * stats.sd))
    assert stats.base_share == pytest.approx(0.3)
    assert stats.share_threshold == pytest.approx(0.45)
    assert stats.share == pytest.approx(0.8)
    assert stats.is_buzz
    assert not judge_bin(0, (50, 24), (0, 0, 10), RULE).is_buzz, "below min_negatives"
    assert judge_bin(0, (50, 25), (0, 0, 10), RULE).is_buzz, "at min_negatives, share 0.5"
    assert not judge_bin(0, (200, 40), (30, 300, 100), RULE).is_buzz, "share 0.2 < 0.45"


def test_the_baseline_is_the_same_time_yesterday_plus_or_minus_an_hour() -> None:
    start = 10 * DAY_SECONDS + 12 * 3600
    per_bin = count_bins([(start, "negative")], RULE.bin_seconds)
    targets = set(baseline_sums(per_bin, RULE))
    expected = {start + DAY_SECONDS + step * RULE.bin_seconds for step in range(-4, 5)}
    assert targets == expected


# --- the replay -------------------------------------------------------------------------------
def usual_day(rng: random.Random, day: datetime, scale: float = 1.0) -> list[tuple[float, str]]:
    """One day of predictions: busier by day than at night, about a quarter negative."""
    events = []
    for slot in range(96):
        hour = slot / 4
        rate = (8 if hour < 7 else 40 if hour < 22 else 15) * scale
        start = day.timestamp() + slot * RULE.bin_seconds
        for _ in range(rng.randint(int(rate * 0.8), int(rate * 1.2))):
            label = "negative" if rng.random() < 0.25 else "positive"
            events.append((start + rng.uniform(0, RULE.bin_seconds - 1), label))
    return events


def burst(rng: random.Random, at: datetime, count: int = 60) -> list[tuple[float, str]]:
    """A bad buzz: `count` extra predictions within 15 minutes, 90 % negative."""
    return [
        (at.timestamp() + rng.uniform(0, RULE.bin_seconds - 1), "negative")
        if rng.random() < 0.9
        else (at.timestamp() + rng.uniform(0, RULE.bin_seconds - 1), "positive")
        for _ in range(count)
    ]


def history(seed: int, today_scale: float = 1.0) -> list[tuple[float, str]]:
    rng = random.Random(seed)
    events = []
    for days_back in (2, 1):
        events += usual_day(rng, DAY - timedelta(days=days_back))
    return events + usual_day(rng, DAY, today_scale)


def flagged(events: list[tuple[float, str]]) -> list[datetime]:
    return [datetime.fromtimestamp(b.start, UTC) for b in evaluate_bins(events) if b.is_buzz]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_burst_is_found_at_its_time_and_nowhere_else(seed: int) -> None:
    events = history(seed) + burst(random.Random(seed + 100), BURST_AT)
    assert flagged(events) == [BURST_AT]
    bins = evaluate_bins(events)
    fired = alerting_bin(bins, (BURST_AT + timedelta(minutes=17)).timestamp())
    assert fired is not None
    assert datetime.fromtimestamp(fired.start, UTC) == BURST_AT
    assert fired.negatives >= fired.count_threshold
    assert alerting_bin(bins, (BURST_AT + timedelta(minutes=2)).timestamp()) is None, "incomplete"
    assert alerting_bin(bins, (BURST_AT + timedelta(minutes=32)).timestamp()) is None, "past"


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_quiet_day_raises_nothing(seed: int) -> None:
    assert flagged(history(seed)) == []


def test_more_traffic_with_the_usual_mood_raises_nothing() -> None:
    """Three times the usual volume, a quarter negative: the share condition holds it back."""
    events = history(7, today_scale=3.0)
    today = [b for b in evaluate_bins(events) if b.start >= DAY.timestamp()]
    assert max(b.negatives for b in today) >= RULE.min_negatives, "the count alone would fire"
    assert not any(b.is_buzz for b in today)


def test_a_sour_night_with_few_tweets_raises_nothing() -> None:
    """Nine negatives out of ten at 03:00: the share is high but the count is small."""
    rng = random.Random(8)
    night = DAY + timedelta(hours=3)
    events = history(8) + [(night.timestamp() + i, "negative") for i in range(9)]
    assert all(b.start != night.timestamp() or not b.is_buzz for b in evaluate_bins(events))
    assert rng  # the generator is seeded for the history only


def test_no_history_no_verdict_then_the_floor() -> None:
    """No baseline: nothing to compare with, no alert; a quiet baseline: the floor of 25."""
    start = DAY.timestamp()
    burst_now = [(start + i, "negative") for i in range(40)]
    assert not evaluate_bins(burst_now)[0].is_buzz
    yesterday = [(start - DAY_SECONDS + 1.0, "positive")]
    assert evaluate_bins(yesterday + burst_now)[-1].is_buzz
    assert not evaluate_bins(yesterday + burst_now[:24])[-1].is_buzz, "24 < min_negatives"


# --- the local store --------------------------------------------------------------------------
def event(at: float, label: str = "negative") -> PredictionEvent:
    return PredictionEvent(at, label, 0.9 if label == "negative" else 0.1, "tiny-1", "en")


def test_the_store_keeps_the_newest_events_within_its_bound(tmp_path: Path) -> None:
    store = PredictionEventStore(tmp_path / "events.sqlite3", max_events=10)
    slack = prune_slack(10)
    for i in range(3 * (10 + slack)):
        store.add([event(float(i))])
        assert store.count() <= 10 + slack
    total = 3 * (10 + slack)
    kept = [e.at for e in store.since(0.0)]
    assert kept == [float(i) for i in range(total - len(kept), total)], "the newest, in order"
    store.add([event(float(total + i)) for i in range(slack + 1)])
    assert store.count() == 10, "pruned back to the bound once past the slack"
    assert [e.at for e in store.since(float(total + slack - 2))] == [
        float(total + slack - 2),
        float(total + slack - 1),
        float(total + slack),
    ]


def test_the_store_holds_no_text(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    store = PredictionEventStore(path, max_events=10)
    store.add([event(1.0)])
    store.flush()
    columns = [
        row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(prediction_events)")
    ]
    assert columns == ["at", "label", "negative_probability", "model_version", "language"]


def rows_on_disk(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT name FROM sqlite_master WHERE name = 'prediction_events'")
        if found.fetchone() is None:
            return 0
        return db.execute("SELECT count(*) FROM prediction_events").fetchone()[0]


def test_the_store_buffers_writes_until_full_or_old(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "events.sqlite3"
    store = PredictionEventStore(path, max_events=1000, clock=lambda: now[0])
    store.add([event(1.0)])
    assert rows_on_disk(path) == 0, "one event must not cost a commit"
    now[0] = 2.0
    store.add([event(2.0)])
    assert rows_on_disk(path) == 2, "flushed once the buffer is a second old"
    store.add([event(float(i)) for i in range(300)])
    assert rows_on_disk(path) == 302, "flushed once the buffer is full"


def test_a_zero_bound_turns_the_store_off(tmp_path: Path) -> None:
    settings = Settings(PREDICTION_EVENTS_PATH=tmp_path / "e.sqlite3", PREDICTION_EVENTS_MAX=0)
    assert current_store(settings) is None
    with pytest.raises(ValueError, match="at least 1"):
        PredictionEventStore(tmp_path / "e.sqlite3", max_events=0)


# --- GET /api/buzz ----------------------------------------------------------------------------
@pytest.fixture
def buzz_client(tiny_bundle: Path, tmp_path: Path) -> TestClient:
    from shared.api.app import create_app
    from shared.model_loader import ModelHolder

    settings = Settings(
        PREDICTION_EVENTS_PATH=tmp_path / "events.sqlite3",
        PREDICTION_EVENTS_MAX=1000,
        MODEL_STORE_PATH=tmp_path / "no-store",
        MODEL_CACHE_DIR=tmp_path / "cache",
        DEFAULT_BUNDLE_PATH=tiny_bundle,
        TRANSLATION_ENABLED=False,
        AUTH_MODE="api_key",
        API_KEY="buzz-test-key-0123456789abcdef0123",
        FEEDBACK_DB_PATH=tmp_path / "feedback.sqlite3",
    )
    with TestClient(create_app(settings, holder=ModelHolder(settings))) as client:
        client.app_settings = settings  # type: ignore[attr-defined]
        yield client


def test_the_route_charts_the_predictions_this_server_made(buzz_client: TestClient) -> None:
    headers = {"x-api-key": "buzz-test-key-0123456789abcdef0123"}
    assert buzz_client.get("/api/buzz").json()["bins"] == [], "open, like /api/health"
    texts = ["worst airline ever, lost my bag", "great crew, lovely flight", "delayed again"]
    answer = buzz_client.post("/api/predict", json={"texts": texts}, headers=headers)
    assert answer.status_code == 200
    labels = [r["label"] for r in answer.json()["results"]]
    body = buzz_client.get("/api/buzz", params={"hours": 1}).json()
    assert body["recording"] is True
    assert body["rule"]["min_negatives"] == RULE.min_negatives
    assert sum(b["predictions"] for b in body["bins"]) == 3
    assert sum(b["negatives"] for b in body["bins"]) == labels.count("negative")
    assert body["alert"] is False
    stored = current_store(buzz_client.app_settings)  # type: ignore[attr-defined]
    assert stored is not None
    assert {e.model_version for e in stored.since(0)} == {"tiny-1"}


def test_the_route_rejects_a_bad_window_with_a_4xx(buzz_client: TestClient) -> None:
    for hours in ("0", "49", "six"):
        answer = buzz_client.get("/api/buzz", params={"hours": hours})
        assert answer.status_code == 422
        assert "error" in answer.json()


def test_with_the_store_off_the_route_says_so_and_shows_nothing() -> None:
    """Azure's configuration (PREDICTION_EVENTS_MAX=0): no traffic figure is public there."""
    from shared.api.buzz import read_buzz

    settings = Settings(PREDICTION_EVENTS_MAX=0)
    body = read_buzz(events=current_store(settings), hours=6)
    assert body.recording is False
    assert body.bins == []
    assert body.alert is False
