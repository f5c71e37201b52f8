"""Security properties of the served app and of the repository itself.

- Access: in AUTH_MODE=api_key, predict and feedback refuse (401) every way of sending the key
  other than the right `x-api-key` header, before looking at the body; the comparison goes
  through `hmac.compare_digest`.
- Browser: every response carries a Content-Security-Policy whose script-src has no
  'unsafe-inline' (nor 'unsafe-eval'), and the page has no inline script or `on*=` handler.
- Errors: malformed input never gets a stack trace back, and a key sent in the body is echoed
  neither in the response nor in the logs.
- Repository: no secret in the files git tracks (and in new files it does not ignore): Azure
  storage account keys (except Azurite's public development key), SAS signatures, GitHub tokens,
  private keys, AWS access keys, key-like assignments and high-entropy base64 strings.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import math
import random
import re
import shutil
import string
import subprocess
import textwrap
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.api import deps
from shared.api.app import create_app
from shared.api.middleware import MAX_BODY_BYTES
from shared.api.page import WEB_DIR
from shared.feedback.event import text_sha256
from shared.feedback.sinks import SqliteFeedbackSink
from shared.feedback.token import issue_token, make_claims
from shared.model_loader import ModelHolder
from shared.privacy import mask_personal_data
from shared.settings import Settings
from shared.translation import TranslationResult
from tests.conftest import REPO_ROOT
from tests.integration.conftest import AZURITE_KEY
from tests.utils.feedback_builders import PERSONAL_TWEET, feedback_body, find_personal_data

pytestmark = pytest.mark.code

API_KEY = "sec-test-key-2f7c9a"  # a test value, not a secret
FEEDBACK_TOKEN_KEY = "sec-test-feedback-token-key-not-a-secret"  # a test value, not a secret
NEGATIVE = "my flight is delayed again, worst airline ever"
STACK_TRACE_MARKERS = ("Traceback", 'File "', "line ", ".py")
CLIENT_LOGGERS = ("httpx", "httpcore")  # the test client logs the URL it requests; not the app


class NoTranslation:
    def translate(self, text: str, source: str) -> TranslationResult:
        return TranslationResult(text, False, "disabled")


def make_settings(tmp_path: Path, bundle: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "MODEL_STORE_PATH": tmp_path / "no-store",
        "MODEL_CACHE_DIR": tmp_path / "cache",
        "DEFAULT_BUNDLE_PATH": bundle,
        "FEEDBACK_DB_PATH": tmp_path / "feedback.sqlite3",
        "TRANSLATION_ENABLED": False,
        "AUTH_MODE": "api_key",
        "API_KEY": API_KEY,
        "FEEDBACK_TOKEN_KEY": FEEDBACK_TOKEN_KEY,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def keyed(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("security"), tiny_bundle)
    app = create_app(settings, holder=ModelHolder(settings), translator=NoTranslation())
    with TestClient(app) as client:
        yield client


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the app logged (messages and tracebacks), without the test client's own lines."""
    records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    formatter = logging.Formatter()
    return "\n".join(formatter.format(record) for record in records)


def flag_body(text: str = NEGATIVE) -> dict[str, str]:
    """A flag with a genuine token, signed as predict would with the test key."""
    prediction_id = str(uuid.uuid4())
    digest = text_sha256(mask_personal_data(text.strip()))
    claims = make_claims(prediction_id, "positive", "tiny-1", "en", digest)
    token = issue_token(FEEDBACK_TOKEN_KEY.encode(), claims)
    return {
        "prediction_id": prediction_id,
        "text": text,
        "predicted_label": "positive",
        "feedback_token": token,
    }


BODIES = {"/api/predict": lambda: {"text": NEGATIVE}, "/api/feedback": flag_body}


# --- access: the key, only in its header -----------------------------------------------------


@dataclass(frozen=True)
class KeyAttempt:
    """One way of (not) presenting the key."""

    headers: dict[str, str]
    params: dict[str, str]
    cookies: dict[str, str]


