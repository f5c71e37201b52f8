"""Exactly one retrain dispatch per threshold crossing: claim (conditional write) before dispatch.

Races are made deterministic with a barrier: every run reads the request state, then all wait
at the barrier, then all try their conditional write. Only one may win and dispatch.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.feedback.dispatch import (
    CLAIM_LEASE,
    REQUESTS_PREFIX,
    check_threshold,
    dispatch_retrain,
    request_name,
)
from shared.feedback.harvest import harvest
from shared.feedback.sinks import SqliteFeedbackSink
from shared.feedback.sources import SqliteSource
from shared.settings import Settings
from shared.storage import LocalObjectStore, ObjectStore
from tests.utils.feedback_builders import Clock, CrashingStore, flag_many
from tests.utils.loopback_servers import GitHubServer, LoopbackServer, RecordedRequest

pytestmark = pytest.mark.code

TOKEN = "ghp_test_token_never_logged_0123456789"


def github_settings(threshold: int = 5, **extra: Any) -> Settings:
    github = {"GITHUB_REPOSITORY": "acme/bad-buzz", "GITHUB_TOKEN": TOKEN}
    return Settings(RETRAIN_THRESHOLD=threshold, **{**github, **extra})


class BarrierStore(CrashingStore):
    """Every put of a retrain request waits for the other runs first: all read, then all write."""

    def __init__(self, inner: ObjectStore, barrier: threading.Barrier) -> None:
        super().__init__(inner, crash_at=0)
        self.barrier = barrier
        self.waited = False

    def put(self, name: str, data: bytes, **conditions: Any) -> str:
        if name.startswith(REQUESTS_PREFIX) and not self.waited:
            self.waited = True
            self.barrier.wait(timeout=10)
        return self.inner.put(name, data, **conditions)


def side_by_side(
    runs: int, target: Callable[[ObjectStore, int], object], store: ObjectStore
) -> list:
    """Run `target(store, i)` in `runs` threads; each result, or the exception it raised."""
    barrier = threading.Barrier(runs)
    outcomes: list[object] = [None] * runs

    def run(i: int) -> None:
        try:
            outcomes[i] = target(BarrierStore(store, barrier), i)
        except Exception as exc:  # reported to the test below
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.fixture
def harvested_store(tmp_path: Path) -> tuple[LocalObjectStore, Path, Clock]:
    """6 flags harvested under a high threshold: at threshold 5 the next run must ask once."""
    clock = Clock()
    sink = SqliteFeedbackSink(tmp_path / "feedback.sqlite3", clock=clock)
    flag_many(sink, clock, 6)
    store = LocalObjectStore(tmp_path / "feedback")
    source = SqliteSource(sink.path, ingestion_lag=timedelta(0))
    harvest(source, store, clock.now, Settings(RETRAIN_THRESHOLD=1000))
    return store, sink.path, clock


def test_two_harvests_at_the_threshold_send_one_dispatch(harvested_store) -> None:
    store, db, clock = harvested_store
    with GitHubServer(delay=0.2) as github:

        def one_harvest(racing_store: ObjectStore, i: int) -> object:
            source = SqliteSource(db, ingestion_lag=timedelta(0))
            now = clock.now + timedelta(seconds=i)  # a timer re-fire: a moment later
            return harvest(source, racing_store, now, github_settings(), github_api_url=github.url)

        outcomes = side_by_side(2, one_harvest, store)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len(github.requests) == 1
    assert sorted(o.retrain_requested for o in outcomes) == [False, True]
    [name] = store.list(REQUESTS_PREFIX)
    assert json.loads(store.get(name).data)["dispatch"] == "sent"


def test_two_retries_of_a_failed_dispatch_send_one(harvested_store) -> None:
    store, _, clock = harvested_store
    with GitHubServer(status=502) as github:
        check_threshold(store, clock.now, github_settings(), github.url)
    assert json.loads(store.get(request_name(0)).data)["dispatch"] == "failed"
    with GitHubServer(delay=0.2) as github:
        outcomes = side_by_side(
            3,
            lambda s, _: check_threshold(s, clock.now, github_settings(), github.url),
            store,
        )
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len(github.requests) == 1
    data = json.loads(store.get(request_name(0)).data)
    assert (data["dispatch"], data["attempts"]) == ("sent", 2)


def test_a_claim_left_by_a_dead_run_is_taken_over_after_the_lease(harvested_store) -> None:
    store, _, clock = harvested_store
    with GitHubServer() as github:
        dying = CrashingStore(store, crash_at=1, after_write=True)  # dies right after the claim
        with pytest.raises(Exception, match="crash after put"):
            check_threshold(dying, clock.now, github_settings(), github.url)
        assert json.loads(store.get(request_name(0)).data)["dispatch"] == "claimed"
        soon = clock.now + CLAIM_LEASE / 2
        assert check_threshold(store, soon, github_settings(), github.url)[1] is False
        assert github.requests == []  # the claimant may still be dispatching
        later = clock.now + CLAIM_LEASE
        check_threshold(store, later, github_settings(), github.url)
        assert len(github.requests) == 1
        check_threshold(store, later + CLAIM_LEASE, github_settings(), github.url)
        assert len(github.requests) == 1
    assert json.loads(store.get(request_name(0)).data)["dispatch"] == "sent"


def test_a_configured_github_gets_the_request_it_missed(harvested_store) -> None:
    store, _, clock = harvested_store
    check_threshold(store, clock.now, Settings(RETRAIN_THRESHOLD=5), "http://127.0.0.1:9")
    assert json.loads(store.get(request_name(0)).data)["dispatch"] == "not_configured"
    with GitHubServer() as github:
        check_threshold(store, clock.now, github_settings(), github.url)
        check_threshold(store, clock.now, github_settings(), github.url)
    assert len(github.requests) == 1


class Redirecting(LoopbackServer):
    """Answers every dispatch with a 307 to another server: the token must not follow."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        return 307, {"Location": f"{self.target}{request.path}"}, b""


def test_a_redirect_is_not_followed_and_the_token_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with GitHubServer() as elsewhere, Redirecting(elsewhere.url) as github:
        with caplog.at_level(logging.DEBUG):
            assert dispatch_retrain(github_settings(), github.url, "requests/x.json", 3) is False
        assert len(github.requests) == 1
        assert elsewhere.requests == []
    assert "HTTP 307" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "extra",
    [
        {"GITHUB_RETRAIN_WORKFLOW": "../../pulls"},
        {"GITHUB_RETRAIN_WORKFLOW": "retrain.yml?x=1"},
        {"GITHUB_REF": "main branch"},
        {"GITHUB_REPOSITORY": "acme/bad-buzz/extra"},
    ],
)
def test_malformed_github_settings_send_nothing(extra: dict[str, str]) -> None:
    with GitHubServer() as github:
        assert dispatch_retrain(github_settings(**extra), github.url, "r", 1) is False
    assert github.requests == []


def test_the_workflow_and_ref_come_from_the_settings() -> None:
    settings = github_settings(GITHUB_RETRAIN_WORKFLOW="1234", GITHUB_REF="release/v2")
    with GitHubServer() as github:
        assert dispatch_retrain(settings, github.url, "requests/generation-000003.json", 120)
    [request] = github.requests
    assert request.path == "/repos/acme/bad-buzz/actions/workflows/1234/dispatches"
    assert request.json() == {
        "ref": "release/v2",
        "inputs": {"request_id": "requests/generation-000003.json", "feedback_count": "120"},
    }
