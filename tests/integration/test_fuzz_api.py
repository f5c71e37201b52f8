"""Schemathesis against the app's own OpenAPI description, in process (ASGI), on the tiny bundle.

The real app (`create_app`, real ModelHolder, real translator, real SQLite feedback sink) is fuzzed
operation by operation, with data that fits the schema (positive) and data that breaks it
(negative). Every response must pass four checks: no 5xx, a documented status code, a documented
content type and a body that matches the documented schema. The requests actually sent are
counted, so a run that quietly generated nothing fails instead of passing.

Feedback needs the `feedback_token` predict returned with that very prediction (HMAC-signed), so
no generated body can be accepted: fuzzed feedback must be refused with a 4xx (403 for a token
that is not ours, 422 for a body that breaks the schema, 400 for one that is not JSON), never a
5xx. The cap per caller
(FEEDBACK_MAX_PER_HOUR) is raised so the fuzz reaches the token check instead of stopping at 429.
That feedback can be accepted at all is checked by a seeded case: a real prediction's
`model_text` and `feedback_token` sent back answer 202 (both kinds), a repeat answers "duplicate",
and the same token with another text answers 403, each answer validated against the schema.

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
from tests.utils.feedback_builders import feedback_body
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
# there is no negative version of it. Buzz has one query parameter (`hours`, 1..48).
OPEN_BUDGET = {
    ("POST /api/predict", POSITIVE): 400,
    ("POST /api/predict", NEGATIVE): 300,
    ("POST /api/feedback", POSITIVE): 250,
    ("POST /api/feedback", NEGATIVE): 200,
    ("GET /api/health", POSITIVE): 1,
    ("GET /api/buzz", POSITIVE): 60,
    ("GET /api/buzz", NEGATIVE): 60,
}
KEYED_BUDGET = {
    ("POST /api/predict", POSITIVE): 100,
    ("POST /api/predict", NEGATIVE): 60,
    ("POST /api/feedback", POSITIVE): 60,
    ("POST /api/feedback", NEGATIVE): 60,
    ("GET /api/health", POSITIVE): 1,
    ("GET /api/buzz", POSITIVE): 20,
    ("GET /api/buzz", NEGATIVE): 20,
}
# What a generated feedback body may get: it never holds a token of ours (403), or it breaks the
# schema (422), or it is not decodable JSON at all (400, negative cases). With a key, a negative
# case may also break the x-api-key header (401). Never 2xx, 429 (cap raised) or 5xx.
FUZZED_FEEDBACK_OPEN = {400, 403, 422}
FUZZED_FEEDBACK_KEYED = {400, 401, 403, 422}
FEEDBACK_CAP = 1_000_000  # per caller per hour: far above the fuzz, so 429 never hides a check
SEEDED_TEXTS = [
    "my flight is delayed again and nobody answers @united http://t.co/x",
    "thanks for the lovely crew and the smooth landing",
    "lost my bag, worst airline ever",
]


def make_settings(tmp_path: Path, bundle: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "MODEL_STORE_PATH": tmp_path / "no-store",
        "MODEL_CACHE_DIR": tmp_path / "cache",
        "DEFAULT_BUNDLE_PATH": bundle,
        "FEEDBACK_DB_PATH": tmp_path / "feedback.sqlite3",
        "FEEDBACK_TOKEN_KEY_PATH": tmp_path / "feedback-token.key",
        "FEEDBACK_MAX_PER_HOUR": FEEDBACK_CAP,
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

    def statuses_of(self, label: str) -> set[int]:
        """The status codes `label` answered during the run."""
        return {code for (name, code), n in self.statuses.items() if name == label and n}

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


def operations_of(schema: schemathesis.BaseSchema) -> dict[str, object]:
    return {op.label: op for op in (r.ok() for r in schema.get_all_operations())}


def send_seeded_feedback(schema: schemathesis.BaseSchema, headers: dict[str, str]) -> list[str]:
    """Predict SEEDED_TEXTS, then send each answer's token and model_text back as feedback.

    Every answer is validated with CHECKS. Returns what each step answered (`status` of the body
    for 202s, the error code otherwise), in order: for each prediction a first flag, the same
    flag again, and the token with another text.
    """
    operations = operations_of(schema)
    predict, feedback = operations["POST /api/predict"], operations["POST /api/feedback"]
    case = predict.Case(body={"texts": SEEDED_TEXTS}, media_type="application/json")  # type: ignore[attr-defined]
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
    assert response.status_code == 200, response.text
    outcomes = []
    for index, prediction in enumerate(response.json()["results"]):
        assert prediction["feedback_token"], "predict returned no feedback_token"
        # Alternate the kinds; a correction of "unknown" names the right label itself.
        kind = "confirmation" if index % 2 and prediction["label"] != "unknown" else "correction"
        extra = {"correct_label": "negative"} if prediction["label"] == "unknown" else {}
        body = feedback_body(prediction, kind=kind, **extra)
        tampered = {**body, "text": prediction["model_text"] + " and something else"}
        for sent in (body, body, tampered):
            case = feedback.Case(body=sent, media_type="application/json")  # type: ignore[attr-defined]
            answer = case.call(headers=headers)
            case.validate_response(answer, checks=CHECKS, headers=headers)
            payload = answer.json()
            outcomes.append(
                f"{answer.status_code} {payload['status']}"
                if answer.status_code == 202
                else f"{answer.status_code} {payload['error']['code']}"
            )
    return outcomes


SEEDED_OUTCOMES = [
    "202 recorded",
    "202 duplicate",
    "403 feedback_token_mismatch",
] * len(SEEDED_TEXTS)


def test_schema_describes_every_api_operation(open_schema: schemathesis.BaseSchema) -> None:
    labels = {result.ok().label for result in open_schema.get_all_operations()}
    assert labels == {label for label, _ in OPEN_BUDGET}
    assert labels == {label for label, _ in KEYED_BUDGET}


def test_open_api_survives_1000_generated_requests(open_schema: schemathesis.BaseSchema) -> None:
    """AUTH_MODE=none, translation off: no 5xx, and every answer is the documented one."""
    fuzz = FuzzRun(open_schema, headers={})
    fuzz.run(OPEN_BUDGET)
    assert not fuzz.failures, "\n\n".join(fuzz.failures)
    assert fuzz.total >= MIN_OPEN_REQUESTS, fuzz.report()
    # The fuzz reached the model, the token check and the buzz chart, not only validation.
    assert fuzz.statuses[("POST /api/predict", 200)] > 0, fuzz.report()
    assert fuzz.statuses[("GET /api/buzz", 200)] > 0, fuzz.report()
    assert fuzz.statuses[("GET /api/buzz", 422)] > 0, fuzz.report()
    # No generated body carries a token of ours: refused, by the token check or the schema.
    feedback = fuzz.statuses_of("POST /api/feedback")
    assert feedback <= FUZZED_FEEDBACK_OPEN, fuzz.report()
    assert fuzz.statuses[("POST /api/feedback", 403)] > 0, fuzz.report()
    print(f"schemathesis, AUTH_MODE=none: {fuzz.total} requests; {fuzz.report()}")


def test_open_api_accepts_feedback_on_a_real_prediction(
    open_schema: schemathesis.BaseSchema,
) -> None:
    """The seeded case the fuzz cannot reach: predict's token + model_text answer 202."""
    assert send_seeded_feedback(open_schema, headers={}) == SEEDED_OUTCOMES