WRONG_WAYS = {
    "missing": KeyAttempt({}, {}, {}),
    "empty": KeyAttempt({"x-api-key": ""}, {}, {}),
    "wrong": KeyAttempt({"x-api-key": "not-the-key"}, {}, {}),
    "prefix": KeyAttempt({"x-api-key": API_KEY[:-1]}, {}, {}),
    "longer": KeyAttempt({"x-api-key": API_KEY + "0"}, {}, {}),
    "other-case": KeyAttempt({"x-api-key": API_KEY.upper()}, {}, {}),
    "query-x-api-key": KeyAttempt({}, {"x-api-key": API_KEY}, {}),
    "query-api_key": KeyAttempt({}, {"api_key": API_KEY}, {}),
    "query-code": KeyAttempt({}, {"code": API_KEY}, {}),  # the Functions key's query name
    "bearer": KeyAttempt({"authorization": f"Bearer {API_KEY}"}, {}, {}),
    "functions-header": KeyAttempt({"x-functions-key": API_KEY}, {}, {}),
    "cookie": KeyAttempt({}, {}, {"x-api-key": API_KEY}),
}


@pytest.mark.parametrize("path", sorted(BODIES))
@pytest.mark.parametrize("way", sorted(WRONG_WAYS))
def test_protected_routes_refuse_anything_but_the_right_header(
    keyed: TestClient, path: str, way: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    attempt = WRONG_WAYS[way]
    keyed.cookies.clear()
    response = keyed.post(
        path,
        json=BODIES[path](),
        headers=attempt.headers,
        params=attempt.params,
        cookies=attempt.cookies or None,
    )
    keyed.cookies.clear()
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "ApiKey"
    assert API_KEY not in response.text
    assert API_KEY not in server_log(caplog)


@pytest.mark.parametrize("path", sorted(BODIES))
def test_the_right_header_is_accepted(keyed: TestClient, path: str) -> None:
    response = keyed.post(path, json=BODIES[path](), headers={"x-api-key": API_KEY})
    assert response.status_code in (200, 202), response.text


@pytest.mark.parametrize("path", sorted(BODIES))
def test_the_key_is_checked_before_the_body(keyed: TestClient, path: str) -> None:
    """A keyless caller learns nothing about the rules: 401, not 422."""
    response = keyed.post(path, json={"text": "", "colour": "red"})
    assert response.status_code == 401
    assert "colour" not in response.text


def test_the_key_is_compared_in_constant_time(
    keyed: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every check goes through hmac.compare_digest, with the sent and the expected key."""
    real = deps.hmac.compare_digest
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(deps.hmac, "compare_digest", spy)
    wrong = keyed.post("/api/predict", json={"text": NEGATIVE}, headers={"x-api-key": "nope"})
    right = keyed.post("/api/predict", json={"text": NEGATIVE}, headers={"x-api-key": API_KEY})
    assert (wrong.status_code, right.status_code) == (401, 200)
    assert calls == [(b"nope", API_KEY.encode()), (API_KEY.encode(), API_KEY.encode())]


def test_the_key_is_never_compared_with_equality() -> None:
    """No `==`/`!=`/`in` on the key in the check: those return early on the first difference."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(deps.require_api_key)))
    secret_names = {"api_key", "expected"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        names = {n.id for o in operands for n in ast.walk(o) if isinstance(n, ast.Name)}
        if names & secret_names:
            assert all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops), ast.unparse(node)


# --- browser: CSP and the page -----------------------------------------------------------------


def parse_csp(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), [w.lower() for w in words[1:]])
    return directives


def assert_strict_csp(header: str | None) -> None:
    assert header, "no Content-Security-Policy"
    directives = parse_csp(header)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None, header
    forbidden = {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"}
    assert not forbidden & set(script_src), header
    assert directives.get("object-src", directives.get("default-src")) is not None
    assert directives.get("frame-ancestors") == ["'none'"]
    assert directives.get("base-uri") == ["'none'"]


@pytest.fixture(scope="module")
def broken(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app whose model raises: the path to a 500."""

    class BrokenPredictor:
        def predict(self, texts: list[str]) -> list[object]:
            raise RuntimeError("onnxruntime fell over")

    loaded = type("Loaded", (), {"predictor": BrokenPredictor(), "version": "broken"})()
    holder = type("Holder", (), {"get": lambda self: loaded, "health": lambda self: {}})()
    settings = make_settings(tmp_path_factory.mktemp("broken"), tiny_bundle, AUTH_MODE="none")
    with TestClient(
        create_app(settings, holder=holder, translator=NoTranslation()),
        raise_server_exceptions=False,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def no_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("no-model")
    settings = make_settings(path, path / "absent", AUTH_MODE="none")
    with TestClient(create_app(settings, translator=NoTranslation())) as client:
        yield client


RESPONSES = {
    "page": ("GET", "/", {}),
    "page-js": ("GET", "/static/app.js", {}),
    "page-css": ("GET", "/static/app.css", {}),
    "health": ("GET", "/api/health", {}),
    "openapi": ("GET", "/api/openapi.json", {}),
    "docs": ("GET", "/api/docs", {}),
    "docs-init": ("GET", "/api/docs/swagger-init.js", {}),
    "predict-200": ("POST", "/api/predict", {"json": {"text": NEGATIVE}, "key": True}),
    "feedback-202": ("POST", "/api/feedback", {"json": flag_body(), "key": True}),
    "predict-401": ("POST", "/api/predict", {"json": {"text": NEGATIVE}}),
    "predict-422": ("POST", "/api/predict", {"json": {"text": ""}, "key": True}),
    "predict-413": ("POST", "/api/predict", {"content": b"x" * (MAX_BODY_BYTES + 1)}),
    "predict-400": ("POST", "/api/predict", {"headers": {"content-length": "x"}}),
    "not-found": ("GET", "/nowhere/../etc/passwd", {}),
    "method": ("DELETE", "/api/predict", {}),
}


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_sends_a_strict_csp(keyed: TestClient, name: str) -> None:
    method, path, options = RESPONSES[name]
    headers = dict(options.get("headers", {}))
    if options.get("key"):
        headers["x-api-key"] = API_KEY
    response = keyed.request(
        method, path, json=options.get("json"), content=options.get("content"), headers=headers
    )
    assert response.status_code < 500, response.text
    assert_strict_csp(response.headers.get("content-security-policy"))
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_500_and_a_503_send_the_csp_too(broken: TestClient, no_model: TestClient) -> None:
    crashed = broken.post("/api/predict", json={"text": NEGATIVE})
    unavailable = no_model.post("/api/predict", json={"text": NEGATIVE})
    assert (crashed.status_code, unavailable.status_code) == (500, 503)
    for response in (crashed, unavailable):
        assert_strict_csp(response.headers.get("content-security-policy"))


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts_with_src = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value or "" for name, value in attrs}
        for name, value in names.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}=javascript:...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...> (blocked by style-src 'self')")
        if tag == "script":
            self._in_script = True
            if names.get("src"):
                self.scripts_with_src += 1
            else:
                self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> block (blocked by style-src 'self')")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script body: {data.strip()[:40]!r}")


def find_inline_code(html: str) -> InlineCodeFinder:
    finder = InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder


def test_the_page_has_no_inline_script_nor_handler(keyed: TestClient) -> None:
    on_disk = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    served = keyed.get("/").text
    assert served == on_disk
    finder = find_inline_code(on_disk)
    assert finder.problems == []
    assert finder.scripts_with_src >= 1


def test_the_docs_page_has_no_inline_script_nor_handler(keyed: TestClient) -> None:
    finder = find_inline_code(keyed.get("/api/docs").text)
    assert finder.problems == []
    assert finder.scripts_with_src == 2


def test_the_inline_code_finder_finds_inline_code() -> None:
    html = (
        '<script>alert(1)</script><img src=x onerror="alert(1)">'
        '<a href="javascript:alert(1)">x</a><p style="color:red"></p><style>p{}</style>'
    )
    assert len(find_inline_code(html).problems) == 6  # the script counts twice


# --- errors: no stack trace, no key -------------------------------------------------------------

MALFORMED = {
    "broken-json": (b'{"text": "abc', "application/json"),
    "invalid-utf8": (b'{"text": "\xff\xfe"}', "application/json"),
    "not-an-object": (b'["text"]', "application/json"),
    "wrong-type": (b'{"text": {"$gt": ""}}', "application/json"),
    "nested-deep": (b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json"),
    "form": (b"text=hello", "application/x-www-form-urlencoded"),
    "xml": (b"<text>hello</text>", "application/xml"),
    "huge-number": (b'{"text": 1' + b"0" * 5000 + b"}", "application/json"),
    "nul": (b'{"text": "\x00"}', "application/json"),
    "too-large": (b'{"text": "' + b"a" * 70_000 + b'"}', "application/json"),
}


@pytest.mark.parametrize("path", sorted(BODIES))
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_gets_no_stack_trace(keyed: TestClient, path: str, name: str) -> None:
    raw, content_type = MALFORMED[name]
    headers = {"content-type": content_type, "x-api-key": API_KEY}
    response = keyed.post(path, content=raw, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    for marker in STACK_TRACE_MARKERS:
        assert marker not in response.text


def test_a_crash_gets_no_stack_trace(broken: TestClient) -> None:
    response = broken.post("/api/predict", json={"text": NEGATIVE})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "unexpected server error"}
    }
    assert "onnxruntime" not in response.text


KEY_IN_BODY = {
    "no-header-key-as-text": ({"text": API_KEY}, {}),
    "wrong-header-key-as-text": ({"text": API_KEY}, {"x-api-key": "wrong"}),
    "key-as-unknown-field": ({"text": NEGATIVE, "api_key": API_KEY}, {"x-api-key": API_KEY}),
    "key-as-field-name": ({"text": NEGATIVE, API_KEY: 1}, {"x-api-key": API_KEY}),
    "key-too-long": ({"text": API_KEY * 40}, {"x-api-key": API_KEY}),
    "key-in-bad-list": ({"texts": [API_KEY, 7]}, {"x-api-key": API_KEY}),
    "key-in-both": ({"text": API_KEY, "texts": [API_KEY]}, {"x-api-key": API_KEY}),
    "key-as-text-accepted": ({"text": f"my key is {API_KEY}"}, {"x-api-key": API_KEY}),
}


@pytest.mark.parametrize("name", sorted(KEY_IN_BODY))
def test_a_key_in_the_body_is_echoed_neither_in_errors_nor_in_logs(
    keyed: TestClient, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body, headers = KEY_IN_BODY[name]
    response = keyed.post("/api/predict", json=body, headers=headers)
    assert response.status_code in (200, 401, 422), response.text
    if response.status_code != 200:  # a 200 returns `model_text`, the text read, by design
        assert API_KEY not in response.text
        assert API_KEY.upper() not in response.text.upper()
    assert API_KEY not in server_log(caplog)


def test_a_key_in_broken_json_is_not_echoed(
    keyed: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    raw = json.dumps({"text": API_KEY}).encode()[:-3]  # cut inside the string
    response = keyed.post(
        "/api/predict",
        content=raw,
        headers={"content-type": "application/json", "x-api-key": API_KEY},
    )
    assert response.status_code == 422
    assert API_KEY not in response.text
    assert API_KEY not in server_log(caplog)


def test_a_key_in_a_flag_is_not_logged(keyed: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    response = keyed.post(
        "/api/feedback", json=flag_body(f"key {API_KEY}"), headers={"x-api-key": API_KEY}
    )
    assert response.status_code == 202
    assert API_KEY not in response.text
    assert API_KEY not in server_log(caplog)


def test_a_tweet_full_of_personal_data_leaves_none_in_the_sqlite_store(
    tiny_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Predict, then a correction and a confirmation on it; then every byte the SQLite sink
    wrote (database, WAL, shared memory) and every log line is searched for each piece."""
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path, tiny_bundle)
    sink = SqliteFeedbackSink(settings.FEEDBACK_DB_PATH)
    app = create_app(
        settings, holder=ModelHolder(settings), translator=NoTranslation(), feedback_sink=sink
    )
    headers = {"x-api-key": API_KEY}
    with TestClient(app) as client:
        prediction = client.post("/api/predict", json={"text": PERSONAL_TWEET}, headers=headers)
        for kind in ("correction", "confirmation"):
            body = feedback_body(prediction.json(), kind=kind)
            assert client.post("/api/feedback", json=body, headers=headers).status_code == 202
    assert sink.count() == 1
    stored = {
        path.name: path.read_bytes()
        for path in tmp_path.glob("feedback.sqlite3*")
        if path.is_file()
    }
    assert "feedback.sqlite3" in stored
    assert sum(map(len, stored.values())) > 0
    stored["logs"] = server_log(caplog).encode()
    assert find_personal_data(stored) == []
    assert find_personal_data({"tweet": PERSONAL_TWEET.encode()})  # the search does find them


# --- the repository: no secret in what git tracks -----------------------------------------------

SECRET_PATTERNS = {
    "azure-storage-account-key": re.compile(r"AccountKey=([A-Za-z0-9+/]{20,}={0,2})"),
    "azure-shared-access-key": re.compile(r"SharedAccessKey=([A-Za-z0-9+/]{20,}={0,2})"),
    "sas-signature": re.compile(r"[?&;]sig=([A-Za-z0-9%+/]{20,}(?:%3D|=)*)"),
    "github-token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})"),
    "private-key": re.compile(r"-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----"),
    "aws-access-key": re.compile(r"\b((?:AKIA|ASIA)[0-9A-Z]{16})\b"),
    "slack-token": re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})"),
}
KEY_ASSIGNMENT = re.compile(
    r"""(?i)(api[_-]?key|secret|token|password|passwd|pwd|access[_-]?key|client[_-]?secret)"""
    r"""["']?\s*[:=]\s*["']([^"'\s]{16,})["']"""
)
BASE64_TOKEN = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{32,}={0,2}")
# Values that say what they are: test values, and references resolved at deploy time.
HARMLESS_VALUE = re.compile(
    r"(?i)test|example|fake|dummy|placeholder|not-a-secret|changeme|^@Microsoft\.KeyVault\(|"
    r"^\$\{|^\$\(|^<"
)
# Public values: Azurite's development key (documented by Microsoft, in Azurite's own source).
PUBLIC_VALUES = frozenset({AZURITE_KEY})
INTEGRITY_HASH = re.compile(r"sha(1|256|384|512)-")  # Subresource Integrity, lock files
MIN_ENTROPY_BITS = 4.5


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_random(token: str) -> bool:
    """Mixed case and digits and close to the entropy of random base64: a key, not a word."""
    mixed = (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )
    return mixed and shannon_entropy(token) >= MIN_ENTROPY_BITS


