"""function_app.py through the azure-functions library: the way the Functions worker calls it.

The worker indexes `app` (a `func.AsgiFunctionApp`), finds the one HTTP function that takes every
route, and awaits its user code with a `func.HttpRequest` and a context. These tests do exactly
that, with the app pointed at the tiny bundle by environment variables, as app settings would.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace

import azure.functions as func
import pytest

from shared.api.middleware import MAX_BODY_BYTES
from shared.settings import get_settings
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.code

NEGATIVE = "my flight is delayed again, worst airline ever"
API_KEY = "function-test-key"  # a test value, not a secret


def point_env_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bundle: Path) -> None:
    """App settings as Azure would pass them: the bundle shipped, an empty local store."""
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("DEFAULT_BUNDLE_PATH", str(bundle))
    monkeypatch.setenv("MODEL_STORE_PATH", str(tmp_path / "store"))
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRANSLATION_ENABLED", "false")
    monkeypatch.setenv("TELEMETRY_EXPORTER", "none")
    monkeypatch.setenv("FEEDBACK_DB_PATH", str(tmp_path / "feedback.sqlite3"))
    monkeypatch.setenv("AUTH_MODE", "api_key")
    monkeypatch.setenv("API_KEY", API_KEY)


@pytest.fixture
def function_app_module(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_bundle: Path
) -> Iterator[ModuleType]:
    point_env_at(monkeypatch, tmp_path, tiny_bundle)
    get_settings.cache_clear()
    module = importlib.reload(importlib.import_module("function_app"))
    yield module
    get_settings.cache_clear()
    shut_down(module.app)


def shut_down(app: func.AsgiFunctionApp) -> None:
    """Send the ASGI shutdown now, as the host would: else `__del__` tries it at GC time."""
    if app.startup_task_done:
        asyncio.run(app.middleware.notify_shutdown())
        app.startup_task_done = False


def http_function(module: ModuleType):
    """The one HTTP-triggered function (the timer of the weekly harvest is the other one)."""
    (function,) = [f for f in module.app.get_functions() if is_http(f)]
    return function


def is_http(function) -> bool:
    return any(binding.type == "httpTrigger" for binding in function.get_bindings())


def invoke(module: ModuleType, request: func.HttpRequest) -> func.HttpResponse:
    """Await the function's user code as the worker does, with a Context-like object."""
    context = SimpleNamespace(
        invocation_id=str(uuid.uuid4()),
        function_name="http_app_func",
        function_directory=str(REPO_ROOT),
        trace_context=None,
        retry_context=None,
        thread_local_storage=None,
    )
    handler = http_function(module).get_user_function()
    return asyncio.run(handler(request, context))


def make_request(method: str, url: str, body: object = None, **headers: str) -> func.HttpRequest:
    raw = b"" if body is None else json.dumps(body).encode()
    if body is not None:
        headers.setdefault("content-type", "application/json")
    return func.HttpRequest(method=method, url=url, body=raw, headers=headers)


def test_one_anonymous_http_function_takes_every_route(function_app_module: ModuleType) -> None:
    function = http_function(function_app_module)
    trigger = function.get_trigger()
    assert function.get_function_name() == "http_app_func"
    assert trigger.route == "/{*route}"
    assert str(trigger.auth_level.value).upper() == "ANONYMOUS"
    assert {"GET", "POST"} <= {str(getattr(m, "value", m)) for m in trigger.methods}


def test_weekly_harvest_timer_is_registered_on_the_same_app(
    function_app_module: ModuleType,
) -> None:
    (timer,) = [f for f in function_app_module.app.get_functions() if not is_http(f)]
    trigger = timer.get_trigger()
    assert trigger.type == "timerTrigger"
    assert trigger.schedule == "%HARVEST_SCHEDULE%"  # resolved from the app setting by the host
    assert not trigger.run_on_startup


def test_timer_harvests_the_local_feedback_log(function_app_module: ModuleType, tmp_path) -> None:
    """Call the timer's user code as the worker would: it harvests with the embedded defaults."""
    (timer,) = [f for f in function_app_module.app.get_functions() if not is_http(f)]
    from shared.feedback.event import build_event
    from shared.feedback.sinks import SqliteFeedbackSink
    from shared.settings import get_settings

    settings = get_settings()
    # Flagged a minute ago: the harvest leaves the last seconds to the next run (commits in flight).
    sink = SqliteFeedbackSink(
        settings.FEEDBACK_DB_PATH, clock=lambda: datetime.now(UTC) - timedelta(minutes=1)
    )
    event = build_event(str(uuid.uuid4()), "positive", "negative", "tiny-1", "en", "my bag is lost")
    assert sink.record(event)
    timer.get_user_function()(SimpleNamespace(past_due=False))
    from shared.feedback.state import read_feedback
    from shared.storage import open_object_store

    records = read_feedback(open_object_store(settings, settings.FEEDBACK_CONTAINER))
    assert [r["prediction_id"] for r in records] == [event["prediction_id"]]