def test_keyed_api_survives_generated_requests(keyed_schema: schemathesis.BaseSchema) -> None:
    """AUTH_MODE=api_key with the right key (negative cases may break the header: 401)."""
    fuzz = FuzzRun(keyed_schema, headers={"x-api-key": API_KEY})
    fuzz.run(KEYED_BUDGET)
    assert not fuzz.failures, "\n\n".join(fuzz.failures)
    assert fuzz.total >= MIN_KEYED_REQUESTS, fuzz.report()
    assert fuzz.statuses[("POST /api/predict", 200)] > 0, fuzz.report()
    assert fuzz.statuses[("GET /api/buzz", 200)] > 0, fuzz.report()
    assert fuzz.statuses_of("POST /api/feedback") <= FUZZED_FEEDBACK_KEYED, fuzz.report()
    assert fuzz.statuses[("POST /api/feedback", 403)] > 0, fuzz.report()
    print(f"schemathesis, AUTH_MODE=api_key: {fuzz.total} requests; {fuzz.report()}")


def test_keyed_api_accepts_feedback_on_a_real_prediction(
    keyed_schema: schemathesis.BaseSchema,
) -> None:
    """With the key, the seeded feedback answers as in the open run."""
    assert send_seeded_feedback(keyed_schema, headers={"x-api-key": API_KEY}) == SEEDED_OUTCOMES