def find_secrets(text: str) -> list[str]:
    """Every suspected secret in `text`, as "<rule>: <first characters>"."""
    found: list[str] = []
    for rule, pattern in SECRET_PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group(1) if match.groups() else match.group(0)
            if value not in PUBLIC_VALUES:
                found.append(f"{rule}: {value[:12]}…")
    for match in KEY_ASSIGNMENT.finditer(text):
        value = match.group(2)
        if not HARMLESS_VALUE.search(value) and shannon_entropy(value) >= 3.5:
            found.append(f"key-assignment: {match.group(1)}={value[:6]}…")
    for match in BASE64_TOKEN.finditer(text):
        token = match.group(0)
        if token in PUBLIC_VALUES or INTEGRITY_HASH.match(token):
            continue
        if looks_random(token):
            found.append(f"high-entropy: {token[:12]}…")
    return found


def repository_files() -> list[Path]:
    """Tracked files plus new files git does not ignore (what the next commit may hold)."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "surrogateescape")
    return [REPO_ROOT / name for name in sorted(set(listed.split("\0"))) if name]


def readable_text(path: Path) -> str | None:
    """The file as text, or None for binaries (model.onnx) and files that vanished."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", "replace")


def test_no_secret_in_the_repository() -> None:
    files = repository_files()
    assert len(files) > 50
    leaks = {}
    for path in files:
        text = readable_text(path)
        if text is not None and (found := find_secrets(text)):
            leaks[str(path.relative_to(REPO_ROOT))] = found
    assert leaks == {}


