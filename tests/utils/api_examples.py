"""The request and answer examples of docs/api.md, produced by the current model through the API.

Each example in docs/api.md sits under a marker line `<!-- example: NAME -->` followed by a
```json block. `make_examples` builds every one of them from real calls (models/default, the app
with translation off and an in-memory token key); tests/code/test_api_docs.py checks that the
documented blocks still say what the model answers, and

    python -m tests.utils.api_examples --write

rewrites them after the shipped bundle changes. Ids and the token vary per call, so the docs show
them, and the test compares everything else.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"
BUNDLE = ROOT / "models" / "default"
MARKER_RE = re.compile(r"<!-- example: ([a-z0-9-]+) -->\n```json\n(.*?)\n```", re.DOTALL)

COMPLAINT = "my flight is delayed again, worst airline ever 😡"
BATCH = ["lost my bag, nobody at the desk can help", "great crew, thank you! 🙏", "@united"]
TOKEN_SHOWN = "(v1.<claims>.<signature>: about 300 characters, from predict)"
VARYING = ("prediction_id", "feedback_token", "last_check", "loaded_at", "start")


@contextmanager
def example_client() -> Iterator[Any]:
    """The real app on the shipped bundle: no store, no translator, scratch feedback log."""
    from fastapi.testclient import TestClient

    from shared.api.app import create_app
    from shared.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        settings = Settings(
            MODEL_STORE_PATH=folder / "store",
            MODEL_CACHE_DIR=folder / "cache",
            DEFAULT_BUNDLE_PATH=BUNDLE,
            FEEDBACK_DB_PATH=folder / "feedback.sqlite3",
            FEEDBACK_TOKEN_KEY_PATH=folder / "token.key",
            PREDICTION_EVENTS_PATH=folder / "predictions.sqlite3",
            TRANSLATION_ENABLED=False,
            AUTH_MODE="none",
        )
        with TestClient(create_app(settings)) as client:
            yield client


def make_examples() -> dict[str, Any]:
    """Example name → the JSON the docs show under its marker."""
    with example_client() as client:
        one = client.post("/api/predict", json={"text": COMPLAINT}).json()
        many = client.post("/api/predict", json={"texts": BATCH}).json()
        feedback_request = {
            "prediction_id": one["prediction_id"],
            "kind": "confirmation",
            "text": one["model_text"],
            "predicted_label": one["label"],
            "feedback_token": one["feedback_token"],
        }
        feedback = client.post("/api/feedback", json=feedback_request)
        invalid = client.post("/api/predict", json={"text": "\u200b"}).json()
        health = client.get("/api/health").json()
        buzz = client.get("/api/buzz", params={"hours": 1}).json()
    return {
        "predict-text-request": {"text": COMPLAINT},
        "predict-text-answer": one,
        "predict-texts-request": {"texts": BATCH},
        "predict-texts-answer": many,
        "feedback-request": feedback_request,
        "feedback-answer": feedback.json(),
        "error-answer": invalid,
        "health-answer": health,
        "buzz-answer": buzz,
    }


def shorten(value: Any) -> Any:
    """The docs' form: tokens replaced by what they look like (~300 characters, key-specific)."""
    if isinstance(value, dict):
        return {
            key: (TOKEN_SHOWN if key == "feedback_token" and item else shorten(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [shorten(item) for item in value]
    return value


def read_documented(text: str | None = None) -> dict[str, Any]:
    """Example name → the JSON docs/api.md shows under its marker."""
    text = API_DOC.read_text(encoding="utf-8") if text is None else text
    return {name: json.loads(block) for name, block in MARKER_RE.findall(text)}


def write_examples(examples: dict[str, Any]) -> None:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in examples:
            return match.group(0)
        block = json.dumps(shorten(examples[name]), indent=2, ensure_ascii=False)
        return f"<!-- example: {name} -->\n```json\n{block}\n```"

    text = API_DOC.read_text(encoding="utf-8")
    API_DOC.write_text(MARKER_RE.sub(replace, text), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the blocks in docs/api.md")
    args = parser.parse_args()
    examples = make_examples()
    if args.write:
        write_examples(examples)
    else:
        print(json.dumps(shorten(examples), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
