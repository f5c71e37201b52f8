"""Prediction with onnxruntime alone: the plain function behind the API and the evaluation of bundles.

No scikit-learn here: this module is what the Function App runs, and what training uses to check
the exported bundle, so the figures training reports are the figures serving delivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.bundle import (
    LABEL_NAMES,
    MODEL_FILE,
    OUTPUT_PROBABILITIES,
    Manifest,
    read_explain_weights,
    verify_bundle,
)
from shared.features import build_model_inputs, extract_terms
from shared.normalise import NormaliserOptions, normalise_text

EXPLANATION_TERMS = 5
# onnxruntime's TF-IDF op materialises a dense [rows, vocabulary] matrix: bound the rows per run.
MAX_ROWS_PER_RUN = 128


@dataclass(frozen=True)
class Term:
    """One term of the tweet and how hard it pushed towards NEGATIVE (>0) or POSITIVE (<0)."""

    term: str
    weight: float


@dataclass(frozen=True)
class Prediction:
    label: str
    negative_probability: float
    threshold: float
    explanation: list[Term]


class Predictor:
    """A verified bundle loaded into one onnxruntime session; thread-safe for `predict`."""

    def __init__(self, bundle_dir: Path) -> None:
        import onnxruntime as ort  # heavy: imported when a model is loaded, not at app indexing

        self.manifest: Manifest = verify_bundle(bundle_dir)
        self.options = NormaliserOptions.from_dict(self.manifest.normaliser_options)
        self.weights = read_explain_weights(bundle_dir)
        session_options = ort.SessionOptions()
        # One request is one small graph: threads cost more in hand-off than they save.
        session_options.intra_op_num_threads = 1
        session_options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(bundle_dir / MODEL_FILE), session_options, providers=["CPUExecutionProvider"]
        )

    @property
    def version(self) -> str:
        return self.manifest.version

    def negative_probabilities(self, texts: list[str]) -> np.ndarray:
        """P(negative) for each raw tweet, float64 [N]."""
        if not texts:
            return np.empty(0)
        chunks = []
        for start in range(0, len(texts), MAX_ROWS_PER_RUN):
            feeds = build_model_inputs(texts[start : start + MAX_ROWS_PER_RUN], self.options)
            (probabilities,) = self.session.run([OUTPUT_PROBABILITIES], feeds)
            chunks.append(np.asarray(probabilities, dtype=np.float64)[:, 1])
        return np.concatenate(chunks)

    def predict(self, texts: list[str]) -> list[Prediction]:
        threshold = self.manifest.threshold
        results = []
        for text, probability in zip(texts, self.negative_probabilities(texts), strict=True):
            label = LABEL_NAMES[int(probability >= threshold)]
            results.append(Prediction(label, float(probability), threshold, self.explain(text)))
        return results

    def explain(self, text: str, limit: int = EXPLANATION_TERMS) -> list[Term]:
        """The terms of this tweet with the largest weight magnitude in the model."""
        terms = extract_terms(normalise_text(text, self.options))
        weighted = [Term(term, self.weights[term]) for term in terms if term in self.weights]
        weighted.sort(key=lambda item: abs(item.weight), reverse=True)
        return weighted[:limit]