def random_string(alphabet: str, length: int, seed: int) -> str:
    generator = random.Random(seed)
    return "".join(generator.choice(alphabet) for _ in range(length))


BASE64_ALPHABET = string.ascii_letters + string.digits + "+/"


def planted_secrets() -> dict[str, str]:
    """Realistic fakes, built at run time so that no scanner finds them in this file."""
    storage_key = random_string(BASE64_ALPHABET, 86, 1) + "=="
    alnum = string.ascii_letters + string.digits
    return {
        "azure-storage-account-key": (
            "DefaultEndpointsProtocol=https;AccountName=prod;AccountKey="
            f"{storage_key};EndpointSuffix=core.windows.net"
        ),
        "sas-signature": "https://a.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig="
        + random_string(alnum, 43, 2)
        + "%3D",
        "github-token": "token: " + "gh" + "p_" + random_string(alnum, 36, 3),
        "private-key": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...",
        "aws-access-key": "AKIA" + random_string(string.ascii_uppercase + string.digits, 16, 4),
        "key-assignment": 'API_KEY = "' + random_string(alnum, 32, 5) + '"',
        "high-entropy": "value: " + random_string(BASE64_ALPHABET, 40, 6),
    }


@pytest.mark.parametrize("rule", sorted(planted_secrets()))
def test_the_scanner_finds_planted_secrets(rule: str) -> None:
    found = find_secrets(planted_secrets()[rule])
    assert any(item.startswith(f"{rule}:") for item in found), found


@pytest.mark.parametrize(
    "text",
    [
        f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        'API_KEY = "test-key-not-a-secret-0123456789"',
        "API_KEY: '@Microsoft.KeyVault(SecretUri=${apiKeySecret.properties.secretUri})'",
        '"integrity": "sha512-' + random_string(BASE64_ALPHABET, 86, 7) + '=="',
        "sha256: " + random_string("0123456789abcdef", 64, 8),
        "AzureWebJobsStorage__accountName and test_function_names_that_are_long_enough",
    ],
)
def test_the_scanner_lets_public_and_test_values_through(text: str) -> None:
    assert find_secrets(text) == []