def test_predict_through_the_function(function_app_module: ModuleType) -> None:
    request = make_request(
        "POST", "http://localhost/api/predict", {"text": NEGATIVE}, **{"x-api-key": API_KEY}
    )
    response = invoke(function_app_module, request)
    assert response.status_code == 200, response.get_body()
    body = json.loads(response.get_body())
    assert body["label"] == "negative"
    assert body["model_version"] == "tiny-1"
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.mimetype == "application/json"


def test_batch_through_the_function(function_app_module: ModuleType) -> None:
    texts = [NEGATIVE, "great crew, thank you!"]
    request = make_request(
        "POST", "http://localhost/api/predict", {"texts": texts}, **{"x-api-key": API_KEY}
    )
    body = json.loads(invoke(function_app_module, request).get_body())
    assert [r["label"] for r in body["results"]] == ["negative", "positive"]


def test_predict_without_key_is_401(function_app_module: ModuleType) -> None:
    response = invoke(
        function_app_module,
        make_request("POST", "http://localhost/api/predict", {"text": NEGATIVE}),
    )
    assert response.status_code == 401
    assert json.loads(response.get_body())["error"]["code"] == "unauthorized"


def test_health_through_the_function(function_app_module: ModuleType) -> None:
    response = invoke(function_app_module, make_request("GET", "http://localhost/api/health"))
    assert response.status_code == 200
    body = json.loads(response.get_body())
    assert (body["status"], body["model_version"]) == ("ok", "tiny-1")
    assert "source" not in body  # no key: what a probe needs only


def test_health_with_the_key_through_the_function(function_app_module: ModuleType) -> None:
    keyed = make_request("GET", "http://localhost/api/health", **{"x-api-key": API_KEY})
    assert json.loads(invoke(function_app_module, keyed).get_body())["source"] == "default"


def test_unknown_path_is_a_json_404(function_app_module: ModuleType) -> None:
    response = invoke(function_app_module, make_request("GET", "http://localhost/nope"))
    assert response.status_code == 404
    assert json.loads(response.get_body())["error"]["code"] == "not_found"


def test_large_body_through_the_function_is_413(function_app_module: ModuleType) -> None:
    request = make_request(
        "POST",
        "http://localhost/api/predict",
        {"text": "x" * (MAX_BODY_BYTES + 1)},
        **{"x-api-key": API_KEY},
    )
    assert invoke(function_app_module, request).status_code == 413


def test_importing_function_app_loads_no_model(tmp_path: Path) -> None:
    """The host indexes the app on a fresh instance: no model, no onnxruntime, no network."""
    code = (
        "import sys, function_app\n"
        "heavy = [m for m in ('onnxruntime', 'py3langid', 'deep_translator', 'vaderSentiment',"
        " 'sklearn', 'azure.storage.blob') if m in sys.modules]\n"
        "print(len(function_app.app.get_functions()), heavy)\n"
    )
    env = {
        **os.environ,
        "DEFAULT_BUNDLE_PATH": str(tmp_path / "absent"),
        "MODEL_STORE_PATH": str(tmp_path / "absent-store"),
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "TRANSLATION_ENABLED": "false",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "2 []"  # the HTTP app and the weekly harvest timer


def test_host_json_routes_at_the_root() -> None:
    host = json.loads((REPO_ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == ""
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host["extensionBundle"]["version"].startswith("[4.")
    assert host["functionTimeout"]


def test_requirements_are_serving_only_and_bounded() -> None:
    lines = [
        line.split("#")[0].strip()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
    ]
    requirements = [line for line in lines if line]
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requirements}
    assert {"azure-functions", "fastapi", "onnxruntime"} <= names
    assert not names & {"scikit-learn", "scipy", "pandas", "mlflow", "skl2onnx", "uvicorn"}
    assert all(">=" in r and ",<" in r for r in requirements), requirements


def test_requirements_match_the_package_dependencies() -> None:
    """requirements.txt (what Azure installs) and pyproject name the same packages."""
    import re
    import tomllib

    def names(lines: list[str]) -> set[str]:
        return {re.split(r"[<>=!~ ;\[]", line, maxsplit=1)[0].lower() for line in lines if line}

    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    text = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    required = [line.split("#")[0].strip() for line in text]
    assert names(required) == names(declared)


def test_funcignore_ships_the_default_bundle() -> None:
    patterns = (REPO_ROOT / ".funcignore").read_text().splitlines()
    assert {"tests/", "training/", "local.settings.json", ".venv/"} <= set(patterns)
    assert "!models/default/" in patterns
