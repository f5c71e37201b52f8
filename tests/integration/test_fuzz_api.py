"""Schemathesis against the app's own OpenAPI description, in process (ASGI), on the tiny bundle.

The real app (`create_app`, real ModelHolder, real translator, real SQLite feedback sink) is fuzzed
operation by operation, with data that fits the schema (positive) and data that breaks it
(negative). Every response must pass four checks: no 5xx, a documented status code, a documented
content type and a body that matches the documented schema. The requests actually sent are
counted, so a run that quietly generated nothing fails instead of passing.

Two runs: AUTH_MODE=none with translation disabled (the bulk of the requests), and
AUTH_MODE=api_key with the right key and the translator pointed at the loopback stub.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.errors import FailureGroup

from shared.api.app import create_app
from shared.settings import Settings
from tests.utils.translator_stub import run_translator_stub

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPENAPI_PATH = "/api/openapi.json"
API_KEY = "fuzz-key-51c0"  # a test value, not a secret
MIN_OPEN_REQUESTS = 1000
MIN_KEYED_REQUESTS = 200
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
# Examples per (operation, mode). Health has no input at all: one request is all there is, and
# there is no negative version of it.
OPEN_BUDGET = {
    ("POST /api/predict", POSITIVE): 400,
    ("POST /api/predict", NEGATIVE): 300,
    ("POST /api/feedback", POSITIVE): 250,
    ("POST /api/feedback", NEGATIVE): 200,
    ("GET /api/health", POSITIVE): 1,
}
KEYED_BUDGET = {
    ("POST /api/predict", POSITIVE): 100,
    ("POST /api/predict", NEGATIVE): 60,
    ("POST /api/feedback", POSITIVE): 60,
    ("POST /api/feedback", NEGATIVE): 60,
    ("GET /api/health", POSITIVE): 1,
}


def make_settings(tmp_path: Path, bundle: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "MODEL_STORE_PATH": tmp_path / "no-store",
        "MODEL_CACHE_DIR": tmp_path / "cache",
        "DEFAULT_BUNDLE_PATH": bundle,
        "FEEDBACK_DB_PATH": tmp_path / "feedback.sqlite3",
        "TRANSLATION_ENABLED": False,
        "AUTH_MODE": "none",
    }
    values.update(overrides)
    return Settings(**values)


class FuzzRun:
    """Sends every generated case, validates its response, and counts what was sent."""

    def __init__(self, schema: schemathesis.BaseSchema, headers: dict[str, str]) -> None:
        self.schema = schema
        self.headers = headers
        self.sent: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []

    def run(self, budget: dict[tuple[str, GenerationMode], int]) -> None:
        operations = {op.label: op for op in (r.ok() for r in self.schema.get_all_operations())}
        assert {label for label, _ in budget} == set(operations), "the API's operations changed"
        for (label, mode), examples in budget.items():
            try:
                self.fuzz(operations[label], mode, examples)
            except (Exception, FailureGroup) as exc:
                self.failures.append(f"{label} [{mode.value}]:\n{exc}")

    def fuzz(self, operation: object, mode: GenerationMode, examples: int) -> None:
        label = operation.label  # type: ignore[attr-defined]

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))  # type: ignore[attr-defined]
        def send(case: schemathesis.Case) -> None:
            response = case.call(headers=self.headers)
            self.sent[(label, mode.value)] += 1
            self.statuses[(label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS, headers=self.headers)

        send()

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def report(self) -> str:
        return f"sent {dict(self.sent)}; statuses {dict(self.statuses)}"


@pytest.fixture(scope="module")
def open_schema(
    tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> schemathesis.BaseSchema:
    app = create_app(make_settings(tmp_path_factory.mktemp("fuzz-open"), tiny_bundle))
    return schemathesis.openapi.from_asgi(OPENAPI_PATH, app)


@pytest.fixture(scope="module")
def keyed_schema(
    tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    with run_translator_stub() as stub:
        settings_ = make_settings(
            tmp_path_factory.mktemp("fuzz-keyed"),
            tiny_bundle,
            AUTH_MODE="api_key",
            API_KEY=API_KEY,
            TRANSLATION_ENABLED=True,
            TRANSLATOR_URL=stub.url,
        )
        yield schemathesis.openapi.from_asgi(OPENAPI_PATH, create_app(settings_))


def test_schema_describes_every_api_operation(open_schema: schemathesis.BaseSchema) -> None:
    labels = {result.ok().label for result in open_schema.get_all_operations()}
    assert labels == {label for label, _ in OPEN_BUDGET}


def test_open_api_survives_1000_generated_requests(open_schema: schemathesis.BaseSchema) -> None:
    """AUTH_MODE=none, translation off: no 5xx, and every answer is the documented one."""
    fuzz = FuzzRun(open_schema, headers={})
    fuzz.run(OPEN_BUDGET)
    assert not fuzz.failures, "\n\n".join(fuzz.failures)
    assert fuzz.total >= MIN_OPEN_REQUESTS, fuzz.report()
    # The fuzz reached the model and the feedback log, not only the validation layer.
    assert fuzz.statuses[("POST /api/predict", 200)] > 0, fuzz.report()
    assert fuzz.statuses[("POST /api/feedback", 202)] > 0, fuzz.report()
    print(f"schemathesis, AUTH_MODE=none: {fuzz.total} requests; {fuzz.report()}")


def test_keyed_api_survives_generated_requests(keyed_schema: schemathesis.BaseSchema) -> None:
    """AUTH_MODE=api_key with the right key (negative cases may break the header: 401)."""
    fuzz = FuzzRun(keyed_schema, headers={"x-api-key": API_KEY})
    fuzz.run(KEYED_BUDGET)
    assert not fuzz.failures, "\n\n".join(fuzz.failures)
    assert fuzz.total >= MIN_KEYED_REQUESTS, fuzz.report()
    assert fuzz.statuses[("POST /api/predict", 200)] > 0, fuzz.report()
    assert fuzz.statuses[("POST /api/feedback", 202)] > 0, fuzz.report()
    print(f"schemathesis, AUTH_MODE=api_key: {fuzz.total} requests; {fuzz.report()}")
