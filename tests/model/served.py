"""The shipped bundle behind the real HTTP API, as a caller sees it.

`ServedModel` posts to `/api/predict` of an app built by `shared.api.app.create_app` on the
shipped bundle (`models/default`), with translation switched off: what a caller gets when the
translator is unavailable, which is the setting of the issue's table of bad cases (issue 9).
Every answer is checked for status 200; the JSON bodies are returned as they are.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PREDICT_URL = "/api/predict"
BATCH_LIMIT = 100  # shared.api.schemas.MAX_BATCH_ITEMS


class ServedModel:
    """A thin caller of POST /api/predict: one text, or many texts in batches of 100."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, body: object) -> Any:
        """The raw response, whatever its status (for the 4xx tests)."""
        return self.client.post(PREDICT_URL, json=body)

    def predict(self, text: str) -> dict[str, Any]:
        """The public prediction for one text (`{"text": ...}`)."""
        response = self.post({"text": text})
        assert response.status_code == 200, f"{text!r}: {response.status_code} {response.text}"
        return response.json()

    def predict_many(self, texts: list[str]) -> list[dict[str, Any]]:
        """The public predictions for many texts, in order (`{"texts": [...]}` requests)."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(texts), BATCH_LIMIT):
            part = texts[start : start + BATCH_LIMIT]
            response = self.post({"texts": part})
            assert response.status_code == 200, f"{part!r}: {response.status_code}"
            results.extend(response.json()["results"])
        return results

    def label(self, text: str) -> str:
        return self.predict(text)["label"]

    def negative_probability(self, text: str) -> float:
        return float(self.predict(text)["negative_probability"])


def describe(result: dict[str, Any]) -> str:
    """One line for an assertion message: label, P(negative), what the model read, top terms."""
    terms = [(t["term"], round(t["weight"], 2), t["source"]) for t in result["explanation"]]
    return (
        f"label={result['label']} P(neg)={result['negative_probability']:.3f} "
        f"threshold={result['threshold']:.3f} language={result['language']} "
        f"model_text={result['model_text']!r} terms={terms} evidence={result['evidence']}"
    )
