"""Prediction with onnxruntime alone: the function behind the API and the evaluation of bundles.

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
# onnxruntime's TF-IDF op materialises a dense [rows, vocabulary] matrix (180 KB a row with 45k
# terms) and its arena keeps the largest run's buffers for good: 16 rows a run keep that to a few
# MB, at the same cost per row as 128 rows a run (measured on batches of 100).
MAX_ROWS_PER_RUN = 16


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
        # The memory pattern pre-plans a block per input shape seen, kept for good; the arena alone
        # reuses its buffers as fast here, in less memory (+19 instead of +25 MiB after batches).
        session_options.enable_mem_pattern = False
        self.session = ort.InferenceSession(
            str(bundle_dir / MODEL_FILE), session_options, providers=["CPUExecutionProvider"]
        )

    @property
    def version(self) -> str:
        return self.manifest.version

    def negative_probabilities(
        self, texts: list[str], normalised: list[str] | None = None
    ) -> np.ndarray:
        """P(negative) for each raw tweet, float64 [N]; `normalised` saves normalising again."""
        if not texts:
            return np.empty(0)
        feeds = build_model_inputs(texts, self.options, normalised)
        chunks = []
        for start in range(0, len(texts), MAX_ROWS_PER_RUN):
            part = {
                name: values[start : start + MAX_ROWS_PER_RUN] for name, values in feeds.items()
            }
            (probabilities,) = self.session.run([OUTPUT_PROBABILITIES], part)
            chunks.append(np.asarray(probabilities, dtype=np.float64)[:, 1])
        return np.concatenate(chunks)

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Score and explain each tweet; each is normalised once, for the model and the reasons."""
        threshold = self.manifest.threshold
        normalised = [normalise_text(text, self.options) for text in texts]
        probabilities = self.negative_probabilities(texts, normalised)
        results = []
        for words, probability in zip(normalised, probabilities, strict=True):
            label = LABEL_NAMES[int(probability >= threshold)]
            explanation = self.explain_normalised(words)
            results.append(Prediction(label, float(probability), threshold, explanation))
        return results

    def explain(self, text: str, limit: int = EXPLANATION_TERMS) -> list[Term]:
        """The terms of this tweet with the largest weight magnitude in the model."""
        return self.explain_normalised(normalise_text(text, self.options), limit)

    def explain_normalised(self, normalised: str, limit: int = EXPLANATION_TERMS) -> list[Term]:
        """`explain` for a text already normalised; only the kept terms become `Term`s."""
        weights = self.weights
        weighted = [(term, weights[term]) for term in extract_terms(normalised) if term in weights]
        weighted.sort(key=lambda pair: abs(pair[1]), reverse=True)
        return [Term(term, weight) for term, weight in weighted[:limit]]
